// The embedded HTTP server (cpp-httplib) on its own thread pool: HLS, API and the player page.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "common/config.h"
#include "common/metrics.h"
#include "common/result.h"
#include "http/static_files.h"
#include "segmenter/stream_store.h"

namespace httplib {
class Server;
struct Request;
}  // namespace httplib

namespace livegate {

class HttpServer {
 public:
  HttpServer(const HttpConfig& config, const StreamStore& store, const Metrics& metrics);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds, then serves on a background thread.
  Status start(const std::string& address, uint16_t port);
  void stop();
  uint16_t port() const noexcept { return port_; }

 private:
  void routes();
  // The segment a request's path names, kept alive by `hls`; nullptr if there is none.
  const Segment* find_segment(const httplib::Request& req, std::shared_ptr<const HlsSnapshot>& hls) const;

  const HttpConfig& config_;
  const StreamStore& store_;
  const Metrics& metrics_;
  StaticFiles files_;
  std::unique_ptr<httplib::Server> server_;
  int listen_socket_ = -1;
  std::thread thread_;
  uint16_t port_ = 0;
};

}  // namespace livegate
