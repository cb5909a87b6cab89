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
enum class VideoCodec : uint8_t { none, h264 };
enum class AudioCodec : uint8_t { none, aac, mp3 };

const char* to_string(VideoCodec c) noexcept;
const char* to_string(AudioCodec c) noexcept;

struct VideoConfig {
  VideoCodec codec = VideoCodec::none;
  std::vector<uint8_t> record;  // AVCDecoderConfigurationRecord as received (ISO 14496-15 5.2.4.1)
  std::vector<std::vector<uint8_t>> sps;
  std::vector<std::vector<uint8_t>> pps;
  uint8_t nal_length_size = 4;
  uint8_t profile = 0;  // profile_idc
  uint8_t level = 0;    // level_idc
  uint32_t width = 0;
  uint32_t height = 0;
  double frame_rate = 0;  // from the SPS VUI timing info, 0 when absent

  bool operator==(const VideoConfig& o) const { return record == o.record && codec == o.codec; }
};

struct AudioConfig {
  AudioCodec codec = AudioCodec::none;
  std::vector<uint8_t> record;  // AAC AudioSpecificConfig as received (ISO 14496-3 1.6.2.1)
  uint8_t object_type = 0;   // AAC audio object type (2 = LC)
  uint32_t sample_rate = 0;
  uint8_t channels = 0;

  bool operator==(const AudioConfig& o) const {
    return codec == o.codec && record == o.record && sample_rate == o.sample_rate && channels == o.channels;
  }
};

// One coded frame. Video bytes keep the FLV layout (length-prefixed NAL units, nal_length_size);
// AAC bytes are raw (no ADTS); MP3 bytes are whole MPEG audio frames.
struct AccessUnit {
  Track track = Track::video;
  Ticks90k dts = 0;
  Ticks90k pts = 0;
  bool keyframe = false;
  std::shared_ptr<const std::vector<uint8_t>> data;
};

std::string profile_name(uint8_t profile_idc);

}  // namespace livegate
