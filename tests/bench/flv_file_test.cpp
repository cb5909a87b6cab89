// The FLV reader: tags, keyframes, sequence headers, extended timestamps and the loop period.
#include "tests/bench/flv_file.h"

#include <doctest/doctest.h>

#include <vector>

using livegate::bench::FlvFile;
using livegate::bench::parse_flv;

namespace {

void tag(std::vector<uint8_t>& f, uint8_t type, uint32_t ts, std::vector<uint8_t> body) {
  const uint32_t n = static_cast<uint32_t>(body.size());
  f.insert(f.end(), {type, uint8_t(n >> 16), uint8_t(n >> 8), uint8_t(n), uint8_t(ts >> 16), uint8_t(ts >> 8),
                     uint8_t(ts), uint8_t(ts >> 24), 0, 0, 0});
  f.insert(f.end(), body.begin(), body.end());
  const uint32_t prev = 11 + n;
  f.insert(f.end(), {uint8_t(prev >> 24), uint8_t(prev >> 16), uint8_t(prev >> 8), uint8_t(prev)});
}

std::vector<uint8_t> header() { return {'F', 'L', 'V', 1, 5, 0, 0, 0, 9, 0, 0, 0, 0}; }

}  // namespace

TEST_CASE("tags are classified and the loop period follows the video cadence") {
  FlvFile f;
  f.bytes = header();
  tag(f.bytes, 18, 0, {2, 0, 10});                // script
  tag(f.bytes, 9, 0, {0x17, 0, 0, 0, 0, 1});      // AVC sequence header
  tag(f.bytes, 8, 0, {0xAF, 0, 0x11, 0x90});      // AAC sequence header
  tag(f.bytes, 9, 0, {0x17, 1, 0, 0, 0, 9});      // keyframe
  tag(f.bytes, 8, 21, {0xAF, 1, 5});              // AAC frame
  tag(f.bytes, 9, 33, {0x27, 1, 0, 0, 0, 9});     // inter frame
  tag(f.bytes, 9, 67, {0x27, 1, 0, 0, 0, 9});
  tag(f.bytes, 9, 100, {0x27, 1, 0, 0, 0, 9});
  REQUIRE(parse_flv(f).ok());
  REQUIRE(f.tags.size() == 8);
  CHECK(f.tags[0].type == 18);
  CHECK(f.tags[1].sequence_header);
  CHECK_FALSE(f.tags[1].keyframe);
  CHECK(f.tags[2].sequence_header);
  CHECK(f.tags[3].keyframe);
  CHECK_FALSE(f.tags[4].sequence_header);
  CHECK_FALSE(f.tags[5].keyframe);
  CHECK(f.tags[4].payload.size() == 3);
  CHECK(f.tags[4].payload[2] == 5);
  // Deltas 33, 34, 33: median 33, so the next loop's first frame follows the last at 133 ms.
  CHECK(f.duration_ms == 133);
}

TEST_CASE("the timestamp extension byte is the top 8 bits") {
  FlvFile f;
  f.bytes = header();
  tag(f.bytes, 8, 0x01000005, {0xAF, 1, 5});
  REQUIRE(parse_flv(f).ok());
  CHECK(f.tags[0].ts == 0x01000005);
}

TEST_CASE("bad files are errors, not crashes") {
  FlvFile f;
  f.bytes = {'F', 'L', 'X', 1, 5, 0, 0, 0, 9};
  CHECK_FALSE(parse_flv(f).ok());

  f.bytes = header();
  tag(f.bytes, 9, 0, {0x17, 1, 0, 0, 0, 9});
  f.bytes.resize(f.bytes.size() - 6);  // cut into the tag body
  CHECK_FALSE(parse_flv(f).ok());

  f.bytes = header();
  tag(f.bytes, 9, 0, {0x17, 0, 0, 0, 0, 1});  // only a sequence header: nothing to loop
  CHECK_FALSE(parse_flv(f).ok());
}
