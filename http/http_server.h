// The embedded HTTP/1.1 server: a few libuv event loops, each on its own thread with its own listening
// socket (SO_REUSEPORT), serving HLS, the API and the player page from immutable snapshots. Written on
// libuv rather than with cpp-httplib's server because that holds one thread per keep-alive connection
// (thousands of idle players starve it) and reads a whole header line before any size limit applies.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/connection_limiter.h"
#include "common/metrics.h"
#include "common/result.h"
#include "http/http_connection.h"
#include "http/router.h"
#include "http/static_files.h"
#include "segmenter/stream_store.h"

namespace livegate {

class HttpServer {
 public:
  // Who the listener serves. `admin`: operators (publisher addresses, /metrics), on an address only
  // they reach; `viewers`: everyone, and operators only with `api_token` ("" = never).
  enum class Audience { viewers, admin };

  HttpServer(const HttpConfig& config, const StreamStore& store, Metrics& metrics,
             Audience audience = Audience::viewers, std::string api_token = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds every loop's socket, then serves on background threads.
  Status start(const std::string& address, uint16_t port);
  // Closes every connection and joins the threads; safe to call twice.
  void stop();
  uint16_t port() const noexcept { return port_; }
  // Requests held now (LL-HLS blocking reload, preload hints), over every loop.
  size_t held_requests() const noexcept;

  class Worker;  // one event loop and its connections

 private:
  friend class Worker;
  Caller caller(const HttpRequest& request) const;

  const HttpConfig config_;
  const HttpConnectionConfig connection_config_;
  const StreamStore& store_;
  Metrics& metrics_;
  const Audience audience_;
  const std::string api_token_;
  StaticFiles files_;
  Router router_;
  ConnectionLimiter limiter_;  // across all loops: http.max_connections, http.max_connections_per_ip
  std::vector<std::unique_ptr<Worker>> workers_;
  uint16_t port_ = 0;
};

}  // namespace livegate
