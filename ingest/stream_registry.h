// The streams being published, by app and key: admits or refuses publishers, picks which publisher of a
// key feeds its stream (primary or backup), and fans the stream's events out to subscribers (segmenter,
// observers). Lives on the loop thread.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/metrics.h"
#include "common/result.h"
#include "common/stream_sink.h"
#include "common/uv_handle.h"

namespace livegate {

class StreamRegistry;

// A granted publish. Ending it (destructor or end()) hands the stream to the key's other publisher,
// leaves the key reconnecting, or ends the stream.
class Publication {
 public:
  Publication();
  Publication(Publication&& o) noexcept;
  Publication& operator=(Publication&& o) noexcept;
  Publication(const Publication&) = delete;
  Publication& operator=(const Publication&) = delete;
  ~Publication();

  explicit operator bool() const noexcept { return registry_ != nullptr; }
  const StreamName& name() const noexcept { return name_; }
  InputRole role() const noexcept { return role_; }
  StreamSink& sink() const noexcept;  // where the publisher's events go; valid while this lives
  void end() noexcept;

 private:
  friend class StreamRegistry;
  class Input;
  Publication(StreamRegistry* registry, StreamName name, InputRole role, std::unique_ptr<Input> input);
  StreamRegistry* registry_ = nullptr;
  StreamName name_;
  InputRole role_ = InputRole::primary;
  std::unique_ptr<Input> input_;
};

// Which publisher feeds each key. A key has a primary publisher and optionally a backup; the stream
// takes its media from one of them and switches to the other, at that one's next keyframe, when the one
// it follows is lost (gone, or no media for failover.input_loss_ms), and back to the primary once it has
// been healthy for failover.return_after_ms (failover.prefer_primary). When the last publisher goes, the
// key waits the reconnect grace: a publish on it within that time continues the same stream (sinks hear
// on_publish again, without an on_unpublish between); past it the stream ends.
class StreamRegistry {
 public:
  using Clock = std::chrono::steady_clock;

  // `loop` runs the grace and failover timers; without one (or with no grace) a lost publisher ends its
  // stream at once, and only a disconnect (not silence) makes the stream switch publishers. `metrics`
  // (optional) counts the switches.
  explicit StreamRegistry(uint32_t max_streams, std::chrono::milliseconds reconnect_grace = {},
                          uv_loop_t* loop = nullptr, const FailoverConfig& failover = {},
                          Metrics* metrics = nullptr);
  StreamRegistry(const StreamRegistry&) = delete;
  StreamRegistry& operator=(const StreamRegistry&) = delete;
  ~StreamRegistry();

  // Subscribers outlive the registry's use; they are called in subscription order.
  void subscribe(StreamSink* sink) { sinks_.push_back(sink); }

  // Refuses a key whose `role` is already taken (the publisher there is not disturbed), or a new key
  // when full. A key that is reconnecting is taken over by either role: its stream continues.
  Result<Publication> publish(const StreamName& name, const PublishInfo& info,
                              InputRole role = InputRole::primary);

  // Shutdown: streams waiting for their publisher end now, and from here on every lost publisher ends its
  // stream at once.
  void close();

  // A publisher holds the key.
  bool is_published(const StreamName& name) const;
  // The key waits for its publisher to come back.
  bool is_reconnecting(const StreamName& name) const;
  // The publishers of a key, primary first; empty for an unknown key.
  std::vector<InputStatus> inputs(const StreamName& name) const;
  // Keys published or reconnecting: what rtmp.max_streams counts.
  size_t size() const noexcept { return keys_.size(); }

 private:
  friend class Publication;
  friend class Publication::Input;
  struct Source {  // one publisher of a key
    PublishInfo info;
    std::optional<VideoConfig> video;    // the latest it sent, replayed to the sinks at a switch
    std::optional<AudioConfig> audio;
    std::optional<Metadata> metadata;
    std::optional<Clock::time_point> last_media;
    std::optional<Clock::time_point> healthy_since;  // set while it is healthy
  };
  struct Key {
    StreamName name;
    std::optional<Source> sources[2];  // by InputRole
    std::optional<InputRole> active;   // whose media the sinks get; none while switching after a loss
    InputRole last_active = InputRole::primary;
    std::optional<InputRole> target;  // switching to this one at its next keyframe, because of:
    std::string target_cause;
    std::optional<Clock::time_point> reconnect_until;  // set while the key waits for a publisher
    bool has_source() const noexcept { return sources[0] || sources[1]; }
  };

  // Events from a publication.
  void source_metadata(Key& k, InputRole role, const Metadata& m);
  void source_video_config(Key& k, InputRole role, const VideoConfig& c);
  void source_audio_config(Key& k, InputRole role, const AudioConfig& c);
  void source_access_unit(Key& k, InputRole role, const AccessUnit& u);
  void end(Key& k, InputRole role) noexcept;  // a publication ended

  // Failover: which publisher the stream should follow now, and the switch to it.
  void reconsider(Key& k, Clock::time_point now);
  void switch_to(Key& k, InputRole role);
  void report_inputs(Key& k);
  void check_sources() noexcept;  // the failover timer: each publisher's health, each key's choice
  void arm_check_timer();         // runs it while some key has a publisher

  void finish(const std::string& path) noexcept;  // the stream ends: on_unpublish, the key is free
  void expire() noexcept;                          // ends what waited past its grace; re-arms the timer
  // Ends the streams whose grace ends by `until`, logging `why` (if given) for each.
  void end_waiting(Clock::time_point until, const char* why) noexcept;
  // Calls the sinks; an exception from one is logged (`doing` the stream) and goes no further.
  template <class F>
  void tell_sinks(const std::string& path, const char* doing, F&& call) noexcept;
  template <class F>
  void each_sink(F&& call) {
    for (StreamSink* s : sinks_) call(*s);
  }
  void arm_timer();

  uint32_t max_streams_;
  std::chrono::milliseconds grace_;
  FailoverConfig failover_;
  bool closed_ = false;
  std::map<std::string, Key> keys_;  // by "app/key"; a Key stays where it is while it has a publisher
  std::vector<StreamSink*> sinks_;
  std::atomic<uint64_t>* switches_to_backup_ = nullptr;
  std::atomic<uint64_t>* switches_to_primary_ = nullptr;
  UvHandle<uv_timer_t> timer_;
  UvHandle<uv_timer_t> check_timer_;
};

}  // namespace livegate
