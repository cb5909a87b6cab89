#include "segmenter/stream_monitor.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "common/clock.h"
#include "ingest/avc_config.h"
#include "segmenter/hls_stream.h"
#include "segmenter/playlist.h"
#include "test_bytes.h"

using namespace livegate;
using Clock = StreamMonitor::Clock;

namespace {

// What a synthetic publisher does: video at `send_fps` with a keyframe every `gop_s`, AAC frames of
// 1024 samples at 48 kHz whose timestamps run `audio_scale` times as fast as real time, sent in real
// time except while stalled.
struct Play {
  double seconds = 10;
  double send_fps = 30;
  double gop_s = 2;
  bool video = true;
  bool audio = true;
  double audio_scale = 1.0;
  double stall_at_s = -1;  // frames due in [stall_at_s, stall_at_s + stall_s) all arrive at its end
  double stall_s = 0;
  double skip_at_s = -1;  // video frames due in [skip_at_s, skip_at_s + skip_s) are never sent
  double skip_s = 0;
};

struct Rig {
  Clock::time_point now = Clock::time_point{} + std::chrono::hours(1);
  Clock::time_point next_tick = now + std::chrono::seconds(1);
  StreamStore store;
  MonitorConfig config;
  StreamMonitor monitor{store, config, [this] { return now; }};
  StreamName name{"live", "cam"};
  double media_s = 0;        // where the next play() starts, seconds of media
  double audio_media_s = 0;  // the same for audio, whose clock may run at another speed
  int64_t base_ms = 10000;   // the stream's first timestamp
  uint64_t video_index = 0;

  void start(double declared_fps = 30, bool video = true, bool audio = true) {
    monitor.on_publish(name, PublishInfo{1, "127.0.0.1:5000", "test", 0});
    configure(declared_fps, video, audio);
  }
  void configure(double declared_fps = 30, bool video = true, bool audio = true) {
    if (video) {
      VideoConfig v;
      v.codec = VideoCodec::h264;
      v.width = 320;
      v.height = 240;
      v.frame_rate = declared_fps;
      monitor.on_video_config(name, v);
    }
    if (audio) {
      AudioConfig a;
      a.codec = AudioCodec::aac;
      a.sample_rate = 48000;
      a.channels = 2;
      monitor.on_audio_config(name, a);
    }
  }

  // Moves the clock to `t`, ticking the monitor each second on the way, as the loop does.
  void advance_to(Clock::time_point t) {
    while (next_tick <= t) {
      now = next_tick;
      monitor.tick(now);
      next_tick += std::chrono::seconds(1);
    }
    now = std::max(now, t);
  }
  void advance(double seconds) { advance_to(now + std::chrono::microseconds(int64_t(seconds * 1e6))); }

  void play(const Play& p) {
    struct Event {
      double wall_s;  // since this play() began
      Track track;
      Ticks90k dts;
      bool key;
    };
    std::vector<Event> events;
    if (p.video) {
      const auto frames = static_cast<uint64_t>(p.seconds * p.send_fps);
      for (uint64_t i = 0; i < frames; ++i) {
        const double t = double(i) / p.send_fps;
        if (p.skip_at_s >= 0 && t >= p.skip_at_s && t < p.skip_at_s + p.skip_s) continue;
        const double media = media_s + t;
        const bool key = std::fmod(media + 1e-9, p.gop_s) < 1.0 / p.send_fps - 1e-9;
        events.push_back({t, Track::video, Ticks90k(std::llround((base_ms + media * 1000) * 90)), key});
      }
    }
    if (p.audio) {
      const double frame_s = 1024.0 / 48000.0;
      for (double t = 0; t < p.seconds; t += frame_s) {
        const double media = audio_media_s + t * p.audio_scale;
        events.push_back({t, Track::audio, Ticks90k(std::llround((base_ms + media * 1000) * 90)), true});
      }
    }
    for (Event& e : events) {
      if (p.stall_at_s >= 0 && e.wall_s >= p.stall_at_s && e.wall_s < p.stall_at_s + p.stall_s)
        e.wall_s = p.stall_at_s + p.stall_s;
    }
    std::stable_sort(events.begin(), events.end(),
                     [](const Event& a, const Event& b) { return a.wall_s < b.wall_s; });
    const Clock::time_point begin = now;
    for (const Event& e : events) {
      advance_to(begin + std::chrono::microseconds(int64_t(e.wall_s * 1e6)));
      AccessUnit u;
      u.track = e.track;
      u.dts = u.pts = e.dts;
      u.keyframe = e.key;
      u.data = std::make_shared<const std::vector<uint8_t>>(e.track == Track::video ? 2000 : 200, uint8_t{0});
      monitor.on_access_unit(name, u);
    }
    advance_to(begin + std::chrono::microseconds(int64_t(p.seconds * 1e6)));
    media_s += p.seconds;
    audio_media_s += p.seconds * (p.audio ? p.audio_scale : 1.0);
  }

  std::shared_ptr<const StreamSnapshot> snapshot() const { return store.get("live/cam"); }
  StreamHealth health() const { return evaluate_health(*snapshot(), nullptr); }
};

std::vector<std::string> codes(const StreamHealth& h) {
  std::vector<std::string> out;
  for (const HealthProblem& p : h.problems) out.push_back(p.code);
  return out;
}

const HealthProblem* problem(const StreamHealth& h, const std::string& code) {
  for (const HealthProblem& p : h.problems) {
    if (p.code == code) return &p;
  }
  return nullptr;
}

// A snapshot that is healthy in every respect, for the threshold tests to spoil one fact at a time.
StreamSnapshot healthy_snapshot() {
  StreamSnapshot s;
  s.name = {"live", "cam"};
  s.live = true;
  s.video = VideoConfig{};
  s.video->frame_rate = 30;
  s.audio = AudioConfig{};
  s.video_stats.frames = 900;
  s.audio_stats.frames = 1400;
  s.keyframe_interval_s = 2;
  s.measured_fps = 30;
  s.target_duration_s = 2;
  HealthFacts& f = s.health;
  f.declared_fps = 30;
  f.keyframe_interval_min_s = f.keyframe_interval_max_s = 2;
  f.av_drift_known = true;
  f.live_s = 30;
  f.video_idle_s = f.audio_idle_s = 0.1;
  f.bitrate_median_kbps = 1000;
  f.bitrate_peak_kbps = 1200;
  return s;
}

}  // namespace

TEST_CASE("stream health: a healthy stream has no problems") {
  Rig r;
  r.start();
  r.play({.seconds = 30});
  const auto s = r.snapshot();
  const StreamHealth h = r.health();
  CHECK(codes(h).empty());
  CHECK(h.status == Severity::ok);
  CHECK(s->keyframe_interval_s == doctest::Approx(2.0));
  CHECK(s->measured_fps == doctest::Approx(30).epsilon(0.01));
  CHECK(s->health.declared_fps == 30);
  CHECK(s->health.av_drift_known);
  CHECK(std::fabs(s->health.av_drift_ms) < 30);
  CHECK(std::fabs(s->health.av_drift_ms_per_min) < 30);
  CHECK(s->health.late_frames == 0);
  CHECK(s->health.dropped_frames == 0);
  CHECK(s->health.reconnects == 0);
  // The history: one sample per 2 s, oldest first, with what came in.
  CHECK(s->history_interval_s == 2);
  REQUIRE(s->history.size() >= 13);
  CHECK(s->history.size() <= 15);
  for (size_t i = 1; i < s->history.size(); ++i) CHECK(s->history[i].t_ms >= s->history[i - 1].t_ms);
  const HistorySample& last = s->history.back();
  CHECK(last.frame_rate == doctest::Approx(30).epsilon(0.05));
  // 30 video frames of 2000 bytes and 46.875 audio frames of 200 bytes a second.
  CHECK(last.bitrate_kbps == doctest::Approx((30 * 2000 + 46.875 * 200) * 8 / 1000.0).epsilon(0.05));
  CHECK(last.keyframe_interval_s == doctest::Approx(2.0));
}

TEST_CASE("stream health: an 8 s GOP is reported with the keyframe interval to set") {
  Rig r;
  r.start();
  r.play({.seconds = 30, .gop_s = 8});
  const StreamHealth h = r.health();
  CHECK(codes(h) == std::vector<std::string>{"keyframe_interval"});
  CHECK(h.status == Severity::warn);
  CHECK(h.problems[0].hint ==
        "keyframe interval is 8 s; set it to 2 s in your encoder to get 2 s segments and lower latency");
}

TEST_CASE("stream health: drifting audio is measured and reported") {
  Rig r;
  r.start();
  r.play({.seconds = 30, .audio_scale = 1.03});  // audio timestamps gain 30 ms a second
  const auto s = r.snapshot();
  CHECK(s->health.av_drift_known);
  CHECK(s->health.av_drift_ms_per_min == doctest::Approx(1800).epsilon(0.1));
  // Measured from the tick at 2 s (the warm-up left out) to the one at 30 s: 28 s at 30 ms a second.
  CHECK(s->health.av_drift_ms == doctest::Approx(840).epsilon(0.05));
  const StreamHealth h = r.health();
  CHECK(codes(h) == std::vector<std::string>{"av_drift"});
  CHECK(h.problems[0].severity == Severity::warn);
  CHECK(h.problems[0].hint.find("audio drifts ahead of video") == 0);
  CHECK(h.problems[0].hint.find("sample rate") != std::string::npos);
  r.play({.seconds = 10, .audio_scale = 1.03});  // past a second: lips visibly out of sync
  CHECK(r.health().problems.at(0).severity == Severity::bad);

  Rig slow;  // the other way round
  slow.start();
  slow.play({.seconds = 20, .audio_scale = 0.98});
  CHECK(slow.snapshot()->health.av_drift_ms_per_min == doctest::Approx(-1200).epsilon(0.1));
  CHECK(problem(slow.health(), "av_drift")->hint.find("audio drifts behind video") == 0);
}

TEST_CASE("stream health: a frame rate shortfall against the declared rate") {
  Rig r;
  r.start(30);
  r.play({.seconds = 12, .send_fps = 20});
  CHECK(r.snapshot()->measured_fps == doctest::Approx(20).epsilon(0.02));
  const StreamHealth h = r.health();
  REQUIRE(problem(h, "frame_rate") != nullptr);
  CHECK(problem(h, "frame_rate")->severity == Severity::warn);
  CHECK(problem(h, "frame_rate")->hint.find("sends 20 frames per second of the 30 it declares") !=
        std::string::npos);
  // The missing frames show as gaps in the timestamps too: one in three.
  CHECK(r.snapshot()->health.dropped_frames == doctest::Approx(120).epsilon(0.02));
  CHECK(problem(h, "dropped_frames") != nullptr);

  Rig worse;
  worse.start(30);
  worse.play({.seconds = 12, .send_fps = 12});
  CHECK(problem(worse.health(), "frame_rate")->severity == Severity::bad);
}

TEST_CASE("stream health: frames that arrive late and frames that never come") {
  Rig late;
  late.start();
  late.play({.seconds = 20, .stall_at_s = 10, .stall_s = 2});  // the upload stalls for 2 s, then catches up
  const auto s = late.snapshot();
  // Video frames due in the second second of the stall were more than 1 s late: about 30 of them.
  CHECK(s->health.late_frames >= 25);
  CHECK(s->health.late_frames <= 32);
  CHECK(problem(late.health(), "late_frames") != nullptr);

  Rig skip;
  skip.start();
  skip.play({.seconds = 20, .skip_at_s = 10, .skip_s = 10.0 / 30});  // ten frames missing
  CHECK(skip.snapshot()->health.dropped_frames == 10);
  CHECK(skip.snapshot()->health.late_frames == 0);
  CHECK(problem(skip.health(), "dropped_frames")->hint.find("10 video frames are missing") == 0);
}

TEST_CASE("stream health: 32-bit timestamp wraps are counted") {
  Rig r;
  r.base_ms = (int64_t{1} << 32) - 5000;
  r.start();
  r.play({.seconds = 10});
  CHECK(r.snapshot()->health.timestamp_wraps == 1);
  CHECK(codes(r.health()).empty());  // a wrap is handled, not a problem
}

TEST_CASE("stream health: reconnects are counted over ten minutes, and history is kept across them") {
  Rig r;
  r.start();
  r.play({.seconds = 6});
  const size_t samples = r.snapshot()->history.size();
  REQUIRE(samples >= 2);
  // The publisher goes; the stream waits for it (reconnect grace) and says so.
  r.monitor.on_interrupt(r.name, std::chrono::seconds(10));
  CHECK_FALSE(r.snapshot()->live);
  const int64_t deadline = r.snapshot()->reconnect_deadline_unix_ms;
  CHECK(deadline >= unix_ms_now() + 9000);
  CHECK(deadline <= unix_ms_now() + 10000);
  CHECK(r.snapshot()->end_unix_ms == 0);
  r.advance(90);  // longer than the 60 s retention: a waiting stream is not forgotten
  REQUIRE(r.snapshot());
  r.start();  // it comes back
  CHECK(r.snapshot()->live);
  CHECK(r.snapshot()->reconnect_deadline_unix_ms == 0);
  CHECK(r.snapshot()->health.reconnects == 1);
  CHECK(r.snapshot()->history.size() == samples);
  r.play({.seconds = 6});
  CHECK(problem(r.health(), "reconnects")->hint.find("reconnected 1 time in 10 minutes: check its network") ==
        std::string("the encoder ").size());
  // A publisher that ends and comes back (after the grace) counts too.
  r.monitor.on_unpublish(r.name);
  CHECK(r.snapshot()->reconnect_deadline_unix_ms == 0);
  CHECK(r.snapshot()->end_unix_ms != 0);
  r.advance(1);
  r.start();
  r.play({.seconds = 6});
  CHECK(r.snapshot()->health.reconnects == 2);
  CHECK(problem(r.health(), "reconnects")->hint.find("reconnected 2 times in 10 minutes") != std::string::npos);
  r.play({.seconds = 600});  // every earlier publish leaves the ten-minute window
  CHECK(r.snapshot()->health.reconnects == 0);
  CHECK(problem(r.health(), "reconnects") == nullptr);
}

TEST_CASE("stream health: a switch to the backup publisher is listed, is not a reconnect, and is a problem "
          "while it lasts") {
  Rig r;
  r.start();
  r.play({.seconds = 6});
  InputStatus primary{.role = InputRole::primary, .info = {1, "10.0.0.1:1", "enc", 0}, .active = true,
                      .healthy = true};
  InputStatus backup{.role = InputRole::backup, .info = {2, "10.0.0.2:1", "enc", 0}, .active = false,
                     .healthy = true};
  r.monitor.on_inputs(r.name, {primary, backup});
  CHECK(problem(r.health(), "on_backup") == nullptr);
  const InputSwitch to_backup{unix_ms_now(), InputRole::primary, InputRole::backup, "primary disconnected"};
  r.monitor.on_switch(r.name, backup.info, to_backup);
  r.configure();
  backup.active = true;
  r.monitor.on_inputs(r.name, {backup});
  CHECK(r.snapshot()->publisher.session_id == 2);
  CHECK(r.snapshot()->health.reconnects == 0);
  REQUIRE(r.snapshot()->switches.size() == 1);
  CHECK(r.snapshot()->switches[0].cause == "primary disconnected");
  CHECK(r.snapshot()->video_stats.frames == 0);  // its own record from here on
  r.play({.seconds = 6});
  const StreamHealth health = r.health();
  const HealthProblem* p = problem(health, "on_backup");
  REQUIRE(p != nullptr);
  CHECK(p->hint == "the stream comes from the backup encoder (primary disconnected); check the primary encoder and "
                   "its network");
  r.monitor.on_switch(r.name, primary.info,
                      {unix_ms_now(), InputRole::backup, InputRole::primary, "primary healthy again for 5000 ms"});
  r.configure();
  primary.active = true;
  backup.active = false;
  r.monitor.on_inputs(r.name, {primary, backup});
  r.play({.seconds = 2});
  CHECK(problem(r.health(), "on_backup") == nullptr);
  CHECK(r.snapshot()->switches.size() == 2);
  CHECK(r.snapshot()->health.reconnects == 0);
}

TEST_CASE("stream monitor: ended streams are forgotten after the retention time; history is bounded") {
  Rig r;
  r.start();
  r.play({.seconds = 400});
  const auto s = r.snapshot();
  CHECK(s->history.size() == 150);  // five minutes at one sample per 2 s
  r.monitor.on_unpublish(r.name);
  r.advance(59);
  CHECK(r.snapshot() != nullptr);
  r.advance(2);
  CHECK(r.snapshot() == nullptr);
}

TEST_CASE("stream health: missing and stopped tracks") {
  Rig audio_only;
  audio_only.start(30, /*video=*/false, /*audio=*/true);
  audio_only.play({.seconds = 10, .video = false});
  CHECK(codes(audio_only.health()) == std::vector<std::string>{"no_video"});
  CHECK(audio_only.health().status == Severity::warn);

  Rig video_only;
  video_only.start(30, true, false);
  video_only.play({.seconds = 10, .audio = false});
  CHECK(codes(video_only.health()) == std::vector<std::string>{"no_audio"});

  Rig stopped;
  stopped.start();
  stopped.play({.seconds = 10});
  stopped.play({.seconds = 5, .video = false});  // the camera dies, the microphone goes on
  CHECK(problem(stopped.health(), "no_video")->severity == Severity::bad);
  CHECK(problem(stopped.health(), "no_video")->hint.find("video stopped") == 0);

  Rig early;  // before the grace time nothing is missing yet
  early.start();
  early.play({.seconds = 3, .video = false});
  CHECK(problem(early.health(), "no_video") == nullptr);
}

TEST_CASE("health thresholds: keyframe interval against the target duration") {
  HealthThresholds t;
  StreamSnapshot s = healthy_snapshot();
  CHECK(evaluate_health(s, nullptr, t).problems.empty());
  s.health.keyframe_interval_min_s = s.health.keyframe_interval_max_s = 2 + t.keyframe_slack_s;
  CHECK(evaluate_health(s, nullptr, t).problems.empty());
  s.health.keyframe_interval_min_s = s.health.keyframe_interval_max_s = 2 + t.keyframe_slack_s + 0.05;
  CHECK(codes(evaluate_health(s, nullptr, t)) == std::vector<std::string>{"keyframe_interval"});
  // A longer target allows longer intervals.
  s.target_duration_s = 4;
  CHECK(evaluate_health(s, nullptr, t).problems.empty());
  // Irregular: the widest recent interval is more than the ratio times the narrowest.
  s.target_duration_s = 2;
  s.health.keyframe_interval_min_s = 1.2;
  s.health.keyframe_interval_max_s = 2.5;
  CHECK(
      problem(evaluate_health(s, nullptr, t), "keyframe_interval")->hint ==
      "keyframes come irregularly, 1.2 to 2.5 s apart; set a fixed keyframe interval of 2 s in your encoder "
      "(and turn off scene-cut keyframes) to get even 2 s segments");
  s.health.keyframe_interval_max_s =
      1.2 * t.keyframe_irregular_ratio + 0.1;  // irregular but within the target
  CHECK(s.health.keyframe_interval_max_s < 2);
  CHECK(evaluate_health(s, nullptr, t).problems.empty());
}

TEST_CASE("health thresholds: frame rate") {
  HealthThresholds t;
  StreamSnapshot s = healthy_snapshot();
  s.measured_fps = 30 * t.frame_rate_warn_ratio + 0.01;
  CHECK(evaluate_health(s, nullptr, t).problems.empty());
  s.measured_fps = 30 * t.frame_rate_warn_ratio - 0.01;
  CHECK(problem(evaluate_health(s, nullptr, t), "frame_rate")->severity == Severity::warn);
  s.measured_fps = 30 * t.frame_rate_bad_ratio - 0.01;
  CHECK(problem(evaluate_health(s, nullptr, t), "frame_rate")->severity == Severity::bad);
  s.health.live_s = t.frame_rate_min_observed_s - 0.5;  // too early to judge
  CHECK(evaluate_health(s, nullptr, t).problems.empty());
  s.health.live_s = 30;
  s.health.declared_fps = 0;  // nothing declared: nothing to fall short of
  CHECK(evaluate_health(s, nullptr, t).problems.empty());
}

TEST_CASE("health thresholds: A/V drift needs both size and trend") {
  HealthThresholds t;
  StreamSnapshot s = healthy_snapshot();
  s.health.av_drift_ms = t.av_drift_warn_ms + 1;
  s.health.av_drift_ms_per_min = t.av_drift_warn_ms_per_min - 1;  // a one-off offset, not drifting
  CHECK(evaluate_health(s, nullptr, t).problems.empty());
  s.health.av_drift_ms_per_min = -(t.av_drift_warn_ms_per_min + 1);
  s.health.av_drift_ms = -(t.av_drift_warn_ms - 1);  // drifting, but still small
  CHECK(evaluate_health(s, nullptr, t).problems.empty());
  s.health.av_drift_ms = -(t.av_drift_warn_ms + 1);
  CHECK(problem(evaluate_health(s, nullptr, t), "av_drift")->severity == Severity::warn);
  s.health.av_drift_ms = -t.av_drift_bad_ms;
  CHECK(problem(evaluate_health(s, nullptr, t), "av_drift")->severity == Severity::bad);
  s.health.av_drift_known = false;
  CHECK(evaluate_health(s, nullptr, t).problems.empty());
}

TEST_CASE("health thresholds: dropped frames share, bitrate spikes, counters") {
  HealthThresholds t;
  StreamSnapshot s = healthy_snapshot();
  s.health.dropped_frames = 9;  // 9 of 909: under 1 %
  CHECK(evaluate_health(s, nullptr, t).problems.empty());
  s.health.dropped_frames = 10;  // 10 of 910: over 1 %
  CHECK(codes(evaluate_health(s, nullptr, t)) == std::vector<std::string>{"dropped_frames"});
  s.health.dropped_frames = 0;

  s.health.bitrate_peak_kbps = s.health.bitrate_median_kbps * t.bitrate_spike_ratio;
  CHECK(evaluate_health(s, nullptr, t).problems.empty());
  s.health.bitrate_peak_kbps = s.health.bitrate_median_kbps * t.bitrate_spike_ratio + 1;
  CHECK(problem(evaluate_health(s, nullptr, t), "bitrate_spikes")->hint.find("bitrate peaks at 3001 kbps") ==
        0);
  s.health.bitrate_peak_kbps = 1200;

  s.health.late_frames = 1;
  s.health.reconnects = 2;
  s.video_stats.dts_backwards = 3;
  CHECK(codes(evaluate_health(s, nullptr, t)) ==
        std::vector<std::string>{"dts_backwards", "late_frames", "reconnects"});
  CHECK(problem(evaluate_health(s, nullptr, t), "dts_backwards")->hint.find("went backwards 3 times") !=
        std::string::npos);
}

TEST_CASE("health thresholds: missing tracks wait for the grace time; a stalled track for its time") {
  HealthThresholds t;
  StreamSnapshot s = healthy_snapshot();
  s.health.video_idle_s = t.track_stalled_s - 0.1;
  CHECK(evaluate_health(s, nullptr, t).problems.empty());
  s.health.video_idle_s = t.track_stalled_s + 0.1;
  CHECK(problem(evaluate_health(s, nullptr, t), "no_video")->severity == Severity::bad);
  s.health.video_idle_s = 0.1;
  s.audio_stats.frames = 0;
  s.health.live_s = t.track_grace_s - 0.1;
  CHECK(evaluate_health(s, nullptr, t).problems.empty());
  s.health.live_s = t.track_grace_s + 0.1;
  CHECK(problem(evaluate_health(s, nullptr, t), "no_audio")->severity == Severity::warn);
  s.live = false;  // an ended stream is not missing anything now
  CHECK(evaluate_health(s, nullptr, t).problems.empty());
}

TEST_CASE("health: HLS-side problems, long segments with their cause, and timestamp jumps") {
  StreamSnapshot s = healthy_snapshot();
  HlsSnapshot hls;
  CHECK(evaluate_health(s, &hls).problems.empty());
  hls.long_segments_gop = 3;
  hls.longest_segment_s = 8;
  CHECK(problem(evaluate_health(s, &hls), "long_segments")->hint ==
        "3 segments ran longer than the 2 s target (up to 8 s) because keyframes were too far apart; set the "
        "keyframe interval to 2 s in your encoder");
  hls.long_segments_gop = 0;
  hls.pauses = 1;
  hls.longest_pause_s = 3.1;
  CHECK(problem(evaluate_health(s, &hls), "media_pauses")
            ->hint.find("the stream paused 1 time (up to 3.1 s)") == 0);
  hls.pauses = 0;
  hls.target_duration_s = 2;
  hls.segments_without_keyframe = 4;
  CHECK(problem(evaluate_health(s, &hls), "split_segments")
            ->hint.find("4 segments were cut between keyframes "
                        "because keyframes came more than 2 s apart") == 0);
  hls.segments_without_keyframe = 0;
  hls.long_segments_gop = 1;
  hls.timestamp_jumps = 2;
  const StreamHealth h = evaluate_health(s, &hls);
  CHECK(codes(h) == std::vector<std::string>{"timestamp_jumps", "long_segments"});
  CHECK(h.status == Severity::warn);
}

namespace {

// An HLS stream fed 30 fps video (a keyframe every gop_s) and audio, with an optional pause.
struct HlsFeed {
  HlsConfig config;
  HlsStream hls{config, "test", "t", [] { return int64_t{1'700'000'000'000}; }};
  Ticks90k video = 0, audio = 0;
  HlsFeed() {
    auto v = parse_avcc(livegate::testing::hex(
        "0142c00dffe100186742c00dd90141fb0110000003001000000303c0f142a48001000568cb83cb20"));
    REQUIRE(v.ok());
    AudioConfig a;
    a.codec = AudioCodec::aac;
    a.record = {0x11, 0x90};
    a.object_type = 2;
    a.sample_rate = 48000;
    a.channels = 2;
    hls.start();
    hls.video_config(*v);
    hls.audio_config(a);
  }
  void run(double seconds, double gop_s) {
    const Ticks90k end = video + Ticks90k(seconds * 90000);
    while (video < end || audio < end) {
      AccessUnit u;
      if (video <= audio) {
        u.track = Track::video;
        u.dts = u.pts = video;
        u.keyframe = (video / 3000) % int64_t(gop_s * 30) == 0;
        u.data = std::make_shared<const std::vector<uint8_t>>(
            std::vector<uint8_t>{0, 0, 0, 4, uint8_t(u.keyframe ? 0x65 : 0x41), 0x88, 0x84, 0x00});
        video += 3000;
      } else {
        u.track = Track::audio;
        u.dts = u.pts = audio;
        u.keyframe = true;
        u.data = std::make_shared<const std::vector<uint8_t>>(
            std::vector<uint8_t>{0x21, 0x00, 0x49, 0x90, 0x02, 0x19});
        audio += 1920;
      }
      hls.access_unit(u);
    }
  }
  void pause(double seconds) {
    video += Ticks90k(seconds * 90000);
    audio += Ticks90k(seconds * 90000);
  }
};

}  // namespace

TEST_CASE("hls stream: long segments, splits and pauses are counted") {
  HlsFeed gop;  // an 8 s GOP from the start: TARGETDURATION 8, every segment long
  gop.run(40, 8);
  gop.hls.end();
  auto snap = gop.hls.snapshot();
  CHECK(snap->segments_made == 5);
  CHECK(snap->long_segments_gop == 5);
  CHECK(snap->segments_without_keyframe == 0);
  CHECK(snap->longest_segment_s == doctest::Approx(8));

  HlsFeed gap;
  gap.run(10, 2);
  gap.pause(3);  // shorter than hls.max_jump_ms, longer than TARGETDURATION: cut at the pause
  gap.run(10, 2);
  gap.hls.end();
  snap = gap.hls.snapshot();
  CHECK(snap->long_segments_gop == 0);
  CHECK(snap->pauses == 1);
  CHECK(snap->longest_pause_s == doctest::Approx(3.0333).epsilon(0.01));
  CHECK(snap->timestamp_jumps == 0);
  for (const Segment& seg : snap->ts.segments)
    CHECK(rounded_duration(seg.duration_s) <= snap->target_duration_s);

  HlsFeed jump;
  jump.run(6, 2);
  jump.pause(60);  // beyond hls.max_jump_ms: a discontinuity, and no long segment
  jump.run(6, 2);
  jump.hls.end();
  snap = jump.hls.snapshot();
  CHECK(snap->timestamp_jumps >= 1);
  CHECK(snap->long_segments_gop + snap->pauses == 0);
}

TEST_CASE("stream monitor: a flapping publisher's reconnects are remembered up to a bound") {
  Rig r;
  for (int i = 0; i < 1500; ++i) {
    r.start();
    r.monitor.on_unpublish(r.name);
    r.now += std::chrono::milliseconds(10);  // 15 s in all: every publish is within the retention time
  }
  r.start();
  CHECK(r.snapshot()->health.reconnects == 999);  // 1000 publishes remembered, the current one included
}
