// Composition root: configuration, the loop, the RTMP and HTTP servers, signals, and clean shutdown.
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/guard.h"
#include "common/log.h"
#include "common/loop_poster.h"
#include "common/metrics.h"
#include "common/uv_handle.h"
#include "http/http_server.h"
#include "http/on_publish_hook.h"
#include "ingest/rtmp_server.h"
#include "ingest/stream_registry.h"
#include "segmenter/hls_segmenter.h"
#include "segmenter/stream_monitor.h"
#include "segmenter/stream_store.h"

#ifndef LIVEGATE_VERSION
#define LIVEGATE_VERSION "dev"
#endif

namespace livegate {
namespace {

constexpr uint64_t kTickMs = 1000;
// The loop-lag probe: a timer this often, and how late it fires is the lag. Short enough to catch a
// stall of a few tens of milliseconds, which already delays every RTMP connection on the loop.
constexpr uint64_t kLagProbeMs = 100;
// A histogram rather than a last/max gauge: it loses no stall between two scrapes, whatever the
// scrape interval, and gives quantiles over any window with histogram_quantile().
const std::vector<double> kLagBuckets{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};

std::unique_ptr<PublishAuthorizer> make_authorizer(const AuthConfig& auth, LoopPoster& poster) {
  if (!auth.keys.empty()) {
    log_info("auth", "publishing needs one of " + std::to_string(auth.keys.size()) + " stream keys");
    return std::make_unique<StaticKeyAuthorizer>(std::set<std::string>(auth.keys.begin(), auth.keys.end()));
  }
  if (!auth.on_publish.empty()) {
    log_info("auth", "publishing is decided by " + auth.on_publish);
    return std::make_unique<OnPublishHook>(auth, poster);
  }
  log_warn("auth",
           "publishing is open to anyone who can reach the RTMP port: set auth.keys or auth.on_publish");
  return nullptr;
}

struct App {
  explicit App(const Config& c)
      : config(c),
        registry(c.rtmp.max_streams, std::chrono::milliseconds(c.hls.reconnect_grace_ms), &loop, c.failover,
                 &metrics),
        monitor(store, monitor_config(c.hls)),
        disk(c.hls.dir.empty() ? nullptr : std::make_unique<DiskWriter>(c.hls.dir, c.hls.disk_queue)),
        hls(c.hls, store, metrics, disk.get()),
        poster(&loop),
        authorizer(make_authorizer(c.auth, poster)),
        rtmp(&loop, c.rtmp, registry, authorizer.get(), metrics),
        http(c.http, store, metrics, HttpServer::Audience::viewers, c.api.token),
        admin(admin_config(c.http), store, metrics, HttpServer::Audience::admin),
        loop_lag(metrics.histogram("livegate_loop_lag_seconds",
                                   "How late the event loop ran a timer due every 100 ms: time it was busy "
                                   "elsewhere, which every RTMP connection waits for.",
                                   kLagBuckets)) {}

  static uv_loop_t* init_loop(uv_loop_t* loop) {
    uv_loop_init(loop);
    return loop;
  }
  // The operators' listener: one loop is plenty for a few scrapers and dashboards.
  static HttpConfig admin_config(HttpConfig c) {
    c.threads = 1;
    return c;
  }

  uv_loop_t loop_storage{};
  uv_loop_t& loop = *init_loop(&loop_storage);
  const Config& config;
  Metrics metrics;
  StreamStore store;
  StreamRegistry registry;
  StreamMonitor monitor;
  std::unique_ptr<DiskWriter> disk;  // finishes its queued files when destroyed, after `hls`
  HlsSegmenter hls;
  LoopPoster poster;
  std::unique_ptr<PublishAuthorizer> authorizer;  // null: publishing is open
  RtmpServer rtmp;
  HttpServer http;
  HttpServer admin;
  UvHandle<uv_signal_t> sigint, sigterm;
  UvHandle<uv_timer_t> ticker;
  UvHandle<uv_timer_t> drain;  // at shutdown: HTTP serves the ended playlists a little longer
  Histogram& loop_lag;
  UvHandle<uv_timer_t> lag_probe;
  uint64_t lag_probe_last_ns = 0;
  bool stopping = false;

  void probe_lag() {
    const uint64_t now = uv_hrtime();
    if (lag_probe_last_ns != 0) {
      const int64_t late_ns = int64_t(now - lag_probe_last_ns) - int64_t(kLagProbeMs * 1000000);
      loop_lag.observe(late_ns > 0 ? double(late_ns) / 1e9 : 0.0);
    }
    lag_probe_last_ns = now;
  }

  void tick() {
    monitor.tick(StreamMonitor::Clock::now());
    hls.tick(HlsSegmenter::Clock::now());
    store.set_stats({rtmp.connections(), registry.size(), hls.streams(), hls.bytes_held()});
  }

  // The first signal stops ingest and every playlist gets EXT-X-ENDLIST; HTTP goes on for http.drain_ms
  // so players fetch the last segments and see the end. A second signal ends the drain at once.
  void shutdown(const char* why) {
    if (stopping) {
      log_info("main", std::string(why) + " again: stopping without waiting for the drain");
      stop_serving();
      return;
    }
    stopping = true;
    log_info("main", std::string("shutting down: ") + why);
    registry.close();                      // no reconnect grace from here on
    rtmp.stop();                           // ends every publication: playlists get EXT-X-ENDLIST
    if (authorizer) authorizer->cancel();  // a blocked publish callback holds nothing up
    poster.close();
    ticker.close();
    lag_probe.close();
    if (config.http.drain_ms == 0) return stop_serving();
    log_info("main", "serving HTTP for " + std::to_string(config.http.drain_ms) + " ms more (http.drain_ms)");
    drain.init(uv_timer_init, &loop, this);
    uv_timer_start(
        drain.get(),
        [](uv_timer_t* t) {
          if (auto* a = owner_of<App>(t)) a->stop_serving();
        },
        config.http.drain_ms, 0);
  }

  void stop_serving() {
    drain.close();
    sigint.close();
    sigterm.close();
  }
};

// Every viewer and publisher is a descriptor; the soft limit (often 1024) would cap them long before
// http.max_connections, so it is raised to the hard limit the operator allows.
void raise_fd_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur >= lim.rlim_max) return;
  const rlim_t before = lim.rlim_cur;
  lim.rlim_cur = lim.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &lim) == 0) {
    log_debug("main", "open files limit raised from " + std::to_string(before) + " to " +
                          std::to_string(lim.rlim_max));
  }
}

int serve(const Config& config);

int run(const Config& config) {
  set_log_level(config.log_level);
  set_log_format(config.log_format);
  start_log_writer(STDERR_FILENO, config.log_queue_lines);
  const int rc = serve(config);
  stop_log_writer();
  return rc;
}

int serve(const Config& config) {
  raise_fd_limit();
  App app(config);
  app.registry.subscribe(&app.monitor);
  app.registry.subscribe(&app.hls);

  if (Status s = app.rtmp.listen(config.bind, config.rtmp_port); !s) {
    log_error("main", s.error());
    return 1;
  }
  Status http_started = app.http.start(config.bind, config.http_port);
  if (http_started && config.api.port != 0) http_started = app.admin.start(config.api.bind, config.api.port);
  if (!http_started) {
    log_error("main", http_started.error());
    app.stopping = true;
    app.registry.close();
    app.rtmp.stop();
    app.poster.close();
    uv_run(&app.loop, UV_RUN_DEFAULT);
    return 1;
  }

  auto on_signal = [](uv_signal_t* h, int signum) {
    if (auto* a = owner_of<App>(h)) {
      guard_callback("shutdown", [&] { a->shutdown(signum == SIGINT ? "SIGINT" : "SIGTERM"); });
    }
  };
  app.sigint.init(uv_signal_init, &app.loop, &app);
  app.sigterm.init(uv_signal_init, &app.loop, &app);
  uv_signal_start(app.sigint.get(), on_signal, SIGINT);
  uv_signal_start(app.sigterm.get(), on_signal, SIGTERM);
  app.ticker.init(uv_timer_init, &app.loop, &app);
  uv_timer_start(
      app.ticker.get(),
      [](uv_timer_t* t) {
        if (auto* a = owner_of<App>(t)) guard_callback("tick", [&] { a->tick(); });
      },
      kTickMs, kTickMs);
  app.lag_probe.init(uv_timer_init, &app.loop, &app);
  uv_timer_start(
      app.lag_probe.get(),
      [](uv_timer_t* t) {
        if (auto* a = owner_of<App>(t)) a->probe_lag();
      },
      kLagProbeMs, kLagProbeMs);

  const std::string host = config.bind == "0.0.0.0" || config.bind == "::" ? "127.0.0.1" : config.bind;
  log_info("main", std::string("livegate ") + LIVEGATE_VERSION + " ready: publish to rtmp://" + host + ":" +
                       std::to_string(app.rtmp.port()) + "/" + config.rtmp.apps.front() +
                       "/KEY, watch http://" + host + ":" + std::to_string(app.http.port()) + "/" +
                       (config.api.port != 0 ? ", operators http://" + config.api.bind + ":" +
                                                   std::to_string(app.admin.port()) + "/operator.html"
                                             : std::string()));

  uv_run(&app.loop, UV_RUN_DEFAULT);
  app.http.stop();
  app.admin.stop();
  // Closing callbacks of handles closed during shutdown run here.
  uv_run(&app.loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&app.loop) != 0) log_warn("main", "loop closed with handles still open");
  log_info("main", "stopped");
  return 0;
}

}  // namespace
}  // namespace livegate

namespace {

// Segment memory is about 200 MB/s of fresh heap at 500 streams while the windows fill, and with 4 KiB
// pages every one of those pages is a fault: the loop ran over a core for the first half minute and
// lagged seconds. With the kernel's transparent huge pages in "madvise" mode (a common default) glibc
// asks for huge pages only when its tunable says so, and the tunable is read at exec. So livegate
// execs itself once with it, unless huge pages are off or GLIBC_TUNABLES already sets it (set
// glibc.malloc.hugetlb=0 there to opt out). Figures: tests/bench/RESULTS.md.
void reexec_with_huge_pages(char** argv) {
  constexpr const char* kTunable = "glibc.malloc.hugetlb";
  std::ifstream thp("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string mode;
  std::getline(thp, mode);
  if (mode.find("[madvise]") == std::string::npos) return;  // "always" needs nothing, "never" allows nothing
  const char* env = std::getenv("GLIBC_TUNABLES");
  const std::string current = env != nullptr ? env : "";
  if (current.find(kTunable) != std::string::npos) return;  // set already, or by our own exec
  const std::string value = (current.empty() ? "" : current + ":") + kTunable + "=1";
  if (setenv("GLIBC_TUNABLES", value.c_str(), 1) != 0) return;
  execv("/proc/self/exe", argv);
  // The exec failed (no /proc?): run as we are.
  if (current.empty()) {
    unsetenv("GLIBC_TUNABLES");
  } else {
    setenv("GLIBC_TUNABLES", current.c_str(), 1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  reexec_with_huge_pages(argv);
  std::signal(SIGPIPE, SIG_IGN);
  // Segments are buffers of about a megabyte that live half a minute. By default glibc maps each one
  // fresh and unmaps it when freed, and the first-touch page faults of that memory were the largest CPU
  // cost at 200 streams (tests/bench/RESULTS.md). From the heap, freed segments are reused instead.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  try {
    livegate::Result<livegate::CommandLine> cl = livegate::parse_command_line(argc, argv);
    if (!cl) {
      std::fprintf(stderr, "livegate: %s\n", cl.error().c_str());
      return 2;
    }
    if (cl->help) {
      std::fputs(livegate::usage_text(), stdout);
      return 0;
    }
    if (cl->version) {
      std::printf("livegate %s\n", LIVEGATE_VERSION);
      return 0;
    }
    return livegate::run(cl->config);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "livegate: fatal: %s\n", e.what());
    return 1;
  }
}
