// Reading an FLV file into shared tags (FLV 10.1 annex E).
#include "tests/bench/flv_file.h"

#include <algorithm>
#include <fstream>
#include <iterator>

namespace livegate::bench {
namespace {

constexpr uint8_t kAudio = 8, kVideo = 9, kScript = 18;

void classify(FlvTag& t) {
  if (t.payload.empty()) return;
  // Video tag header: | frame type (4) | codec id (4) | AVCPacketType (8) | ... ; 7 = AVC, 0 = sequence header.
  if (t.type == kVideo) {
    const uint8_t frame_type = t.payload[0] >> 4;
    const uint8_t codec = t.payload[0] & 0x0F;
    t.sequence_header = codec == 7 && t.payload.size() > 1 && t.payload[1] == 0;
    t.keyframe = frame_type == 1 && !t.sequence_header;
  } else if (t.type == kAudio) {
    // Audio tag header: | sound format (4) | rate, size, type (4) | AACPacketType (8) |; 10 = AAC.
    t.sequence_header = (t.payload[0] >> 4) == 10 && t.payload.size() > 1 && t.payload[1] == 0;
  }
}

}  // namespace

Status parse_flv(FlvFile& file) {
  // | 'F' 'L' 'V' | version | flags | header size u32 | PreviousTagSize0 u32 |
  ByteReader r(file.bytes);
  if (r.u8() != 'F' || r.u8() != 'L' || r.u8() != 'V') return Error{"flv: not an FLV file"};
  r.skip(2);
  const uint32_t header_size = r.u32();
  if (r.failed() || header_size < 9 || header_size > file.bytes.size()) return Error{"flv: bad header size"};
  r = ByteReader(Bytes(file.bytes).subspan(header_size));
  r.skip(4);
  file.tags.clear();
  uint32_t last_video = 0;
  std::vector<uint32_t> video_deltas;
  bool have_video = false;
  while (r.remaining() >= 11) {
    // | type u8 | data size u24 | timestamp u24 | timestamp extension u8 | stream id u24 | data | prev size u32 |
    FlvTag t;
    t.type = r.u8() & 0x1F;  // the top bits are reserved / the encryption filter flag
    const uint32_t size = r.u24();
    const uint32_t ts_low = r.u24();
    t.ts = ts_low | uint32_t(r.u8()) << 24;
    r.skip(3);
    const size_t at = header_size + r.position();
    if (!r.has(size)) return Error{"flv: truncated tag at byte " + std::to_string(at)};
    t.payload = Bytes(file.bytes).subspan(at, size);
    r.skip(size);
    r.skip(4);
    if (t.type != kAudio && t.type != kVideo && t.type != kScript) continue;
    classify(t);
    if (t.type == kVideo && !t.sequence_header) {
      if (have_video && t.ts > last_video) video_deltas.push_back(t.ts - last_video);
      last_video = t.ts;
      have_video = true;
    }
    file.tags.push_back(t);
  }
  // At least one frame that is sent on every loop, or pacing would spin on a file of headers.
  const bool any_media = std::any_of(file.tags.begin(), file.tags.end(),
                                     [](const FlvTag& t) { return t.type != kScript && !t.sequence_header; });
  if (!any_media) return Error{"flv: no audio or video frames"};
  uint32_t frame = 0;
  if (!video_deltas.empty()) {
    // The median, because FLV's millisecond rounding makes 30 fps alternate 33 and 34 ms.
    std::nth_element(video_deltas.begin(), video_deltas.begin() + video_deltas.size() / 2, video_deltas.end());
    frame = video_deltas[video_deltas.size() / 2];
  }
  uint32_t last = last_video;
  if (!have_video) {
    for (const FlvTag& t : file.tags) last = std::max(last, t.ts);
    frame = 20;  // audio-only: about one AAC frame
  }
  file.duration_ms = last + frame;
  return {};
}

Result<FlvFile> read_flv(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{"flv: cannot open " + path};
  FlvFile file;
  file.bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (Status s = parse_flv(file); !s) return Error{s.error()};
  return file;
}

}  // namespace livegate::bench
