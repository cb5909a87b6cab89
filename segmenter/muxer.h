// What HlsStream asks of a packager: access units in, finished runs of bytes out. HlsStream decides where
// segments and parts end; a muxer only makes the bytes (MPEG-TS in ts_muxer.h, CMAF in cmaf_muxer.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "common/media.h"
#include "common/result.h"

namespace livegate {

// cut()'s end_dts when no frame follows.
inline constexpr Ticks90k kUnknownEnd = -1;

// One per stream and codec configuration: a configuration change makes a new one. Frames come in DTS
// order across tracks; timestamps are 90 kHz, >= 0, DTS non-decreasing per track, PTS >= DTS.
class Muxer {
 public:
  virtual ~Muxer() = default;
  [[nodiscard]] virtual Status write(const AccessUnit& unit) = 0;
  // Ends what is being written (a TS segment, a CMAF fragment) and returns its bytes: every frame
  // written since the last cut. Empty when nothing was written. `end_dts`: where the media written ends,
  // the DTS of the next frame of the main track (video, else audio) when one follows, else
  // kUnknownEnd. A muxer that writes frame durations (CMAF) gives that track's last frame the time up
  // to it.
  virtual std::vector<uint8_t> cut(Ticks90k end_dts) = 0;
  // About how many bytes the next cut() returns, for the segment size limit.
  virtual size_t pending_bytes() const noexcept = 0;
};

// What every muxer refuses in its tracks: none at all, video other than H.264, audio other than AAC
// (with its AudioSpecificConfig) or MP3. nullptr when there is nothing to refuse.
inline const char* track_problem(const std::optional<VideoConfig>& video,
                                 const std::optional<AudioConfig>& audio) noexcept {
  if (!video && !audio) return "neither video nor audio";
  if (video && video->codec != VideoCodec::h264) return "video codec is not H.264";
  if (audio && audio->codec != AudioCodec::aac && audio->codec != AudioCodec::mp3)
    return "audio codec is neither AAC nor MP3";
  if (audio && audio->codec == AudioCodec::aac && audio->record.empty())
    return "AAC configuration without AudioSpecificConfig";
  return nullptr;
}

// What every muxer refuses in a frame: no bytes, or timestamps against the contract above.
inline const char* unit_problem(const AccessUnit& unit) noexcept {
  if (!unit.data || unit.data->empty()) return "empty access unit";
  if (unit.dts < 0 || unit.pts < unit.dts) return "timestamps out of order (dts < 0 or pts < dts)";
  return nullptr;
}

}  // namespace livegate
