// nginx-rtmp compatible publish callbacks: POSTs call=publish (and call=publish_done) with the
// stream's app, name, address, tcUrl and the key's query arguments from worker threads, and hands
// the answer back to the loop thread. A 2xx allows; anything else, or no answer in time, refuses.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/config.h"
#include "common/loop_poster.h"
#include "common/publish_auth.h"

namespace httplib {
class Client;
}

namespace livegate {

class OnPublishHook final : public PublishAuthorizer {
 public:
  OnPublishHook(const AuthConfig& config, LoopPoster& poster);
  // Cancels what cancel() cancels, gives publish_done notifications until auth.timeout_ms after it, then
  // stops whatever is still in flight.
  ~OnPublishHook() override;
  OnPublishHook(const OnPublishHook&) = delete;
  OnPublishHook& operator=(const OnPublishHook&) = delete;

  void authorize(const PublishRequest& request, Decision done) override;
  void publish_done(const PublishRequest& request) override;
  // Shutdown: queued and in-flight publish decisions are dropped at once (a blocked callback server
  // holds nothing up); queued publish_done notifications still go out. Never blocks.
  void cancel() override;

  // The form body sent for `call`, exposed for tests: nginx-rtmp's fields, then the key's query
  // arguments, every name and value form-encoded; arguments named like the fields are left out so a
  // key cannot override them.
  static std::string form_body(const char* call, const PublishRequest& request);

 private:
  struct Job {
    std::string url;
    std::string body;
    Decision done;  // empty for notifications
  };
  struct InFlight {
    httplib::Client* client;
    bool decision;  // an authorize call, cancelled at once by cancel()
  };
  void enqueue(Job job);
  void run();
  Status post(const Job& job);
  void stop_in_flight(bool decisions_only);  // with mu_ held

  const AuthConfig& config_;
  LoopPoster& poster_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Job> jobs_;
  std::vector<InFlight> in_flight_;
  bool cancelled_ = false;
  // Set by cancel() on the loop thread, read there by every posted decision: one a worker posted before
  // cancel() but the loop runs after it is dropped too, even once the hook is gone.
  std::shared_ptr<std::atomic<bool>> decisions_cancelled_ = std::make_shared<std::atomic<bool>>(false);
  std::chrono::steady_clock::time_point give_up_at_{};  // after cancel(): notifications stop here
  std::vector<std::thread> threads_;                    // last: they start once the rest exists
};

}  // namespace livegate
