// Unit tests for the AMF0 codec: round trips, byte-exact wire forms and hostile input.
#include "ingest/amf0.h"

#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

using livegate::ByteReader;
using livegate::Bytes;
using namespace livegate::amf0;

namespace doctest {
template <>
struct StringMaker<Value> {
  static String convert(const Value& v) { return to_debug_string(v).c_str(); }
};
}  // namespace doctest

namespace {

using Buf = std::vector<uint8_t>;

Buf ascii(std::string_view s) { return Buf(s.begin(), s.end()); }

Buf cat(std::initializer_list<Buf> parts) {
  Buf out;
  for (const Buf& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Value round_trip(const Value& v, const Limits& limits = {}) {
  Buf wire;
  encode(v, wire);
  auto decoded = decode_all(wire, limits);
  REQUIRE_MESSAGE(decoded.ok(), decoded.error());
  REQUIRE(decoded->size() == 1);
  return (*decoded)[0];
}

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string hex(uint8_t b) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02X", b);
  return buf;
}

// A value of every supported type, nested a few levels deep.
std::vector<Value> sample_values() {
  return {
      Value::String("connect"),
      Value::Number(1),
      Value::Object({
          {"app", Value::String("live")},
          {"fpad", Value::Boolean(false)},
          {"capabilities", Value::Number(15)},
          {"nested", Value::Object({{"deep", Value::StrictArray({Value::Null(), Value::Undefined()})}})},
          {"meta", Value::EcmaArray({{"width", Value::Number(1280)}, {"codec", Value::String("avc1")}})},
          {"when", Value::Date(1.7e12, 0)},
      }),
      Value::Null(),
      Value::StrictArray({Value::Number(-2.5), Value::Boolean(true), Value::String("")}),
      Value::Undefined(),
  };
}

Value nest_objects(size_t depth) {
  Value v = Value::Number(7);
  for (size_t i = 0; i < depth; ++i) v = Value::Object({{"k", std::move(v)}});
  return v;
}

Value nest_arrays(size_t depth) {
  Value v = Value::Null();
  for (size_t i = 0; i < depth; ++i) v = Value::StrictArray({std::move(v)});
  return v;
}

}  // namespace

TEST_CASE("amf0: factories set type and payload, lookups check both key and type") {
  const Value obj = Value::Object({
      {"app", Value::String("live")},
      {"n", Value::Number(3)},
      {"b", Value::Boolean(true)},
      {"app", Value::String("second")},
  });
  CHECK(obj.is_object());
  CHECK(obj.has_properties());
  CHECK(obj.get_string("app") == std::string_view("live"));  // first wins, like librtmp/FFmpeg
  CHECK(obj.get_number("n") == 3.0);
  CHECK(obj.get_boolean("b") == true);
  CHECK_FALSE(obj.get_number("app").has_value());
  CHECK_FALSE(obj.get_string("n").has_value());
  CHECK_FALSE(obj.get_string("missing").has_value());
  CHECK(obj.get("missing") == nullptr);
  REQUIRE(obj.get("n") != nullptr);
  CHECK(obj.get("n")->is_number());

  const Value ecma = Value::EcmaArray({{"duration", Value::Number(0)}});
  CHECK(ecma.is_ecma_array());
  CHECK(ecma.get_number("duration") == 0.0);

  // Lookups on non-maps find nothing rather than misbehaving.
  CHECK(Value::String("app").get("app") == nullptr);
  CHECK(Value::StrictArray({Value::String("x")}).get("0") == nullptr);
  CHECK(Value::Null().get_string("x") == std::nullopt);

  CHECK(Value::Null().is_null());
  CHECK(Value{}.is_null());
  CHECK(Value::Undefined().is_undefined());
  CHECK(Value::Date(5, -60).is_date());
  CHECK(Value::Date(5, -60).timezone == -60);
  CHECK(Value::StrictArray({}).is_strict_array());
}

TEST_CASE("amf0: round trip of every scalar type") {
  for (double d :
       {0.0, 1.0, -1.0, 0.5, 1e300, -1e-300, 4.9e-324, 9007199254740993.0, std::numeric_limits<double>::max(),
        std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity()}) {
    const Value back = round_trip(Value::Number(d));
    CHECK(back.is_number());
    CHECK(std::bit_cast<uint64_t>(back.number) == std::bit_cast<uint64_t>(d));
  }
  // Bit patterns survive even where == cannot tell: negative zero and NaN.
  const Value neg_zero = round_trip(Value::Number(-0.0));
  CHECK(std::signbit(neg_zero.number));
  const Value nan = round_trip(Value::Number(std::numeric_limits<double>::quiet_NaN()));
  CHECK(std::isnan(nan.number));

  CHECK(round_trip(Value::Boolean(true)) == Value::Boolean(true));
  CHECK(round_trip(Value::Boolean(false)) == Value::Boolean(false));
  CHECK(round_trip(Value::String("")) == Value::String(""));
  CHECK(round_trip(Value::String("live")) == Value::String("live"));
  CHECK(round_trip(Value::String("caf\xC3\xA9 \xE2\x82\xAC")) == Value::String("caf\xC3\xA9 \xE2\x82\xAC"));
  CHECK(round_trip(Value::String(std::string("a\0b", 3))) == Value::String(std::string("a\0b", 3)));
  CHECK(round_trip(Value::Null()) == Value::Null());
  CHECK(round_trip(Value::Undefined()) == Value::Undefined());
  CHECK(round_trip(Value::Date(1700000000123.0, 0)) == Value::Date(1700000000123.0, 0));
  CHECK(round_trip(Value::Date(-1, -480)) == Value::Date(-1, -480));
  CHECK(round_trip(Value::Date(0, 32767)) == Value::Date(0, 32767));
}

TEST_CASE("amf0: strings switch to long strings above 65535 bytes") {
  const std::string max_short(65535, 'a');
  Buf wire;
  encode(Value::String(max_short), wire);
  CHECK(wire.size() == 3 + 65535);
  CHECK(wire[0] == 0x02);
  CHECK(wire[1] == 0xFF);
  CHECK(wire[2] == 0xFF);
  CHECK(round_trip(Value::String(max_short)) == Value::String(max_short));

  const std::string long_text(70000, 'z');
  wire.clear();
  encode(Value::String(long_text), wire);
  REQUIRE(wire.size() == 5 + 70000);
  CHECK(Buf(wire.begin(), wire.begin() + 5) == Buf{0x0C, 0x00, 0x01, 0x11, 0x70});
  Limits roomy;
  roomy.max_string = 70000;
  const Value back = round_trip(Value::String(long_text), roomy);
  CHECK(back.is_string());  // long strings decode as plain strings
  CHECK(back.string == long_text);

  // A short payload in long-string form is legal and still a string.
  auto v = decode_all(cat({{0x0C, 0x00, 0x00, 0x00, 0x03}, ascii("abc")}));
  REQUIRE(v.ok());
  CHECK((*v)[0] == Value::String("abc"));
}

TEST_CASE("amf0: round trip of nested structures") {
  const std::vector<Value> values = sample_values();
  const Buf wire = encode_all(values);
  auto back = decode_all(wire);
  REQUIRE_MESSAGE(back.ok(), back.error());
  REQUIRE(back->size() == values.size());
  for (size_t i = 0; i < values.size(); ++i) CHECK((*back)[i] == values[i]);

  // Wire order of properties is preserved.
  const Value& obj = (*back)[2];
  REQUIRE(obj.properties.size() == 6);
  CHECK(obj.properties[0].key == "app");
  CHECK(obj.properties[5].key == "when");
  const Value* nested = obj.get("nested");
  REQUIRE(nested != nullptr);
  REQUIRE(nested->get("deep") != nullptr);
  CHECK(nested->get("deep")->items.size() == 2);
  CHECK(obj.get("meta")->get_string("codec") == std::string_view("avc1"));

  CHECK(round_trip(Value::Object({})) == Value::Object({}));
  CHECK(round_trip(Value::EcmaArray({})) == Value::EcmaArray({}));
  CHECK(round_trip(Value::StrictArray({})) == Value::StrictArray({}));
  CHECK(round_trip(nest_objects(16)) == nest_objects(16));
  CHECK(round_trip(nest_arrays(16)) == nest_arrays(16));
  // An object and an ECMA array with the same properties are different values.
  CHECK_FALSE(Value::Object({}) == Value::EcmaArray({}));
}

TEST_CASE("amf0: byte-exact encoding of a connect command") {
  const Buf wire = encode_all({
      Value::String("connect"),
      Value::Number(1),
      Value::Object({
          {"app", Value::String("live")},
          {"fpad", Value::Boolean(false)},
          {"capabilities", Value::Number(15)},
      }),
      Value::Null(),
  });
  // clang-format off
  const Buf expected = cat({
      {0x02, 0x00, 0x07}, ascii("connect"),                    // string "connect"
      {0x00, 0x3F, 0xF0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},  // number 1.0
      {0x03},                                                  // object
      {0x00, 0x03}, ascii("app"), {0x02, 0x00, 0x04}, ascii("live"),
      {0x00, 0x04}, ascii("fpad"), {0x01, 0x00},               // false
      {0x00, 0x0C}, ascii("capabilities"),
      {0x00, 0x40, 0x2E, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},  // 15.0
      {0x00, 0x00, 0x09},                                      // object end
      {0x05},                                                  // null
  });
  // clang-format on
  CHECK(wire == expected);
}

TEST_CASE("amf0: byte-exact encoding of the remaining types") {
  Buf wire;
  encode(Value::Boolean(true), wire);
  CHECK(wire == Buf{0x01, 0x01});

  wire.clear();
  encode(Value::Undefined(), wire);
  CHECK(wire == Buf{0x06});

  wire.clear();
  encode(Value::EcmaArray({{"a", Value::Null()}}), wire);
  CHECK(wire == Buf{0x08, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 'a', 0x05, 0x00, 0x00, 0x09});

  wire.clear();
  encode(Value::StrictArray({Value::Null(), Value::Undefined()}), wire);
  CHECK(wire == Buf{0x0A, 0x00, 0x00, 0x00, 0x02, 0x05, 0x06});

  wire.clear();
  encode(Value::Date(1.0, -1), wire);
  CHECK(wire == Buf{0x0B, 0x3F, 0xF0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF});

  wire.clear();
  encode(Value::Object({}), wire);
  CHECK(wire == Buf{0x03, 0x00, 0x00, 0x09});
}

TEST_CASE("amf0: encoder drops empty keys, which would read back as the terminator") {
  const std::vector<Property> props = {{"", Value::Number(1)}, {"a", Value::Null()}};
  Buf wire;
  encode(Value::Object(props), wire);
  CHECK(wire == Buf{0x03, 0x00, 0x01, 'a', 0x05, 0x00, 0x00, 0x09});

  wire.clear();
  encode(Value::EcmaArray(props), wire);
  CHECK(wire == Buf{0x08, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 'a', 0x05, 0x00, 0x00, 0x09});
}

TEST_CASE("amf0: decode of an ffmpeg connect payload built by hand") {
  // clang-format off
  const Buf payload = cat({
      {0x02, 0x00, 0x07}, ascii("connect"),
      {0x00, 0x3F, 0xF0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},  // 1.0
      {0x03},
      {0x00, 0x03}, ascii("app"), {0x02, 0x00, 0x04}, ascii("live"),
      {0x00, 0x04}, ascii("type"), {0x02, 0x00, 0x0A}, ascii("nonprivate"),
      {0x00, 0x08}, ascii("flashVer"), {0x02, 0x00, 0x24}, ascii("FMLE/3.0 (compatible; Lavf59.27.100)"),
      {0x00, 0x05}, ascii("tcUrl"), {0x02, 0x00, 0x1A}, ascii("rtmp://127.0.0.1:1935/live"),
      {0x00, 0x00, 0x09},
  });
  // clang-format on
  auto v = decode_all(payload);
  REQUIRE_MESSAGE(v.ok(), v.error());
  REQUIRE(v->size() == 3);
  CHECK((*v)[0] == Value::String("connect"));
  CHECK((*v)[1] == Value::Number(1));
  const Value& cmd = (*v)[2];
  REQUIRE(cmd.is_object());
  CHECK(cmd.properties.size() == 4);
  CHECK(cmd.get_string("app") == std::string_view("live"));
  CHECK(cmd.get_string("type") == std::string_view("nonprivate"));
  CHECK(cmd.get_string("flashVer") == std::string_view("FMLE/3.0 (compatible; Lavf59.27.100)"));
  CHECK(cmd.get_string("tcUrl") == std::string_view("rtmp://127.0.0.1:1935/live"));

  // Our encoder produces the very same bytes for the same values.
  CHECK(encode_all(*v) == payload);
}

TEST_CASE("amf0: decode reads exactly one value and advances the reader") {
  const Buf wire = encode_all({Value::Object({{"a", Value::Number(1)}}), Value::Number(2)});
  ByteReader in(wire);
  auto first = decode(in);
  REQUIRE(first.ok());
  CHECK(first->get_number("a") == 1.0);
  CHECK(in.position() == 1 + 2 + 1 + 9 + 3);
  auto second = decode(in);
  REQUIRE(second.ok());
  CHECK(*second == Value::Number(2));
  CHECK(in.empty());
  auto third = decode(in);
  REQUIRE_FALSE(third.ok());
  CHECK(contains(third.error(), "input ended"));

  auto empty = decode_all(Bytes{});
  REQUIRE(empty.ok());
  CHECK(empty->empty());
}

TEST_CASE("amf0: error reasons carry the numbers and the offset") {
  // number 0 (9 bytes), then a string claiming 300 bytes with only 12 left.
  const Buf payload = cat({Buf(9, 0x00), {0x02, 0x01, 0x2C}, Buf(12, 'x')});
  auto v = decode_all(payload);
  REQUIRE_FALSE(v.ok());
  CHECK(v.error() == "amf0: string length 300 exceeds remaining 12 bytes at offset 10");

  auto n = decode_all(Buf{0x00, 0x3F, 0xF0});
  REQUIRE_FALSE(n.ok());
  CHECK(n.error() == "amf0: number needs 8 bytes but 2 remain at offset 0");
}

TEST_CASE("amf0: every truncated prefix fails or yields fewer values") {
  const std::vector<Value> values = sample_values();
  const Buf wire = encode_all(values);
  for (size_t len = 0; len < wire.size(); ++len) {
    CAPTURE(len);
    auto v = decode_all(Bytes(wire.data(), len));
    if (!v.ok()) {
      CHECK(v.error().rfind("amf0: ", 0) == 0);
      continue;
    }
    // A cut exactly between values is a valid shorter payload; its values must be a prefix.
    REQUIRE(v->size() < values.size());
    for (size_t i = 0; i < v->size(); ++i) CHECK((*v)[i] == values[i]);
  }

  // A single value is never complete when cut anywhere.
  Buf one;
  encode(values[2], one);
  for (size_t len = 0; len < one.size(); ++len) {
    CAPTURE(len);
    ByteReader in(Bytes(one.data(), len));
    CHECK_FALSE(decode(in).ok());
  }
}

TEST_CASE("amf0: unsupported and unknown markers are errors naming the byte") {
  std::vector<uint8_t> bad = {0x04, 0x07, 0x0D, 0x0E, 0x0F, 0x10, 0x11};
  for (int m = 0x12; m <= 0xFF; ++m) bad.push_back(static_cast<uint8_t>(m));
  for (uint8_t m : bad) {
    CAPTURE(int(m));
    // Followed by plausible bytes so that nothing but the marker is wrong.
    auto top = decode_all(Buf{m, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00});
    REQUIRE_FALSE(top.ok());
    CHECK(contains(top.error(), "marker " + hex(m)));
    CHECK(contains(top.error(), "at offset 0"));

    auto nested = decode_all(Buf{0x03, 0x00, 0x01, 'a', m, 0x00, 0x00, 0x09});
    REQUIRE_FALSE(nested.ok());
    CHECK(contains(nested.error(), hex(m)));
    CHECK(contains(nested.error(), "at offset 4"));
  }
  auto ref = decode_all(Buf{0x07, 0x00, 0x00});
  CHECK(contains(ref.error(), "reference"));
  auto avm = decode_all(Buf{0x11, 0x01});
  CHECK(contains(avm.error(), "AMF3"));

  // An object-end marker where a value belongs is not a value either.
  auto end = decode_all(Buf{0x09});
  REQUIRE_FALSE(end.ok());
  CHECK(contains(end.error(), "0x09"));
}

TEST_CASE("amf0: a 60,000-deep nesting bomb is stopped by max_depth") {
  constexpr size_t kDepth = 60000;
  Buf objects;
  Buf ecmas;
  Buf arrays;
  for (size_t i = 0; i < kDepth; ++i) {
    objects.insert(objects.end(), {0x03, 0x00, 0x01, 'a'});
    ecmas.insert(ecmas.end(), {0x08, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 'a'});
    arrays.insert(arrays.end(), {0x0A, 0x00, 0x00, 0x00, 0x01});
  }
  for (const Buf* bomb : {&objects, &ecmas, &arrays}) {
    auto v = decode_all(*bomb);
    REQUIRE_FALSE(v.ok());
    CHECK(contains(v.error(), "max_depth 16"));
  }
}

TEST_CASE("amf0: max_depth allows exactly that many nested containers") {
  Buf wire;
  encode(nest_objects(16), wire);
  CHECK(decode_all(wire).ok());
  wire.clear();
  encode(nest_objects(17), wire);
  CHECK_FALSE(decode_all(wire).ok());

  wire.clear();
  encode(nest_arrays(16), wire);
  CHECK(decode_all(wire).ok());
  wire.clear();
  encode(nest_arrays(17), wire);
  CHECK_FALSE(decode_all(wire).ok());

  Limits flat;
  flat.max_depth = 0;
  CHECK(decode_all(encode_all({Value::String("scalars are fine")}), flat).ok());
  CHECK_FALSE(decode_all(encode_all({Value::Object({})}), flat).ok());
}

TEST_CASE("amf0: huge string lengths fail against the remaining bytes") {
  auto s = decode_all(Buf{0x02, 0xFF, 0xFF, 'a', 'b', 'c'});
  REQUIRE_FALSE(s.ok());
  CHECK(s.error() == "amf0: string length 65535 exceeds remaining 3 bytes at offset 1");

  auto l = decode_all(Buf{0x0C, 0xFF, 0xFF, 0xFF, 0xFF, 'a', 'b', 'c'});
  REQUIRE_FALSE(l.ok());
  CHECK(contains(l.error(), "long string length 4294967295 exceeds max_string 65536"));

  // Even with the string limit lifted, the claimed length must fit in the payload.
  Limits unlimited;
  unlimited.max_string = std::numeric_limits<size_t>::max();
  auto l2 = decode_all(Buf{0x0C, 0xFF, 0xFF, 0xFF, 0xFF, 'a', 'b', 'c'}, unlimited);
  REQUIRE_FALSE(l2.ok());
  CHECK(contains(l2.error(), "long string length 4294967295 exceeds remaining 3 bytes"));

  auto key = decode_all(Buf{0x03, 0x00, 0x10, 'a', 0x05, 0x00, 0x00, 0x09});
  REQUIRE_FALSE(key.ok());
  CHECK(contains(key.error(), "property key length 16 exceeds remaining 5 bytes"));
}

TEST_CASE("amf0: strict array count is validated before anything is allocated") {
  auto v = decode_all(Buf{0x0A, 0xFF, 0xFF, 0xFF, 0xFF});
  REQUIRE_FALSE(v.ok());
  CHECK(v.error() == "amf0: strict array count 4294967295 exceeds remaining 0 bytes at offset 0");

  // Lifting max_items does not let the count outrun the payload.
  Limits unlimited;
  unlimited.max_items = std::numeric_limits<size_t>::max();
  auto u = decode_all(Buf{0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x05, 0x05}, unlimited);
  REQUIRE_FALSE(u.ok());
  CHECK(contains(u.error(), "exceeds remaining 2 bytes"));

  auto short_by_one = decode_all(Buf{0x0A, 0x00, 0x00, 0x00, 0x03, 0x05, 0x05});
  REQUIRE_FALSE(short_by_one.ok());

  // A count that fits the bytes but not the item budget is refused up front.
  Limits few;
  few.max_items = 9;
  const Buf ten_nulls = cat({{0x0A, 0x00, 0x00, 0x00, 0x0A}, Buf(10, 0x05)});
  ByteReader in(ten_nulls);
  auto over = decode(in, few);
  REQUIRE_FALSE(over.ok());
  CHECK(contains(over.error(), "max_items 9"));
  few.max_items = 10;
  ByteReader in2(ten_nulls);
  CHECK(decode(in2, few).ok());
}

TEST_CASE("amf0: max_items counts properties and items across the whole call") {
  // One property holding three items: four units.
  const Buf wire =
      encode_all({Value::Object({{"a", Value::StrictArray({Value::Null(), Value::Null(), Value::Null()})}})});
  Limits limits;
  limits.max_items = 4;
  {
    ByteReader in(wire);
    CHECK(decode(in, limits).ok());
  }
  limits.max_items = 3;
  {
    ByteReader in(wire);
    auto v = decode(in, limits);
    REQUIRE_FALSE(v.ok());
    CHECK(contains(v.error(), "max_items 3"));
  }

  // decode_all also charges each top-level value, sharing one budget.
  const Buf three = encode_all({Value::Null(), Value::Null(), Value::Null()});
  limits.max_items = 3;
  CHECK(decode_all(three, limits).ok());
  limits.max_items = 2;
  CHECK_FALSE(decode_all(three, limits).ok());

  // A flood of tiny properties stops at the default budget.
  Buf flood = {0x03};
  for (int i = 0; i < 5000; ++i) flood.insert(flood.end(), {0x00, 0x01, 'k', 0x05});
  flood.insert(flood.end(), {0x00, 0x00, 0x09});
  auto f = decode_all(flood);
  REQUIRE_FALSE(f.ok());
  CHECK(contains(f.error(), "max_items 4096"));
}

TEST_CASE("amf0: max_string applies to strings, long strings and keys") {
  Limits limits;
  limits.max_string = 9;
  const std::string ten(10, 'x');
  CHECK_FALSE(decode_all(encode_all({Value::String(ten)}), limits).ok());
  CHECK_FALSE(decode_all(cat({{0x0C, 0x00, 0x00, 0x00, 0x0A}, ascii(ten)}), limits).ok());
  auto key = decode_all(encode_all({Value::Object({{ten, Value::Null()}})}), limits);
  REQUIRE_FALSE(key.ok());
  CHECK(contains(key.error(), "property key length 10 exceeds max_string 9"));

  limits.max_string = 10;
  CHECK(decode_all(encode_all({Value::String(ten)}), limits).ok());
  CHECK(decode_all(cat({{0x0C, 0x00, 0x00, 0x00, 0x0A}, ascii(ten)}), limits).ok());
  CHECK(decode_all(encode_all({Value::Object({{ten, Value::Null()}})}), limits).ok());

  // The default refuses long strings above 64 KiB.
  CHECK_FALSE(decode_all(encode_all({Value::String(std::string(65537, 'y'))})).ok());
}

TEST_CASE("amf0: object missing its end marker is an error") {
  // Payload ends after the last property.
  auto a = decode_all(Buf{0x03, 0x00, 0x01, 'a', 0x05});
  REQUIRE_FALSE(a.ok());
  CHECK(contains(a.error(), "object ended without object-end marker"));
  // Ends after the empty key.
  CHECK_FALSE(decode_all(Buf{0x03, 0x00, 0x01, 'a', 0x05, 0x00, 0x00}).ok());
  // Ends halfway through the empty key.
  CHECK_FALSE(decode_all(Buf{0x03, 0x00}).ok());
  // Empty key followed by something other than 0x09.
  auto b = decode_all(Buf{0x03, 0x00, 0x00, 0x05});
  REQUIRE_FALSE(b.ok());
  CHECK(contains(b.error(), "empty key followed by marker 0x05"));
  // ECMA arrays need their terminator too, whatever the count says.
  auto c = decode_all(Buf{0x08, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 'a', 0x05});
  REQUIRE_FALSE(c.ok());
  CHECK(contains(c.error(), "ecma array ended without object-end marker"));
  CHECK_FALSE(decode_all(Buf{0x08, 0x00, 0x00}).ok());
}

TEST_CASE("amf0: ecma array count is ignored in favour of the terminator") {
  const Buf body = {0x00, 0x01, 'a',  0x00, 0x3F, 0xF0, 0,    0,    0,    0,
                    0,    0,    0x00, 0x01, 'b',  0x01, 0x01, 0x00, 0x00, 0x09};
  for (const Buf& count :
       {Buf{0, 0, 0, 0}, Buf{0, 0, 0, 1}, Buf{0, 0, 0, 100}, Buf{0xFF, 0xFF, 0xFF, 0xFF}}) {
    auto v = decode_all(cat({{0x08}, count, body, {0x05}}));
    REQUIRE_MESSAGE(v.ok(), v.error());
    REQUIRE(v->size() == 2);
    CHECK((*v)[0] == Value::EcmaArray({{"a", Value::Number(1)}, {"b", Value::Boolean(true)}}));
    CHECK((*v)[1] == Value::Null());
  }
}

TEST_CASE("amf0: any nonzero boolean byte is true") {
  auto v = decode_all(Buf{0x01, 0x00, 0x01, 0x01, 0x01, 0x7F, 0x01, 0xFF});
  REQUIRE(v.ok());
  REQUIRE(v->size() == 4);
  CHECK_FALSE((*v)[0].boolean);
  CHECK((*v)[1].boolean);
  CHECK((*v)[2].boolean);
  CHECK((*v)[3].boolean);
}

TEST_CASE("amf0: mutated and random input never crashes") {
  const Buf wire = encode_all(sample_values());
  size_t errors = 0;
  for (size_t i = 0; i < wire.size(); ++i) {
    for (uint8_t b : {0x00, 0x01, 0x02, 0x03, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x7F, 0x80, 0xFF}) {
      Buf m = wire;
      m[i] = b;
      auto v = decode_all(m);
      if (!v.ok()) ++errors;
    }
  }
  CHECK(errors > 0);

  // Random bytes biased toward markers and small lengths, from a fixed seed.
  uint32_t state = 12345;
  auto next = [&state] {
    state = state * 1664525u + 1013904223u;
    return state >> 24;
  };
  for (int round = 0; round < 20000; ++round) {
    Buf m(next() % 48);
    for (uint8_t& b : m) b = static_cast<uint8_t>(next() % 4 == 0 ? next() : next() % 13);
    auto v = decode_all(m);
    if (v.ok()) {
      for (const Value& value : *v) CHECK(to_debug_string(value).size() <= 203);
    }
  }
}

TEST_CASE("amf0: to_debug_string is compact, escaped and bounded") {
  CHECK(to_debug_string(Value::Number(1)) == "1");
  CHECK(to_debug_string(Value::Number(-2.5)) == "-2.5");
  CHECK(to_debug_string(Value::Boolean(true)) == "true");
  CHECK(to_debug_string(Value::Null()) == "null");
  CHECK(to_debug_string(Value::Undefined()) == "undefined");
  CHECK(to_debug_string(Value::Date(1000, 0)) == "date(1000,0)");
  CHECK(to_debug_string(Value::Object({{"app", Value::String("live")}, {"n", Value::Number(3)}})) ==
        "{app:\"live\",n:3}");
  CHECK(to_debug_string(Value::EcmaArray({{"w", Value::Number(1280)}})) == "ecma{w:1280}");
  CHECK(to_debug_string(Value::StrictArray({Value::Null(), Value::String("a")})) == "[null,\"a\"]");
  CHECK(to_debug_string(Value::String("a\"b\\c\n\x1b\xC3\xA9")) == "\"a\\\"b\\\\c\\x0a\\x1b\\xc3\\xa9\"");

  const std::string big = to_debug_string(Value::String(std::string(100000, 'x')));
  CHECK(big.size() == 203);
  CHECK(big.substr(200) == "...");

  std::vector<Value> many(10000, Value::Number(123456));
  const std::string list = to_debug_string(Value::StrictArray(std::move(many)));
  CHECK(list.size() == 203);
  CHECK(list.rfind("[123456,123456,", 0) == 0);
}
