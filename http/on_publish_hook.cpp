// The callback workers: a few threads, a bounded queue, answers posted back to the loop.
#include "http/on_publish_hook.h"

#include <httplib.h>

#include <algorithm>

#include "common/guard.h"
#include "common/log.h"
#include "http/form_encoding.h"

namespace livegate {

namespace {
// A few callbacks in flight at once, so one slow answer does not hold up every other publisher.
constexpr int kWorkers = 4;
}  // namespace

OnPublishHook::OnPublishHook(const AuthConfig& config, LoopPoster& poster)
    : config_(config), poster_(poster) {
  for (int i = 0; i < kWorkers; ++i) threads_.emplace_back([this] { run(); });
}

OnPublishHook::~OnPublishHook() {
  cancel();
  {
    std::unique_lock lock(mu_);
    // Notifications still queued or in flight get until give_up_at_; then their sockets are shut.
    wake_.wait_until(lock, give_up_at_, [this] { return jobs_.empty() && in_flight_.empty(); });
    jobs_.clear();
    stop_in_flight(false);
  }
  wake_.notify_all();
  for (std::thread& t : threads_) t.join();
}

std::string OnPublishHook::form_body(const char* call, const PublishRequest& r) {
  // Field names as nginx-rtmp sends them, so existing auth services work unchanged.
  FormFields fields{
      {"call", call}, {"app", r.name.app}, {"name", r.name.key}, {"addr", r.addr}, {"tcurl", r.tc_url}};
  const size_t fixed = fields.size();
  for (auto& arg : parse_form(r.query)) {
    const bool taken = std::any_of(fields.begin(), fields.begin() + static_cast<ptrdiff_t>(fixed),
                                   [&arg](const auto& f) { return f.first == arg.first; });
    if (!taken) fields.push_back(std::move(arg));
  }
  return encode_form(fields);
}

void OnPublishHook::authorize(const PublishRequest& request, Decision done) {
  enqueue({config_.on_publish, form_body("publish", request), std::move(done)});
}

void OnPublishHook::publish_done(const PublishRequest& request) {
  if (!config_.on_publish_done.empty())
    enqueue({config_.on_publish_done, form_body("publish_done", request), {}});
}

void OnPublishHook::cancel() {
  std::lock_guard lock(mu_);
  if (cancelled_) return;
  cancelled_ = true;
  decisions_cancelled_->store(true);
  give_up_at_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(config_.timeout_ms);
  std::erase_if(jobs_, [](const Job& j) { return static_cast<bool>(j.done); });
  stop_in_flight(true);
  wake_.notify_all();
}

void OnPublishHook::stop_in_flight(bool decisions_only) {
  // httplib's stop() shuts the socket down, so a worker blocked reading the answer returns at once.
  for (const InFlight& f : in_flight_) {
    if (!decisions_only || f.decision) f.client->stop();
  }
}

void OnPublishHook::enqueue(Job job) {
  {
    std::lock_guard lock(mu_);
    if (cancelled_ && job.done) return;  // shutting down: nobody waits for the decision
    if (jobs_.size() < config_.max_pending) {
      jobs_.push_back(std::move(job));
      wake_.notify_one();
      return;
    }
  }
  log_warn("auth", "limit auth.max_pending (" + std::to_string(config_.max_pending) + ") reached");
  if (job.done) job.done(Error{"publish callback queue is full"});
}

void OnPublishHook::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait(lock, [this] { return cancelled_ || !jobs_.empty(); });
    if (jobs_.empty()) {
      if (in_flight_.empty()) wake_.notify_all();  // the destructor waits for the last one
      return;
    }
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    guard_callback("on_publish callback", [&] {
      Status result = post(job);
      if (job.done) {
        poster_.post([done = std::move(job.done), result = std::move(result),
                      cancelled = decisions_cancelled_] {
          if (!cancelled->load()) done(result);
        });
      } else if (!result) {
        log_warn("auth", "on_publish_done: " + result.error());
      }
    });
    lock.lock();
    if (jobs_.empty() && in_flight_.empty()) wake_.notify_all();
  }
}

Status OnPublishHook::post(const Job& job) {
  // "http://host:port/path" -> client for "http://host:port", request for "/path".
  const size_t path_at = job.url.find('/', std::string_view("http://").size());
  const std::string origin = job.url.substr(0, path_at);
  const std::string path = path_at == std::string::npos ? "/" : job.url.substr(path_at);
  httplib::Client client(origin);
  const time_t sec = config_.timeout_ms / 1000;
  const time_t usec = (config_.timeout_ms % 1000) * 1000;
  client.set_connection_timeout(sec, usec);
  client.set_read_timeout(sec, usec);
  client.set_write_timeout(sec, usec);
  {
    std::lock_guard lock(mu_);
    if (cancelled_ && (job.done || std::chrono::steady_clock::now() >= give_up_at_)) {
      return Error{"publish callback failed: cancelled at shutdown"};
    }
    in_flight_.push_back({&client, static_cast<bool>(job.done)});
  }
  auto res = client.Post(path, job.body, "application/x-www-form-urlencoded");
  {
    std::lock_guard lock(mu_);
    std::erase_if(in_flight_, [&client](const InFlight& f) { return f.client == &client; });
  }
  if (!res) return Error{"publish callback failed: " + httplib::to_string(res.error())};
  if (res->status < 200 || res->status > 299) {
    return Error{"publish callback answered " + std::to_string(res->status)};
  }
  return {};
}

}  // namespace livegate
