#include "segmenter/hls_stream.h"

#include <doctest/doctest.h>

#include <vector>

#include "ingest/avc_config.h"
#include "segmenter/playlist.h"
#include "test_bytes.h"

using namespace livegate;
using livegate::testing::hex;

namespace {

VideoConfig video_config() {
  // avcC of a libx264 baseline 320x240 stream.
  auto c =
      parse_avcc(hex("0142c00dffe100186742c00dd90141fb0110000003001000000303c0f142a48001000568cb83cb20"));
  REQUIRE(c.ok());
  return *c;
}

AudioConfig aac_config() {
  AudioConfig a;
  a.codec = AudioCodec::aac;
  a.asc = {0x11, 0x90};  // AAC-LC, 48 kHz, stereo
  a.object_type = 2;
  a.sample_rate = 48000;
  a.channels = 2;
  return a;
}

AccessUnit frame(Track track, Ticks90k dts, bool key) {
  AccessUnit u;
  u.track = track;
  u.dts = u.pts = dts;
  u.keyframe = key;
  // One length-prefixed NAL (IDR or non-IDR slice header byte, then filler) or a raw AAC frame.
  u.data = std::make_shared<const std::vector<uint8_t>>(
      track == Track::video ? std::vector<uint8_t>{0, 0, 0, 4, uint8_t(key ? 0x65 : 0x41), 0x88, 0x84, 0x00}
                            : std::vector<uint8_t>{0x21, 0x00, 0x49, 0x90, 0x02, 0x19});
  return u;
}

HlsConfig window_config(uint32_t window, uint32_t grace) {
  HlsConfig c;
  c.window = window;
  c.grace = grace;
  return c;
}

struct Feed {
  explicit Feed(uint32_t window = 100, uint32_t grace = 0)
      : config(window_config(window, grace)),
        hls(config, "test", "t", [] { return int64_t{1'700'000'000'000}; }) {}
  HlsConfig config;
  HlsStream hls;
  Ticks90k video_next = 0, audio_next = 0;

  // Interleaves video (30 fps, a keyframe every `gop_s`) and AAC frames up to `seconds` of media.
  void run(double seconds, double gop_s, bool video = true, bool audio = true, Ticks90k base = 0) {
    const Ticks90k end = video_next + Ticks90k(seconds * 90000);
    while ((video && video_next < end) || (audio && audio_next < end)) {
      const bool pick_video = video && (!audio || video_next <= audio_next);
      if (pick_video) {
        const int64_t index = video_next / 3000;
        const bool key = index % int64_t(gop_s * 30) == 0;
        hls.access_unit(frame(Track::video, base + video_next, key));
        video_next += 3000;
      } else {
        hls.access_unit(frame(Track::audio, base + audio_next, true));
        audio_next += 1920;
      }
    }
  }
};

std::vector<double> durations(const HlsStream& h) {
  std::vector<double> out;
  for (const Segment& s : h.snapshot()->segments) out.push_back(s.duration_s);
  return out;
}

}  // namespace

TEST_CASE("hls stream: segments are cut at the first keyframe once the target duration is reached") {
  struct Case {
    double gop, expect_segment;
    uint32_t expect_target;
  };
  for (Case c : {Case{1, 2, 2}, Case{2, 2, 2}, Case{4, 4, 4}, Case{10, 10, 10}}) {
    CAPTURE(c.gop);
    Feed f;
    f.hls.start();
    f.hls.video_config(video_config());
    f.hls.audio_config(aac_config());
    f.run(40, c.gop);
    f.hls.end();
    const auto d = durations(f.hls);
    REQUIRE(d.size() == size_t(40 / c.expect_segment));
    for (size_t i = 0; i < d.size(); ++i) CHECK(d[i] == doctest::Approx(c.expect_segment).epsilon(0.001));
    CHECK(f.hls.target_duration() == c.expect_target);
    CHECK(f.hls.segments_over_target() == 0);  // the first segment fixed the target: no later surprise
    const std::string& text = f.hls.snapshot()->playlist;
    CHECK(text.find("#EXT-X-TARGETDURATION:" + std::to_string(c.expect_target) + "\n") != std::string::npos);
    CHECK(text.find("#EXT-X-ENDLIST") != std::string::npos);
    CHECK(text.find("#EXT-X-DISCONTINUITY\n") == std::string::npos);
  }
}

TEST_CASE("hls stream: audio-only is cut by time, video-only by keyframes") {
  Feed a;
  a.hls.start();
  a.hls.audio_config(aac_config());
  a.run(10, 0, /*video=*/false, /*audio=*/true);
  a.hls.end();
  const auto da = durations(a.hls);
  REQUIRE(da.size() == 5);
  for (size_t i = 0; i + 1 < da.size(); ++i)
    CHECK(da[i] == doctest::Approx(2.0).epsilon(0.011));  // within a frame

  Feed v;
  v.hls.start();
  v.hls.video_config(video_config());
  v.run(10, 2, /*video=*/true, /*audio=*/false);
  v.hls.end();
  const auto dv = durations(v.hls);
  REQUIRE(dv.size() == 5);
  for (double d : dv) CHECK(d == doctest::Approx(2.0));
}

TEST_CASE("hls stream: video before the first keyframe is not segmented") {
  Feed f;
  f.hls.start();
  f.hls.video_config(video_config());
  f.hls.access_unit(frame(Track::video, 0, false));
  f.hls.access_unit(frame(Track::video, 3000, false));
  f.hls.end();
  CHECK(f.hls.snapshot()->segments.empty());
}

TEST_CASE(
    "hls stream: a timestamp jump or a changed configuration is a discontinuity, a repeated one is not") {
  Feed f;
  f.hls.start();
  f.hls.video_config(video_config());
  f.hls.audio_config(aac_config());
  f.run(6, 2);
  f.hls.video_config(video_config());  // identical: encoders resend it every GOP
  f.run(4, 2);
  f.run(4, 2, true, true, /*base=*/-60 * 90000);  // the encoder's clock jumps back a minute
  AudioConfig other = aac_config();
  other.asc = {0x12, 0x10};  // 44.1 kHz
  other.sample_rate = 44100;
  f.hls.audio_config(other);
  f.run(4, 2, true, true, -60 * 90000);
  f.hls.end();
  const auto& segs = f.hls.snapshot()->segments;
  int discontinuities = 0;
  for (const Segment& s : segs) discontinuities += s.discontinuity;
  CHECK(discontinuities == 2);
  for (const Segment& s : segs) CHECK(s.duration_s > 0);
}

TEST_CASE("hls stream: republish continues the playlist with one discontinuity") {
  Feed f;
  f.hls.start();
  f.hls.video_config(video_config());
  f.hls.audio_config(aac_config());
  f.run(6, 2);
  f.hls.end();
  const size_t first = f.hls.snapshot()->segments.size();
  CHECK(f.hls.snapshot()->ended);

  f.hls.start();
  CHECK_FALSE(f.hls.snapshot()->ended);
  f.video_next = f.audio_next = 0;  // the new publisher's clock starts at 0 again
  f.run(6, 2);
  f.hls.end();
  const auto& segs = f.hls.snapshot()->segments;
  REQUIRE(segs.size() == first * 2);
  for (size_t i = 0; i < segs.size(); ++i) {
    CHECK(segs[i].seq == i);
    CHECK(segs[i].discontinuity == (i == first));
    CHECK(segs[i].uri == "t-" + std::to_string(i) + ".ts");
  }
}

TEST_CASE("hls stream: input past the 32-bit millisecond wrap needs no discontinuity") {
  Feed f;
  f.hls.start();
  f.hls.video_config(video_config());
  f.hls.audio_config(aac_config());
  const Ticks90k near_wrap = ((Ticks90k{1} << 32) - 3000) * 90;  // 3 s before 2^32 ms, extended by ingest
  f.run(8, 2, true, true, near_wrap);
  f.hls.end();
  for (const Segment& s : f.hls.snapshot()->segments) {
    CHECK_FALSE(s.discontinuity);
    CHECK(s.duration_s == doctest::Approx(2.0));
  }
}

TEST_CASE("hls stream: memory held is the window plus grace") {
  Feed f(3, 2);
  f.hls.start();
  f.hls.video_config(video_config());
  f.run(30, 2, true, false);
  f.hls.end();
  CHECK(f.hls.snapshot()->segments.size() == 5);
  size_t bytes = 0;
  for (const Segment& s : f.hls.snapshot()->segments) bytes += s.bytes->size();
  CHECK(f.hls.bytes_held() == bytes);
}
