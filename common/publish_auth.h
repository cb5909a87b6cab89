// Who may publish: the interface ingest's Session asks, and the answer that needs no I/O (static
// keys). An HTTP callback (nginx-rtmp's on_publish) implements it elsewhere, off the loop thread.
#pragma once

#include <functional>
#include <set>
#include <string>

#include "common/result.h"
#include "common/stream_sink.h"

namespace livegate {

struct PublishRequest {
  StreamName name;
  std::string query;   // the key's query string without '?' or backup=..., e.g. "token=abc&x=1"
  std::string addr;    // the publisher's IP, from the socket
  std::string tc_url;  // from connect
  bool backup = false;  // the key's query string had backup=1: a backup publisher
};

class PublishAuthorizer {
 public:
  using Decision = std::function<void(Status)>;
  virtual ~PublishAuthorizer() = default;
  // Calls `done` on the loop thread, now or later, with success to allow or an error to refuse.
  // `done` may outlive the session that asked; the session guards against that itself.
  virtual void authorize(const PublishRequest& request, Decision done) = 0;
  // The publish that `request` allowed has ended.
  virtual void publish_done(const PublishRequest&) {}
  // Shutdown: decisions still pending will never be needed; stop waiting for them without blocking.
  virtual void cancel() {}
};

class StaticKeyAuthorizer final : public PublishAuthorizer {
 public:
  explicit StaticKeyAuthorizer(std::set<std::string> keys) : keys_(std::move(keys)) {}
  void authorize(const PublishRequest& request, Decision done) override {
    done(keys_.contains(request.name.key) ? Status{} : Status{Error{"stream key not allowed"}});
  }

 private:
  std::set<std::string> keys_;
};

}  // namespace livegate
