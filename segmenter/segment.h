// One closed segment (MPEG-TS, or CMAF) as the playlist lists it and the HTTP side serves it.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace livegate {

// A partial segment (LL-HLS EXT-X-PART): one CMAF fragment of its parent segment, served on its own.
// Its bytes are a range of `buffer`: the part's own buffer while the parent is being written, the
// parent's bytes once it is closed (so a closed segment holds its media once, not twice).
struct Part {
  uint64_t seq = 0;          // the parent segment's media sequence number
  uint32_t index = 0;        // 0, 1, ... within the parent
  double duration_s = 0;     // exact; at most the part target except where the media paused
  bool independent = false;  // starts with a keyframe (always, for audio only): INDEPENDENT=YES
  std::string uri;           // e.g. "s3f9a2c-42.3.m4s"; unique forever
  std::shared_ptr<const std::vector<uint8_t>> buffer;
  size_t offset = 0;
  size_t size = 0;

  std::span<const uint8_t> bytes() const {
    return buffer ? std::span<const uint8_t>(buffer->data() + offset, size) : std::span<const uint8_t>();
  }
};

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
  // CMAF: the parts it was written as, in order; their bytes joined are `bytes`. Empty for MPEG-TS.
  std::vector<Part> parts;
};

}  // namespace livegate
