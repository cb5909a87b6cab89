// The RTMP listener on a libuv loop: accepts connections, feeds their bytes to a Session each,
// writes the replies, and enforces the connection limits and timeouts.
#pragma once

#include <uv.h>

#include <array>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/connection_limiter.h"
#include "common/metrics.h"
#include "common/publish_auth.h"
#include "common/result.h"
#include "common/uv_handle.h"
#include "ingest/stream_registry.h"

namespace livegate {

class RtmpServer {
 public:
  // `authorizer` may be null: anyone may publish. `metrics` counts connections, bytes, broken limits
  // and refused publishers.
  RtmpServer(uv_loop_t* loop, const RtmpConfig& config, StreamRegistry& registry,
             PublishAuthorizer* authorizer, Metrics& metrics);
  ~RtmpServer();
  RtmpServer(const RtmpServer&) = delete;
  RtmpServer& operator=(const RtmpServer&) = delete;

  Status listen(const std::string& address, uint16_t port);
  // Stops accepting and closes every connection, which ends their publications.
  void stop();
  size_t connections() const noexcept { return conns_.size(); }
  // Peer addresses with an open connection (for tests: the table never keeps an empty entry).
  size_t addresses() const { return limiter_.addresses(); }
  uint16_t port() const noexcept { return port_; }

 private:
  class Connection;

  void on_connection(int status);
  void sweep();  // the periodic timeout check
  // Takes a closed connection out of the table; it is freed on the next loop iteration, never under
  // its own call stack.
  void destroy(uint64_t id);
  // Counts the limit a log message names ("limit KEY ..."), if any.
  void count_limit(std::string_view message);

  uv_loop_t* loop_;
  const RtmpConfig& config_;
  StreamRegistry& registry_;
  PublishAuthorizer* authorizer_;
  Metrics& metrics_;
  std::atomic<uint64_t>& accepted_total_;
  std::atomic<uint64_t>& received_bytes_total_;
  UvHandle<uv_tcp_t> listener_;
  UvHandle<uv_timer_t> sweep_timer_;
  UvHandle<uv_idle_t> reaper_;  // runs while graveyard_ has something to free
  ConnectionLimiter limiter_;
  std::map<uint64_t, std::unique_ptr<Connection>> conns_;
  std::vector<std::unique_ptr<Connection>> graveyard_;
  uint64_t next_id_ = 1;
  uint16_t port_ = 0;
  // One read buffer for every connection: a read is consumed before the callback returns.
  std::array<char, 64 * 1024> read_buf_{};
};

}  // namespace livegate
