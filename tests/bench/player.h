// One simulated HLS viewer, behaving like hls.js on a live stream: one keep-alive connection, the
// playlist reloaded every target duration, each new segment fetched once, in order.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "common/uv_handle.h"
#include "tests/bench/http_response_reader.h"

namespace livegate::bench {

// What every player adds to, for the report. Latencies in ms, from the request's write to its last byte,
// count only once `measuring` (after the warm-up); connects, first answers and errors count from the start,
// since a player left waiting at start-up is exactly what the report must show.
struct PlayerTotals {
  bool measuring = false;
  std::vector<double> playlist_ms, segment_ms;       // measured window only
  std::vector<double> first_response_ms, connect_ms;  // whole run; first response: from the player's start
  std::map<std::string, uint64_t> errors;             // whole run
  uint64_t segment_bytes = 0, reconnects = 0, late_segments = 0;  // late: took longer than the target duration
  void error(const std::string& kind) { ++errors[kind]; }
};

struct PlayerOptions {
  uint64_t request_timeout_ms = 10000;
  uint64_t reconnect_delay_ms = 200;  // after a failed connection
  unsigned live_edge_segments = 3;  // hls.js liveSyncDurationCount: start this many segments from the end
};

class Player {
 public:
  Player(uv_loop_t* loop, const sockaddr_storage& addr, std::string host, std::string playlist_path,
         const PlayerOptions& options, PlayerTotals& totals);
  Player(const Player&) = delete;
  Player& operator=(const Player&) = delete;

  void start(uint64_t now_ns);
  // Reloads the playlist when due, enforces the request timeout.
  void tick(uint64_t now_ns);
  void stop();
  bool started() const noexcept { return started_; }
  bool answered() const noexcept { return answered_; }

 private:
  enum class Kind { playlist, segment };

  static void on_connect(uv_connect_t* req, int status);
  static void on_read(uv_stream_t* s, ssize_t n, const uv_buf_t* buf);
  static void on_write(uv_write_t* req, int status);

  void connect();
  void next();  // sends the next request if the connection is free
  void send(Kind kind, const std::string& path);
  void on_response();
  void on_playlist(const std::string& body);
  void drop(const std::string& error);  // closes; the next request reconnects

  // Passed by argument.
  uv_loop_t* loop_;
  const sockaddr_storage& addr_;
  const std::string host_;
  const std::string playlist_path_;
  const PlayerOptions& options_;
  PlayerTotals& totals_;

  // Allocated by this.
  UvHandle<uv_tcp_t> tcp_;
  uv_connect_t connect_req_{};
  uv_write_t write_req_{};
  std::string request_;  // the request being written; one at a time
  HttpResponseReader reader_;

  bool started_ = false, connected_ = false, connecting_ = false, stopped_ = false;
  bool answered_ = false;
  bool in_flight_ = false, write_pending_ = false, playlist_wanted_ = true;
  Kind kind_ = Kind::playlist;
  uint64_t start_ns_ = 0, connect_start_ns_ = 0, request_ns_ = 0, next_reload_ns_ = 0;
  uint64_t retry_ns_ = 0;  // no reconnect before this, so a refusing server is not hammered
  double target_duration_s_ = 0;
  bool have_position_ = false;
  uint64_t next_seq_ = 0;                    // first segment not yet queued
  std::deque<std::string> segments_;         // queued segment paths
};

}  // namespace livegate::bench
