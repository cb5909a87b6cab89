// Helpers shared by the fuzz targets: a reader that turns fuzzer bytes into parameters, and a check that
// aborts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

namespace livegate::fuzz {

// Control values read from the front of the input. Reading past the end yields zeros instead of
// failing, so every input, however short, is a valid run and the fuzzer never wastes executions.
class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) noexcept : data_(data), size_(size) {}

  uint8_t u8() noexcept { return pos_ < size_ ? data_[pos_++] : 0; }
  uint16_t u16() noexcept { return static_cast<uint16_t>(u8() << 8 | u8()); }
  uint32_t u24() noexcept { return static_cast<uint32_t>(u16()) << 8 | u8(); }
  uint32_t u32() noexcept { return static_cast<uint32_t>(u16()) << 16 | u16(); }
  size_t remaining() const noexcept { return size_ - pos_; }
  // Everything not read yet, as the payload a parser gets.
  std::span<const uint8_t> rest() noexcept {
    std::span<const uint8_t> r(data_ + pos_, size_ - pos_);
    pos_ = size_;
    return r;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

}  // namespace livegate::fuzz

// A broken invariant is a finding: abort so libFuzzer saves the input and prints the stack.
#define FUZZ_CHECK(cond)                                                                  \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      std::fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                       \
    }                                                                                     \
  } while (0)
