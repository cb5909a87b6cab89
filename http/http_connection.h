// One HTTP/1.1 client connection on a libuv loop: reads request heads within the size limits, answers
// each from its owner without copying the body, keeps the connection alive, and cuts off clients that are
// too slow or idle. One request is answered at a time: the next is read only once the last answer has
// left, so a pipelining or non-reading client holds one response, never a growing queue.
#pragma once

#include <uv.h>

#include <cstdint>
#include <optional>
#include <string>

#include "common/connection_limiter.h"
#include "common/uv_handle.h"
#include "http/http_request.h"
#include "http/router.h"

namespace livegate {

struct HttpConnectionConfig {
  HttpLimits head;
  uint64_t read_timeout_ms = 5000;   // a request head must arrive within this
  uint64_t write_timeout_ms = 5000;  // an answer must make progress (bytes taken by the socket) this often
  uint64_t keep_alive_timeout_ms = 5000;  // an idle connection between requests is closed after this
  uint32_t keep_alive_max_requests = 1000;
  uint64_t linger_ms = 2000;  // after the last answer, input is read and dropped this long before closing
};

class HttpConnection {
 public:
  // What the connection needs from the server that owns it. Called on the loop thread.
  class Owner {
   public:
    virtual ~Owner() = default;
    virtual HttpResponse respond(const HttpRequest& request) = 0;
    // respond() said to hold the request (HttpResponse::hold_ms): true if the owner took it, and will
    // call retry() later; false to send that response at once.
    virtual bool hold(HttpConnection& connection, const HttpResponse& response) = 0;
    // An answer was handed to the socket: `bytes` of head and body.
    virtual void sent(const HttpResponse& response, size_t bytes) = 0;
    // A limit closed or refused this connection ("http.read_timeout_s", ...).
    virtual void limit_reached(const char* limit) = 0;
    // The connection is closed. The owner frees it later, never from inside this call.
    virtual void closed(HttpConnection& connection) = 0;
  };

  // `read_buffer` is shared by the loop's connections: a read is consumed before its callback returns.
  HttpConnection(uv_loop_t* loop, Owner& owner, const HttpConnectionConfig& config, char* read_buffer,
                 size_t read_buffer_size);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // Accepts the pending connection of `listener`; a libuv error code on failure (then close()).
  int accept(uv_stream_t* listener);
  // Starts reading requests.
  void start();
  // Applies the timeouts; call a few times a second.
  void sweep(uint64_t now_ms);
  // A held request is asked for again: answered if it can be now, else held again; with `give_up`,
  // answered whatever respond() says, the held response (503) if it still says to hold.
  void retry(bool give_up);
  // Stops everything and tells the owner; idempotent. The object stays valid until the owner frees it.
  void close() noexcept;

  bool closed() const noexcept { return closed_; }
  const std::string& peer() const noexcept { return peer_; }  // "ip:port"
  const std::string& ip() const noexcept { return ip_; }
  // Input read behind a request still being answered: never more than one request head's worth.
  size_t unread_bytes() const noexcept { return unread_.size(); }

  // The connection's place under the server's connection limits, given back when it closes.
  ConnectionLimiter::Slot slot;

 private:
  struct Write;
  template <class F>
  void guarded(const char* where, F&& work) noexcept;
  void read_more();
  void on_data(std::string_view data);
  void refuse(int status, const std::string& reason);
  void answer(const HttpRequest& request, bool may_hold = true);
  void send(const HttpResponse& response, bool head_only, bool close_after, bool say_keep_alive = false);
  void written(int status);
  void linger();
  size_t read_size() const noexcept;
  size_t unsent_bytes() const noexcept;

  uv_loop_t* loop_;
  Owner& owner_;
  const HttpConnectionConfig& config_;
  char* read_buffer_;
  size_t read_buffer_size_;
  UvHandle<uv_tcp_t> tcp_;
  std::string peer_;
  std::string ip_;
  HttpRequestParser parser_;
  std::string unread_;
  std::optional<HttpRequest> held_;  // waiting for the stream to move on; nothing is read meanwhile
  uint64_t last_active_ms_ = 0;
  uint64_t request_start_ms_ = 0;
  uint64_t write_progress_ms_ = 0;
  size_t write_queue_bytes_ = 0;  // unsent bytes at the last check, to see progress
  uint32_t requests_ = 0;
  size_t writes_pending_ = 0;
  bool paused_ = false;  // not reading until the answer in flight has left
  bool close_when_written_ = false;
  bool lingering_ = false;  // answered for the last time; the rest of the input is dropped
  bool closed_ = false;
};

}  // namespace livegate
