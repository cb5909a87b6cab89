// TsMuxer: one stream's access units packed into MPEG-TS segments in memory, by libavformat's "mpegts".
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

// One muxer per stream and per codec configuration: a configuration change makes a new one (and the
// playlist marks a discontinuity). Keeping one muxer across segments is what keeps the continuity
// counters continuous from one segment to the next.
//
// Output timestamps are exactly the ones given (mpegts_copyts, max_delay 0): no muxing delay added, as
// the ffmpeg CLI adds (its -muxdelay). The price of max_delay 0 is that the PCR equals the DTS of the
// packet carrying it, and that every audio frame gets its own PES packet (libavformat packs audio
// frames only up to max_delay / 2 apart). A positive max_delay would pack audio but put the PCR
// max_delay before the DTS, which is negative, so wrong, while timestamps start near 0.
//
// Every segment starts with PAT, PMT: the DVB SDT libavformat writes in front of them is dropped.
class TsMuxer final : public Muxer {
 public:
  // At least one of video/audio must be set. Video: H.264 with SPS/PPS parsed from the avcC and
  // nal_length_size. Audio: AAC (asc is the AudioSpecificConfig) or MP3.
  static Result<std::unique_ptr<TsMuxer>> create(const std::optional<VideoConfig>& video,
                                                 const std::optional<AudioConfig>& audio);
  ~TsMuxer() override;
  TsMuxer(const TsMuxer&) = delete;
  TsMuxer& operator=(const TsMuxer&) = delete;

  // Writes one access unit. Timestamps are 90 kHz, >= 0, DTS non-decreasing per track, PTS >= DTS.
  // Frames must come in DTS order across tracks (frames are written as they come, not interleaved).
  // Video: length-prefixed NAL units become Annex B, each access unit starts with an access unit
  // delimiter (one the frame carries is dropped) and each keyframe with the configuration's SPS and
  // PPS. AAC: raw frames get ADTS headers. An equal DTS on a track is written one tick (11 us) later,
  // as libavformat needs DTS strictly increasing per stream.
  [[nodiscard]] Status write(const AccessUnit& unit) override;

  // Ends the current segment: pushes out pending PES data so every frame written so far is in the
  // returned bytes, and arms PAT/PMT for the start of the next segment.
  std::vector<uint8_t> cut(Ticks90k end_dts) override;

  // Bytes produced since the last cut (written out or still in the IO buffer). An audio frame that
  // libavformat holds back to pack into a PES is not counted until the next write or cut().
  size_t pending_bytes() const noexcept override;

 private:
  // Only create() can name it, so only create() makes muxers (make_unique needs a public constructor).
  struct Key {
    explicit Key() = default;
  };

 public:
  explicit TsMuxer(Key) noexcept {}

 private:
  Status write_video(const AccessUnit& unit);
  Status write_audio(const AccessUnit& unit);
  Status send(int stream_index, Ticks90k& last_dts, const AccessUnit& unit, const char* what);
  int arm_headers() noexcept;
  static int on_write(void* opaque, uint8_t* buf, int size) noexcept;

  // Allocated by this. Declared before ctx_ so ctx_, which writes through io_, goes first.
  ChunkBuffer out_;  // bytes of the current segment that left the IO buffer
  AvioContextPtr io_;
  FormatContextPtr ctx_;
  PacketPtr pkt_;

  int video_index_ = -1;
  int audio_index_ = -1;
  uint8_t nal_length_size_ = 4;
  std::vector<uint8_t> key_prefix_;  // AUD, SPS..., PPS... in Annex B, in front of every keyframe
  AudioCodec audio_codec_ = AudioCodec::none;
  bool adts_by_hand_ = false;
  uint8_t adts_fixed_[4] = {};  // first 4 ADTS bytes without the frame length bits
  Ticks90k last_video_dts_ = -1;
  Ticks90k last_audio_dts_ = -1;
  size_t flushed_ = 0;  // bytes handed to on_write so far, SDT packets included
};

}  // namespace livegate
