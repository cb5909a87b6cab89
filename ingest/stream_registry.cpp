// Admission of publishers and fan-out of their events.
#include "ingest/stream_registry.h"

namespace livegate {

Publication::Publication(Publication&& o) noexcept
    : registry_(std::exchange(o.registry_, nullptr)), name_(std::move(o.name_)) {}

Publication& Publication::operator=(Publication&& o) noexcept {
  if (this != &o) {
    end();
    registry_ = std::exchange(o.registry_, nullptr);
    name_ = std::move(o.name_);
  }
  return *this;
}

StreamSink& Publication::sink() const noexcept { return registry_->fan_out_; }

void Publication::end() noexcept {
  if (StreamRegistry* r = std::exchange(registry_, nullptr)) r->end(name_);
}

Result<Publication> StreamRegistry::publish(const StreamName& name, const PublishInfo& info) {
  const std::string path = name.path();
  if (live_.contains(path)) return Error{"stream " + path + " is already being published"};
  if (live_.size() >= max_streams_) {
    return Error{"limit max_streams (" + std::to_string(max_streams_) + ") reached"};
  }
  live_.emplace(path, info);
  fan_out_.on_publish(name, info);
  return Publication(this, name);
}

void StreamRegistry::end(const StreamName& name) noexcept {
  if (live_.erase(name.path()) > 0) fan_out_.on_unpublish(name);
}

void StreamRegistry::FanOut::on_publish(const StreamName& n, const PublishInfo& i) {
  for (StreamSink* s : r_.sinks_) s->on_publish(n, i);
}
void StreamRegistry::FanOut::on_metadata(const StreamName& n, const Metadata& m) {
  for (StreamSink* s : r_.sinks_) s->on_metadata(n, m);
}
void StreamRegistry::FanOut::on_video_config(const StreamName& n, const VideoConfig& c) {
  for (StreamSink* s : r_.sinks_) s->on_video_config(n, c);
}
void StreamRegistry::FanOut::on_audio_config(const StreamName& n, const AudioConfig& c) {
  for (StreamSink* s : r_.sinks_) s->on_audio_config(n, c);
}
void StreamRegistry::FanOut::on_access_unit(const StreamName& n, const AccessUnit& u) {
  for (StreamSink* s : r_.sinks_) s->on_access_unit(n, u);
}
void StreamRegistry::FanOut::on_unpublish(const StreamName& n) {
  for (StreamSink* s : r_.sinks_) s->on_unpublish(n);
}

}  // namespace livegate
