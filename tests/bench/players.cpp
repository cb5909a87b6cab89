// livegate-players: simulates many HLS viewers (hls.js-like, see player.h; with --mode ll, LL-HLS viewers,
// see ll_player.h) from one thread and reports latency percentiles and errors, for benchmarking HLS origins.
#include <uv.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/uv_handle.h"
#include "tests/bench/ll_player.h"
#include "tests/bench/player.h"

namespace lb = livegate::bench;
using livegate::UvHandle;

namespace {

constexpr unsigned kMaxPlayers = 20000;
constexpr unsigned kMaxDurationS = 3600;

struct Options {
  std::string host = "127.0.0.1";
  unsigned port = 0;
  std::string path_template;  // "{}" is replaced by the stream index
  unsigned streams = 1;
  unsigned players = 1;
  unsigned ramp_s = 2;       // player starts spread over this
  unsigned warmup_s = 4;     // nothing is counted before this
  unsigned duration_s = 30;  // total, warm-up included
  unsigned tick_ms = 10;
  std::string report_path;
  bool low_latency = false;  // --mode ll
  lb::PlayerOptions player;
};

bool parse_uint(const char* s, unsigned lo, unsigned hi, unsigned& out) {
  char* end = nullptr;
  const unsigned long v = std::strtoul(s, &end, 10);
  if (end == s || *end != '\0' || v < lo || v > hi) return false;
  out = static_cast<unsigned>(v);
  return true;
}

bool parse_args(int argc, char** argv, Options& o) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view a = argv[i];
    const char* v = argv[i + 1];
    unsigned u = 0;
    bool ok = true;
    if (a == "--host") o.host = v;
    else if (a == "--path-template") o.path_template = v;
    else if (a == "--report") o.report_path = v;
    else if (a == "--port") ok = parse_uint(v, 1, 65535, o.port);
    else if (a == "--streams") ok = parse_uint(v, 1, kMaxPlayers, o.streams);
    else if (a == "--players") ok = parse_uint(v, 1, kMaxPlayers, o.players);
    else if (a == "--ramp-s") ok = parse_uint(v, 0, kMaxDurationS, o.ramp_s);
    else if (a == "--warmup-s") ok = parse_uint(v, 0, kMaxDurationS, o.warmup_s);
    else if (a == "--duration-s") ok = parse_uint(v, 1, kMaxDurationS, o.duration_s);
    else if (a == "--tick-ms") ok = parse_uint(v, 1, 1000, o.tick_ms);
    else if (a == "--timeout-ms") {
      ok = parse_uint(v, 10, 600000, u);
      o.player.request_timeout_ms = u;
    } else if (a == "--mode") {
      ok = std::string_view(v) == "ts" || std::string_view(v) == "ll";
      o.low_latency = std::string_view(v) == "ll";
    } else {
      std::fprintf(stderr, "players: unknown option %s\n", argv[i]);
      return false;
    }
    if (!ok) {
      std::fprintf(stderr, "players: bad value for %s: %s\n", argv[i], v);
      return false;
    }
  }
  if (argc % 2 == 0 || o.port == 0 || o.path_template.find("{}") == std::string::npos) {
    std::fprintf(
        stderr,
        "usage: players --port N --path-template /live/s{}/index.m3u8 [--host IPV4] [--streams S]\n"
        "               [--players P] [--ramp-s S] [--warmup-s S] [--duration-s S] [--tick-ms MS]\n"
        "               [--timeout-ms MS] [--report FILE] [--mode ts|ll]\n"
        "Player j plays stream j %% S; figures count from the end of the warm-up. --mode ll: LL-HLS\n"
        "viewers of a playlist such as /live/s{}/ll.m3u8 (blocking reload, hinted parts).\n");
    return false;
  }
  return true;
}

nlohmann::json percentiles(std::vector<double> v) {
  if (v.empty()) return {{"count", 0}};
  std::sort(v.begin(), v.end());
  auto at = [&v](double q) { return v[std::min(v.size() - 1, static_cast<size_t>(std::ceil(q * double(v.size())) - 1))]; };
  return {{"count", v.size()}, {"p50", at(0.50)}, {"p90", at(0.90)}, {"p99", at(0.99)}, {"max", v.back()}};
}

class Simulation {
 public:
  Simulation(const Options& o, const sockaddr_storage& addr) : o_(o) {
    const std::string host = o.host + ":" + std::to_string(o.port);
    for (unsigned j = 0; j < o.players; ++j) {
      std::string path = o.path_template;
      path.replace(path.find("{}"), 2, std::to_string(j % o.streams));
      if (o.low_latency) {
        ll_players_.push_back(std::make_unique<lb::LowLatencyPlayer>(
            uv_default_loop(), addr, host, path, o.player.request_timeout_ms, ll_totals_));
      } else {
        players_.push_back(
            std::make_unique<lb::Player>(uv_default_loop(), addr, host, path, o.player, totals_));
      }
    }
  }

  bool run() {
    uv_loop_t* loop = uv_default_loop();
    start_ns_ = uv_hrtime();
    if (timer_.init(uv_timer_init, loop, this) != 0 || sigint_.init(uv_signal_init, loop, this) != 0 ||
        sigterm_.init(uv_signal_init, loop, this) != 0) {
      return false;
    }
    uv_timer_start(
        timer_.get(), [](uv_timer_t* t) { livegate::owner_of<Simulation>(t)->tick(); }, 0, o_.tick_ms);
    auto on_signal = [](uv_signal_t* s, int) { livegate::owner_of<Simulation>(s)->finish(); };
    uv_signal_start(sigint_.get(), on_signal, SIGINT);
    uv_signal_start(sigterm_.get(), on_signal, SIGTERM);
    uv_run(loop, UV_RUN_DEFAULT);
    return write_report();
  }

 private:
  void tick() {
    const uint64_t now = uv_hrtime();
    const uint64_t since = now - start_ns_;
    if (!totals_.measuring && since >= uint64_t(o_.warmup_s) * 1'000'000'000) {
      totals_.measuring = ll_totals_.measuring = true;
      measure_start_ns_ = now;
    }
    tick_all(players_, now, since);
    tick_all(ll_players_, now, since);
    if (since >= uint64_t(o_.duration_s) * 1'000'000'000) finish();
  }

  template <class P>
  void tick_all(std::vector<std::unique_ptr<P>>& players, uint64_t now, uint64_t since) {
    for (size_t j = 0; j < players.size(); ++j) {
      P& p = *players[j];
      if (!p.started()) {
        if (since >= uint64_t(o_.ramp_s) * 1'000'000'000 * j / players.size()) p.start(now);
        continue;
      }
      p.tick(now);
    }
  }

  void finish() {
    if (finished_) return;
    finished_ = true;
    end_ns_ = uv_hrtime();
    for (auto& p : players_) p->stop();
    for (auto& p : ll_players_) p->stop();
    timer_.close();
    sigint_.close();
    sigterm_.close();
  }

  // Per part, how long after the first viewer each other viewer had it.
  nlohmann::json part_spread() const {
    std::vector<double> spread;
    for (const auto& [uri, arrivals] : ll_totals_.part_arrivals) {
      const uint64_t first = *std::min_element(arrivals.begin(), arrivals.end());
      for (uint64_t t : arrivals) spread.push_back(double(t - first) / 1e6);
    }
    return percentiles(std::move(spread));
  }

  bool write_report() const {
    unsigned answered = 0;
    for (const auto& p : players_) answered += p->answered();
    for (const auto& p : ll_players_) answered += p->answered();
    const double window_s = measure_start_ns_ ? double(end_ns_ - measure_start_ns_) / 1e9 : 0;
    nlohmann::json report;
    if (o_.low_latency) {
      report = {{"mode", "ll"},
                {"players", ll_players_.size()},
                {"streams", o_.streams},
                {"players_answered", answered},
                {"window_s", window_s},
                {"playlist_ms", percentiles(ll_totals_.playlist_ms)},
                {"part_ms", percentiles(ll_totals_.part_ms)},
                {"part_spread_ms", part_spread()},
                {"parts_seen", ll_totals_.part_arrivals.size()},
                {"first_part_ms", percentiles(ll_totals_.first_part_ms)},
                {"part_mbit_s", window_s > 0 ? double(ll_totals_.part_bytes) * 8 / 1e6 / window_s : 0.0},
                {"errors", ll_totals_.errors}};
      return emit(report);
    }
    report = {{"players", players_.size()},
              {"streams", o_.streams},
              {"players_answered", answered},
              {"window_s", window_s},
              {"playlist_ms", percentiles(totals_.playlist_ms)},
              {"segment_ms", percentiles(totals_.segment_ms)},
              {"connect_ms", percentiles(totals_.connect_ms)},
              {"first_response_ms", percentiles(totals_.first_response_ms)},
              {"segments_slower_than_target", totals_.late_segments},
              {"segment_mbit_s", window_s > 0 ? double(totals_.segment_bytes) * 8 / 1e6 / window_s : 0.0},
              {"reconnects", totals_.reconnects},
              {"errors", totals_.errors}};
    return emit(report);
  }

  bool emit(const nlohmann::json& report) const {
    std::fprintf(stderr, "players: %s\n", report.dump().c_str());
    if (o_.report_path.empty()) return true;
    std::ofstream out(o_.report_path);
    out << report.dump(1) << "\n";
    return bool(out);
  }

  const Options& o_;
  lb::PlayerTotals totals_;
  lb::LowLatencyTotals ll_totals_;
  std::vector<std::unique_ptr<lb::Player>> players_;
  std::vector<std::unique_ptr<lb::LowLatencyPlayer>> ll_players_;
  UvHandle<uv_timer_t> timer_;
  UvHandle<uv_signal_t> sigint_, sigterm_;
  uint64_t start_ns_ = 0, measure_start_ns_ = 0, end_ns_ = 0;
  bool finished_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);  // a server closing a connection is counted, not fatal
  Options o;
  if (!parse_args(argc, argv, o)) return 2;
  sockaddr_storage addr{};
  if (uv_ip4_addr(o.host.c_str(), int(o.port), reinterpret_cast<sockaddr_in*>(&addr)) != 0) {
    std::fprintf(stderr, "players: --host must be an IPv4 address\n");
    return 2;
  }
  Simulation sim(o, addr);
  const bool ok = sim.run();
  uv_loop_close(uv_default_loop());
  return ok ? 0 : 1;
}
