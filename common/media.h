// Media types shared by ingest and segmenter: codec configurations and access units with 90 kHz time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace livegate {

// Time has types: RTMP carries 32-bit wrapping milliseconds, MPEG-TS wants 90 kHz ticks.
using RtmpMs = uint32_t;  // as on the wire, wraps after ~49.7 days
using MsTime = int64_t;   // milliseconds extended past the 32-bit wrap
using Ticks90k = int64_t;
constexpr Ticks90k ms_to_90k(MsTime ms) noexcept { return ms * 90; }

enum class Track : uint8_t { video, audio };
enum class VideoCodec : uint8_t { none, h264, hevc, av1, vp9 };
enum class AudioCodec : uint8_t { none, aac, mp3, opus };

const char* to_string(VideoCodec c) noexcept;
const char* to_string(AudioCodec c) noexcept;

struct VideoConfig {
  VideoCodec codec = VideoCodec::none;
  // The decoder configuration record as received: avcC (ISO 14496-15 5.2.4.1), hvcC (14496-15 8.3.3.1),
  // av1C (AV1 in ISOBMFF 2.3), vpcC (VP codecs in ISOBMFF).
  std::vector<uint8_t> record;
  std::vector<std::vector<uint8_t>> vps;  // HEVC
  std::vector<std::vector<uint8_t>> sps;  // H.264, HEVC
  std::vector<std::vector<uint8_t>> pps;  // H.264, HEVC
  uint8_t nal_length_size = 4;            // H.264, HEVC
  uint8_t profile = 0;    // profile_idc (H.264, HEVC general_profile_idc), seq_profile (AV1), profile (VP9)
  uint8_t level = 0;      // level_idc (H.264, HEVC general_level_idc), seq_level_idx_0 (AV1), level (VP9)
  uint8_t bit_depth = 8;  // luma
  uint8_t chroma_format = 1;  // 0 monochrome, 1 4:2:0, 2 4:2:2, 3 4:4:4
  uint32_t width = 0;         // 0 until known: VP9's record has no size, the first keyframe says it
  uint32_t height = 0;
  double frame_rate = 0;     // where the bitstream says it, else 0
  std::string codec_string;  // RFC 6381 (the CODECS attribute), e.g. "avc1.4d401f", "hvc1.1.6.L93.B0"

  bool operator==(const VideoConfig& o) const { return record == o.record && codec == o.codec; }
};

struct AudioConfig {
  AudioCodec codec = AudioCodec::none;
  // As received: AAC AudioSpecificConfig (ISO 14496-3 1.6.2.1), Opus ID header "OpusHead" (RFC 7845 5.1).
  std::vector<uint8_t> record;
  uint8_t object_type = 0;  // AAC audio object type (2 = LC)
  uint32_t sample_rate = 0;
  uint8_t channels = 0;
  std::string codec_string;  // RFC 6381, e.g. "mp4a.40.2", "opus"

  bool operator==(const AudioConfig& o) const {
    return codec == o.codec && record == o.record && sample_rate == o.sample_rate && channels == o.channels;
  }
};

// One coded frame. H.264 and HEVC bytes keep the FLV layout (length-prefixed NAL units,
// nal_length_size); AV1 bytes are a temporal unit of OBUs with size fields (AV1 5.2, "low overhead");
// VP9 bytes are a frame or superframe as the encoder made it. AAC bytes are raw (no ADTS); MP3 bytes
// are whole MPEG audio frames; Opus bytes are one Opus packet.
struct AccessUnit {
  Track track = Track::video;
  Ticks90k dts = 0;
  Ticks90k pts = 0;
  bool keyframe = false;
  std::shared_ptr<const std::vector<uint8_t>> data;
};

std::string profile_name(uint8_t profile_idc);

}  // namespace livegate
