// The streams being published, by app and key: admits or refuses publishers and fans their events out
// to subscribers (segmenter, observers). Lives on the loop thread.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/stream_sink.h"

namespace livegate {

class StreamRegistry;

// A granted publish. Ending it (destructor or end()) sends on_unpublish and frees the key.
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

class StreamRegistry {
 public:
  explicit StreamRegistry(uint32_t max_streams) : max_streams_(max_streams), fan_out_(*this) {}
  StreamRegistry(const StreamRegistry&) = delete;
  StreamRegistry& operator=(const StreamRegistry&) = delete;

  // Subscribers outlive the registry's use; they are called in subscription order.
  void subscribe(StreamSink* sink) { sinks_.push_back(sink); }

  // Refuses a key that is already published (the first publisher is not disturbed) or when full.
  Result<Publication> publish(const StreamName& name, const PublishInfo& info);

  bool is_published(const StreamName& name) const { return live_.contains(name.path()); }
  size_t size() const noexcept { return live_.size(); }

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
    void on_unpublish(const StreamName& n) override;

   private:
    StreamRegistry& r_;
  };

  void end(const StreamName& name) noexcept;

  uint32_t max_streams_;
  std::map<std::string, PublishInfo> live_;  // by "app/key"
  std::vector<StreamSink*> sinks_;
  FanOut fan_out_;
};

}  // namespace livegate
