// Watches each stream's events and keeps its snapshot in the StreamStore up to date: codecs,
// metadata, frame counts, timestamp checks, rates, history and the facts its health is judged on
// (evaluate_health, below). Runs on the loop thread.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/stream_sink.h"
#include "segmenter/stream_store.h"

namespace livegate {

// How the history and the health facts are sampled.
struct MonitorConfig {
  std::chrono::milliseconds retention{60000};        // ended streams stay listed this long (hls.retention_s)
  size_t max_ended = 256;                            // ... and at most this many (hls.max_ended_streams)
  uint32_t target_duration_s = 2;                    // hls.target_duration_s, which keyframes should match
  std::chrono::milliseconds history_interval{2000};  // one history sample per interval
  std::chrono::milliseconds history_span{300000};    // history kept: the charts' five minutes
  std::chrono::milliseconds reconnect_window{600000};  // reconnects are counted over this long
};

MonitorConfig monitor_config(const HlsConfig& hls);

class StreamMonitor final : public StreamSink {
 public:
  using Clock = std::chrono::steady_clock;
  using Now = std::function<Clock::time_point()>;  // injectable for tests

  StreamMonitor(StreamStore& store, const MonitorConfig& config, Now now = Clock::now);

  void on_publish(const StreamName& name, const PublishInfo& info) override;
  void on_metadata(const StreamName& name, const Metadata& metadata) override;
  void on_video_config(const StreamName& name, const VideoConfig& config) override;
  void on_audio_config(const StreamName& name, const AudioConfig& config) override;
  void on_access_unit(const StreamName& name, const AccessUnit& unit) override;
  void on_switch(const StreamName& name, const PublishInfo& input, const InputSwitch& what) override;
  void on_inputs(const StreamName& name, const std::vector<InputStatus>& inputs) override;
  void on_interrupt(const StreamName& name, std::chrono::milliseconds grace) override;
  void on_unpublish(const StreamName& name) override;

  // Refreshes rates, history and health facts, and forgets ended streams past their retention;
  // call about once a second.
  void tick(Clock::time_point now);

 private:
  struct RatePoint {  // cumulative counts at one tick, so any window's rate is a difference
    Clock::time_point at;
    uint64_t bytes = 0;
    uint64_t video_frames = 0;
    Ticks90k video_dts = 0;
  };
  struct DriftPoint {
    double t_s;       // since the publish
    double drift_ms;  // audio minus video, minus the first such offset
  };
  struct Entry {
    StreamSnapshot current;
    Clock::time_point published_at{};
    Clock::time_point ended_at{};
    std::deque<Clock::time_point> publishes;  // on this key, within the reconnect window
    uint64_t bytes = 0;                       // this publish's media bytes
    std::deque<RatePoint> rates;              // one per tick over the last few seconds
    RatePoint last_sample;                    // at the last history sample
    Ticks90k last_keyframe_dts = -1;
    std::deque<double> keyframe_intervals;  // the last few, seconds
    Clock::time_point last_video_at{}, last_audio_at{};
    // Per track (video, audio) since the last tick: the sum and count of timestamp minus arrival, ms.
    double lead_sum[2] = {0, 0};
    uint64_t lead_count[2] = {0, 0};
    bool drift_base_set = false;
    double drift_base_ms = 0;
    std::deque<DriftPoint> drift;
    double offset_min_this_tick = 0;  // arrival minus timestamp, ms: the lowest seen since the last tick
    bool offset_seen_this_tick = false;
    std::deque<double> offset_mins;  // one per tick over the late-frame baseline window
    double offset_baseline = 0;      // the lowest of offset_mins, kept per tick rather than per frame
    int64_t max_dts_ms = -1;         // for counting 32-bit wraps
    double dropped_frames = 0;       // missing video frames, in fractions of frames
  };
  void publish(Entry& e);
  void begin(const StreamName& name, const PublishInfo& info, const InputSwitch* switched);
  Entry* find(const StreamName& name);
  void check_arrival(Entry& e, const AccessUnit& unit, Clock::time_point at);
  void update_rates(Entry& e, Clock::time_point now);
  void update_drift(Entry& e, Clock::time_point now);
  void update_history(Entry& e, Clock::time_point now);

  StreamStore& store_;
  MonitorConfig config_;
  Now now_;
  StreamPathMap<Entry> entries_;
};

enum class Severity { ok, warn, bad };
const char* to_string(Severity s) noexcept;

struct HealthProblem {
  std::string code;  // keyframe_interval, frame_rate, av_drift, timestamp_jumps, dts_backwards,
                     // long_segments, split_segments, media_pauses, dropped_frames, late_frames,
                     // reconnects, no_video, no_audio, on_backup,
                     // bitrate_spikes
  Severity severity = Severity::warn;
  std::string hint;  // one line a streamer understands, naming the encoder setting to change
};

struct StreamHealth {
  Severity status = Severity::ok;  // the worst problem's severity
  std::vector<HealthProblem> problems;
};

// Where a measurement becomes a problem. An operator tunes the HLS target (hls.target_duration_s),
// which these follow; the rest are judgement calls documented here and tested one by one.
struct HealthThresholds {
  double keyframe_slack_s = 0.25;           // keyframe interval allowed above the target duration
  double keyframe_irregular_ratio = 1.5;    // max/min of recent intervals past this: "irregular"
  double frame_rate_min_observed_s = 5;     // live this long before the frame rate is judged
  double frame_rate_warn_ratio = 0.8;       // measured below this share of the declared rate: warn
  double frame_rate_bad_ratio = 0.5;        // ... below this: bad
  double av_drift_warn_ms = 100;            // drift this large (either way) ...
  double av_drift_warn_ms_per_min = 30;     // ... and still growing this fast: warn
  double av_drift_bad_ms = 1000;            // drift this large: bad (lips visibly out of sync)
  double dropped_frames_warn_ratio = 0.01;  // share of video frames missing
  double track_grace_s = 5;                 // live this long before a missing track is reported
  double track_stalled_s = 3;               // a track silent this long while the other flows has stopped
  double bitrate_spike_ratio = 3;           // a history sample this many times the median: a spike
};

// Judges a stream from its snapshot and, if it has produced segments, its HLS snapshot. Pure: the
// HTTP threads call it per request.
StreamHealth evaluate_health(const StreamSnapshot& s, const HlsSnapshot* hls, const HealthThresholds& t = {});

}  // namespace livegate
