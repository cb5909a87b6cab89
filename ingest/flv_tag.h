// Parsers for FLV audio/video tag bodies, which are the payloads of RTMP audio (8) and video (9) messages.
#pragma once

#include <cstdint>
#include <string>

#include "common/byte_reader.h"
#include "common/result.h"

namespace livegate {

struct VideoTag {
  enum class Kind : uint8_t { avc_sequence_header, avc_nalu, avc_end_of_sequence, unsupported };
  Kind kind = Kind::unsupported;
  uint8_t frame_type = 0;        // 1 keyframe, 2 inter, 3 disposable, 4 generated keyframe, 5 info/command
  uint8_t codec_id = 0;          // 7 = AVC; 0 for Enhanced RTMP (see fourcc)
  uint32_t fourcc = 0;           // Enhanced RTMP codec ('hvc1', 'av01', 'vp09', ...), 0 when absent
  int32_t composition_time = 0;  // ms, PTS - DTS, SI24 (may be negative)
  Bytes data;  // avcC for a sequence header, length-prefixed NAL units for a NALU (span into the input)

  // What the tag header claims; generated keyframes (4) are server-made seek points and count too.
  // Whether the NAL units really hold an IDR slice is avc_has_idr's question.
  bool keyframe() const noexcept { return frame_type == 1 || frame_type == 4; }
};

// Errors only for bytes that cannot be an FLV video tag body (empty, a truncated AVC header, an
// unknown AVCPacketType); other codecs, command frames and Enhanced RTMP come back as unsupported.
Result<VideoTag> parse_video_tag(Bytes payload);

struct AudioTag {
  enum class Kind : uint8_t { aac_sequence_header, aac_raw, mp3, unsupported };
  Kind kind = Kind::unsupported;
  uint8_t sound_format = 0;  // 10 AAC, 2 MP3, 14 MP3 8 kHz
  uint8_t sound_rate = 0, sound_size = 0, sound_type = 0;
  Bytes data;  // ASC, raw AAC frame, or MP3 frame(s) (span into the input)
};

// Errors only for an empty payload or an AAC tag without a valid AACPacketType; the contents of
// data are checked by parse_aac_config / parse_mp3_header.
Result<AudioTag> parse_audio_tag(Bytes payload);

// For log lines about unsupported streams: "VP6 (codec id 4)", "Enhanced RTMP 'hvc1'", "Speex (sound format
// 11)".
std::string describe_codec(const VideoTag& tag);
std::string describe_codec(const AudioTag& tag);

// Does a length-prefixed AVC access unit contain an IDR slice (nal_unit_type 5)?
// False when validate_avc_nalus would reject the buffer.
bool avc_has_idr(Bytes nalus, uint8_t nal_length_size) noexcept;

// Succeeds when the length-prefixed NAL units exactly tile the buffer. nal_length_size must be 1, 2
// or 4. An empty buffer and a zero-length NAL unit are errors: neither can become a sensible
// Annex B access unit (a PES with no NAL units, a start code with no NAL header), so the caller
// drops the frame instead.
Status validate_avc_nalus(Bytes nalus, uint8_t nal_length_size);

}  // namespace livegate
