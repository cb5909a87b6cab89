// The streams being published, by app and key: admits or refuses publishers and fans their events out
// to subscribers (segmenter, observers). Lives on the loop thread.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/stream_sink.h"
#include "common/uv_handle.h"

namespace livegate {

class StreamRegistry;

// A granted publish. Ending it (destructor or end()) leaves the key reconnecting, or ends the stream.
class Publication {
 public:
  Publication() = default;
  Publication(Publication&& o) noexcept;
  Publication& operator=(Publication&& o) noexcept;
  Publication(const Publication&) = delete;
  Publication& operator=(const Publication&) = delete;
  ~Publication() { end(); }

  explicit operator bool() const noexcept { return registry_ != nullptr; }
  const StreamName& name() const noexcept { return name_; }
  StreamSink& sink() const noexcept;  // where the publisher's events go
  void end() noexcept;

 private:
  friend class StreamRegistry;
  Publication(StreamRegistry* registry, StreamName name) : registry_(registry), name_(std::move(name)) {}
  StreamRegistry* registry_ = nullptr;
  StreamName name_;
};

// Which publisher feeds each key. A publisher that goes away leaves its key reconnecting for the
// reconnect grace: a publish on it within that time continues the same stream (sinks hear on_publish
// again, without an on_unpublish between); past it the stream ends.
class StreamRegistry {
 public:
  using Clock = std::chrono::steady_clock;

  // `loop` runs the grace timer; without one (or with no grace) a lost publisher ends its stream at once.
  explicit StreamRegistry(uint32_t max_streams, std::chrono::milliseconds reconnect_grace = {},
                          uv_loop_t* loop = nullptr);
  StreamRegistry(const StreamRegistry&) = delete;
  StreamRegistry& operator=(const StreamRegistry&) = delete;

  // Subscribers outlive the registry's use; they are called in subscription order.
  void subscribe(StreamSink* sink) { sinks_.push_back(sink); }

  // Refuses a key that is already published (the first publisher is not disturbed) or when full. A key
  // that is reconnecting is taken over: its stream continues.
  Result<Publication> publish(const StreamName& name, const PublishInfo& info);

  // Shutdown: streams waiting for their publisher end now, and from here on every lost publisher ends its
  // stream at once.
  void close();

  // A publisher holds the key.
  bool is_published(const StreamName& name) const;
  // The key waits for its publisher to come back.
  bool is_reconnecting(const StreamName& name) const;
  // Keys published or reconnecting: what rtmp.max_streams counts.
  size_t size() const noexcept { return keys_.size(); }

 private:
  friend class Publication;
  class FanOut final : public StreamSink {
   public:
    explicit FanOut(StreamRegistry& r) : r_(r) {}
    void on_publish(const StreamName& n, const PublishInfo& i) override;
    void on_metadata(const StreamName& n, const Metadata& m) override;
    void on_video_config(const StreamName& n, const VideoConfig& c) override;
    void on_audio_config(const StreamName& n, const AudioConfig& c) override;
    void on_access_unit(const StreamName& n, const AccessUnit& u) override;
    void on_interrupt(const StreamName& n, std::chrono::milliseconds grace) override;
    void on_unpublish(const StreamName& n) override;

   private:
    StreamRegistry& r_;
  };
  struct Key {
    StreamName name;
    PublishInfo info;
    std::optional<Clock::time_point> reconnect_until;  // set while the key waits for a publisher
  };

  void end(const StreamName& name) noexcept;  // a publication ended
  void finish(const std::string& path) noexcept;  // the stream ends: on_unpublish, the key is free
  void expire() noexcept;                          // ends what waited past its grace; re-arms the timer
  // Ends the streams whose grace ends by `until`, logging `why` (if given) for each.
  void end_waiting(Clock::time_point until, const char* why) noexcept;
  // Calls the sinks; an exception from one is logged (`doing` the stream) and goes no further.
  template <class F>
  void tell_sinks(const std::string& path, const char* doing, F&& call) noexcept;
  void arm_timer();

  uint32_t max_streams_;
  std::chrono::milliseconds grace_;
  bool closed_ = false;
  std::map<std::string, Key> keys_;  // by "app/key"
  std::vector<StreamSink*> sinks_;
  FanOut fan_out_;
  UvHandle<uv_timer_t> timer_;
};

}  // namespace livegate
