// UTF-8 validation by the well-formed byte sequences of Unicode 15 table 3-7.
#include "common/utf8.h"

#include <cstdint>

namespace livegate {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// The length of the well-formed sequence at `s[at]`, or 0 if it is ill-formed; then `bad` is the length of
// its maximal ill-formed subpart (at least 1), the bytes one U+FFFD replaces.
size_t sequence_at(std::string_view s, size_t at, size_t& bad) noexcept {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(s[at + i]); };
  const uint8_t b0 = byte(0);
  bad = 1;
  if (b0 < 0x80) return 1;
  size_t len = 0;
  uint8_t lo = 0x80, hi = 0xBF;  // the range of the second byte (table 3-7)
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;  // no overlong forms
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;  // no overlong forms
    if (b0 == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;  // C0, C1, F5..FF and stray continuation bytes never start a sequence
  }
  for (size_t i = 1; i < len; ++i) {
    if (at + i >= s.size()) return 0;  // truncated: the bytes so far are one subpart
    const uint8_t b = byte(i);
    if (b < (i == 1 ? lo : 0x80) || b > (i == 1 ? hi : 0xBF)) return 0;
    bad = i + 1;
  }
  return len;
}

}  // namespace

bool is_valid_utf8(std::string_view bytes) noexcept {
  size_t bad = 0;
  for (size_t at = 0; at < bytes.size();) {
    const size_t n = sequence_at(bytes, at, bad);
    if (n == 0) return false;
    at += n;
  }
  return true;
}

std::string valid_utf8(std::string_view bytes) {
  if (is_valid_utf8(bytes)) return std::string(bytes);
  std::string out;
  out.reserve(bytes.size() + 8);
  size_t bad = 0;
  for (size_t at = 0; at < bytes.size();) {
    const size_t n = sequence_at(bytes, at, bad);
    if (n == 0) {
      out += kReplacement;
      at += bad;
    } else {
      out.append(bytes.substr(at, n));
      at += n;
    }
  }
  return out;
}

std::string escape_for_log(std::string_view text) {
  const std::string valid = valid_utf8(text);
  std::string out;
  out.reserve(valid.size());
  static constexpr char kHex[] = "0123456789abcdef";
  for (const char c : valid) {
    const auto u = static_cast<uint8_t>(c);
    if (c == '\\') {
      out += "\\\\";
    } else if (u < 0x20 || u == 0x7F) {
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xF];
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace livegate
