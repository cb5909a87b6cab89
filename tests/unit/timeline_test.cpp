#include "segmenter/timeline.h"

#include <doctest/doctest.h>

#include <vector>

using namespace livegate;

namespace {

constexpr Ticks90k kFrame = 3000;  // 30 fps
constexpr Ticks90k kAac = 1920;    // 1024 samples at 48 kHz
const TimelineConfig kConfig{};

}  // namespace

TEST_CASE("timeline: the first frame lands on the origin and the rest follow it") {
  Timeline t;
  auto a = t.map(Track::video, 5'000'000, 5'006'000);
  CHECK(a.dts == kConfig.origin);
  CHECK(a.pts == kConfig.origin + 6000);
  CHECK_FALSE(a.jumped);
  auto b = t.map(Track::audio, 5'000'000 - 9000, 5'000'000 - 9000);  // audio 100 ms ahead of video
  CHECK(b.dts == kConfig.origin - 9000);
  CHECK_FALSE(b.jumped);
  auto c = t.map(Track::video, 5'000'000 + kFrame, 5'000'000 + kFrame);
  CHECK(c.dts == kConfig.origin + kFrame);
}

TEST_CASE("timeline: a stream whose input passed the 32-bit millisecond wrap stays continuous") {
  // Ingest extends 2^32 ms into 64 bits; the output still starts at the origin and keeps its spacing.
  Timeline t;
  const Ticks90k wrap = (Ticks90k{1} << 32) * 90;
  Ticks90k in = wrap - 30 * kFrame;
  Ticks90k prev = -1;
  for (int i = 0; i < 60; ++i, in += kFrame) {
    auto m = t.map(Track::video, in, in);
    CHECK_FALSE(m.jumped);
    if (prev >= 0) CHECK(m.dts - prev == kFrame);
    prev = m.dts;
  }
  CHECK(prev == kConfig.origin + 59 * kFrame);
}

TEST_CASE("timeline: a big backward jump is re-anchored after the last frame and reported") {
  Timeline t;
  for (int i = 0; i < 10; ++i) t.map(Track::video, 900000 + i * kFrame, 900000 + i * kFrame);
  auto j = t.map(Track::video, 0, 0);  // the encoder restarted its clock
  CHECK(j.jumped);
  CHECK(j.dts == kConfig.origin + 9 * kFrame + kConfig.join_gap);
  auto n = t.map(Track::video, kFrame, kFrame);
  CHECK_FALSE(n.jumped);
  CHECK(n.dts == j.dts + kFrame);
}

TEST_CASE(
    "timeline: a big forward jump is re-anchored; audio that jumps with it follows without a second jump") {
  Timeline t;
  for (int i = 0; i < 10; ++i) {
    t.map(Track::video, i * kFrame, i * kFrame);
    t.map(Track::audio, i * kAac, i * kAac);
  }
  const Ticks90k hour = 3600 * 90000;
  auto v = t.map(Track::video, hour, hour);
  CHECK(v.jumped);
  auto a = t.map(Track::audio, hour + 100, hour + 100);
  CHECK_FALSE(a.jumped);
  CHECK(a.dts == v.dts + 100);
}

TEST_CASE("timeline: small steps back and repeated DTS become strictly increasing output") {
  Timeline t;
  auto a = t.map(Track::video, 0, 6000);
  auto b = t.map(Track::video, 0, 3000);  // same DTS again (as GStreamer's flvmux sends at start)
  CHECK(b.dts == a.dts + 1);
  CHECK(b.pts >= b.dts);
  auto c = t.map(Track::video, -3000, -3000);  // 33 ms back: jitter, not a jump
  CHECK_FALSE(c.jumped);
  CHECK(c.dts == b.dts + 1);
  CHECK(c.pts == c.dts);
}

TEST_CASE("timeline: after rejoin a new publisher's frames follow the old output") {
  Timeline t;
  for (int i = 0; i < 30; ++i) t.map(Track::video, i * kFrame, i * kFrame);
  const Ticks90k last = *t.last_dts();
  t.rejoin();
  auto v = t.map(Track::video, 0, 0);
  CHECK_FALSE(v.jumped);  // a new publisher, not a jump; the segmenter marks the join itself
  CHECK(v.dts == last + kConfig.join_gap);
  auto a = t.map(Track::audio, 500, 500);
  CHECK_FALSE(a.jumped);
  CHECK(a.dts == v.dts + 500);
}

TEST_CASE("timeline: audio and video jumping by different amounts keep each track's DTS rising at its pace") {
  // The encoder's clocks jump back by different amounts: video 100 s -> 5 s, audio by 0.5 s more or less.
  for (const Ticks90k audio_extra : {Ticks90k{-45000}, Ticks90k{45000}}) {
    CAPTURE(audio_extra);
    Timeline t;
    Ticks90k v_in = 100 * 90000, a_in = 100 * 90000;
    std::vector<Timeline::Mapped> video, audio;
    auto feed = [&](int n) {
      for (int i = 0; i < n; ++i) {
        video.push_back(t.map(Track::video, v_in, v_in));
        v_in += kFrame;
        for (int k = 0; k < 2; ++k) {
          audio.push_back(t.map(Track::audio, a_in, a_in));
          a_in += kAac;
        }
      }
    };
    feed(60);
    v_in = 5 * 90000;
    a_in = 5 * 90000 + audio_extra;
    feed(60);
    int jumps = 0;
    for (const auto& m : video) jumps += m.jumped;
    for (const auto& m : audio) jumps += m.jumped;
    CHECK(jumps == 1);  // one discontinuity for the segmenter
    for (const auto* track : {&video, &audio}) {
      const Ticks90k step = track == &video ? kFrame : kAac;
      for (size_t i = 1; i < track->size(); ++i) {
        CAPTURE(i);
        const Ticks90k d = (*track)[i].dts - (*track)[i - 1].dts;
        CHECK(d > 0);  // never backward, never equal
        // Every step is the frame's own duration, except the one across the jump: a gap after the last
        // output frame of either track, well under a second here.
        if (i != 60 * (track == &video ? 1 : 2)) CHECK(d == step);
        else CHECK(d < 90000);
      }
    }
  }
}

TEST_CASE("timeline: a join starts after the last PTS too, when a dead encoder left a P-frame shown late") {
  Timeline t;
  for (int i = 0; i < 30; ++i) t.map(Track::video, i * kFrame, i * kFrame + kFrame);
  // The last frame that came is a P-frame shown three frames later; its B-frames never arrive.
  const auto p = t.map(Track::video, 30 * kFrame, 33 * kFrame + kFrame);
  t.rejoin();
  const auto key = t.map(Track::video, 0, 2 * kFrame);  // the new encoder's first keyframe, shown 2 frames on
  CHECK(key.pts > p.pts);
  CHECK(key.dts > p.pts);
  CHECK((key.dts - p.dts) % kFrame == 0);  // still on the old frame grid
}
