// Extends RTMP's wrapping millisecond timestamps to 64 bits: the wire's 32-bit wrap at 2^32 ms, and the
// 31-bit one of encoders built on ffmpeg's FLV muxer, which masks the timestamp's top byte with 0x7F.
#pragma once

#include <cstdint>

#include "common/media.h"

namespace livegate {

// Each step is taken as the signed 32-bit difference from the previous timestamp, so a wrap past 2^32 ms
// (~49.7 days, or sooner for encoders that start near it) reads as a small step forward and a small step
// back stays a step back (the segmenter decides what a jump means). A step back by nearly 2^31 ms, that
// is to within `wrap_tolerance_ms` of a step forward once 2^31 is added, is a 31-bit clock wrapping
// (~24.8 days): it continues the same way. Anything else stays as it came.
class TimestampExtender {
 public:
  static constexpr int64_t kWrap31 = int64_t{1} << 31;

  explicit TimestampExtender(uint32_t wrap_tolerance_ms = 10000) : tolerance_(wrap_tolerance_ms) {}

  MsTime extend(RtmpMs ts) noexcept {
    if (!started_) {
      started_ = true;
      last_wire_ = ts;
      last_ = ts;
      return last_;
    }
    int64_t step = static_cast<int32_t>(ts - last_wire_);
    if (step < 0 && step + kWrap31 <= tolerance_) {
      step += kWrap31;
      ++wraps_;
    } else if (step >= 0 && ts < last_wire_) {
      ++wraps_;  // past 2^32
    }
    last_ += step;
    last_wire_ = ts;
    return last_;
  }

  // Wraps (at 2^31 or 2^32 ms) crossed so far.
  uint64_t wraps() const noexcept { return wraps_; }

 private:
  int64_t tolerance_;
  bool started_ = false;
  RtmpMs last_wire_ = 0;
  MsTime last_ = 0;
  uint64_t wraps_ = 0;
};

}  // namespace livegate
