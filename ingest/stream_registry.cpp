// Admission of publishers and fan-out of their events.
#include "ingest/stream_registry.h"

#include <algorithm>
#include <exception>
#include <string>

#include "common/guard.h"
#include "common/log.h"

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

StreamRegistry::StreamRegistry(uint32_t max_streams, std::chrono::milliseconds reconnect_grace,
                               uv_loop_t* loop)
    : max_streams_(max_streams), grace_(loop ? reconnect_grace : std::chrono::milliseconds{}), fan_out_(*this) {
  if (grace_.count() > 0) timer_.init(uv_timer_init, loop, this);
}

bool StreamRegistry::is_published(const StreamName& name) const {
  auto it = keys_.find(name.path());
  return it != keys_.end() && !it->second.reconnect_until;
}

bool StreamRegistry::is_reconnecting(const StreamName& name) const {
  auto it = keys_.find(name.path());
  return it != keys_.end() && it->second.reconnect_until;
}

Result<Publication> StreamRegistry::publish(const StreamName& name, const PublishInfo& info) {
  const std::string path = name.path();
  auto it = keys_.find(path);
  if (it != keys_.end() && !it->second.reconnect_until) {
    return Error{"stream " + path + " is already being published"};
  }
  if (it == keys_.end()) {
    if (keys_.size() >= max_streams_) {
      return Error{"limit max_streams (" + std::to_string(max_streams_) + ") reached"};
    }
    it = keys_.emplace(path, Key{name, info, std::nullopt}).first;
  } else {
    log_info(path, "publisher is back: the stream continues");
    it->second.info = info;
    it->second.reconnect_until.reset();
  }
  // Made before the subscribers hear of it: if one of them throws, the publication's destructor frees
  // the key again rather than leaving it taken by nobody.
  Publication publication(this, name);
  fan_out_.on_publish(name, info);
  return publication;
}

void StreamRegistry::end(const StreamName& name) noexcept {
  const std::string path = name.path();
  auto it = keys_.find(path);
  if (it == keys_.end() || it->second.reconnect_until) return;
  if (closed_ || grace_.count() == 0) return finish(path);
  it->second.reconnect_until = Clock::now() + grace_;
  log_info(path, "publisher gone: the stream waits " + std::to_string(grace_.count()) +
                     " ms for it to come back (hls.reconnect_grace_ms)");
  tell_sinks(path, "pausing", [&] { fan_out_.on_interrupt(name, grace_); });
  arm_timer();
}

template <class F>
void StreamRegistry::tell_sinks(const std::string& path, const char* doing, F&& call) noexcept {
  try {
    call();
  } catch (const std::exception& e) {
    log_error(path, std::string("internal error ") + doing + " the stream: " + e.what());
  } catch (...) {
    log_error(path, std::string("internal error ") + doing + " the stream");
  }
}

void StreamRegistry::finish(const std::string& path) noexcept {
  auto it = keys_.find(path);
  if (it == keys_.end()) return;
  const StreamName name = std::move(it->second.name);
  keys_.erase(it);
  tell_sinks(path, "ending", [&] { fan_out_.on_unpublish(name); });
}

void StreamRegistry::arm_timer() {
  if (!timer_) return;
  std::optional<Clock::time_point> next;
  for (const auto& [path, key] : keys_) {
    if (key.reconnect_until && (!next || *key.reconnect_until < *next)) next = key.reconnect_until;
  }
  if (!next) {
    uv_timer_stop(timer_.get());
    return;
  }
  const auto wait = std::chrono::ceil<std::chrono::milliseconds>(*next - Clock::now());
  uv_timer_start(
      timer_.get(),
      [](uv_timer_t* t) {
        if (auto* self = owner_of<StreamRegistry>(t)) self->expire();
      },
      static_cast<uint64_t>(std::max<int64_t>(wait.count(), 0)), 0);
}

void StreamRegistry::end_waiting(Clock::time_point until, const char* why) noexcept {
  std::vector<std::string> due;
  for (const auto& [path, key] : keys_) {
    if (key.reconnect_until && *key.reconnect_until <= until) due.push_back(path);
  }
  for (const std::string& path : due) {
    if (why) log_info(path, why);
    finish(path);
  }
}

void StreamRegistry::expire() noexcept {
  end_waiting(Clock::now(), "publisher did not come back: the stream ends");
  guard_callback("reconnect grace timer", [this] { arm_timer(); });
}

void StreamRegistry::close() {
  closed_ = true;
  end_waiting(Clock::time_point::max(), nullptr);
  timer_.close();
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
void StreamRegistry::FanOut::on_interrupt(const StreamName& n, std::chrono::milliseconds grace) {
  for (StreamSink* s : r_.sinks_) s->on_interrupt(n, grace);
}
void StreamRegistry::FanOut::on_unpublish(const StreamName& n) {
  for (StreamSink* s : r_.sinks_) s->on_unpublish(n);
}

}  // namespace livegate
