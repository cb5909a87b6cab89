// The RTMP listener on a libuv loop: accepts connections, feeds their bytes to a Session each,
// writes the replies, and enforces the connection limits and timeouts.
#pragma once

#include <uv.h>

#include <array>
#include <map>
#include <memory>
#include <string>

#include "common/config.h"
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
  uint16_t port() const noexcept { return port_; }

 private:
  class Connection;

  void on_connection(int status);
  void sweep();  // the periodic timeout check
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
  std::map<uint64_t, std::unique_ptr<Connection>> conns_;
  std::map<std::string, uint32_t> per_ip_;  // open connections by peer address
  uint64_t next_id_ = 1;
  uint16_t port_ = 0;
  // One read buffer for every connection: a read is consumed before the callback returns.
  std::array<char, 64 * 1024> read_buf_{};
};

}  // namespace livegate
