// One closed segment (MPEG-TS, or CMAF) as the playlist lists it and the HTTP side serves it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace livegate {

// Immutable once built and shared between the loop and HTTP threads; the payload sits behind a
// shared_ptr so copying a Segment (into a window, out to a request) never copies bytes.
struct Segment {
  uint64_t seq = 0;            // media sequence number, +1 per segment for the life of the playlist
  double duration_s = 0;       // exact duration; the playlist prints it to the millisecond
  int64_t pdt_unix_ms = 0;     // wall-clock time of its first frame (EXT-X-PROGRAM-DATE-TIME)
  bool discontinuity = false;  // an EXT-X-DISCONTINUITY precedes it (RFC 8216 4.3.2.3)
  std::string uri;             // relative URI as listed, e.g. "s3f9a2c-42.ts"; unique forever
  std::shared_ptr<const std::vector<uint8_t>> bytes;
  // CMAF: the init segment its fragments need (EXT-X-MAP), e.g. "s3f9a2c-40.mp4", unique forever and
  // shared by the segments of one muxer. Empty for MPEG-TS.
  std::string map_uri;
  std::shared_ptr<const std::vector<uint8_t>> map;
};

}  // namespace livegate
