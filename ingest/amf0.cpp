// AMF0 decoding (bounded, for untrusted RTMP payloads) and encoding (for our replies).
#include "ingest/amf0.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <utility>

#include "common/byte_writer.h"

namespace livegate::amf0 {

namespace {

// Type markers, AMF0 spec §2.1.
enum Marker : uint8_t {
  kNumber = 0x00,
  kBoolean = 0x01,
  kString = 0x02,
  kObject = 0x03,
  kMovieclip = 0x04,
  kNull = 0x05,
  kUndefined = 0x06,
  kReference = 0x07,
  kEcmaArray = 0x08,
  kObjectEnd = 0x09,
  kStrictArray = 0x0A,
  kDate = 0x0B,
  kLongString = 0x0C,
  kUnsupported = 0x0D,
  kRecordSet = 0x0E,
  kXmlDocument = 0x0F,
  kTypedObject = 0x10,
  kAvmPlus = 0x11,
};

constexpr size_t kMaxShortString = 0xFFFF;

std::string hex_byte(uint8_t b) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  return {'0', 'x', kDigits[b >> 4], kDigits[b & 0xF]};
}

const char* unsupported_marker_name(uint8_t marker) {
  switch (marker) {
    case kMovieclip: return "movieclip";
    case kReference: return "reference";
    case kUnsupported: return "unsupported";
    case kRecordSet: return "recordset";
    case kXmlDocument: return "xml document";
    case kTypedObject: return "typed object";
    case kAvmPlus: return "AMF3 switch";
    default: return "unknown";
  }
}

Error fail(const std::string& what, size_t offset) {
  return Error{"amf0: " + what + " at offset " + std::to_string(offset)};
}

template <class T>
Error error_of(const Result<T>& r) {
  return Error{r.error()};
}

// Recursive descent over one ByteReader. Every length or count read from the wire is checked
// against the bytes that remain and the caller's Limits before it sizes anything, so a hostile
// payload costs at most its own size plus max_items values, and at most max_depth stack frames.
class Decoder {
 public:
  Decoder(ByteReader& in, const Limits& limits) noexcept : in_(in), limits_(limits) {}

  // Spends n units of the max_items budget, which is shared by the whole decode call.
  Status spend_items(size_t n, size_t at) {
    if (n > limits_.max_items - items_) {
      return fail("item count exceeds max_items " + std::to_string(limits_.max_items), at);
    }
    items_ += n;
    return {};
  }

  // `depth` is how many containers enclose the value about to be read.
  Result<Value> value(size_t depth) {
    const size_t at = in_.position();
    if (!in_.has(1)) return fail("input ended where a type marker was expected", at);
    const uint8_t marker = in_.u8();
    switch (marker) {
      case kNumber:  // §2.2: number-type = number-marker DOUBLE
        if (!in_.has(8)) return truncated("number", 8, at);
        return Value::Number(in_.f64());

      case kBoolean:  // §2.3: boolean-type = boolean-marker U8 ; 0 is false, <> 0 is true
        if (!in_.has(1)) return truncated("boolean", 1, at);
        return Value::Boolean(in_.u8() != 0);

      case kString: {  // §2.4: string-type = string-marker UTF-8 (U16 byte length)
        auto s = text(2, "string");
        if (!s) return error_of(s);
        return Value::String(std::move(*s));
      }

      case kLongString: {  // §2.14: long-string-type = long-string-marker UTF-8-long (U32 length)
        auto s = text(4, "long string");
        if (!s) return error_of(s);
        return Value::String(std::move(*s));
      }

      case kObject: {  // §2.5: object-type = object-marker *(object-property)
        if (auto st = enter(depth, at); !st) return Error{st.error()};
        auto props = properties(depth + 1, "object");
        if (!props) return error_of(props);
        return Value::Object(std::move(*props));
      }

      case kNull: return Value::Null();            // §2.7
      case kUndefined: return Value::Undefined();  // §2.8

      case kEcmaArray: {  // §2.10: ecma-array-type = associative-count *(object-property)
        if (auto st = enter(depth, at); !st) return Error{st.error()};
        if (!in_.has(4)) return truncated("ecma array count", 4, at);
        // The count is advisory: encoders in the wild send 0 or a stale number, so the
        // terminator decides where the array ends and the count sizes nothing.
        in_.skip(4);
        auto props = properties(depth + 1, "ecma array");
        if (!props) return error_of(props);
        return Value::EcmaArray(std::move(*props));
      }

      case kObjectEnd:  // §2.11: only meaningful after an empty key inside an object
        return fail("object-end marker 0x09 outside an object", at);

      case kStrictArray: {  // §2.12: strict-array-type = array-count *(value-type)
        if (auto st = enter(depth, at); !st) return Error{st.error()};
        if (!in_.has(4)) return truncated("strict array count", 4, at);
        const uint32_t count = in_.u32();
        // Every item takes at least its one marker byte, so a count above the remaining bytes is a
        // lie; rejecting it, and charging the item budget, before reserve() means an untrusted
        // count never sizes an allocation.
        if (count > in_.remaining()) {
          return fail("strict array count " + std::to_string(count) + " exceeds remaining " +
                          std::to_string(in_.remaining()) + " bytes",
                      at);
        }
        if (auto st = spend_items(count, at); !st) return Error{st.error()};
        std::vector<Value> items;
        items.reserve(count);
        for (uint32_t i = 0; i < count; ++i) {
          auto item = value(depth + 1);
          if (!item) return error_of(item);
          items.push_back(std::move(*item));
        }
        return Value::StrictArray(std::move(items));
      }

      case kDate: {  // §2.13: date-type = date-marker DOUBLE time-zone (S16, reserved)
        if (!in_.has(10)) return truncated("date", 10, at);
        const double ms = in_.f64();
        return Value::Date(ms, static_cast<int16_t>(in_.u16()));
      }

      default:
        // §2.6 movieclip and §2.16 recordset are reserved; §2.9 reference, §2.15 unsupported,
        // §2.17 xml document, §2.18 typed object and the §3.1 AVM+ switch to AMF3 never appear
        // in the RTMP commands we serve, and accepting them would only widen the attack surface.
        return fail(std::string("unsupported marker ") + hex_byte(marker) + " (" +
                        unsupported_marker_name(marker) + ")",
                    at);
    }
  }

 private:
  // Checks the nesting budget before a container recurses, which is what keeps a deeply nested
  // payload from exhausting the stack.
  Status enter(size_t depth, size_t at) const {
    if (depth >= limits_.max_depth) {
      return fail("nesting exceeds max_depth " + std::to_string(limits_.max_depth) + " (rtmp.amf_max_depth)",
                  at);
    }
    return {};
  }

  Error truncated(const char* what, size_t need, size_t at) const {
    return fail(std::string(what) + " needs " + std::to_string(need) + " bytes but " +
                    std::to_string(in_.remaining()) + " remain",
                at);
  }

  // §2.4 UTF-8 and §2.14 UTF-8-long: a big-endian byte length of `len_size` bytes, then
  // that many bytes.
  Result<std::string> text(size_t len_size, const char* what) {
    const size_t at = in_.position();
    if (!in_.has(len_size)) return truncated(what, len_size, at);
    const size_t len = len_size == 2 ? in_.u16() : in_.u32();
    return text_bytes(len, what, at);
  }

  // The bytes are not validated as UTF-8: keys and values are only compared and logged
  // (escaped), so rejecting bad encodings would only break odd clients.
  Result<std::string> text_bytes(size_t len, const char* what, size_t at) {
    if (len > limits_.max_string) {
      return fail(std::string(what) + " length " + std::to_string(len) + " exceeds max_string " +
                      std::to_string(limits_.max_string),
                  at);
    }
    if (len > in_.remaining()) {
      return fail(std::string(what) + " length " + std::to_string(len) + " exceeds remaining " +
                      std::to_string(in_.remaining()) + " bytes",
                  at);
    }
    const Bytes b = in_.bytes(len);
    return std::string(b.begin(), b.end());
  }

  // §2.5: object-property = (UTF-8 value-type) | (UTF-8-empty object-end-marker).
  // Shared by objects and ECMA arrays (§2.10 reuses object-property). The terminator is required:
  // FFmpeg and librtmp always write it, and running off the end is how a truncated message looks.
  Result<std::vector<Property>> properties(size_t depth, const char* kind) {
    std::vector<Property> props;
    for (;;) {
      const size_t at = in_.position();
      if (!in_.has(2)) return fail(std::string(kind) + " ended without object-end marker", at);
      const uint16_t key_len = in_.u16();
      if (key_len == 0) {
        if (!in_.has(1)) return fail(std::string(kind) + " ended without object-end marker", at);
        const uint8_t end = in_.u8();
        if (end != kObjectEnd) {
          return fail(std::string(kind) + " has an empty key followed by marker " + hex_byte(end) +
                          " instead of object-end 0x09",
                      at);
        }
        return props;
      }
      if (auto st = spend_items(1, at); !st) return Error{st.error()};
      auto key = text_bytes(key_len, "property key", at);
      if (!key) return error_of(key);
      auto v = value(depth);
      if (!v) return error_of(v);
      props.push_back(Property{std::move(*key), std::move(*v)});
    }
  }

  ByteReader& in_;
  const Limits& limits_;
  size_t items_ = 0;
};

void write_key(ByteWriter& w, std::string_view key) {
  key = key.substr(0, kMaxShortString);
  w.u16(static_cast<uint16_t>(key.size()));
  w.text(key);
}

void encode_to(const Value& v, ByteWriter& w);

// §2.5 / §2.10 properties plus the UTF-8-empty + object-end terminator.
void encode_properties(const std::vector<Property>& props, ByteWriter& w) {
  for (const Property& p : props) {
    if (p.key.empty()) continue;  // an empty key would read back as the terminator
    write_key(w, p.key);
    encode_to(p.value, w);
  }
  w.u16(0);
  w.u8(kObjectEnd);
}

void encode_to(const Value& v, ByteWriter& w) {
  using Type = Value::Type;
  switch (v.type) {
    case Type::number:
      w.u8(kNumber);
      w.f64(v.number);
      return;
    case Type::boolean:
      w.u8(kBoolean);
      w.u8(v.boolean ? 1 : 0);
      return;
    case Type::string:
      if (v.string.size() <= kMaxShortString) {
        w.u8(kString);
        w.u16(static_cast<uint16_t>(v.string.size()));
        w.text(v.string);
      } else {
        // §2.14: strings that need more than 65535 bytes use the long form.
        const std::string_view s = std::string_view(v.string).substr(0, std::numeric_limits<uint32_t>::max());
        w.u8(kLongString);
        w.u32(static_cast<uint32_t>(s.size()));
        w.text(s);
      }
      return;
    case Type::object:
      w.u8(kObject);
      encode_properties(v.properties, w);
      return;
    case Type::null: w.u8(kNull); return;
    case Type::undefined: w.u8(kUndefined); return;
    case Type::ecma_array: {
      w.u8(kEcmaArray);
      // Count what is actually written so the advisory count is at least honest.
      const auto written = std::count_if(v.properties.begin(), v.properties.end(),
                                         [](const Property& p) { return !p.key.empty(); });
      w.u32(static_cast<uint32_t>(
          std::min<size_t>(static_cast<size_t>(written), std::numeric_limits<uint32_t>::max())));
      encode_properties(v.properties, w);
      return;
    }
    case Type::strict_array: {
      const size_t n = std::min<size_t>(v.items.size(), std::numeric_limits<uint32_t>::max());
      w.u8(kStrictArray);
      w.u32(static_cast<uint32_t>(n));
      for (size_t i = 0; i < n; ++i) encode_to(v.items[i], w);
      return;
    }
    case Type::date:
      w.u8(kDate);
      w.f64(v.number);
      w.u16(static_cast<uint16_t>(v.timezone));
      return;
  }
}

// Renders into a bounded string; once the budget is spent, deeper parts are skipped so logging a
// huge value costs about as much as logging a small one.
class DebugPrinter {
 public:
  static constexpr size_t kLimit = 200;

  void value(const Value& v) {
    if (full()) return;
    using Type = Value::Type;
    switch (v.type) {
      case Type::number: number(v.number); return;
      case Type::boolean: out_ += v.boolean ? "true" : "false"; return;
      case Type::string: quoted(v.string); return;
      case Type::null: out_ += "null"; return;
      case Type::undefined: out_ += "undefined"; return;
      case Type::object: properties(v.properties); return;
      case Type::ecma_array:
        out_ += "ecma";
        properties(v.properties);
        return;
      case Type::strict_array:
        out_ += '[';
        for (size_t i = 0; i < v.items.size() && !full(); ++i) {
          if (i) out_ += ',';
          value(v.items[i]);
        }
        out_ += ']';
        return;
      case Type::date:
        out_ += "date(";
        number(v.number);
        out_ += ',';
        out_ += std::to_string(v.timezone);
        out_ += ')';
        return;
    }
  }

  std::string finish() && {
    if (out_.size() > kLimit) {
      out_.resize(kLimit);
      out_ += "...";
    }
    return std::move(out_);
  }

 private:
  bool full() const noexcept { return out_.size() > kLimit; }

  void number(double d) {
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof buf, d);
    out_.append(buf, r.ptr);
  }

  // Escapes quotes, backslashes, control and non-ASCII bytes: the text comes from the client and
  // must not be able to forge log lines or emit terminal escapes.
  void escaped(std::string_view s) {
    static constexpr char kDigits[] = "0123456789abcdef";
    for (const char c : s) {
      if (full()) return;
      const auto b = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\') {
        out_ += '\\';
        out_ += c;
      } else if (b < 0x20 || b >= 0x7F) {
        out_ += "\\x";
        out_ += kDigits[b >> 4];
        out_ += kDigits[b & 0xF];
      } else {
        out_ += c;
      }
    }
  }

  void quoted(std::string_view s) {
    out_ += '"';
    escaped(s);
    out_ += '"';
  }

  void properties(const std::vector<Property>& props) {
    out_ += '{';
    for (size_t i = 0; i < props.size() && !full(); ++i) {
      if (i) out_ += ',';
      escaped(props[i].key);
      out_ += ':';
      value(props[i].value);
    }
    out_ += '}';
  }

  std::string out_;
};

}  // namespace

Value Value::Number(double v) {
  Value r;
  r.type = Type::number;
  r.number = v;
  return r;
}

Value Value::Boolean(bool v) {
  Value r;
  r.type = Type::boolean;
  r.boolean = v;
  return r;
}

Value Value::String(std::string v) {
  Value r;
  r.type = Type::string;
  r.string = std::move(v);
  return r;
}

Value Value::Null() { return Value{}; }

Value Value::Undefined() {
  Value r;
  r.type = Type::undefined;
  return r;
}

Value Value::Object(std::vector<Property> props) {
  Value r;
  r.type = Type::object;
  r.properties = std::move(props);
  return r;
}

Value Value::EcmaArray(std::vector<Property> props) {
  Value r;
  r.type = Type::ecma_array;
  r.properties = std::move(props);
  return r;
}

Value Value::StrictArray(std::vector<Value> items) {
  Value r;
  r.type = Type::strict_array;
  r.items = std::move(items);
  return r;
}

Value Value::Date(double ms_since_epoch, int16_t timezone) {
  Value r;
  r.type = Type::date;
  r.number = ms_since_epoch;
  r.timezone = timezone;
  return r;
}

const Value* Value::get(std::string_view key) const {
  if (!has_properties()) return nullptr;
  for (const Property& p : properties) {
    if (p.key == key) return &p.value;
  }
  return nullptr;
}

std::optional<std::string_view> Value::get_string(std::string_view key) const {
  const Value* v = get(key);
  if (!v || !v->is_string()) return std::nullopt;
  return std::string_view(v->string);
}

std::optional<double> Value::get_number(std::string_view key) const {
  const Value* v = get(key);
  if (!v || !v->is_number()) return std::nullopt;
  return v->number;
}

std::optional<bool> Value::get_boolean(std::string_view key) const {
  const Value* v = get(key);
  if (!v || !v->is_boolean()) return std::nullopt;
  return v->boolean;
}

bool operator==(const Value& a, const Value& b) {
  if (a.type != b.type) return false;
  using Type = Value::Type;
  switch (a.type) {
    case Type::number: return a.number == b.number;
    case Type::boolean: return a.boolean == b.boolean;
    case Type::string: return a.string == b.string;
    case Type::object:
    case Type::ecma_array: return a.properties == b.properties;
    case Type::strict_array: return a.items == b.items;
    case Type::date: return a.number == b.number && a.timezone == b.timezone;
    case Type::null:
    case Type::undefined: return true;
  }
  return false;
}

bool operator==(const Property& a, const Property& b) { return a.key == b.key && a.value == b.value; }

Result<std::vector<Value>> decode_all(Bytes payload, const Limits& limits) {
  ByteReader in(payload);
  Decoder decoder(in, limits);
  std::vector<Value> values;
  while (!in.empty()) {
    if (auto st = decoder.spend_items(1, in.position()); !st) return Error{st.error()};
    auto v = decoder.value(0);
    if (!v) return error_of(v);
    values.push_back(std::move(*v));
  }
  return values;
}

Result<Value> decode(ByteReader& in, const Limits& limits) { return Decoder(in, limits).value(0); }

void encode(const Value& v, std::vector<uint8_t>& out) {
  ByteWriter w(out);
  encode_to(v, w);
}

std::vector<uint8_t> encode_all(std::span<const Value> values) {
  std::vector<uint8_t> out;
  for (const Value& v : values) encode(v, out);
  return out;
}

std::vector<uint8_t> encode_all(std::initializer_list<Value> values) {
  return encode_all(std::span<const Value>(values.begin(), values.size()));
}

std::string to_debug_string(const Value& v) {
  DebugPrinter p;
  p.value(v);
  return std::move(p).finish();
}

}  // namespace livegate::amf0
