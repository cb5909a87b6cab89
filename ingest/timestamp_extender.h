// Extends RTMP's 32-bit wrapping millisecond timestamps to 64 bits.
#pragma once

#include "common/media.h"

namespace livegate {

// Each step is taken as the signed 32-bit difference from the previous timestamp, so a wrap
// past 2^32 ms (~49.7 days, or sooner for encoders that start near it) reads as a small step forward
// and a small step back stays a step back (the segmenter decides what a jump means).
class TimestampExtender {
 public:
  MsTime extend(RtmpMs ts) noexcept {
    if (!started_) {
      started_ = true;
      last_wire_ = ts;
      last_ = ts;
      return last_;
    }
    last_ += static_cast<int32_t>(ts - last_wire_);
    last_wire_ = ts;
    return last_;
  }

 private:
  bool started_ = false;
  RtmpMs last_wire_ = 0;
  MsTime last_ = 0;
};

}  // namespace livegate
