// An FLV file read into memory once and split into tags whose payloads every publisher shares.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/byte_reader.h"
#include "common/result.h"

namespace livegate::bench {

struct FlvTag {
  uint8_t type = 0;      // 8 audio, 9 video, 18 script data (the RTMP message type ids too)
  uint32_t ts = 0;       // ms, the 24-bit field plus its extension byte
  Bytes payload;         // span into FlvFile::bytes
  bool keyframe = false;         // video frame type 1 carrying coded frames (not a sequence header)
  bool sequence_header = false;  // AVC decoder configuration or AAC AudioSpecificConfig
};

struct FlvFile {
  std::vector<uint8_t> bytes;  // the whole file; tags point into it, so it must not be resized
  std::vector<FlvTag> tags;    // in file order
  // Loop period: the last video tag's time plus one video frame interval, so that timestamps stay
  // continuous (and the GOP cadence unbroken) when the file is sent again right after itself.
  uint32_t duration_ms = 0;
};

// Parses an FLV file already in memory (FLV 10.1 spec, annex E): header, then tags each followed by
// PreviousTagSize. Fails on a bad signature, a truncated tag or a file without audio or video frames.
// `file.bytes` must be filled; `tags` and `duration_ms` are set.
Status parse_flv(FlvFile& file);

// Reads and parses `path`.
Result<FlvFile> read_flv(const std::string& path);

}  // namespace livegate::bench
