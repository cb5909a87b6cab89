// CmafMuxer: one stream's access units as CMAF (fragmented MP4) in memory, by libavformat's "mp4" muxer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "common/media.h"
#include "common/result.h"
#include "segmenter/chunk_buffer.h"
#include "segmenter/ff_ptr.h"
#include "segmenter/muxer.h"

namespace livegate {

// The init segment (ftyp + moov, no samples) is made once, when the muxer is; each cut() is one
// fragment (moof + mdat), which HlsStream serves as a part and, joined with its neighbours, as a
// segment. A configuration change makes a new muxer, so a new init segment (EXT-X-MAP).
//
// Timing: video is in a 90 kHz track, audio in one at its sample rate. Every fragment's
// baseMediaDecodeTime (tfdt) is the DTS of its first frame as we gave it (frag_discont, set again at
// each cut), not a count from zero per muxer nor the sum of the durations before it, so a new muxer after
// a republish or a discontinuity carries on the playlist's timeline, audio keeps its offset to video, and
// a guessed duration never moves a later frame. A frame's duration is the step to the track's next frame,
// so each track holds its newest frame back until the next one comes (or the cut): the main track's last
// frame in a fragment lasts until cut()'s end_dts, the other track's for a guess: the shorter of its
// last two steps, so with RTMP's millisecond clock the next fragment starts at most 1 ms after it ends.
// B-frames: composition offsets are positive (trun version 0) and each video frame is presented at
// exactly the PTS we gave, by FFmpeg as by browsers. Offsets are relative to the moof
// (default_base_moof), so each fragment stands alone. AAC priming: the encoder's first frames go out as
// they came (a fragmented init segment has no edit list), as in the TS output.
class CmafMuxer final : public Muxer {
 public:
  // At least one of video/audio must be set. Video: H.264 with its avcC. Audio: AAC (with its
  // AudioSpecificConfig) or MP3.
  static Result<std::unique_ptr<CmafMuxer>> create(const std::optional<VideoConfig>& video,
                                                   const std::optional<AudioConfig>& audio);
  ~CmafMuxer() override;
  CmafMuxer(const CmafMuxer&) = delete;
  CmafMuxer& operator=(const CmafMuxer&) = delete;

  // ftyp + moov: what EXT-X-MAP names. The same bytes for the life of the muxer.
  const std::shared_ptr<const std::vector<uint8_t>>& init_segment() const noexcept { return init_; }

  // Video frames keep their length-prefixed NAL units (the avcC in the init segment describes them);
  // AAC frames go in raw (an ADTS header an encoder sent is taken off). An equal DTS on a track is
  // written one tick later, as libavformat needs DTS strictly increasing per track. The frame is held
  // until the track's next one or the cut: a failure to hand the one before it to libavformat shows here.
  [[nodiscard]] Status write(const AccessUnit& unit) override;
  // One moof + mdat with every frame written since the last cut; empty if there was none.
  std::vector<uint8_t> cut(Ticks90k end_dts) override;
  // Sample bytes written since the last cut (the moof adds a few bytes per sample).
  size_t pending_bytes() const noexcept override { return pending_; }

 private:
  struct Key {
    explicit Key() = default;
  };

 public:
  explicit CmafMuxer(Key) noexcept {}

 private:
  struct TrackState {
    int index = -1;
    AVRational time_base{1, 90000};  // the track's, once the header is written
    PacketPtr held;                  // the newest frame, not yet given to libavformat
    bool holding = false;
    int64_t last_dts = INT64_MIN;  // of the newest frame, in time_base
    int64_t step = 0;              // the last DTS step, in time_base
    int64_t step_before = 0;       // the one before it
  };
  TrackState& main_track() noexcept { return video_.index >= 0 ? video_ : audio_; }
  Status hold(TrackState& track, const AccessUnit& unit, const uint8_t* data, size_t size, const char* what);
  // Gives the held frame to libavformat, lasting `duration` (time_base).
  int release(TrackState& track, int64_t duration);
  static int on_write(void* opaque, uint8_t* buf, int size) noexcept;

  ChunkBuffer out_;  // declared before io_ and ctx_, which write into it
  AvioContextPtr io_;
  FormatContextPtr ctx_;
  TrackState video_;
  TrackState audio_;
  AudioCodec audio_codec_ = AudioCodec::none;
  size_t pending_ = 0;
  int cut_error_ = 0;  // libavformat refused a frame at the last cut: the next write() says so
  std::shared_ptr<const std::vector<uint8_t>> init_;
};

}  // namespace livegate
