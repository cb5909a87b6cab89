// Per-stream counters, published as snapshots when something changes and once a second while live.
#include "segmenter/stream_monitor.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

#include "common/clock.h"

namespace livegate {
namespace {

using Seconds = std::chrono::duration<double>;

// Keyframe intervals remembered to tell a steady interval from an irregular one.
constexpr size_t kKeyframeWindow = 5;
// Ticks (about a second each) that the frame rate is measured over: long enough to smooth B-frame
// reordering and bursts, short enough to show a shortfall within seconds.
constexpr size_t kRateWindowTicks = 10;
// A/V drift needs this much observation before it is reported; a single offset is only jitter.
constexpr double kDriftMinSpanS = 10;
constexpr size_t kDriftMinPoints = 5;
// The first seconds of a publish are left out: encoders start with a burst (buffered frames, a large
// first keyframe) that shifts one track's arrivals once, which is not drift.
constexpr double kDriftWarmupS = 2;
// A frame arriving this much later than the earliest arrival pattern of the last minute is late.
constexpr double kLateFrameMs = 1000;
constexpr size_t kLateBaselineTicks = 60;
// A timestamp step beyond these restarts the late-frame baseline (a discontinuity, not lateness),
// and a video step longer than kDropMaxStep is a pause rather than dropped frames.
constexpr Ticks90k kBaselineResetStep = 10 * 90000;
constexpr Ticks90k kDropMaxStep = 90000;
// A step of more than this many nominal frame durations means frames are missing; below it is the
// jitter of millisecond timestamps and variable-frame-rate sources.
constexpr double kDropStepRatio = 1.25;
// Bitrate spikes are judged over this much history, once this many samples exist.
constexpr std::chrono::seconds kBitrateWindow{60};
constexpr size_t kBitrateMinSamples = 10;
// RTMP clocks wrap at 2^32 ms, or at 2^31 ms for encoders built on ffmpeg's FLV muxer (it masks the
// timestamp's top byte with 0x7F): each crossing of a multiple of 2^31 ms is counted as a wrap.
constexpr uint64_t kMsWrap = uint64_t{1} << 31;
// Switches between a key's publishers listed in its API history, the latest.
constexpr size_t kMaxSwitchesRemembered = 20;
// Publishes remembered per key for the reconnect count: a publisher flapping faster than this many
// per retention time is reported with this many, and costs no more memory.
constexpr size_t kMaxPublishesRemembered = 1000;

double declared_fps(const StreamSnapshot& s) {
  if (s.video && s.video->frame_rate > 0) return s.video->frame_rate;
  for (const auto& [k, v] : s.metadata) {
    if (k != "framerate") continue;
    double fps = 0;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), fps);
    if (ec == std::errc{} && end == v.data() + v.size() && fps > 0 && fps < 1000) return fps;
  }
  return 0;
}

// Least-squares slope of y over x; 0 for fewer than two distinct x.
struct Fit {
  double slope = 0;
  double at_last = 0;  // the fitted value at the last x
};
Fit fit_line(const std::deque<double>& x, const std::deque<double>& y) {
  const double n = double(x.size());
  if (x.size() < 2) return {0, y.empty() ? 0 : y.back()};
  double sx = 0, sy = 0;
  for (size_t i = 0; i < x.size(); ++i) sx += x[i], sy += y[i];
  const double mx = sx / n, my = sy / n;
  double sxx = 0, sxy = 0;
  for (size_t i = 0; i < x.size(); ++i) sxx += (x[i] - mx) * (x[i] - mx), sxy += (x[i] - mx) * (y[i] - my);
  if (sxx <= 0) return {0, my};
  const double slope = sxy / sxx;
  return {slope, my + slope * (x.back() - mx)};
}

}  // namespace

MonitorConfig monitor_config(const HlsConfig& hls) {
  MonitorConfig c;
  c.retention = std::chrono::seconds(hls.retention_s);
  c.max_ended = hls.max_ended_streams;
  c.target_duration_s = hls.target_duration_s;
  return c;
}

StreamMonitor::StreamMonitor(StreamStore& store, const MonitorConfig& config, Now now)
    : store_(store), config_(config), now_(std::move(now)) {}

StreamMonitor::Entry* StreamMonitor::find(const StreamName& name) {
  auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : &it->second;
}

void StreamMonitor::publish(Entry& e) { store_.put(std::make_shared<const StreamSnapshot>(e.current)); }

void StreamMonitor::on_publish(const StreamName& name, const PublishInfo& info) { begin(name, info, nullptr); }

void StreamMonitor::on_switch(const StreamName& name, const PublishInfo& input, const InputSwitch& what) {
  if (find(name)) begin(name, input, &what);
}

void StreamMonitor::on_inputs(const StreamName& name, const std::vector<InputStatus>& inputs) {
  if (Entry* e = find(name)) {
    e->current.inputs = inputs;
    publish(*e);
  }
}

// A publish, or a switch to the key's other publisher, starts a fresh record (its timestamps and rates
// are its own) but keeps what spans publishes: the charts' history, the publishes that count as
// reconnects (a switch is not one), the switches and the key's publishers.
void StreamMonitor::begin(const StreamName& name, const PublishInfo& info, const InputSwitch* switched) {
  const Clock::time_point now = now_();
  Entry e;
  if (Entry* old = find(name)) {
    e.publishes = std::move(old->publishes);
    e.current.history = std::move(old->current.history);
    e.current.switches = std::move(old->current.switches);
    e.current.inputs = std::move(old->current.inputs);
  }
  while (!e.publishes.empty() && (now - e.publishes.front() > config_.reconnect_window ||
                                  e.publishes.size() >= kMaxPublishesRemembered)) {
    e.publishes.pop_front();
  }
  if (switched) {
    e.current.switches.push_back(*switched);
    if (e.current.switches.size() > kMaxSwitchesRemembered) e.current.switches.erase(e.current.switches.begin());
  } else {
    e.publishes.push_back(now);
  }
  e.current.name = name;
  e.current.live = true;
  e.current.publisher = info;
  e.current.target_duration_s = config_.target_duration_s;
  e.current.history_interval_s = Seconds(config_.history_interval).count();
  e.current.health.reconnects = static_cast<uint32_t>(e.publishes.empty() ? 0 : e.publishes.size() - 1);
  e.current.health.reconnect_window_s = Seconds(config_.reconnect_window).count();
  e.published_at = now;
  Entry& stored = entries_[name.path()] = std::move(e);
  publish(stored);
}

void StreamMonitor::on_metadata(const StreamName& name, const Metadata& metadata) {
  if (Entry* e = find(name)) {
    e->current.metadata = metadata;
    e->current.health.declared_fps = declared_fps(e->current);
    publish(*e);
  }
}

void StreamMonitor::on_video_config(const StreamName& name, const VideoConfig& config) {
  if (Entry* e = find(name)) {
    e->current.video = config;
    e->current.health.declared_fps = declared_fps(e->current);
    publish(*e);
  }
}

void StreamMonitor::on_audio_config(const StreamName& name, const AudioConfig& config) {
  if (Entry* e = find(name)) {
    e->current.audio = config;
    publish(*e);
  }
}

void StreamMonitor::on_access_unit(const StreamName& name, const AccessUnit& unit) {
  Entry* e = find(name);
  if (!e) return;
  const Clock::time_point at = now_();
  StreamSnapshot& s = e->current;
  TrackStats& t = unit.track == Track::video ? s.video_stats : s.audio_stats;
  const bool main_track = unit.track == Track::video || !s.video;
  if (main_track) check_arrival(*e, unit, at);
  if (t.frames == 0) {
    t.first_dts = unit.dts;
  } else if (unit.dts < t.last_dts) {
    ++t.dts_backwards;
  }
  if (unit.pts < unit.dts) ++t.pts_before_dts;
  t.last_dts = unit.dts;
  ++t.frames;
  const uint64_t size = unit.data ? unit.data->size() : 0;
  t.bytes += size;
  e->bytes += size;

  const int64_t dts_ms = unit.dts / 90;
  if (e->max_dts_ms >= 0 && dts_ms > e->max_dts_ms &&
      uint64_t(dts_ms) / kMsWrap > uint64_t(std::max<int64_t>(e->max_dts_ms, 0)) / kMsWrap) {
    ++s.health.timestamp_wraps;
  }
  e->max_dts_ms = std::max(e->max_dts_ms, dts_ms);

  const size_t track = unit.track == Track::video ? 0 : 1;
  e->lead_sum[track] += double(unit.dts - t.first_dts) / 90.0 -
                        std::chrono::duration<double, std::milli>(at - e->published_at).count();
  ++e->lead_count[track];

  if (unit.track == Track::video) {
    e->last_video_at = at;
    if (unit.keyframe) {
      ++t.keyframes;
      if (e->last_keyframe_dts >= 0 && unit.dts > e->last_keyframe_dts) {
        s.keyframe_interval_s = double(unit.dts - e->last_keyframe_dts) / 90000.0;
        e->keyframe_intervals.push_back(s.keyframe_interval_s);
        if (e->keyframe_intervals.size() > kKeyframeWindow) e->keyframe_intervals.pop_front();
        const auto [lo, hi] = std::minmax_element(e->keyframe_intervals.begin(), e->keyframe_intervals.end());
        s.health.keyframe_interval_min_s = *lo;
        s.health.keyframe_interval_max_s = *hi;
      }
      e->last_keyframe_dts = unit.dts;
    }
  } else {
    e->last_audio_at = at;
  }
}

// Late frames: arrival time minus media time is about constant for a healthy live publisher; when it
// grows, frames queue up somewhere between the encoder and us. Dropped frames: gaps in the video
// timestamps, counted in nominal frame durations of the declared frame rate.
void StreamMonitor::check_arrival(Entry& e, const AccessUnit& unit, Clock::time_point at) {
  StreamSnapshot& s = e.current;
  const TrackStats& t = unit.track == Track::video ? s.video_stats : s.audio_stats;
  if (t.frames > 0) {
    const Ticks90k step = unit.dts - t.last_dts;
    if (step > kBaselineResetStep || step < -90000) {
      e.offset_mins.clear();
      e.offset_seen_this_tick = false;
    }
    const double fps = s.health.declared_fps;
    if (unit.track == Track::video && fps > 0 && step > 0 && step <= kDropMaxStep) {
      // Fractions add up: 20 fps declared as 30 misses half a frame per step, one frame in three.
      const double frames = double(step) * fps / 90000.0;
      if (frames > kDropStepRatio) e.dropped_frames += frames - 1;
      s.health.dropped_frames = static_cast<uint64_t>(std::llround(e.dropped_frames));
    }
  }
  const double offset = std::chrono::duration<double, std::milli>(at - e.published_at).count() -
                        double(unit.dts - (t.frames > 0 ? t.first_dts : unit.dts)) / 90.0;
  if (!e.offset_seen_this_tick || offset < e.offset_min_this_tick) e.offset_min_this_tick = offset;
  e.offset_seen_this_tick = true;
  const double baseline =
      e.offset_mins.empty() ? e.offset_min_this_tick : std::min(e.offset_min_this_tick, e.offset_baseline);
  if (offset - baseline > kLateFrameMs) ++s.health.late_frames;
}

void StreamMonitor::on_interrupt(const StreamName& name, std::chrono::milliseconds grace) {
  Entry* e = find(name);
  if (!e) return;
  e->current.live = false;
  e->current.reconnect_deadline_unix_ms = unix_ms_now() + grace.count();
  e->current.bitrate_kbps = 0;
  publish(*e);
}

void StreamMonitor::on_unpublish(const StreamName& name) {
  Entry* e = find(name);
  if (!e) return;
  e->current.live = false;
  e->current.reconnect_deadline_unix_ms = 0;
  e->current.end_unix_ms = unix_ms_now();
  e->current.bitrate_kbps = 0;
  e->ended_at = now_();
  publish(*e);
  // As the segmenter does with their segments: past the limit the oldest ended streams go first.
  size_t ended = 0;
  for (const auto& [path, entry] : entries_) ended += entry.current.live ? 0 : 1;
  while (ended > config_.max_ended) {
    auto oldest = entries_.end();
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (!it->second.current.live &&
          (oldest == entries_.end() || it->second.ended_at < oldest->second.ended_at))
        oldest = it;
    }
    store_.remove(oldest->first);
    entries_.erase(oldest);
    --ended;
  }
}

void StreamMonitor::update_rates(Entry& e, Clock::time_point now) {
  StreamSnapshot& s = e.current;
  e.rates.push_back({now, e.bytes, s.video_stats.frames, s.video_stats.last_dts});
  if (e.rates.size() > kRateWindowTicks + 1) e.rates.pop_front();
  if (e.rates.size() >= 2) {
    const RatePoint& a = e.rates[e.rates.size() - 2];
    const RatePoint& b = e.rates.back();
    const double secs = Seconds(b.at - a.at).count();
    if (secs > 0) s.bitrate_kbps = double(b.bytes - a.bytes) * 8.0 / 1000.0 / secs;
  }
  const RatePoint& first = e.rates.front();
  const RatePoint& last = e.rates.back();
  if (last.video_frames > first.video_frames + 1 && last.video_dts > first.video_dts) {
    s.measured_fps =
        double(last.video_frames - first.video_frames) * 90000.0 / double(last.video_dts - first.video_dts);
  } else if (s.video_stats.frames > 1 && s.video_stats.last_dts > s.video_stats.first_dts) {
    s.measured_fps =
        double(s.video_stats.frames - 1) * 90000.0 / double(s.video_stats.last_dts - s.video_stats.first_dts);
  }
  if (e.offset_seen_this_tick) {
    e.offset_mins.push_back(e.offset_min_this_tick);
    if (e.offset_mins.size() > kLateBaselineTicks) e.offset_mins.pop_front();
    e.offset_baseline = *std::min_element(e.offset_mins.begin(), e.offset_mins.end());
    e.offset_seen_this_tick = false;
  }
}

// A/V drift: how far each track's timestamps run ahead of the time its frames arrive, averaged over a
// tick; the audio figure minus the video figure stays put while both follow one clock and grows when
// they disagree. Averaging over arrivals rather than comparing the newest frames keeps the frame
// spacing (tens of ms) out of it, and the trend over the history window is fitted, so the remaining
// jitter averages out and a one-off step is not taken for a drift.
void StreamMonitor::update_drift(Entry& e, Clock::time_point now) {
  StreamSnapshot& s = e.current;
  const bool both_flowed = e.lead_count[0] > 0 && e.lead_count[1] > 0;
  const double offset_ms =
      both_flowed ? e.lead_sum[1] / double(e.lead_count[1]) - e.lead_sum[0] / double(e.lead_count[0]) : 0;
  e.lead_sum[0] = e.lead_sum[1] = 0;
  e.lead_count[0] = e.lead_count[1] = 0;
  const double t_s = Seconds(now - e.published_at).count();
  if (!both_flowed || t_s < kDriftWarmupS) return;
  if (!e.drift_base_set) {
    e.drift_base_set = true;
    e.drift_base_ms = offset_ms;
  }
  e.drift.push_back({t_s, offset_ms - e.drift_base_ms});
  const double span_s = Seconds(config_.history_span).count();
  while (!e.drift.empty() && t_s - e.drift.front().t_s > span_s) e.drift.pop_front();
  std::deque<double> x, y;
  for (const DriftPoint& p : e.drift) x.push_back(p.t_s), y.push_back(p.drift_ms);
  const Fit f = fit_line(x, y);
  s.health.av_drift_known = e.drift.size() >= kDriftMinPoints && x.back() - x.front() >= kDriftMinSpanS;
  s.health.av_drift_ms = f.at_last;
  s.health.av_drift_ms_per_min = f.slope * 60.0;
}

void StreamMonitor::update_history(Entry& e, Clock::time_point now) {
  StreamSnapshot& s = e.current;
  const RatePoint here{now, e.bytes, s.video_stats.frames, s.video_stats.last_dts};
  if (e.last_sample.at == Clock::time_point{}) {
    e.last_sample = here;
    return;
  }
  // Ticks jitter; a quarter interval of slack keeps one sample per interval instead of skipping one.
  if (now - e.last_sample.at < config_.history_interval - config_.history_interval / 4) return;
  const double secs = Seconds(now - e.last_sample.at).count();
  HistorySample h;
  h.t_ms = unix_ms_now();
  h.bitrate_kbps = double(here.bytes - e.last_sample.bytes) * 8.0 / 1000.0 / secs;
  h.frame_rate = double(here.video_frames - e.last_sample.video_frames) / secs;
  h.keyframe_interval_s = s.keyframe_interval_s;
  e.last_sample = here;
  s.history.push_back(h);
  const size_t max_samples = static_cast<size_t>(config_.history_span / config_.history_interval);
  if (s.history.size() > max_samples)
    s.history.erase(s.history.begin(), s.history.end() - ptrdiff_t(max_samples));

  const size_t window =
      std::min(s.history.size(), static_cast<size_t>(kBitrateWindow / config_.history_interval));
  if (window >= kBitrateMinSamples) {
    std::vector<double> rates;
    for (size_t i = s.history.size() - window; i < s.history.size(); ++i)
      rates.push_back(s.history[i].bitrate_kbps);
    std::nth_element(rates.begin(), rates.begin() + ptrdiff_t(rates.size() / 2), rates.end());
    s.health.bitrate_median_kbps = rates[rates.size() / 2];
    s.health.bitrate_peak_kbps = *std::max_element(rates.begin(), rates.end());
  } else {
    s.health.bitrate_median_kbps = s.health.bitrate_peak_kbps = 0;
  }
}

void StreamMonitor::tick(Clock::time_point now) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    Entry& e = it->second;
    if (!e.current.live) {
      if (e.current.reconnect_deadline_unix_ms == 0 && now - e.ended_at >= config_.retention) {
        store_.remove(it->first);
        it = entries_.erase(it);
        continue;
      }
    } else {
      HealthFacts& h = e.current.health;
      while (e.publishes.size() > 1 && now - e.publishes.front() > config_.reconnect_window) {
        e.publishes.pop_front();
      }
      h.reconnects = static_cast<uint32_t>(e.publishes.size() - 1);
      h.live_s = Seconds(now - e.published_at).count();
      auto idle = [&](Clock::time_point last) {
        return Seconds(now - (last == Clock::time_point{} ? e.published_at : last)).count();
      };
      h.video_idle_s = idle(e.last_video_at);
      h.audio_idle_s = idle(e.last_audio_at);
      update_rates(e, now);
      update_drift(e, now);
      update_history(e, now);
      publish(e);
    }
    ++it;
  }
}

const char* to_string(Severity s) noexcept {
  switch (s) {
    case Severity::ok: return "ok";
    case Severity::warn: return "warn";
    case Severity::bad: return "bad";
  }
  return "ok";
}

namespace {

// A number as a hint says it: at most `decimals` decimals, without trailing zeros ("8", "2.5").
std::string num(double v, int decimals = 1) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  std::string s = buf;
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  return s == "-0" ? "0" : s;
}

std::string count(uint64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

// "10 minutes", "90 seconds", "1 hour": a span as a hint says it.
std::string duration_words(double seconds) {
  const auto whole = static_cast<uint64_t>(std::llround(seconds));
  if (whole >= 3600 && whole % 3600 == 0) return count(whole / 3600, "hour", "hours");
  if (whole >= 60 && whole % 60 == 0) return count(whole / 60, "minute", "minutes");
  return count(whole, "second", "seconds");
}

}  // namespace

StreamHealth evaluate_health(const StreamSnapshot& s, const HlsSnapshot* hls, const HealthThresholds& t) {
  StreamHealth out;
  const HealthFacts& f = s.health;
  auto add = [&out](const char* code, Severity severity, std::string hint) {
    out.problems.push_back({code, severity, std::move(hint)});
    out.status = std::max(out.status, severity);
  };
  const double target = s.target_duration_s;
  const std::string target_s = num(target) + " s";

  if (target > 0 && f.keyframe_interval_max_s > target + t.keyframe_slack_s) {
    if (f.keyframe_interval_min_s > 0 &&
        f.keyframe_interval_max_s > f.keyframe_interval_min_s * t.keyframe_irregular_ratio) {
      add("keyframe_interval", Severity::warn,
          "keyframes come irregularly, " + num(f.keyframe_interval_min_s) + " to " +
              num(f.keyframe_interval_max_s) + " s apart; set a fixed keyframe interval of " + target_s +
              " in your encoder (and turn off "
              "scene-cut keyframes) to get even " +
              target_s + " segments");
    } else {
      add("keyframe_interval", Severity::warn,
          "keyframe interval is " + num(f.keyframe_interval_max_s) + " s; set it to " + target_s +
              " in your encoder to get " + target_s + " segments and lower latency");
    }
  }

  if (s.video && f.declared_fps > 0 && s.measured_fps > 0 && f.live_s >= t.frame_rate_min_observed_s &&
      s.measured_fps < f.declared_fps * t.frame_rate_warn_ratio) {
    add("frame_rate",
        s.measured_fps < f.declared_fps * t.frame_rate_bad_ratio ? Severity::bad : Severity::warn,
        "the encoder sends " + num(s.measured_fps) + " frames per second of the " + num(f.declared_fps, 2) +
            " it declares, so it is overloaded; pick a faster encoder preset or lower the resolution or "
            "frame rate in your encoder");
  }

  if (f.av_drift_known && std::fabs(f.av_drift_ms) >= t.av_drift_warn_ms &&
      std::fabs(f.av_drift_ms_per_min) >= t.av_drift_warn_ms_per_min) {
    const bool ahead = f.av_drift_ms > 0;
    add("av_drift", std::fabs(f.av_drift_ms) >= t.av_drift_bad_ms ? Severity::bad : Severity::warn,
        std::string("audio drifts ") + (ahead ? "ahead of" : "behind") + " video: " +
            num(std::fabs(f.av_drift_ms), 0) + " ms now, " + num(std::fabs(f.av_drift_ms_per_min), 0) +
            " ms more each minute; set your encoder's audio sample rate to the audio device's (e.g. 48 kHz) "
            "or turn on its audio sync/resampling so audio and video share one clock");
  }

  if (hls && hls->timestamp_jumps > 0) {
    add("timestamp_jumps", Severity::warn,
        "timestamps jumped " + count(hls->timestamp_jumps, "time", "times") +
            ", each a glitch for viewers; keep the encoder's output running instead of restarting it, and "
            "turn "
            "off any timestamp or clock reset option");
  }
  const uint64_t backwards = s.video_stats.dts_backwards + s.audio_stats.dts_backwards;
  if (backwards > 0) {
    add("dts_backwards", Severity::warn,
        "timestamps went backwards " + count(backwards, "time", "times") +
            "; the encoder's clock is unstable: turn off \"use device timestamps\" on the capture source or "
            "use a constant frame rate in your encoder");
  }

  if (hls && hls->long_segments_gop > 0) {
    add("long_segments", Severity::warn,
        count(hls->long_segments_gop, "segment", "segments") + " ran longer than the " + target_s +
            " target (up to " + num(hls->longest_segment_s) +
            " s) because keyframes were too far apart; set the keyframe interval to " + target_s +
            " in your encoder");
  }
  if (hls && hls->segments_without_keyframe > 0) {
    add("split_segments", Severity::warn,
        count(hls->segments_without_keyframe, "segment was", "segments were") +
            " cut between keyframes because keyframes came more than " +
            std::to_string(hls->target_duration_s) +
            " s apart; players that join there wait for the next one: set a fixed keyframe interval of " +
            target_s + " in your encoder");
  }
  if (hls && hls->pauses > 0) {
    add("media_pauses", Severity::warn,
        "the stream paused " + count(hls->pauses, "time", "times") + " (up to " + num(hls->longest_pause_s) +
            " s), each a discontinuity for viewers; the encoder or its upload stalls: check its CPU load "
            "and network");
  }

  const uint64_t video_frames = s.video_stats.frames;
  if (f.dropped_frames > 0 &&
      double(f.dropped_frames) >= double(video_frames + f.dropped_frames) * t.dropped_frames_warn_ratio) {
    add("dropped_frames", Severity::warn,
        count(f.dropped_frames, "video frame is", "video frames are") +
            " missing from the stream; the encoder drops frames when it is overloaded: pick a faster preset "
            "or "
            "a lower resolution in your encoder");
  }
  if (f.late_frames > 0) {
    add("late_frames", Severity::warn,
        count(f.late_frames, "frame", "frames") + " arrived more than " + num(kLateFrameMs / 1000) +
            " s late; the upload cannot keep up: lower the video bitrate in your encoder or use a better "
            "network");
  }
  if (f.reconnects > 0) {
    add("reconnects", Severity::warn,
        "the encoder reconnected " + count(f.reconnects, "time", "times") + " in " +
            duration_words(f.reconnect_window_s) +
            ": check its network (its log says why it dropped) and its reconnect settings");
  }
  const auto active = std::find_if(s.inputs.begin(), s.inputs.end(), [](const InputStatus& i) { return i.active; });
  if (s.live && active != s.inputs.end() && active->role == InputRole::backup) {
    const auto primary = std::find_if(s.inputs.begin(), s.inputs.end(),
                                      [](const InputStatus& i) { return i.role == InputRole::primary; });
    add("on_backup", Severity::warn,
        std::string("the stream comes from the backup encoder") +
            (s.switches.empty() ? "" : " (" + s.switches.back().cause + ")") +
            (primary == s.inputs.end()  ? "; check the primary encoder and its network"
             : primary->healthy ? "; the primary is back and sends media"
                                : "; the primary is connected but sends no media"));
  }

  if (s.live && f.live_s >= t.track_grace_s) {
    const bool video_flows = s.video_stats.frames > 0 && f.video_idle_s < t.track_stalled_s;
    const bool audio_flows = s.audio_stats.frames > 0 && f.audio_idle_s < t.track_stalled_s;
    if (s.video_stats.frames == 0 && audio_flows) {
      add("no_video", Severity::warn,
          "no video received in " + num(f.live_s, 0) +
              " s (audio only); add a video source or turn on video "
              "output in your encoder, unless this is meant to be a radio stream");
    } else if (s.video_stats.frames > 0 && !video_flows && audio_flows) {
      add("no_video", Severity::bad,
          "video stopped " + num(f.video_idle_s, 0) + " s ago while audio goes on" +
              (hls && hls->video_stalled ? "; viewers get audio only until it returns" : "") +
              "; check the encoder's video source (camera or capture card)");
    }
    if (s.audio_stats.frames == 0 && video_flows) {
      add("no_audio", Severity::warn,
          "no audio received in " + num(f.live_s, 0) +
              " s; viewers hear silence and some players stall "
              "without audio: add an audio source in your encoder");
    } else if (s.audio_stats.frames > 0 && !audio_flows && video_flows) {
      add("no_audio", Severity::bad,
          "audio stopped " + num(f.audio_idle_s, 0) +
              " s ago while video goes on; check the encoder's audio "
              "source (microphone or capture device)");
    }
  }

  if (f.bitrate_median_kbps > 0 && f.bitrate_peak_kbps > f.bitrate_median_kbps * t.bitrate_spike_ratio) {
    add("bitrate_spikes", Severity::warn,
        "bitrate peaks at " + num(f.bitrate_peak_kbps, 0) + " kbps, " +
            num(f.bitrate_peak_kbps / f.bitrate_median_kbps) + " times its usual " +
            num(f.bitrate_median_kbps, 0) +
            " kbps; use CBR or set a maximum bitrate (VBV buffer) in your encoder so viewers do not "
            "rebuffer");
  }
  return out;
}

}  // namespace livegate
