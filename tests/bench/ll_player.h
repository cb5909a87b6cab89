// One simulated Low-Latency HLS viewer, behaving like hls.js in low-latency mode: a blocking playlist
// reload for the next part (_HLS_msn/_HLS_part, delta updates) on one connection and, on another, the
// hinted part fetched before it exists (the server holds it), each part once, in order.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tests/bench/fetcher.h"

namespace livegate::bench {

// What every LL viewer adds to. Latencies in ms; only once `measuring` (after the warm-up), as arrivals.
struct LowLatencyTotals {
  bool measuring = false;
  std::vector<double> playlist_ms, part_ms;  // request to last byte: blocking requests wait for the part
  // When each viewer had each part (uv_hrtime()), for the spread between the first viewer and the others.
  std::map<std::string, std::vector<uint64_t>> part_arrivals;
  std::vector<double> first_part_ms;  // whole run: from the viewer's start to its first part
  std::map<std::string, uint64_t> errors;
  uint64_t part_bytes = 0;
  void error(const std::string& kind) { ++errors[kind]; }
};

class LowLatencyPlayer {
 public:
  LowLatencyPlayer(uv_loop_t* loop, const sockaddr_storage& addr, const std::string& host,
                   std::string playlist_path, uint64_t timeout_ms, LowLatencyTotals& totals);
  void start(uint64_t now_ns);
  void tick(uint64_t now_ns);
  void stop();
  bool started() const noexcept { return started_; }
  bool answered() const noexcept { return answered_; }

 private:
  void reload();
  void on_playlist(const Fetcher::Answer& a);
  void fetch_parts();

  const std::string playlist_path_;
  LowLatencyTotals& totals_;
  Fetcher playlists_, parts_;
  bool started_ = false, stopped_ = false, answered_ = false, got_part_ = false;
  uint64_t start_ns_ = 0, retry_ns_ = 0;
  std::string blocking_query_;      // for the next reload; empty: ask without blocking
  std::deque<std::string> wanted_;  // part paths to fetch, in order
  std::set<std::string> asked_;     // every part path ever queued, so each is fetched once
};

}  // namespace livegate::bench
