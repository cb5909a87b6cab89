// Parsers for FLV audio/video tag bodies (FLV spec v10.1 E.4.2, E.4.3) and AVC length-prefixed access units.
#include "ingest/flv_tag.h"

#include <cstdio>

namespace livegate {

namespace {

constexpr uint8_t kCodecAvc = 7;
constexpr uint8_t kFrameCommand = 5;
constexpr uint8_t kSoundAac = 10;
constexpr uint8_t kSoundMp3 = 2;
constexpr uint8_t kSoundMp3_8k = 14;

// Enhanced RTMP (veovera enhanced-rtmp v1/v2) packet types that change what follows the first byte.
constexpr uint8_t kExPacketMetadata = 4;
constexpr uint8_t kExPacketModEx = 7;

std::string fourcc_text(uint32_t fourcc) {
  std::string s;
  for (int shift = 24; shift >= 0; shift -= 8) {
    auto c = static_cast<char>((fourcc >> shift) & 0xFF);
    if (c < 0x20 || c > 0x7E) {
      char hex[11];
      std::snprintf(hex, sizeof hex, "0x%08x", static_cast<unsigned>(fourcc));
      return hex;
    }
    s += c;
  }
  return "'" + s + "'";
}

// Enhanced RTMP reuses the top bit of the first byte, which legacy FrameType never sets (1..5):
//   bit 7      bits 6..4    bits 3..0     bytes 1..4
//   IsExHeader FrameType    PacketType    FourCC (absent for a command frame and for ModEx)
// We do not decode these codecs; the tag is reported so the caller can say which one arrived.
VideoTag parse_enhanced_video(uint8_t first, ByteReader& in) {
  VideoTag tag;
  tag.kind = VideoTag::Kind::unsupported;
  tag.frame_type = (first >> 4) & 0x07;
  const uint8_t packet_type = first & 0x0F;
  const bool command = tag.frame_type == kFrameCommand && packet_type != kExPacketMetadata;
  if (!command && packet_type != kExPacketModEx && in.has(4)) tag.fourcc = in.u32();
  tag.data = in.rest();
  return tag;
}

}  // namespace

Result<VideoTag> parse_video_tag(Bytes payload) {
  ByteReader in(payload);
  if (in.empty()) return Error{"video tag: empty payload"};

  // E.4.3.1 VIDEODATA:
  //   byte 0                  byte 1           bytes 2..4           bytes 5..
  //   FrameType:4 CodecID:4   AVCPacketType    CompositionTime SI24  avcC | NAL units
  //                           (only when CodecID == 7)
  const uint8_t first = in.u8();
  if (first & 0x80) return parse_enhanced_video(first, in);

  VideoTag tag;
  tag.frame_type = first >> 4;
  tag.codec_id = first & 0x0F;
  // A command frame (5) carries a one-byte seek marker instead of video, even for AVC.
  if (tag.codec_id != kCodecAvc || tag.frame_type == kFrameCommand) {
    tag.kind = VideoTag::Kind::unsupported;
    tag.data = in.rest();
    return tag;
  }

  const uint8_t packet_type = in.u8();
  tag.composition_time = in.s24();
  if (in.failed()) return Error{"video tag: AVC header needs 5 bytes, got " + std::to_string(payload.size())};
  switch (packet_type) {
    case 0: tag.kind = VideoTag::Kind::avc_sequence_header; break;
    case 1: tag.kind = VideoTag::Kind::avc_nalu; break;
    case 2: tag.kind = VideoTag::Kind::avc_end_of_sequence; break;
    default: return Error{"video tag: unknown AVCPacketType " + std::to_string(packet_type)};
  }
  tag.data = in.rest();
  return tag;
}

Result<AudioTag> parse_audio_tag(Bytes payload) {
  ByteReader in(payload);
  if (in.empty()) return Error{"audio tag: empty payload"};

  // E.4.2.1 AUDIODATA:
  //   byte 0                                             byte 1           bytes 2..
  //   SoundFormat:4 SoundRate:2 SoundSize:1 SoundType:1  AACPacketType    ASC | raw AAC frame
  //                                                      (only when SoundFormat == 10)
  // For AAC the rate/size/type bits are fixed (3, 1, 1) and meaningless; the ASC is authoritative.
  const uint8_t first = in.u8();
  AudioTag tag;
  tag.sound_format = first >> 4;
  tag.sound_rate = (first >> 2) & 0x03;
  tag.sound_size = (first >> 1) & 0x01;
  tag.sound_type = first & 0x01;

  if (tag.sound_format == kSoundAac) {
    const uint8_t packet_type = in.u8();
    if (in.failed()) return Error{"audio tag: AAC header needs 2 bytes, got 1"};
    switch (packet_type) {
      case 0: tag.kind = AudioTag::Kind::aac_sequence_header; break;
      case 1: tag.kind = AudioTag::Kind::aac_raw; break;
      default: return Error{"audio tag: unknown AACPacketType " + std::to_string(packet_type)};
    }
  } else if (tag.sound_format == kSoundMp3 || tag.sound_format == kSoundMp3_8k) {
    tag.kind = AudioTag::Kind::mp3;
  } else {
    tag.kind = AudioTag::Kind::unsupported;
  }
  tag.data = in.rest();
  return tag;
}

std::string describe_codec(const VideoTag& tag) {
  if (tag.codec_id == 0) {
    return tag.fourcc ? "Enhanced RTMP " + fourcc_text(tag.fourcc) : std::string("Enhanced RTMP");
  }
  const char* name = "unknown";
  switch (tag.codec_id) {
    case 1: name = "JPEG"; break;
    case 2: name = "Sorenson H.263"; break;
    case 3: name = "Screen video"; break;
    case 4: name = "On2 VP6"; break;
    case 5: name = "On2 VP6 with alpha"; break;
    case 6: name = "Screen video v2"; break;
    case 7: name = "AVC"; break;
    case 12: name = "HEVC (non-standard FLV extension)"; break;
    default: break;
  }
  return std::string(name) + " (codec id " + std::to_string(tag.codec_id) + ")";
}

std::string describe_codec(const AudioTag& tag) {
  const char* name = "unknown";
  switch (tag.sound_format) {
    case 0: name = "Linear PCM, platform endian"; break;
    case 1: name = "ADPCM"; break;
    case 2: name = "MP3"; break;
    case 3: name = "Linear PCM, little endian"; break;
    case 4: name = "Nellymoser 16 kHz mono"; break;
    case 5: name = "Nellymoser 8 kHz mono"; break;
    case 6: name = "Nellymoser"; break;
    case 7: name = "G.711 A-law"; break;
    case 8: name = "G.711 mu-law"; break;
    case 9: name = "Enhanced RTMP"; break;
    case 10: name = "AAC"; break;
    case 11: name = "Speex"; break;
    case 14: name = "MP3 8 kHz"; break;
    case 15: name = "Device-specific sound"; break;
    default: break;
  }
  return std::string(name) + " (sound format " + std::to_string(tag.sound_format) + ")";
}

namespace {

// Why a length-prefixed access unit is malformed, without allocating, so avc_has_idr stays noexcept.
struct NalWalk {
  enum class Problem : uint8_t { none, bad_length_size, empty, short_prefix, zero_length, overrun };
  Problem problem = Problem::none;
  size_t index = 0;     // the NAL unit at fault
  uint32_t length = 0;  // its declared length
  size_t left = 0;      // bytes left where it failed
};

// Walks the NAL units of an ISO 14496-15 sample (the FLV NALU payload):
//   [length: nal_length_size bytes, big-endian][NAL unit: length bytes] repeated to the end.
// Calls on_nal(nal) for each unit and stops at the first malformed one.
template <class F>
NalWalk walk_nalus(Bytes nalus, uint8_t nal_length_size, F&& on_nal) noexcept {
  NalWalk w;
  if (nal_length_size != 1 && nal_length_size != 2 && nal_length_size != 4) {
    w.problem = NalWalk::Problem::bad_length_size;
    return w;
  }
  if (nalus.empty()) {
    w.problem = NalWalk::Problem::empty;
    return w;
  }
  ByteReader in(nalus);
  for (; !in.empty(); ++w.index) {
    w.left = in.remaining();
    if (!in.has(nal_length_size)) {
      w.problem = NalWalk::Problem::short_prefix;
      return w;
    }
    switch (nal_length_size) {
      case 1: w.length = in.u8(); break;
      case 2: w.length = in.u16(); break;
      default: w.length = in.u32(); break;
    }
    w.left = in.remaining();
    if (w.length == 0) {
      w.problem = NalWalk::Problem::zero_length;
      return w;
    }
    if (!in.has(w.length)) {
      w.problem = NalWalk::Problem::overrun;
      return w;
    }
    on_nal(in.bytes(w.length));
  }
  return w;
}

}  // namespace

bool avc_has_idr(Bytes nalus, uint8_t nal_length_size) noexcept {
  bool idr = false;
  // H.264 7.3.1: the NAL header's low five bits are nal_unit_type; 5 is a coded slice of an IDR picture.
  NalWalk w =
      walk_nalus(nalus, nal_length_size, [&](Bytes nal) noexcept { idr = idr || (nal[0] & 0x1F) == 5; });
  return w.problem == NalWalk::Problem::none && idr;
}

Status validate_avc_nalus(Bytes nalus, uint8_t nal_length_size) {
  NalWalk w = walk_nalus(nalus, nal_length_size, [](Bytes) noexcept {});
  const std::string where = "NAL unit " + std::to_string(w.index) + ": ";
  switch (w.problem) {
    case NalWalk::Problem::none: return Status{};
    case NalWalk::Problem::bad_length_size:
      return Error{"NAL length size " + std::to_string(nal_length_size) + " is not 1, 2 or 4"};
    case NalWalk::Problem::empty: return Error{"empty access unit"};
    case NalWalk::Problem::short_prefix:
      return Error{where + std::to_string(w.left) + " trailing bytes cannot hold a " +
                   std::to_string(nal_length_size) + "-byte length"};
    case NalWalk::Problem::zero_length: return Error{where + "zero length"};
    case NalWalk::Problem::overrun:
      return Error{where + "length " + std::to_string(w.length) + " exceeds the " + std::to_string(w.left) +
                   " bytes left"};
  }
  return Error{"unreachable"};
}

}  // namespace livegate
