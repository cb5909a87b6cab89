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
#include "common/metrics.h"
#include "common/result.h"
#include "http/router.h"
#include "http/static_files.h"
#include "segmenter/stream_store.h"

namespace livegate {

class HttpServer {
 public:
  HttpServer(const HttpConfig& config, const StreamStore& store, Metrics& metrics);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds every loop's socket, then serves on background threads.
  Status start(const std::string& address, uint16_t port);
  // Closes every connection and joins the threads; safe to call twice.
  void stop();
  uint16_t port() const noexcept { return port_; }

  class Worker;  // one event loop and its connections

 private:
  friend class Worker;

  const HttpConfig& config_;
  Metrics& metrics_;
  StaticFiles files_;
  Router router_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<uint32_t> connections_{0};  // across all loops, for http.max_connections
  uint16_t port_ = 0;
};

}  // namespace livegate
