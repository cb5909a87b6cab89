// Byte vectors written as hex in tests: hex("17 00 01") -> {0x17, 0x00, 0x01}; spaces only group bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace livegate::testing {

inline std::vector<uint8_t> hex(std::string_view text) {
  std::string digits;
  for (char c : text) {
    if (c != ' ') digits += c;
  }
  // Not REQUIRE: tests also build constants with this before any test case runs.
  if (digits.size() % 2 != 0) throw std::invalid_argument("hex: odd number of digits");
  auto nibble = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  std::vector<uint8_t> out;
  for (size_t i = 0; i < digits.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(nibble(digits[i]) << 4 | nibble(digits[i + 1])));
  }
  return out;
}

// Calls f(bytes) once for each bit of `bytes` with that bit flipped, putting it back after each call:
// for tests that feed a parser every one-bit corruption of a good input.
template <class F>
void for_each_flipped_bit(std::vector<uint8_t>& bytes, F&& f) {
  for (size_t bit = 0; bit < bytes.size() * 8; ++bit) {
    bytes[bit / 8] ^= static_cast<uint8_t>(0x80 >> (bit % 8));
    f(bytes);
    bytes[bit / 8] ^= static_cast<uint8_t>(0x80 >> (bit % 8));
  }
}

}  // namespace livegate::testing
