// Fuzz target: AMF0 decode_all; whatever decodes must survive encode_all + decode_all unchanged.
//
// Input: an RTMP command or data message payload, as is.
#include <cstring>
#include <span>
#include <vector>

#include "fuzz_input.h"
#include "ingest/amf0.h"

using namespace livegate;
using amf0::Value;

namespace {

// Structural equality that compares numbers by their bits, so NaN payloads and -0.0 must round-trip
// too (operator== would accept 0.0 for -0.0 and reject every NaN).
bool same(const Value& a, const Value& b);

bool same_number(double x, double y) { return std::memcmp(&x, &y, sizeof x) == 0; }

bool same(const std::vector<Value>& a, const std::vector<Value>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!same(a[i], b[i])) return false;
  return true;
}

bool same(const Value& a, const Value& b) {
  if (a.type != b.type || !same_number(a.number, b.number) || a.boolean != b.boolean ||
      a.string != b.string || a.timezone != b.timezone || a.properties.size() != b.properties.size())
    return false;
  for (size_t i = 0; i < a.properties.size(); ++i) {
    if (a.properties[i].key != b.properties[i].key || !same(a.properties[i].value, b.properties[i].value))
      return false;
  }
  return same(a.items, b.items);
}

bool has_nan(const Value& v) {
  if (v.number != v.number) return true;
  for (const amf0::Property& p : v.properties)
    if (has_nan(p.value)) return true;
  for (const Value& i : v.items)
    if (has_nan(i)) return true;
  return false;
}

void check_debug_string(const Value& v) {
  const std::string s = amf0::to_debug_string(v);
  FUZZ_CHECK(s.size() <= 203);  // 200 characters and "..."
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    FUZZ_CHECK(u >= 0x20 && u < 0x7F);  // escaped: a client cannot forge log lines
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Bytes payload(data, size);
  auto decoded = amf0::decode_all(payload);

  // Tighter limits only ever reject more.
  const amf0::Limits tight{.max_depth = 3, .max_items = 32, .max_string = 64};
  auto tight_decoded = amf0::decode_all(payload, tight);
  if (tight_decoded) FUZZ_CHECK(decoded && same(*tight_decoded, *decoded));

  if (!decoded) {
    FUZZ_CHECK(!decoded.error().empty());
    return 0;
  }
  const std::vector<Value>& values = *decoded;
  bool nan = false;
  for (const Value& v : values) {
    check_debug_string(v);
    nan = nan || has_nan(v);
    // The lookups the session does on a connect object or onMetaData.
    (void)v.get_string("app");
    (void)v.get_number("width");
    (void)v.get_boolean("stereo");
    if (v.get("tcUrl") != nullptr) FUZZ_CHECK(v.has_properties());
  }

  const std::vector<uint8_t> encoded = amf0::encode_all(std::span<const Value>(values));
  // Every decoded value encodes to at most the bytes it came from (long strings may become short).
  FUZZ_CHECK(encoded.size() <= size);
  auto again = amf0::decode_all(encoded);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(same(values, *again));
  if (!nan) FUZZ_CHECK(values == *again);
  FUZZ_CHECK(amf0::encode_all(std::span<const Value>(*again)) == encoded);
  return 0;
}
