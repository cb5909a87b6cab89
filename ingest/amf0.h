// AMF0 (Adobe Action Message Format 0) values, decoding and encoding for RTMP command payloads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/byte_reader.h"
#include "common/result.h"

namespace livegate::amf0 {

struct Property;

// A decoded AMF0 value. Only the fields that belong to `type` are meaningful; the rest stay
// default so that two values of the same type compare by content alone.
struct Value {
  enum class Type : uint8_t {
    number,
    boolean,
    string,
    object,
    null,
    undefined,
    ecma_array,
    strict_array,
    date
  };

  Type type = Type::null;
  double number = 0;                 // number; date: ms since the Unix epoch
  bool boolean = false;              // boolean
  std::string string;                // string and long string (both decode to Type::string)
  std::vector<Property> properties;  // object and ecma_array, in wire order
  std::vector<Value> items;          // strict_array
  int16_t timezone = 0;              // date (the spec reserves it and says to send 0)

  static Value Number(double v);
  static Value Boolean(bool v);
  static Value String(std::string v);
  static Value Null();
  static Value Undefined();
  static Value Object(std::vector<Property> props);
  static Value EcmaArray(std::vector<Property> props);
  static Value StrictArray(std::vector<Value> items);
  static Value Date(double ms_since_epoch, int16_t timezone = 0);

  bool is_number() const noexcept { return type == Type::number; }
  bool is_boolean() const noexcept { return type == Type::boolean; }
  bool is_string() const noexcept { return type == Type::string; }
  bool is_object() const noexcept { return type == Type::object; }
  bool is_null() const noexcept { return type == Type::null; }
  bool is_undefined() const noexcept { return type == Type::undefined; }
  bool is_ecma_array() const noexcept { return type == Type::ecma_array; }
  bool is_strict_array() const noexcept { return type == Type::strict_array; }
  bool is_date() const noexcept { return type == Type::date; }
  // Object or ECMA array: both are key/value maps, and clients use them interchangeably
  // (e.g. onMetaData arrives as either).
  bool has_properties() const noexcept { return is_object() || is_ecma_array(); }

  // Lookups on an object or ECMA array. With duplicate keys the first in wire order wins, as in
  // librtmp and FFmpeg. nullptr / nullopt if this is not a map, the key is absent, or the
  // property has another type.
  const Value* get(std::string_view key) const;
  std::optional<std::string_view> get_string(std::string_view key) const;
  std::optional<double> get_number(std::string_view key) const;
  std::optional<bool> get_boolean(std::string_view key) const;
};

struct Property {
  std::string key;
  Value value;
};

// Structural equality; numbers compare as doubles (so NaN != NaN, 0.0 == -0.0).
bool operator==(const Value& a, const Value& b);
bool operator==(const Property& a, const Property& b);

// Bounds for decoding untrusted input: together they cap memory at roughly
// max_items * sizeof(Value) plus the payload size, and stack depth at max_depth frames.
struct Limits {
  size_t max_depth = 16;      // nesting of object / ecma array / strict array
  size_t max_items = 4096;    // total properties + items (+ top-level values) across one decode call
  size_t max_string = 65536;  // bytes in one string, long string or property key
};

// Decodes every value in a command message payload (e.g. "connect", 1, {...}, ...). Fails if any
// value is malformed; an empty payload gives an empty list. Top-level values count toward
// max_items, so a payload of many tiny values cannot expand into a huge vector.
Result<std::vector<Value>> decode_all(Bytes payload, const Limits& limits = {});

// Decodes one value from the reader and advances it past that value. On error the reader's
// position is unspecified. Error offsets are relative to the reader's span.
Result<Value> decode(ByteReader& in, const Limits& limits = {});

// Appends the AMF0 encoding of v. Strings longer than 65535 bytes are written as long strings.
// Unrepresentable parts are dropped rather than corrupting the stream: properties with an empty
// key (00 00 is the object terminator), key bytes beyond 65535, string bytes and strict array
// items beyond 2^32 - 1.
void encode(const Value& v, std::vector<uint8_t>& out);

// Convenience for building replies: encodes each value in order.
std::vector<uint8_t> encode_all(std::initializer_list<Value> values);
std::vector<uint8_t> encode_all(std::span<const Value> values);

// Compact one-line rendering for logs, e.g. {app:"live",n:1}; control and non-ASCII bytes are
// escaped and output longer than about 200 characters ends in "...".
std::string to_debug_string(const Value& v);

}  // namespace livegate::amf0
