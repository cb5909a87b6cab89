// MSB-first bit reads with Exp-Golomb codes (H.264 9.1) over an RBSP, for parsing parameter sets.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/byte_reader.h"

namespace livegate {

// Like ByteReader, a failed read is sticky and returns 0, so a parser can read a run of fields and
// test failed() once; every value read after the first failure is meaningless but harmless.
class BitReader {
 public:
  explicit BitReader(Bytes data) noexcept : data_(data) {}

  bool failed() const noexcept { return failed_; }
  size_t bits_left() const noexcept { return failed_ ? 0 : data_.size() * 8 - pos_; }

  // u(n) for n in 0..32.
  uint32_t bits(unsigned n) noexcept {
    if (n > 32 || bits_left() < n) {
      failed_ = true;
      return 0;
    }
    uint64_t v = 0;
    for (unsigned i = 0; i < n; ++i, ++pos_) v = v << 1 | ((data_[pos_ / 8] >> (7 - pos_ % 8)) & 1u);
    return static_cast<uint32_t>(v);
  }
  bool flag() noexcept { return bits(1) != 0; }
  void skip(size_t n) noexcept {
    if (bits_left() < n) {
      failed_ = true;
      return;
    }
    pos_ += n;
  }

  // ue(v), H.264 9.1: leadingZeroBits zeros, a 1, then leadingZeroBits info bits;
  // value = 2^leadingZeroBits - 1 + info. 32 or more zeros cannot yield a 32-bit value, and
  // scanning an all-zero tail must not become a long loop, so more than 31 is a failure.
  uint32_t ue() noexcept {
    unsigned zeros = 0;
    for (;;) {
      uint32_t bit = bits(1);
      if (failed_) return 0;
      if (bit) break;
      if (++zeros > 31) {
        failed_ = true;
        return 0;
      }
    }
    uint64_t v = (uint64_t{1} << zeros) - 1 + bits(zeros);
    return failed_ ? 0 : static_cast<uint32_t>(v);
  }

  // se(v), H.264 9.1.1: codeNum k maps to (-1)^(k+1) * Ceil(k / 2).
  int32_t se() noexcept {
    uint64_t k = ue();
    int64_t magnitude = static_cast<int64_t>((k + 1) / 2);
    return static_cast<int32_t>((k & 1) ? magnitude : -magnitude);
  }

 private:
  Bytes data_;
  size_t pos_ = 0;  // in bits
  bool failed_ = false;
};

}  // namespace livegate
