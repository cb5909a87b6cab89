// Admission of publishers, failover between a key's primary and backup, and fan-out of their events.
#include "ingest/stream_registry.h"

#include <algorithm>
#include <exception>
#include <string>

#include "common/guard.h"
#include "common/log.h"
#include "common/clock.h"

namespace livegate {
namespace {

size_t slot(InputRole r) noexcept { return static_cast<size_t>(r); }
InputRole other(InputRole r) noexcept { return r == InputRole::primary ? InputRole::backup : InputRole::primary; }
std::string ms_text(uint32_t ms) { return std::to_string(ms) + " ms"; }

}  // namespace

// A publication's entry point: passes its publisher's events to the registry with the key and role, so
// no event looks its key up. Outlives the publication's end (a demuxer may still hold it), deaf from then.
class Publication::Input final : public StreamSink {
 public:
  Input(StreamRegistry& r, StreamRegistry::Key* key, InputRole role) : r_(r), key_(key), role_(role) {}

  void on_metadata(const StreamName&, const Metadata& m) override {
    if (key_) r_.source_metadata(*key_, role_, m);
  }
  void on_video_config(const StreamName&, const VideoConfig& c) override {
    if (key_) r_.source_video_config(*key_, role_, c);
  }
  void on_audio_config(const StreamName&, const AudioConfig& c) override {
    if (key_) r_.source_audio_config(*key_, role_, c);
  }
  void on_access_unit(const StreamName&, const AccessUnit& u) override {
    if (key_) r_.source_access_unit(*key_, role_, u);
  }
  // The registry, not the publisher, says when a stream starts, switches and ends.
  void on_publish(const StreamName&, const PublishInfo&) override {}
  void on_switch(const StreamName&, const PublishInfo&, const InputSwitch&) override {}
  void on_inputs(const StreamName&, const std::vector<InputStatus>&) override {}
  void on_interrupt(const StreamName&, std::chrono::milliseconds) override {}
  void on_unpublish(const StreamName&) override {}

  StreamRegistry::Key* take_key() noexcept { return std::exchange(key_, nullptr); }

 private:
  StreamRegistry& r_;
  StreamRegistry::Key* key_;
  InputRole role_;
};

Publication::Publication() = default;
Publication::~Publication() { end(); }

Publication::Publication(StreamRegistry* registry, StreamName name, InputRole role, std::unique_ptr<Input> input)
    : registry_(registry), name_(std::move(name)), role_(role), input_(std::move(input)) {}

Publication::Publication(Publication&& o) noexcept
    : registry_(std::exchange(o.registry_, nullptr)),
      name_(std::move(o.name_)),
      role_(o.role_),
      input_(std::move(o.input_)) {}

Publication& Publication::operator=(Publication&& o) noexcept {
  if (this != &o) {
    end();
    registry_ = std::exchange(o.registry_, nullptr);
    name_ = std::move(o.name_);
    role_ = o.role_;
    input_ = std::move(o.input_);
  }
  return *this;
}

StreamSink& Publication::sink() const noexcept { return *input_; }

void Publication::end() noexcept {
  StreamRegistry* r = std::exchange(registry_, nullptr);
  if (!r) return;
  if (StreamRegistry::Key* key = input_->take_key()) r->end(*key, role_);
}

StreamRegistry::StreamRegistry(uint32_t max_streams, std::chrono::milliseconds reconnect_grace, uv_loop_t* loop,
                               const FailoverConfig& failover, Metrics* metrics)
    : max_streams_(max_streams), grace_(loop ? reconnect_grace : std::chrono::milliseconds{}), failover_(failover) {
  if (grace_.count() > 0) timer_.init(uv_timer_init, loop, this);
  if (loop) check_timer_.init(uv_timer_init, loop, this);
  if (metrics) {
    constexpr const char* kName = "livegate_failover_switches_total";
    constexpr const char* kHelp = "Times a stream's media source switched between its primary and backup publishers.";
    switches_to_backup_ = &metrics->counter(kName, kHelp, {{"to", "backup"}});
    switches_to_primary_ = &metrics->counter(kName, kHelp, {{"to", "primary"}});
  }
}

StreamRegistry::~StreamRegistry() = default;

bool StreamRegistry::is_published(const StreamName& name) const {
  auto it = keys_.find(name.path());
  return it != keys_.end() && it->second.has_source();
}

bool StreamRegistry::is_reconnecting(const StreamName& name) const {
  auto it = keys_.find(name.path());
  return it != keys_.end() && it->second.reconnect_until;
}

std::vector<InputStatus> StreamRegistry::inputs(const StreamName& name) const {
  std::vector<InputStatus> out;
  auto it = keys_.find(name.path());
  if (it == keys_.end()) return out;
  const Key& k = it->second;
  for (const InputRole role : {InputRole::primary, InputRole::backup}) {
    const std::optional<Source>& s = k.sources[slot(role)];
    if (!s) continue;
    InputStatus st;
    st.role = role;
    st.info = s->info;
    st.active = k.active == role;
    st.healthy = s->healthy_since.has_value();
    if (s->video) {
      st.width = s->video->width;
      st.height = s->video->height;
    }
    out.push_back(std::move(st));
  }
  return out;
}

Result<Publication> StreamRegistry::publish(const StreamName& name, const PublishInfo& info, InputRole role) {
  const std::string path = name.path();
  auto it = keys_.find(path);
  if (it != keys_.end() && it->second.sources[slot(role)]) {
    return Error{role == InputRole::primary ? "stream " + path + " is already being published"
                                            : "stream " + path + " already has a backup publisher"};
  }
  if (it == keys_.end()) {
    if (keys_.size() >= max_streams_) {
      return Error{"limit max_streams (" + std::to_string(max_streams_) + ") reached"};
    }
    it = keys_.emplace(path, Key{}).first;
    it->second.name = name;
  }
  Key& k = it->second;
  const bool joining = k.has_source();  // the key is live: this one stands by
  Source source;
  source.info = info;
  k.sources[slot(role)] = std::move(source);
  auto input = std::make_unique<Publication::Input>(*this, &k, role);
  // Made before the subscribers hear of it: if one of them throws, the publication's destructor frees
  // the key again rather than leaving it taken by nobody.
  Publication publication(this, name, role, std::move(input));
  if (joining) {
    log_info(path, std::string(to_string(role)) + " publisher joined; the stream stays with the " +
                       to_string(k.active.value_or(other(role))) + " one for now");
    report_inputs(k);
    arm_check_timer();
    return publication;
  }
  if (k.reconnect_until) {
    log_info(path, std::string("publisher is back: the stream continues") +
                       (role == InputRole::backup ? " from the backup" : ""));
    k.reconnect_until.reset();
  }
  k.active = role;
  k.last_active = role;
  arm_check_timer();
  for (StreamSink* s : sinks_) s->on_publish(name, info);
  report_inputs(k);
  return publication;
}

void StreamRegistry::source_metadata(Key& k, InputRole role, const Metadata& m) {
  k.sources[slot(role)]->metadata = m;
  if (k.active == role) each_sink([&](StreamSink& s) { s.on_metadata(k.name, m); });
}

void StreamRegistry::source_video_config(Key& k, InputRole role, const VideoConfig& c) {
  k.sources[slot(role)]->video = c;
  if (k.active == role) each_sink([&](StreamSink& s) { s.on_video_config(k.name, c); });
}

void StreamRegistry::source_audio_config(Key& k, InputRole role, const AudioConfig& c) {
  k.sources[slot(role)]->audio = c;
  if (k.active == role) each_sink([&](StreamSink& s) { s.on_audio_config(k.name, c); });
}

void StreamRegistry::source_access_unit(Key& k, InputRole role, const AccessUnit& u) {
  Source& s = *k.sources[slot(role)];
  const Clock::time_point now = Clock::now();
  s.last_media = now;
  if (!s.healthy_since) {
    s.healthy_since = now;
    report_inputs(k);
  }
  // A switch happens where the new source can be decoded from: its keyframe (any frame without video).
  if (k.target == role && (u.track == Track::video ? u.keyframe : !s.video)) switch_to(k, role);
  if (k.active == role) each_sink([&](StreamSink& sink) { sink.on_access_unit(k.name, u); });
}

void StreamRegistry::end(Key& k, InputRole role) noexcept {
  const std::string path = k.name.path();
  k.sources[slot(role)].reset();
  if (k.target == role) k.target.reset();
  const bool was_active = k.active == role;
  if (was_active) k.active.reset();
  report_inputs(k);
  if (k.has_source()) {
    if (was_active) {
      k.target = other(role);
      k.target_cause = std::string(to_string(role)) + " disconnected";
      log_info(path, std::string(to_string(role)) + " publisher gone: the stream switches to the " +
                         to_string(other(role)) + " one at its next keyframe");
    } else {
      log_info(path, std::string(to_string(role)) + " publisher gone (it was standing by)");
    }
    return;
  }
  if (closed_ || grace_.count() == 0) return finish(path);
  k.reconnect_until = Clock::now() + grace_;
  log_info(path, "publisher gone: the stream waits " + std::to_string(grace_.count()) +
                     " ms for it to come back (hls.reconnect_grace_ms)");
  tell_sinks(path, "pausing", [&] { each_sink([&](StreamSink& s) { s.on_interrupt(k.name, grace_); }); });
  arm_timer();
}

void StreamRegistry::reconsider(Key& k, Clock::time_point now) {
  if (!k.active) return;  // a switch after a loss is under way already
  const InputRole from = *k.active;
  const InputRole to = other(from);
  const std::optional<Source>& current = k.sources[slot(from)];
  const std::optional<Source>& alternative = k.sources[slot(to)];
  std::optional<InputRole> want;
  std::string cause;
  if (alternative && alternative->healthy_since) {
    if (!current->healthy_since) {
      want = to;
      cause = std::string(to_string(from)) + " sent no media for " + ms_text(failover_.input_loss_ms);
    } else if (failover_.prefer_primary && to == InputRole::primary &&
               now - *alternative->healthy_since >= std::chrono::milliseconds(failover_.return_after_ms)) {
      want = to;
      cause = "primary healthy again for " + ms_text(failover_.return_after_ms);
    }
  }
  if (want == k.target) return;
  const std::string path = k.name.path();
  if (want) {
    log_info(path, "the stream switches to the " + std::string(to_string(*want)) + " publisher at its next keyframe (" +
                       cause + ")");
  } else {
    log_info(path, "switch to the " + std::string(to_string(*k.target)) + " publisher called off: the " +
                       to_string(from) + " one is healthy");
  }
  k.target = want;
  k.target_cause = std::move(cause);
}

void StreamRegistry::switch_to(Key& k, InputRole role) {
  const Source& s = *k.sources[slot(role)];
  const InputSwitch what{unix_ms_now(), k.last_active, role, std::move(k.target_cause)};
  k.target.reset();
  k.active = role;
  k.last_active = role;
  const std::string path = k.name.path();
  log_info(path, "the stream now comes from the " + std::string(to_string(role)) + " publisher " + s.info.peer +
                     " (" + what.cause + ")");
  if (auto* counter = role == InputRole::backup ? switches_to_backup_ : switches_to_primary_) ++*counter;
  tell_sinks(path, "switching", [&] {
    each_sink([&](StreamSink& sink) {
      sink.on_switch(k.name, s.info, what);
      if (s.metadata) sink.on_metadata(k.name, *s.metadata);
      if (s.video) sink.on_video_config(k.name, *s.video);
      if (s.audio) sink.on_audio_config(k.name, *s.audio);
    });
  });
  report_inputs(k);
}

void StreamRegistry::report_inputs(Key& k) {
  const std::vector<InputStatus> now = inputs(k.name);
  tell_sinks(k.name.path(), "reporting", [&] { each_sink([&](StreamSink& s) { s.on_inputs(k.name, now); }); });
}

void StreamRegistry::check_sources() noexcept {
  const Clock::time_point now = Clock::now();
  const auto loss = std::chrono::milliseconds(failover_.input_loss_ms);
  bool any = false;
  for (auto& entry : keys_) {
    Key& k = entry.second;
    if (!k.has_source()) continue;
    any = true;
    bool changed = false;
    for (std::optional<Source>& s : k.sources) {
      if (s && s->healthy_since && (!s->last_media || now - *s->last_media >= loss)) {
        s->healthy_since.reset();
        changed = true;
      }
    }
    if (k.sources[0] && k.sources[1]) guard_callback("failover check", [&] { reconsider(k, now); });
    if (changed) report_inputs(k);
  }
  if (!any) uv_timer_stop(check_timer_.get());
}

void StreamRegistry::arm_check_timer() {
  if (!check_timer_ || uv_is_active(reinterpret_cast<uv_handle_t*>(check_timer_.get()))) return;
  // A few checks per loss interval: a silent source is noticed within a quarter of it late.
  const uint64_t every = std::clamp<uint64_t>(failover_.input_loss_ms / 4, 20, 250);
  uv_timer_start(
      check_timer_.get(),
      [](uv_timer_t* t) {
        if (auto* self = owner_of<StreamRegistry>(t)) self->check_sources();
      },
      every, every);
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
  tell_sinks(path, "ending", [&] { each_sink([&](StreamSink& s) { s.on_unpublish(name); }); });
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
  check_timer_.close();
}

}  // namespace livegate
