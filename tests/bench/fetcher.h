// One keep-alive HTTP/1.1 client connection on a libuv loop for the simulated players: one GET at a time,
// (re)connecting when needed, the answer handed to a callback. The request timeout is enforced by tick().
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <string>

#include "common/uv_handle.h"
#include "tests/bench/http_response_reader.h"

namespace livegate::bench {

class Fetcher {
 public:
  struct Answer {
    int status = 0;                     // 0 with `error` set when there was no response
    std::string error;                  // "connect: ECONNREFUSED", "timeout", "closed during a response", ...
    const std::string* body = nullptr;  // kept bodies only
    uint64_t body_bytes = 0;
    uint64_t sent_ns = 0, done_ns = 0;  // uv_hrtime() of the request's write and of its last byte
  };
  using Done = std::function<void(const Answer&)>;

  Fetcher(uv_loop_t* loop, const sockaddr_storage& addr, std::string host, uint64_t timeout_ms);
  Fetcher(const Fetcher&) = delete;
  Fetcher& operator=(const Fetcher&) = delete;

  bool busy() const noexcept { return busy_; }
  // Starts a GET of `path`; only when !busy(). `done` runs once, on the loop, when it ends either way.
  void get(const std::string& path, bool keep_body, Done done);
  // Ends a request that has taken longer than the timeout.
  void tick(uint64_t now_ns);
  void close();

 private:
  static void on_connect(uv_connect_t* req, int status);
  static void on_read(uv_stream_t* s, ssize_t n, const uv_buf_t* buf);
  void write_request();
  void finish(int status, std::string error);

  uv_loop_t* loop_;
  const sockaddr_storage& addr_;
  const std::string host_;
  const uint64_t timeout_ms_;
  UvHandle<uv_tcp_t> tcp_;
  uv_connect_t connect_req_{};
  uv_write_t write_req_{};
  bool connected_ = false, busy_ = false, write_pending_ = false;
  std::string request_;
  HttpResponseReader reader_;
  Answer answer_;
  Done done_;
};

}  // namespace livegate::bench
