// nginx-rtmp compatible publish callbacks: POSTs call=publish (and call=publish_done) with the
// stream's app, name, address, tcUrl and the key's query arguments from a worker thread, and hands
// the answer back to the loop thread. A 2xx allows; anything else, or no answer in time, refuses.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/config.h"
#include "common/loop_poster.h"
#include "common/publish_auth.h"

namespace livegate {

class OnPublishHook final : public PublishAuthorizer {
 public:
  OnPublishHook(const AuthConfig& config, LoopPoster& poster);
  ~OnPublishHook() override;  // abandons queued calls, waits for the one in flight
  OnPublishHook(const OnPublishHook&) = delete;
  OnPublishHook& operator=(const OnPublishHook&) = delete;

  void authorize(const PublishRequest& request, Decision done) override;
  void publish_done(const PublishRequest& request) override;

  // The form body sent for `call`, exposed for tests.
  static std::string form_body(const char* call, const PublishRequest& request);

 private:
  struct Job {
    std::string url;
    std::string body;
    Decision done;  // empty for notifications
  };
  void enqueue(Job job);
  void run();
  Status post(const std::string& url, const std::string& body) const;

  const AuthConfig& config_;
  LoopPoster& poster_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Job> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;  // last: they start once the rest exists
};

}  // namespace livegate
