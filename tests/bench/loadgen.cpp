// livegate-loadgen: publishes one FLV file in real time over N RTMP connections from one thread,
// for benchmarking RTMP-to-HLS servers (see tests/bench/README.md).
#include <uv.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/uv_handle.h"
#include "ingest/amf0.h"
#include "tests/bench/flv_file.h"
#include "tests/bench/keyframe_log.h"
#include "tests/bench/publisher.h"

namespace lb = livegate::bench;
using livegate::UvHandle;

namespace {

// Bounds on the options, so a typo cannot start an unbounded run.
constexpr unsigned kMaxStreams = 5000;
constexpr unsigned kMaxDurationS = 3600;

struct Options {
  std::string url;  // rtmp://HOST:PORT/APP
  std::string key_prefix = "s";
  unsigned streams = 1;
  std::string flv;
  unsigned stagger_ms = 2000;  // starts spread over this, so the streams' keyframes do not align
  unsigned duration_s = 60;
  // Pacing granularity. 20 ms is about an encoder's own cadence (33 ms video, 21 ms audio frames) and costs
  // a third less than 10 ms: each tick is one writev per connection, and on loopback the kernel's receive
  // processing runs inside that call too.
  unsigned tick_ms = 20;
  std::string keyframes_path;
  std::string report_path;
  lb::PublisherOptions publisher;
};

void usage() {
  std::fprintf(stderr,
               "usage: loadgen --url rtmp://HOST:PORT/APP --flv FILE [--streams N] [--key-prefix P]\n"
               "               [--duration-s S] [--stagger-ms MS] [--tick-ms MS] [--chunk-size B]\n"
               "               [--max-queue-bytes B] [--late-ms MS] [--measure-after-s S]\n"
               "               [--setup-timeout-s S] [--keyframes FILE] [--report FILE]\n"
               "Publishes FILE to rtmp://HOST:PORT/APP/P0 .. P{N-1} in real time, looping it.\n");
}

bool parse_uint(const char* s, unsigned lo, unsigned hi, unsigned& out) {
  char* end = nullptr;
  const unsigned long v = std::strtoul(s, &end, 10);
  if (end == s || *end != '\0' || v < lo || v > hi) return false;
  out = static_cast<unsigned>(v);
  return true;
}

bool parse_args(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--help") return false;
    if (i + 1 >= argc) {
      std::fprintf(stderr, "loadgen: %s needs a value\n", argv[i]);
      return false;
    }
    const char* v = argv[++i];
    unsigned u = 0;
    bool ok = true;
    if (a == "--url") o.url = v;
    else if (a == "--flv") o.flv = v;
    else if (a == "--key-prefix") o.key_prefix = v;
    else if (a == "--keyframes") o.keyframes_path = v;
    else if (a == "--report") o.report_path = v;
    else if (a == "--streams") ok = parse_uint(v, 1, kMaxStreams, o.streams);
    else if (a == "--duration-s") ok = parse_uint(v, 1, kMaxDurationS, o.duration_s);
    else if (a == "--stagger-ms") ok = parse_uint(v, 0, 600000, o.stagger_ms);
    else if (a == "--tick-ms") ok = parse_uint(v, 1, 1000, o.tick_ms);
    else if (a == "--chunk-size") ok = parse_uint(v, 128, 0xFFFFFF, o.publisher.chunk_size);
    else if (a == "--max-queue-bytes") {
      ok = parse_uint(v, 4096, 1u << 30, u);
      o.publisher.max_queue_bytes = u;
    } else if (a == "--late-ms") {
      ok = parse_uint(v, 1, 600000, u);
      o.publisher.late_ms = u;
    } else if (a == "--measure-after-s") {
      ok = parse_uint(v, 0, kMaxDurationS, u);
      o.publisher.measure_after_ms = u * 1000ull;
    } else if (a == "--setup-timeout-s") {
      ok = parse_uint(v, 1, 600, u);
      o.publisher.setup_timeout_ms = u * 1000ull;
    } else {
      std::fprintf(stderr, "loadgen: unknown option %s\n", argv[i - 1]);
      return false;
    }
    if (!ok) {
      std::fprintf(stderr, "loadgen: bad value for %s: %s\n", argv[i - 1], v);
      return false;
    }
  }
  if (o.url.empty() || o.flv.empty()) {
    std::fprintf(stderr, "loadgen: --url and --flv are required\n");
    return false;
  }
  return true;
}

// rtmp://HOST[:PORT]/APP -> address and app. Only numeric IPv4 hosts: the bench runs on loopback.
bool parse_url(const std::string& url, lb::PublishTarget& t) {
  constexpr std::string_view scheme = "rtmp://";
  if (url.rfind(scheme, 0) != 0) return false;
  const std::string rest = url.substr(scheme.size());
  const size_t slash = rest.find('/');
  if (slash == std::string::npos || slash + 1 >= rest.size()) return false;
  std::string host = rest.substr(0, slash);
  int port = 1935;
  if (const size_t colon = host.find(':'); colon != std::string::npos) {
    port = std::atoi(host.c_str() + colon + 1);
    host.resize(colon);
  }
  t.app = rest.substr(slash + 1);
  t.tc_url = url;
  return uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&t.addr)) == 0 && port > 0 && port < 65536;
}

class Loadgen {
 public:
  Loadgen(const Options& o, const lb::FlvFile& file, const lb::PublishTarget& target) : o_(o), file_(file) {
    // Metadata goes as the data message encoders send: "@setDataFrame" followed by the FLV script tag body.
    set_data_frame_ = livegate::amf0::encode_all({livegate::amf0::Value::String("@setDataFrame")});
    for (const lb::FlvTag& t : file.tags) {
      if (t.type == 18) {
        set_data_frame_.insert(set_data_frame_.end(), t.payload.begin(), t.payload.end());
        break;
      }
    }
    for (unsigned i = 0; i < o.streams; ++i) {
      publishers_.push_back(std::make_unique<lb::Publisher>(uv_default_loop(), int(i), o.key_prefix + std::to_string(i),
                                                            target, file, set_data_frame_, o.publisher, log_));
    }
  }

  bool run() {
    if (!o_.keyframes_path.empty() && !log_.open(o_.keyframes_path)) {
      std::fprintf(stderr, "loadgen: cannot write %s\n", o_.keyframes_path.c_str());
      return false;
    }
    uv_loop_t* loop = uv_default_loop();
    start_ns_ = uv_hrtime();
    if (timer_.init(uv_timer_init, loop, this) != 0 || sigint_.init(uv_signal_init, loop, this) != 0 ||
        sigterm_.init(uv_signal_init, loop, this) != 0) {
      return false;
    }
    uv_timer_start(timer_.get(), [](uv_timer_t* t) { livegate::owner_of<Loadgen>(t)->tick(); }, 0, o_.tick_ms);
    auto on_signal = [](uv_signal_t* s, int) { livegate::owner_of<Loadgen>(s)->finish(); };
    uv_signal_start(sigint_.get(), on_signal, SIGINT);
    uv_signal_start(sigterm_.get(), on_signal, SIGTERM);
    uv_run(loop, UV_RUN_DEFAULT);
    log_.flush();
    return write_report();
  }

 private:
  void tick() {
    const uint64_t now = uv_hrtime();
    const uint64_t since = now - start_ns_;
    for (size_t i = 0; i < publishers_.size(); ++i) {
      lb::Publisher& p = *publishers_[i];
      if (!p.started()) {
        if (since >= uint64_t(o_.stagger_ms) * 1'000'000 * i / publishers_.size()) p.connect(now);
        continue;
      }
      p.tick(now, since);
    }
    if (since >= next_status_ns_) {
      next_status_ns_ += 5'000'000'000ull;
      status(since);
    }
    if (since >= uint64_t(o_.duration_s) * 1'000'000'000) finish();
  }

  void status(uint64_t since) {
    unsigned streaming = 0, failed = 0, late = 0;
    uint64_t bytes = 0;
    for (const auto& p : publishers_) {
      const lb::PublisherStats s = p->stats();
      streaming += p->streaming();
      failed += p->failed();
      late += p->streaming() && !s.kept_real_time;
      bytes += s.bytes;
    }
    const double secs = double(since) / 1e9;
    std::fprintf(stderr, "loadgen: t=%.0fs streaming=%u failed=%u late=%u sent=%.1f MB (%.0f Mbit/s avg)\n", secs,
                 streaming, failed, late, double(bytes) / 1e6, secs > 0 ? double(bytes) * 8 / 1e6 / secs : 0.0);
    log_.flush();
  }

  void finish() {
    if (finished_) return;
    finished_ = true;
    status(uv_hrtime() - start_ns_);
    for (auto& p : publishers_) p->stop();
    timer_.close();
    sigint_.close();
    sigterm_.close();
  }

  bool write_report() const {
    if (o_.report_path.empty()) return true;
    nlohmann::json streams = nlohmann::json::array();
    unsigned kept = 0;
    for (size_t i = 0; i < publishers_.size(); ++i) {
      const lb::PublisherStats s = publishers_[i]->stats();
      kept += s.kept_real_time;
      streams.push_back({{"index", i},
                         {"key", o_.key_prefix + std::to_string(i)},
                         {"state", s.state},
                         {"error", s.error},
                         {"tags", s.tags},
                         {"bytes", s.bytes},
                         {"writes", s.writes},
                         {"keyframes", s.keyframes},
                         {"loops", s.loops},
                         {"max_lag_ms", s.max_lag_ms},
                         {"max_queue_bytes", s.max_queue_bytes},
                         {"publish_start_wall_ms", s.publish_start_wall_ms},
                         {"kept_real_time", s.kept_real_time}});
    }
    nlohmann::json report = {{"streams_requested", publishers_.size()},
                             {"streams_kept_real_time", kept},
                             {"file_duration_ms", file_.duration_ms},
                             {"streams", streams}};
    std::ofstream out(o_.report_path);
    out << report.dump(1) << "\n";
    return bool(out);
  }

  const Options& o_;
  const lb::FlvFile& file_;
  std::vector<uint8_t> set_data_frame_;
  lb::KeyframeLog log_;
  std::vector<std::unique_ptr<lb::Publisher>> publishers_;
  UvHandle<uv_timer_t> timer_;
  UvHandle<uv_signal_t> sigint_, sigterm_;
  uint64_t start_ns_ = 0;
  uint64_t next_status_ns_ = 5'000'000'000ull;
  bool finished_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  // A server that drops a connection must show up as a failed stream, not kill the generator.
  std::signal(SIGPIPE, SIG_IGN);
  Options o;
  if (!parse_args(argc, argv, o)) {
    usage();
    return 2;
  }
  lb::PublishTarget target;
  if (!parse_url(o.url, target)) {
    std::fprintf(stderr, "loadgen: --url must be rtmp://IPV4[:PORT]/APP, got %s\n", o.url.c_str());
    return 2;
  }
  auto file = lb::read_flv(o.flv);
  if (!file) {
    std::fprintf(stderr, "loadgen: %s\n", file.error().c_str());
    return 2;
  }
  std::fprintf(stderr, "loadgen: %zu tags, loop period %u ms, %u streams to %s\n", file->tags.size(),
               file->duration_ms, o.streams, o.url.c_str());
  // The publishers hold references into `file`, `target` and `o`, which outlive the loop here.
  Loadgen gen(o, *file, target);
  const bool ok = gen.run();
  uv_loop_close(uv_default_loop());
  return ok ? 0 : 1;
}
