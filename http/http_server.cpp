// The HTTP loops: each accepts on its own socket, admits connections under the limits, sweeps their
// timeouts, and frees closed connections on the next loop iteration (never under their own call stack).
#include "http/http_server.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <map>
#include <thread>
#include <unordered_map>

#include "common/guard.h"
#include "common/log.h"
#include "common/uv_handle.h"

namespace livegate {
namespace {

constexpr uint64_t kSweepMs = 250;          // how often timeouts are checked
constexpr size_t kReadBufferBytes = 65536;  // one per loop, shared by its connections

// A listening socket of its own for each loop: the kernel spreads new connections across them.
Result<int> open_listener(const sockaddr* addr, int backlog) {
  const int fd = ::socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error{std::string("socket: ") + uv_strerror(uv_translate_sys_error(errno))};
  const int yes = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &yes, sizeof yes);
  const socklen_t len = addr->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  if (::bind(fd, addr, len) != 0 || ::listen(fd, backlog) != 0) {
    const int err = errno;
    ::close(fd);
    return Error{uv_strerror(uv_translate_sys_error(err))};
  }
  return fd;
}

HttpConnectionConfig connection_config(const HttpConfig& c) {
  HttpConnectionConfig out;
  out.head = HttpLimits{c.max_uri_bytes, c.max_header_bytes};
  out.read_timeout_ms = uint64_t{c.read_timeout_s} * 1000;
  out.write_timeout_ms = uint64_t{c.write_timeout_s} * 1000;
  out.keep_alive_timeout_ms = uint64_t{c.keep_alive_timeout_s} * 1000;
  out.keep_alive_max_requests = c.keep_alive_max_requests;
  return out;
}

// "Bearer TOKEN", compared in constant time so the answer's timing tells nothing about the token.
bool bearer_matches(const std::string* header, const std::string& token) {
  constexpr std::string_view kScheme = "Bearer ";
  if (token.empty() || header == nullptr || header->size() != kScheme.size() + token.size()) return false;
  if (header->compare(0, kScheme.size(), kScheme) != 0) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < token.size(); ++i)
    diff |= static_cast<unsigned char>((*header)[kScheme.size() + i] ^ token[i]);
  return diff == 0;
}

}  // namespace

class HttpServer::Worker final : public HttpConnection::Owner {
 public:
  Worker(HttpServer& server, int listen_fd) : server_(server) {
    uv_loop_init(&loop_);
    listener_.init(uv_tcp_init, &loop_, this);
    listen_rc_ = uv_tcp_open(listener_.get(), listen_fd);
    if (listen_rc_ != 0) ::close(listen_fd);
    reaper_.init(uv_idle_init, &loop_, this);
  }

  ~Worker() override {
    if (thread_.joinable()) thread_.join();
    // Handles left by a worker that never ran (start-up failed) are closed here, on the only thread.
    close_all();
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
  }

  Status start() {
    if (listen_rc_ != 0)
      return Error{std::string("http: cannot open the listener: ") + uv_strerror(listen_rc_)};
    const int rc = uv_listen(listener_.stream(), static_cast<int>(server_.config_.backlog),
                             [](uv_stream_t* s, int status) {
                               if (auto* w = owner_of<Worker>(s))
                                 guard_callback("http accept", [&] { w->on_connection(status); });
                             });
    if (rc != 0) return Error{std::string("http: cannot listen: ") + uv_strerror(rc)};
    sweep_.init(uv_timer_init, &loop_, this);
    uv_timer_start(
        sweep_.get(),
        [](uv_timer_t* t) {
          if (auto* w = owner_of<Worker>(t)) guard_callback("http sweep", [&] { w->sweep(); });
        },
        kSweepMs, kSweepMs);
    stop_.init(uv_async_init, &loop_, this, [](uv_async_t* a) {
      if (auto* w = owner_of<Worker>(a)) w->close_all();
    });
    wake_.init(uv_async_init, &loop_, this, [](uv_async_t* a) {
      if (auto* w = owner_of<Worker>(a)) guard_callback("http wake", [&] { w->wake_held(); });
    });
    // On the publishing thread: only while this loop holds requests, the publish time is noted (for
    // livegate_http_held_answer_seconds) and the loop woken (uv_async_send is thread-safe and coalesces).
    watch_id_ = server_.store_.watch([this] {
      if (held_count_.load() == 0) return;
      uint64_t none = 0;  // the first publish a wake answers for is the one its delay counts from
      published_ns_.compare_exchange_strong(none, uv_hrtime());
      uv_async_send(wake_.get());
    });
    thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
    return {};
  }

  // From any thread: the loop closes everything and its thread ends.
  void stop() {
    if (watch_id_ != 0) server_.store_.unwatch(watch_id_);  // no wake from now on
    watch_id_ = 0;
    if (stop_) uv_async_send(stop_.get());
    if (thread_.joinable()) thread_.join();
  }

  // HttpConnection::Owner
  HttpResponse respond(const HttpRequest& request) override {
    return server_.router_.handle(request, server_.caller(request));
  }

  size_t held_count() const noexcept { return held_count_.load(std::memory_order_relaxed); }

  void sent(const HttpResponse& r, size_t bytes) override {
    counter_for(r.route, r.status).fetch_add(1, std::memory_order_relaxed);
    sent_bytes_->fetch_add(bytes, std::memory_order_relaxed);
  }

  void limit_reached(const char* limit) override {
    counter("livegate_limit_violations_total",
            "Connections, requests or publishes stopped by a configured limit, by its config key.",
            {{"limit", limit}})
        .fetch_add(1, std::memory_order_relaxed);
  }

  bool hold(HttpConnection& c, const HttpResponse& r) override {
    held_[&c] = Held{r.hold_path, uv_now(&loop_) + r.hold_ms, r.held_on};
    held_count_.store(held_.size());
    // A snapshot published between the router's judgement and the count above woke nobody: look once.
    if (server_.store_.get_hls(r.hold_path) != r.held_on) uv_async_send(wake_.get());
    return true;
  }

  void closed(HttpConnection& c) override {
    if (held_.erase(&c) > 0) held_count_.store(held_.size());
    try {
      dead_.push_back(&c);
    } catch (...) {
      return;  // out of memory: it stays in conns_, closed, until the loop ends
    }
    if (!uv_is_active(reaper_.handle())) {
      uv_idle_start(reaper_.get(), [](uv_idle_t* h) {
        if (auto* w = owner_of<Worker>(h)) w->reap();
      });
    }
  }

 private:
  void on_connection(int status) {
    if (status < 0) {
      log_warn("http", std::string("accept failed: ") + uv_strerror(status));
      return;
    }
    auto conn = std::make_unique<HttpConnection>(&loop_, *this, server_.connection_config_, read_buffer_,
                                                 sizeof read_buffer_);
    if (conn->accept(listener_.stream()) != 0) return;  // freed here: nothing else knows it yet
    accepted_->fetch_add(1, std::memory_order_relaxed);
    ConnectionLimiter::Refusal refused{};
    conn->slot = server_.limiter_.acquire(conn->ip(), refused);
    if (!conn->slot) {
      const bool total = refused == ConnectionLimiter::Refusal::total;
      const char* limit = total ? "http.max_connections" : "http.max_connections_per_ip";
      limit_reached(limit);
      log_warn("http", "refused " + conn->peer() + ": limit " + limit + " (" +
                           std::to_string(total ? server_.config_.max_connections
                                                : server_.config_.max_connections_per_ip) +
                           ")");
      return;
    }
    HttpConnection* raw = conn.get();
    conns_.emplace(raw, std::move(conn));
    raw->start();
  }

  void sweep() {
    const uint64_t now = uv_now(&loop_);
    for (auto& [raw, conn] : conns_) conn->sweep(now);  // closing only marks: nothing is erased here
    release_held([now](const Held& h) { return h.deadline_ms <= now; }, true);
  }

  // A stream published a snapshot: the requests held on an older one of theirs are asked again, each
  // stream looked up once however many wait on it.
  void wake_held() {
    const uint64_t published = published_ns_.exchange(0);
    std::unordered_map<std::string, std::shared_ptr<const HlsSnapshot>> now;
    release_held(
        [&](const Held& h) {
          auto [it, fresh] = now.try_emplace(h.path);
          if (fresh) it->second = server_.store_.get_hls(h.path);
          return it->second != h.seen;
        },
        false, published);
  }

  // Takes the held requests `due` picks out of held_ first, then retries them: a retry may hold its
  // request again, or close its connection, both of which change held_. With `published_ns` (when the
  // snapshot that woke them was published), each one answered adds its delay to the histogram.
  template <class Due>
  void release_held(Due&& due, bool give_up, uint64_t published_ns = 0) {
    std::vector<HttpConnection*> ready;
    for (auto it = held_.begin(); it != held_.end();) {
      if (due(it->second)) {
        ready.push_back(it->first);
        it = held_.erase(it);
      } else {
        ++it;
      }
    }
    if (ready.empty()) return;
    held_count_.store(held_.size());
    for (HttpConnection* c : ready) {
      c->retry(give_up);  // closed ones stay allocated until reap()
      // Answered: the response is with the socket (libuv writes at once when nothing is queued).
      if (published_ns != 0 && !c->closed() && held_.count(c) == 0) {
        held_answer_->observe(static_cast<double>(uv_hrtime() - published_ns) / 1e9);
      }
    }
  }

  void reap() {
    for (HttpConnection* c : dead_) conns_.erase(c);
    dead_.clear();
    uv_idle_stop(reaper_.get());
  }

  void close_all() {
    held_.clear();
    held_count_.store(0);
    for (auto& [raw, conn] : conns_) conn->close();
    dead_.clear();
    conns_.clear();  // not inside any connection's callback here
    listener_.close();
    sweep_.close();
    stop_.close();
    wake_.close();
    reaper_.close();
  }

  std::atomic<uint64_t>& counter(const char* name, const char* help, const MetricLabels& labels = {}) {
    return server_.metrics_.counter(name, help, labels);
  }

  // Looked up once per route and status by this loop, then kept.
  std::atomic<uint64_t>& counter_for(const char* route, int status) {
    auto& slot = request_counters_[{route, status}];
    if (!slot) {
      slot = &counter("livegate_http_requests_total", "HTTP requests answered, by route and status.",
                      {{"route", route}, {"status", std::to_string(status)}});
    }
    return *slot;
  }

  HttpServer& server_;
  uv_loop_t loop_{};
  int listen_rc_ = 0;
  UvHandle<uv_tcp_t> listener_;
  UvHandle<uv_timer_t> sweep_;
  UvHandle<uv_async_t> stop_;
  UvHandle<uv_idle_t> reaper_;  // runs while dead_ has connections to free
  UvHandle<uv_async_t> wake_;   // a stream published: held requests may be answerable
  uint64_t watch_id_ = 0;
  // Requests waiting for a stream to move on (LL-HLS blocking reload, preload hints), each with the
  // snapshot it was judged on and when it gives up. They count as connections, so http.max_connections
  // bounds them.
  struct Held {
    std::string path;
    uint64_t deadline_ms = 0;
    std::shared_ptr<const HlsSnapshot> seen;
  };
  std::unordered_map<HttpConnection*, Held> held_;
  std::atomic<size_t> held_count_{0};
  std::atomic<uint64_t> published_ns_{0};  // uv_hrtime() of the publish the next wake answers for; 0: none
  std::thread thread_;
  std::unordered_map<HttpConnection*, std::unique_ptr<HttpConnection>> conns_;
  std::vector<HttpConnection*> dead_;  // closed, freed by reap()
  char read_buffer_[kReadBufferBytes];
  std::map<std::pair<const char*, int>, std::atomic<uint64_t>*> request_counters_;
  std::atomic<uint64_t>* accepted_ =
      &counter("livegate_http_connections_accepted_total", "HTTP connections accepted.");
  std::atomic<uint64_t>* sent_bytes_ =
      &counter("livegate_http_sent_bytes_total", "Bytes of HTTP responses (head and body) sent.");
  Histogram* held_answer_ = &server_.metrics_.histogram(
      "livegate_http_held_answer_seconds",
      "From a stream publishing a part or segment to each request held for it (LL-HLS blocking reload, "
      "preload hint) being answered: the response handed to the socket.",
      {0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.25, 1});
};

HttpServer::HttpServer(const HttpConfig& config, const StreamStore& store, Metrics& metrics,
                       Audience audience, std::string api_token)
    : config_(config),
      connection_config_(connection_config(config)),
      store_(store),
      metrics_(metrics),
      audience_(audience),
      api_token_(std::move(api_token)),
      files_(StaticFiles::load(config.www_dir.empty() ? default_www_dir() : config.www_dir)),
      router_(store, files_, metrics),
      limiter_(config.max_connections, config.max_connections_per_ip) {}

HttpServer::~HttpServer() { stop(); }

Caller HttpServer::caller(const HttpRequest& request) const {
  if (audience_ == Audience::admin) return {true, false};
  return {bearer_matches(request.header("authorization"), api_token_), !api_token_.empty()};
}

Status HttpServer::start(const std::string& address, uint16_t port) {
  sockaddr_storage addr{};
  if (uv_ip4_addr(address.c_str(), port, reinterpret_cast<sockaddr_in*>(&addr)) != 0 &&
      uv_ip6_addr(address.c_str(), port, reinterpret_cast<sockaddr_in6*>(&addr)) != 0) {
    return Error{"http: bad bind address " + address};
  }
  for (uint32_t i = 0; i < config_.threads; ++i) {
    Result<int> fd =
        open_listener(reinterpret_cast<const sockaddr*>(&addr), static_cast<int>(config_.backlog));
    if (!fd)
      return Error{"http: cannot listen on " + address + ":" + std::to_string(port) + ": " + fd.error()};
    if (i == 0) {  // with port 0 the first socket picks the port and the others share it
      sockaddr_storage bound{};
      socklen_t len = sizeof bound;
      getsockname(*fd, reinterpret_cast<sockaddr*>(&bound), &len);
      port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                                : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
      if (addr.ss_family == AF_INET6) {
        reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port = htons(port_);
      } else {
        reinterpret_cast<sockaddr_in*>(&addr)->sin_port = htons(port_);
      }
    }
    workers_.push_back(std::make_unique<Worker>(*this, *fd));
  }
  for (auto& w : workers_) {
    if (Status s = w->start(); !s) return s;
  }
  log_info("http", std::string(audience_ == Audience::admin ? "admin listener" : "serving") + " on " +
                       address + ":" + std::to_string(port_) + ", " + std::to_string(workers_.size()) +
                       " event loops, " + std::to_string(files_.size()) + " page files");
  return {};
}

size_t HttpServer::held_requests() const noexcept {
  size_t n = 0;
  for (const auto& w : workers_) n += w->held_count();
  return n;
}

void HttpServer::stop() {
  for (auto& w : workers_) w->stop();
  workers_.clear();
}

}  // namespace livegate
