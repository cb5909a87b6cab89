// Bounds-checked big-endian reads over a byte span: every read checks first, and a failed read
// leaves the reader failed, so a parser can read a whole header and test once.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <span>

namespace livegate {

using Bytes = std::span<const uint8_t>;

class ByteReader {
 public:
  explicit ByteReader(Bytes data) noexcept : data_(data) {}

  size_t remaining() const noexcept { return failed_ ? 0 : data_.size() - pos_; }
  size_t position() const noexcept { return pos_; }
  bool failed() const noexcept { return failed_; }
  bool empty() const noexcept { return remaining() == 0; }
  bool has(size_t n) const noexcept { return !failed_ && data_.size() - pos_ >= n; }

  uint8_t u8() noexcept { return static_cast<uint8_t>(be(1)); }
  uint16_t u16() noexcept { return static_cast<uint16_t>(be(2)); }
  uint32_t u24() noexcept { return static_cast<uint32_t>(be(3)); }
  uint32_t u32() noexcept { return static_cast<uint32_t>(be(4)); }
  uint64_t u64() noexcept { return be(8); }
  uint32_t u32le() noexcept {
    if (!take(4)) return 0;
    const uint8_t* p = data_.data() + pos_ - 4;
    return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
  }
  // Signed 24-bit big-endian (FLV composition time offset).
  int32_t s24() noexcept {
    uint32_t v = u24();
    return (v & 0x800000u) ? static_cast<int32_t>(v | 0xFF000000u) : static_cast<int32_t>(v);
  }
  double f64() noexcept { return std::bit_cast<double>(be(8)); }

  // The next n bytes as a span into the input (no copy); empty and failed if fewer remain.
  Bytes bytes(size_t n) noexcept {
    if (!take(n)) return {};
    return data_.subspan(pos_ - n, n);
  }
  Bytes rest() noexcept { return bytes(remaining()); }
  void skip(size_t n) noexcept { take(n); }
  uint8_t peek() const noexcept { return has(1) ? data_[pos_] : 0; }

 private:
  bool take(size_t n) noexcept {
    if (!has(n)) {
      failed_ = true;
      return false;
    }
    pos_ += n;
    return true;
  }
  uint64_t be(size_t n) noexcept {
    if (!take(n)) return 0;
    uint64_t v = 0;
    for (size_t i = pos_ - n; i < pos_; ++i) v = v << 8 | data_[i];
    return v;
  }

  Bytes data_;
  size_t pos_ = 0;
  bool failed_ = false;
};

}  // namespace livegate
