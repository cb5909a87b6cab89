#include "ingest/media_demuxer.h"

#include <doctest/doctest.h>

#include "recording_sink.h"
#include "test_bytes.h"

using namespace livegate;
using livegate::testing::hex;
using livegate::testing::RecordingSink;

namespace {

const std::vector<uint8_t> kAvcSequenceHeader =
    hex("17000000000142c00dffe100186742c00dd90141fb0110000003001000000303c0f142a48001000568cb83cb20");
const std::vector<uint8_t> kKeyframe =
    hex("170100000000000005"
        "6588840021");
// MPEG-1 Layer III, 128 kb/s, 44.1 kHz, joint stereo: a 417-byte frame (header then zeros).
std::vector<uint8_t> mp3_tag() {
  std::vector<uint8_t> t = hex("2fFFFB9064");
  t.resize(1 + 417, 0);
  return t;
}

}  // namespace

TEST_CASE("media demuxer: frames before their sequence header are dropped, not passed on") {
  RecordingSink sink;
  MediaDemuxer d({"live", "k"}, sink);
  CHECK(d.on_video(0, kKeyframe));
  CHECK(d.on_audio(0, hex("af01210049")));
  CHECK(sink.units.empty());
  CHECK(d.dropped_frames() == 2);
  CHECK(d.on_video(0, kAvcSequenceHeader));
  CHECK(d.on_video(40, kKeyframe));
  REQUIRE(sink.units.size() == 1);
  CHECK(sink.units[0].dts == 40 * 90);
}

TEST_CASE("media demuxer: a changed configuration is passed on, an identical one is not") {
  RecordingSink sink;
  MediaDemuxer d({"live", "k"}, sink);
  CHECK(d.on_audio(0, hex("af001190")));  // AAC-LC 48 kHz stereo
  CHECK(d.on_audio(1000, hex("af001190")));
  CHECK(d.on_audio(2000, hex("af001210")));  // AAC-LC 44.1 kHz stereo
  CHECK(sink.events == std::vector<std::string>{"audio 48000", "audio 44100"});
}

TEST_CASE("media demuxer: unsupported codecs and broken NAL framing are dropped") {
  RecordingSink sink;
  MediaDemuxer d({"live", "k"}, sink);
  CHECK(d.on_video(0, hex("12000000")));  // Sorenson H.263
  CHECK(d.on_audio(0, hex("6e0000")));    // Nellymoser
  CHECK(d.on_video(0, kAvcSequenceHeader));
  CHECK(d.on_video(0, hex("17010000000000ffff65")));  // NAL length past the end
  CHECK(sink.units.empty());
  CHECK(d.dropped_frames() == 3);
}

TEST_CASE("media demuxer: MP3 frames carry their own configuration") {
  RecordingSink sink;
  MediaDemuxer d({"live", "k"}, sink);
  CHECK(d.on_audio(0, mp3_tag()));
  CHECK(d.on_audio(26, mp3_tag()));
  CHECK(sink.events == std::vector<std::string>{"audio 44100"});
  CHECK(sink.units.size() == 2);
}

TEST_CASE("media demuxer: a malformed tag header is an error") {
  RecordingSink sink;
  MediaDemuxer d({"live", "k"}, sink);
  CHECK_FALSE(d.on_video(0, hex("17")));
}
