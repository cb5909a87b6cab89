#include "segmenter/hls_stream.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "ingest/audio_config.h"
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
  auto a = parse_aac_config(hex("1190"));  // AAC-LC, 48 kHz, stereo
  REQUIRE(a.ok());
  return *a;
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
  explicit Feed(uint32_t window = 100, uint32_t grace = 0) : Feed(window_config(window, grace)) {}
  explicit Feed(const HlsConfig& c)
      : config(c), hls(config, "test", "t", [] { return int64_t{1'700'000'000'000}; }) {}
  HlsConfig config;
  HlsStream hls;
  Ticks90k video_next = 0, audio_next = 0;

  // Interleaves video (30 fps, a keyframe every `gop_s`) and AAC frames up to `seconds` of media.
  void run(double seconds, double gop_s, bool video = true, bool audio = true, Ticks90k base = 0) {
    const Ticks90k end = (video ? video_next : audio_next) + Ticks90k(seconds * 90000);
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
  for (const Segment& s : h.snapshot()->ts.segments) out.push_back(s.duration_s);
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
    const std::string& text = f.hls.snapshot()->ts.text;
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
  CHECK(f.hls.snapshot()->ts.segments.empty());
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
  other.record = {0x12, 0x10};  // 44.1 kHz
  other.sample_rate = 44100;
  f.hls.audio_config(other);
  f.run(4, 2, true, true, -60 * 90000);
  f.hls.end();
  const auto& segs = f.hls.snapshot()->ts.segments;
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
  const size_t first = f.hls.snapshot()->ts.segments.size();
  CHECK(f.hls.snapshot()->ended);

  f.hls.start();
  CHECK_FALSE(f.hls.snapshot()->ended);
  f.video_next = f.audio_next = 0;  // the new publisher's clock starts at 0 again
  f.run(6, 2);
  f.hls.end();
  const auto& segs = f.hls.snapshot()->ts.segments;
  REQUIRE(segs.size() == first * 2);
  for (size_t i = 0; i < segs.size(); ++i) {
    CHECK(segs[i].seq == i);
    CHECK(segs[i].discontinuity == (i == first));
    CHECK(segs[i].uri == "t-" + std::to_string(i) + ".ts");
  }
}

TEST_CASE(
    "hls stream: an interrupted stream lists its open segment, stays open, and continues with one "
    "discontinuity") {
  Feed f;
  f.hls.start();
  f.hls.video_config(video_config());
  f.hls.audio_config(aac_config());
  f.run(5, 2);  // two whole segments and one second of a third
  REQUIRE(f.hls.snapshot()->ts.segments.size() == 2);
  f.hls.interrupt();
  CHECK(f.hls.interrupted());
  CHECK_FALSE(f.hls.ended());
  const auto during = f.hls.snapshot();
  REQUIRE(during->ts.segments.size() == 3);  // the open second was closed and listed
  CHECK(during->ts.segments[2].duration_s == doctest::Approx(1.0).epsilon(0.05));
  CHECK_FALSE(during->ended);
  CHECK(during->ts.text.find("#EXT-X-ENDLIST") == std::string::npos);
  CHECK(during->ts.text.find("t-2.ts") != std::string::npos);
  f.hls.access_unit(frame(Track::video, 0, true));  // nothing is taken while no publisher is there
  CHECK(f.hls.snapshot() == during);

  f.hls.start();  // the publisher is back, its clock at 0 again
  f.video_next = f.audio_next = 0;
  f.run(6, 2);
  f.hls.interrupt();
  f.hls.end();  // the grace ran out: now the playlist ends
  const auto after = f.hls.snapshot();
  CHECK(after->ended);
  CHECK(after->ts.text.find("#EXT-X-ENDLIST") != std::string::npos);
  const auto& segs = after->ts.segments;
  REQUIRE(segs.size() == 6);
  size_t discontinuities = 0;
  for (size_t i = 0; i < segs.size(); ++i) {
    CHECK(segs[i].seq == i);
    CHECK(segs[i].uri == "t-" + std::to_string(i) + ".ts");
    discontinuities += segs[i].discontinuity;
  }
  CHECK(discontinuities == 1);
  CHECK(segs[3].discontinuity);
  CHECK(after->target_duration_s == 2);
}

TEST_CASE(
    "hls stream: a switch to another publisher closes the open segment and continues with one "
    "discontinuity, the new configuration in the segments after it") {
  Feed f;
  f.hls.start();
  f.hls.video_config(video_config());
  f.hls.audio_config(aac_config());
  f.run(5, 2);
  f.hls.switch_input();  // the backup's clock is its own
  CHECK_FALSE(f.hls.interrupted());
  REQUIRE(f.hls.snapshot()->ts.segments.size() == 3);  // the open second was closed and listed
  VideoConfig other = video_config();
  other.record.push_back(0);  // another encoder's parameter sets
  other.width = 640;
  other.height = 360;
  f.hls.video_config(other);
  f.hls.audio_config(aac_config());
  f.video_next = f.audio_next = 777 * 90;
  f.run(4, 2);
  f.hls.end();
  const auto& segs = f.hls.snapshot()->ts.segments;
  REQUIRE(segs.size() == 5);
  size_t discontinuities = 0;
  for (size_t i = 0; i < segs.size(); ++i) {
    CHECK(segs[i].seq == i);
    discontinuities += segs[i].discontinuity;
  }
  CHECK(discontinuities == 1);  // a new configuration at the switch does not add a second one
  CHECK(segs[3].discontinuity);
  CHECK(f.hls.snapshot()->target_duration_s == 2);
}

TEST_CASE("hls stream: an encoder that resets its clock to 0 mid-stream gets one discontinuity") {
  Feed f;
  f.hls.start();
  f.hls.video_config(video_config());
  f.hls.audio_config(aac_config());
  f.run(60, 2, true, true, Ticks90k{3600} * 90000);  // an hour in
  const size_t before = f.hls.snapshot()->ts.segments.size();
  f.video_next = f.audio_next = 0;  // same connection, timestamps from 0
  f.run(6, 2);
  f.hls.end();
  const auto& segs = f.hls.snapshot()->ts.segments;
  REQUIRE(segs.size() > before + 2);
  // The segment open at the reset is closed there; the next one starts with the discontinuity.
  for (size_t i = 0; i < segs.size(); ++i) {
    CAPTURE(i);
    CHECK(segs[i].discontinuity == (i == before + 1));
    CHECK(rounded_duration(segs[i].duration_s) <= 2);
  }
  CHECK(f.hls.snapshot()->timestamp_jumps == 1);
}

TEST_CASE("hls stream: audio running well ahead of video still lets keyframes cut every segment") {
  for (const Ticks90k lead : {Ticks90k{0}, Ticks90k{63000}, Ticks90k{135000}}) {  // 0, 0.7 s, 1.5 s
    CAPTURE(lead);
    Feed f;
    f.hls.start();
    f.hls.video_config(video_config());
    f.hls.audio_config(aac_config());
    Ticks90k v = 0, a = lead;
    while (v < 20 * 90000) {  // interleaved by capture time, as an encoder sends them
      if (v <= a - lead) {
        f.hls.access_unit(frame(Track::video, v, v % (2 * 90000) == 0));
        v += 3000;
      } else {
        f.hls.access_unit(frame(Track::audio, a, true));
        a += 1920;
      }
    }
    f.hls.end();
    const auto snap = f.hls.snapshot();
    CHECK(snap->segments_without_keyframe == 0);
    CHECK(snap->target_duration_s == 2);
    for (const Segment& seg : snap->ts.segments) CHECK(seg.duration_s == doctest::Approx(2.0));
    CHECK(snap->ts.segments.size() == 10);
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
  for (const Segment& s : f.hls.snapshot()->ts.segments) {
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
  CHECK(f.hls.snapshot()->ts.segments.size() == 5);
  CHECK(f.hls.snapshot()->cmaf.segments.size() == 5);
  size_t bytes = 0;  // each packaging holds its own segments (init segments are a few hundred bytes more)
  for (const Segment& s : f.hls.snapshot()->ts.segments) bytes += s.bytes->size();
  for (const Segment& s : f.hls.snapshot()->cmaf.segments) bytes += s.bytes->size();
  CHECK(f.hls.bytes_held() == bytes);
}

namespace {

// Every listed segment rounds to at most EXT-X-TARGETDURATION (RFC 8216 4.3.3.1), and the playlist says one.
void check_target_rule(const HlsStream& h) {
  const std::string& text = h.snapshot()->ts.text;
  const size_t at = text.find("#EXT-X-TARGETDURATION:");
  REQUIRE(at != std::string::npos);
  const uint32_t target = static_cast<uint32_t>(std::stoul(text.substr(at + 22)));
  CHECK(target == h.target_duration());
  for (const Segment& s : h.snapshot()->ts.segments) {
    CAPTURE(s.seq);
    CHECK(rounded_duration(s.duration_s) <= target);
  }
}

}  // namespace

TEST_CASE("hls stream: a keyframe a frame or two short of the target still cuts") {
  // GStreamer's flvmux clamps the first (negative) DTS to 0: the keyframes of an exact 2 s GOP then come
  // at 0 and 1.933 s, and the next at 3.933 s.
  Feed f;
  f.hls.start();
  f.hls.video_config(video_config());
  f.hls.access_unit(frame(Track::video, 0, true));
  for (Ticks90k t = 6000; t < 90 * 10000; t += 3000)
    f.hls.access_unit(frame(Track::video, t, (t - 174000) % 180000 == 0));
  f.hls.end();
  const auto d = durations(f.hls);
  REQUIRE(d.size() >= 4);
  CHECK(d[0] == doctest::Approx(1.9333).epsilon(0.001));
  CHECK(d[1] == doctest::Approx(2.0));
  CHECK(f.hls.target_duration() == 2);
  check_target_rule(f.hls);
}

TEST_CASE("hls stream: TARGETDURATION stays fixed when a republish brings a longer GOP") {
  Feed f;
  f.hls.start();
  f.hls.video_config(video_config());
  f.hls.audio_config(aac_config());
  f.run(10, 2);
  f.hls.end();
  CHECK(f.hls.target_duration() == 2);
  f.hls.start();
  f.video_next = f.audio_next = 0;
  f.run(40, 8);  // the encoder comes back with keyframes every 8 s
  f.hls.end();
  CHECK(f.hls.target_duration() == 2);
  check_target_rule(f.hls);
  const auto snap = f.hls.snapshot();
  // 40 s of 8 s GOPs cut at 2 s: three of every four segments start between keyframes.
  CHECK(snap->segments_without_keyframe == 15);
  CHECK(snap->long_segments_gop == 0);
  CHECK(snap->ts.segments.size() == 25);
  int discontinuities = 0;
  for (const Segment& s : snap->ts.segments) discontinuities += s.discontinuity;
  CHECK(discontinuities == 1);  // the republish; a cut between keyframes continues the same stream
}

TEST_CASE(
    "hls stream: keyframes further apart than the longest segment are cut at hls.max_segment_duration_s") {
  HlsConfig c;
  c.max_segment_duration_s = 6;
  Feed f(c);
  f.hls.start();
  f.hls.video_config(video_config());
  f.hls.audio_config(aac_config());
  f.run(60, 20);
  f.hls.end();
  CHECK(f.hls.target_duration() == 6);
  check_target_rule(f.hls);
  CHECK(f.hls.snapshot()->segments_without_keyframe > 0);
}

TEST_CASE("hls stream: when video stops and audio goes on, segments go on with audio alone") {
  HlsConfig c = window_config(6, 7);
  c.video_stall_ms = 3000;
  Feed f(c);
  f.hls.start();
  f.hls.video_config(video_config());
  f.hls.audio_config(aac_config());
  f.run(10, 2);
  const uint64_t made_before = f.hls.snapshot()->segments_made;
  size_t most_held = 0;
  // Ten minutes of audio without a single video frame: the playlist advances, memory stays flat.
  for (int i = 0; i < 300; ++i) {
    f.run(2, 0, /*video=*/false, /*audio=*/true);
    most_held = std::max(most_held, f.hls.bytes_held());
  }
  auto snap = f.hls.snapshot();
  CHECK(snap->video_stalled);
  CHECK(snap->video_stalls == 1);
  CHECK(snap->segments_made >= made_before + 295);
  CHECK(snap->ts.segments.size() == 13);  // window + grace, nothing more
  CHECK(most_held < 13 * 64 * 1024);      // a few kilobytes per audio segment, not a growing one
  check_target_rule(f.hls);
  // The video comes back (at a keyframe: the feed's frame index restarts a GOP every 2 s).
  f.video_next = f.audio_next;
  f.video_next -= f.video_next % 180000;
  f.audio_next = f.video_next;
  f.run(10, 2);
  f.hls.end();
  snap = f.hls.snapshot();
  CHECK_FALSE(snap->video_stalled);
  check_target_rule(f.hls);
  // Discontinuities where the tracks changed: video gone, video back.
  int discontinuities = 0;
  for (const Segment& s : snap->ts.segments) discontinuities += s.discontinuity;
  CHECK(discontinuities >= 1);
  CHECK(snap->ts.segments.back().discontinuity == false);
}

TEST_CASE("hls stream: a segment is cut at hls.max_segment_bytes") {
  HlsConfig c;
  c.max_segment_bytes = 1 << 20;
  Feed f(c);
  f.hls.start();
  f.hls.video_config(video_config());
  std::vector<uint8_t> big(4 + 200000, 0x88);
  big[0] = 0, big[1] = 0x03, big[2] = 0x0d, big[3] = 0x40;  // one NAL unit of 200,000 bytes
  for (int i = 0; i < 60; ++i) {
    AccessUnit u = frame(Track::video, Ticks90k{i} * 3000, i == 0);
    big[4] = i == 0 ? 0x65 : 0x41;
    u.data = std::make_shared<const std::vector<uint8_t>>(big);
    f.hls.access_unit(u);
  }
  f.hls.end();
  const auto snap = f.hls.snapshot();
  CHECK(snap->segments_cut_for_bytes >= 10);
  for (const Segment& s : snap->ts.segments) CHECK(s.bytes->size() <= (1u << 20) + 200000);
  check_target_rule(f.hls);
}

TEST_CASE(
    "hls stream: both packagings get the same segments; CMAF ones name their init segment, a new one "
    "after a new configuration") {
  Feed f;
  f.hls.start();
  f.hls.video_config(video_config());
  f.hls.audio_config(aac_config());
  f.run(5, 2);
  f.hls.switch_input();
  VideoConfig other = video_config();
  other.record.push_back(0);
  f.hls.video_config(other);
  f.hls.audio_config(aac_config());
  f.run(4, 2);
  f.hls.end();
  const auto snap = f.hls.snapshot();
  const auto& ts = snap->ts.segments;
  const auto& cmaf = snap->cmaf.segments;
  REQUIRE(ts.size() == 5);
  REQUIRE(cmaf.size() == 5);
  CHECK(snap->held() == 5);
  for (size_t i = 0; i < ts.size(); ++i) {
    CAPTURE(i);
    CHECK(cmaf[i].seq == ts[i].seq);
    CHECK(cmaf[i].duration_s == ts[i].duration_s);
    CHECK(cmaf[i].discontinuity == ts[i].discontinuity);
    CHECK(cmaf[i].pdt_unix_ms == ts[i].pdt_unix_ms);
    CHECK(ts[i].uri == "t-" + std::to_string(i) + ".ts");
    CHECK(cmaf[i].uri == "t-" + std::to_string(i) + ".m4s");
    CHECK(ts[i].map_uri.empty());
    REQUIRE(cmaf[i].bytes->size() > 8);
    CHECK(std::string(cmaf[i].bytes->begin() + 4, cmaf[i].bytes->begin() + 8) == "moof");
    REQUIRE(cmaf[i].map);
    CHECK(std::string(cmaf[i].map->begin() + 4, cmaf[i].map->begin() + 8) == "ftyp");
    CHECK(cmaf[i].map_uri == (i < 3 ? "t-0.mp4" : "t-3.mp4"));  // named after its first segment
  }
  CHECK(cmaf[0].map == cmaf[2].map);
  CHECK(cmaf[3].map != cmaf[2].map);
  CHECK(snap->find_map("t-3.mp4") == cmaf[3].map);
  CHECK(snap->find_map("t-1.mp4") == nullptr);
  const std::string& ll = snap->cmaf.text;
  CHECK(ll.find("#EXT-X-VERSION:6\n") != std::string::npos);
  CHECK(ll.find("#EXT-X-MAP:URI=\"t-0.mp4\"\n") != std::string::npos);
  CHECK(ll.find("#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"t-3.mp4\"\n") != std::string::npos);
  CHECK(ll.find("t-4.m4s\n#EXT-X-ENDLIST\n") != std::string::npos);
  CHECK(snap->ts.text.find("EXT-X-MAP") == std::string::npos);
  CHECK(snap->ts.text.find("#EXT-X-VERSION:3\n") != std::string::npos);
}

TEST_CASE("hls stream: hls.packaging picks the playlists that are made") {
  for (const bool ts_only : {true, false}) {
    CAPTURE(ts_only);
    HlsConfig c = window_config(100, 0);
    c.packaging_ts = ts_only;
    c.packaging_cmaf = !ts_only;
    Feed f(c);
    f.hls.start();
    f.hls.video_config(video_config());
    f.hls.audio_config(aac_config());
    f.run(6, 2);
    f.hls.end();
    const auto snap = f.hls.snapshot();
    CHECK(snap->ts.segments.size() == (ts_only ? 3u : 0u));
    CHECK(snap->cmaf.segments.size() == (ts_only ? 0u : 3u));
    CHECK(snap->ts.text.empty() == !ts_only);
    CHECK(snap->cmaf.text.empty() == ts_only);
    CHECK(snap->held() == 3);
  }
}

TEST_CASE("hls stream: master.m3u8 names the CMAF playlist (or the TS one) with codecs, size and bit rate") {
  for (const bool cmaf : {true, false}) {
    CAPTURE(cmaf);
    HlsConfig c = window_config(100, 0);
    c.packaging_cmaf = cmaf;
    Feed f(c);
    f.hls.start();
    f.hls.video_config(video_config());
    f.hls.audio_config(aac_config());
    CHECK((!f.hls.snapshot() || f.hls.snapshot()->master.empty()));  // nothing to measure yet
    f.run(6, 2);
    const std::string& m = f.hls.snapshot()->master;
    CHECK(m.rfind("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=", 0) == 0);
    CHECK(m.find(",CODECS=\"avc1.42c00d,mp4a.40.2\",RESOLUTION=320x240") != std::string::npos);
    CHECK(m.find(cmaf ? "\nll.m3u8\n" : "\nindex.m3u8\n") != std::string::npos);
  }
}

namespace {

// Checks the parts of every CMAF segment: within the target, adding up to the segment, joined they are
// its bytes, named in order, independent when they start with a keyframe (`every_independent`: audio).
void check_parts(const HlsSnapshot& snap, uint32_t part_target_ms, bool every_independent) {
  REQUIRE(!snap.cmaf.segments.empty());
  for (const Segment& s : snap.cmaf.segments) {
    CAPTURE(s.seq);
    REQUIRE(!s.parts.empty());
    double sum = 0;
    std::vector<uint8_t> joined;
    for (size_t i = 0; i < s.parts.size(); ++i) {
      const Part& p = s.parts[i];
      CAPTURE(i);
      CHECK(p.seq == s.seq);
      CHECK(p.index == i);
      CHECK(p.uri == "t-" + std::to_string(s.seq) + "." + std::to_string(i) + ".m4s");
      CHECK(p.duration_s <= part_target_ms / 1000.0 + 1e-9);
      // Every part but the segment's last is at least 85 % of the target (RFC 8216bis 4.4.4.9).
      if (i + 1 < s.parts.size()) CHECK(p.duration_s >= 0.85 * part_target_ms / 1000.0);
      CHECK(p.independent == (every_independent || i == 0));
      CHECK(p.buffer == s.bytes);  // a range of the segment, not a copy
      sum += p.duration_s;
      joined.insert(joined.end(), p.bytes().begin(), p.bytes().end());
    }
    CHECK(sum == doctest::Approx(s.duration_s).epsilon(1e-9));
    CHECK(joined == *s.bytes);
  }
}

}  // namespace

TEST_CASE("hls stream: CMAF segments are cut into parts at frame boundaries, no longer than the target") {
  for (const uint32_t target : {333u, 200u, 1000u}) {
    CAPTURE(target);
    HlsConfig c = window_config(100, 0);
    c.part_target_ms = target;
    Feed f(c);
    f.hls.start();
    f.hls.video_config(video_config());
    f.hls.audio_config(aac_config());
    f.run(7.2, 2);
    const auto snap = f.hls.snapshot();
    check_parts(*snap, target, false);
    CHECK(snap->cmaf.segments.size() == 3);
    // 30 fps: 9 frames (300 ms) fit a 333 ms part, 6 a 200 ms one, 30 a 1 s one.
    const size_t per_part = target == 333 ? 9 : target == 200 ? 6 : 30;
    CHECK(snap->cmaf.segments[0].parts[0].duration_s == doctest::Approx(per_part / 30.0));
    // The open segment (6 s to 7.2 s) has its parts published as they close, and the next is hinted.
    CHECK(snap->ll.open_seq == 3);
    REQUIRE(!snap->ll.open_parts.empty());
    CHECK(snap->ll.open_parts[0].independent);
    const std::string next = "t-3." + std::to_string(snap->ll.open_parts.size()) + ".m4s";
    CHECK(snap->ll.preload_hint == next);
    CHECK(snap->cmaf.text.find("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"" + next + "\"\n") != std::string::npos);
    CHECK(snap->find_part("t-3.0.m4s") == &snap->ll.open_parts[0]);
    CHECK(snap->find_part("t-1.1.m4s") == &snap->cmaf.segments[1].parts[1]);
    CHECK(snap->find_part(next) == nullptr);
    // What a blocked request waits for.
    CHECK(snap->has(2, std::nullopt));
    CHECK_FALSE(snap->has(3, std::nullopt));
    CHECK(snap->has(3, 0));
    CHECK_FALSE(snap->has(3, static_cast<uint32_t>(snap->ll.open_parts.size())));
    CHECK(snap->has(2, 99));  // past segment 2's last part: segment 3's first, which exists
    CHECK(snap->has(0, 0));
    // The TS segments are cut where the CMAF ones are, and not into parts.
    REQUIRE(snap->ts.segments.size() == 3);
    CHECK(snap->ts.segments[2].parts.empty());
    CHECK(snap->ts.segments[2].duration_s == snap->cmaf.segments[2].duration_s);

    f.hls.end();
    const auto ended = f.hls.snapshot();
    check_parts(*ended, target, false);
    CHECK(ended->ll.preload_hint.empty());
    CHECK(ended->ll.open_parts.empty());
  }
}

TEST_CASE("hls stream: audio-only parts are cut at AAC frames and are all independent") {
  HlsConfig c = window_config(100, 0);
  Feed f(c);
  f.hls.start();
  f.hls.audio_config(aac_config());
  f.run(6.5, 2, false, true);
  f.hls.end();
  const auto snap = f.hls.snapshot();
  check_parts(*snap, c.part_target_ms, true);
  // 48 kHz AAC frames are 21.3 ms: 15 of them (320 ms) fit a 333 ms part.
  CHECK(snap->cmaf.segments[0].parts[0].duration_s == doctest::Approx(15 * 1920 / 90000.0));
}

TEST_CASE("hls stream: a new part republishes ll.m3u8 only") {
  Feed f;
  f.hls.start();
  f.hls.video_config(video_config());
  f.hls.audio_config(aac_config());
  f.run(2.5, 2);
  const auto before = f.hls.snapshot();
  const uint64_t version = f.hls.version();
  f.run(0.4, 2);  // one more part, no segment
  const auto after = f.hls.snapshot();
  CHECK(f.hls.version() > version);
  CHECK(after->ts.text == before->ts.text);
  CHECK(after->master == before->master);
  CHECK(after->cmaf.segments.size() == before->cmaf.segments.size());
  CHECK(after->ll.open_parts.size() > before->ll.open_parts.size());
  CHECK(after->cmaf.text != before->cmaf.text);
}

TEST_CASE("hls stream: after a republish the open segment's parts follow a discontinuity and their new map") {
  Feed f;
  f.hls.start();
  f.hls.video_config(video_config());
  f.hls.audio_config(aac_config());
  f.run(4.5, 2);
  f.hls.interrupt();
  f.hls.start();
  AudioConfig mono = aac_config();
  mono.record = {0x11, 0x88};  // another configuration: a new init segment
  mono.channels = 1;
  f.hls.audio_config(mono);
  f.run(2.0, 2, true, true, 90000 * 100);  // a new clock; its first keyframe at 6 s opens a segment
  const auto snap = f.hls.snapshot();
  REQUIRE(!snap->ll.open_parts.empty());
  CHECK(snap->ll.open_discontinuity);
  const std::string map = snap->ll.open_map_uri;
  CHECK(map != snap->cmaf.segments.back().map_uri);
  REQUIRE(snap->find_map(map) != nullptr);
  CHECK(snap->find_map(map) == snap->ll.open_map);
  const std::string& text = snap->cmaf.text;
  const size_t disc = text.rfind("#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"" + map + "\"\n#EXT-X-PART:");
  CHECK(disc != std::string::npos);
  CHECK(disc > text.rfind("#EXTINF:"));
}
