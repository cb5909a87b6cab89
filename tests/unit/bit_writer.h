// Test helpers that write bit-level syntax: a bit writer and the RBSP-to-NAL escaping.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace livegate::testing {

// Writes syntax elements MSB-first (u(n), ue(v), se(v) of H.264 and H.265), for building parameter sets
// that exercise paths the encoders never take.
class BitWriter {
 public:
  void u(unsigned n, uint64_t v) {
    for (unsigned i = n; i-- > 0;) bit((v >> i) & 1);
  }
  void flag(bool b) { bit(b); }
  void ue(uint64_t v) {  // codeNum v: leading zeros, then v + 1 in binary
    unsigned len = 0;
    while ((v + 1) >> len) ++len;
    u(len - 1, 0);
    u(len, v + 1);
  }
  void se(int64_t v) { ue(v > 0 ? 2 * static_cast<uint64_t>(v) - 1 : 2 * static_cast<uint64_t>(-v)); }
  // rbsp_trailing_bits(): a stop bit, then zeros to the byte boundary.
  std::vector<uint8_t> finish() {
    bit(true);
    while (bits_ % 8) bit(false);
    return bytes_;
  }

 private:
  void bit(bool b) {
    if (bits_ % 8 == 0) bytes_.push_back(0);
    if (b) bytes_.back() |= static_cast<uint8_t>(0x80 >> (bits_ % 8));
    ++bits_;
  }
  std::vector<uint8_t> bytes_;
  size_t bits_ = 0;
};

// RBSP to NAL unit behind `header` (1 byte for H.264, 2 for H.265): the inverse of nal_to_rbsp, so built
// parameter sets look like what an encoder emits.
inline std::vector<uint8_t> to_nal(std::vector<uint8_t> header, const std::vector<uint8_t>& rbsp) {
  std::vector<uint8_t> nal = std::move(header);
  int zeros = 0;
  for (uint8_t b : rbsp) {
    if (zeros >= 2 && b <= 3) {
      nal.push_back(3);
      zeros = 0;
    }
    nal.push_back(b);
    zeros = b == 0 ? zeros + 1 : 0;
  }
  return nal;
}

}  // namespace livegate::testing
