// The embedded HTTP server (cpp-httplib): API routes over the StreamStore, on its own thread pool.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "common/config.h"
#include "common/result.h"
#include "segmenter/stream_store.h"

namespace httplib {
class Server;
}

namespace livegate {

class HttpServer {
 public:
  HttpServer(const HttpConfig& config, const StreamStore& store);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds, then serves on a background thread.
  Status start(const std::string& address, uint16_t port);
  void stop();
  uint16_t port() const noexcept { return port_; }

 private:
  void routes();

  const HttpConfig& config_;
  const StreamStore& store_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  uint16_t port_ = 0;
};

}  // namespace livegate
