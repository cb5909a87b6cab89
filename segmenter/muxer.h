// What HlsStream asks of a packager: access units in, finished runs of bytes out. HlsStream decides where
// segments and parts end; a muxer only makes the bytes (MPEG-TS in ts_muxer.h, CMAF in cmaf_muxer.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/media.h"
#include "common/result.h"

namespace livegate {

// One per stream and codec configuration: a configuration change makes a new one. Frames come in DTS
// order across tracks; timestamps are 90 kHz, >= 0, DTS non-decreasing per track, PTS >= DTS.
class Muxer {
 public:
  virtual ~Muxer() = default;
  [[nodiscard]] virtual Status write(const AccessUnit& unit) = 0;
  // Ends what is being written (a TS segment, a CMAF fragment) and returns its bytes: every frame
  // written since the last cut. Empty when nothing was written.
  virtual std::vector<uint8_t> cut() = 0;
  // About how many bytes the next cut() returns, for the segment size limit.
  virtual size_t pending_bytes() const noexcept = 0;
};

}  // namespace livegate
