// The callback worker: one thread, a bounded queue, answers posted back to the loop.
#include "http/on_publish_hook.h"

#include <httplib.h>

#include "common/log.h"

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
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    jobs_.clear();
  }
  wake_.notify_all();
  for (std::thread& t : threads_) t.join();
}

std::string OnPublishHook::form_body(const char* call, const PublishRequest& r) {
  // Field names as nginx-rtmp sends them, so existing auth services work unchanged; the query
  // arguments of the key (already URL-encoded by the client) are appended as they came.
  std::string body = httplib::detail::params_to_query_str(
      {{"call", call}, {"app", r.name.app}, {"name", r.name.key}, {"addr", r.addr}, {"tcurl", r.tc_url}});
  if (!r.query.empty()) body += "&" + r.query;
  return body;
}

void OnPublishHook::authorize(const PublishRequest& request, Decision done) {
  enqueue({config_.on_publish, form_body("publish", request), std::move(done)});
}

void OnPublishHook::publish_done(const PublishRequest& request) {
  if (!config_.on_publish_done.empty())
    enqueue({config_.on_publish_done, form_body("publish_done", request), {}});
}

void OnPublishHook::enqueue(Job job) {
  {
    std::lock_guard lock(mu_);
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
    wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
    if (stopping_) return;
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    Status result = post(job.url, job.body);
    if (job.done) {
      poster_.post([done = std::move(job.done), result = std::move(result)] { done(result); });
    } else if (!result) {
      log_warn("auth", "on_publish_done: " + result.error());
    }
    lock.lock();
  }
}

Status OnPublishHook::post(const std::string& url, const std::string& body) const {
  // "http://host:port/path" -> client for "http://host:port", request for "/path".
  const size_t path_at = url.find('/', std::string_view("http://").size());
  const std::string origin = url.substr(0, path_at);
  const std::string path = path_at == std::string::npos ? "/" : url.substr(path_at);
  httplib::Client client(origin);
  const time_t sec = config_.timeout_ms / 1000;
  const time_t usec = (config_.timeout_ms % 1000) * 1000;
  client.set_connection_timeout(sec, usec);
  client.set_read_timeout(sec, usec);
  client.set_write_timeout(sec, usec);
  auto res = client.Post(path, body, "application/x-www-form-urlencoded");
  if (!res) return Error{"publish callback failed: " + httplib::to_string(res.error())};
  if (res->status < 200 || res->status > 299) {
    return Error{"publish callback answered " + std::to_string(res->status)};
  }
  return {};
}

}  // namespace livegate
