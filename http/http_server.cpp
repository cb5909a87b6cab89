// HTTP connections on libuv: parse a request head within the size limits, answer it from the Router
// without copying the body, keep the connection alive, and cut off clients that are too slow or idle.
// One request is answered at a time per connection: the next is read only once the last answer has
// left, so a pipelining or non-reading client holds one response, never a growing queue.
#include "http/http_server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <ctime>
#include <list>
#include <map>
#include <thread>

#include "common/log.h"
#include "common/uv_handle.h"

namespace livegate {
namespace {

constexpr uint64_t kSweepMs = 250;       // how often timeouts are checked
constexpr size_t kReadBufferBytes = 65536;  // one per loop, shared by its connections
// After the last answer, input is read and dropped for this long before the socket closes: closing with
// unread input sends a reset, and the client may lose the answer (a 431 to a request still being sent).
constexpr uint64_t kLingerMs = 2000;

const char* reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 416: return "Range Not Satisfiable";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
  }
  return "Unknown";
}

std::string peer_name(uv_tcp_t* tcp) {
  sockaddr_storage addr{};
  int len = sizeof addr;
  char ip[INET6_ADDRSTRLEN] = "?";
  if (uv_tcp_getpeername(tcp, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    if (addr.ss_family == AF_INET) {
      uv_ip4_name(reinterpret_cast<const sockaddr_in*>(&addr), ip, sizeof ip);
      return std::string(ip) + ":" + std::to_string(ntohs(reinterpret_cast<const sockaddr_in*>(&addr)->sin_port));
    }
    if (addr.ss_family == AF_INET6) {
      uv_ip6_name(reinterpret_cast<const sockaddr_in6*>(&addr), ip, sizeof ip);
      return "[" + std::string(ip) + "]:" +
             std::to_string(ntohs(reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_port));
    }
  }
  return ip;
}

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

}  // namespace

class HttpServer::Worker {
 public:
  Worker(HttpServer& server, int listen_fd) : server_(server), config_(server.config_) {
    uv_loop_init(&loop_);
    loop_.data = this;  // the read buffer is the loop's, found from any handle through it
    listener_.init(uv_tcp_init, &loop_, this);
    listen_rc_ = uv_tcp_open(listener_.get(), listen_fd);
    if (listen_rc_ != 0) ::close(listen_fd);
  }

  ~Worker() {
    if (thread_.joinable()) thread_.join();
    // Handles left by a worker that never ran (start-up failed) are closed here, on the only thread.
    close_all();
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
  }

  Status start() {
    if (listen_rc_ != 0) return Error{std::string("http: cannot open the listener: ") + uv_strerror(listen_rc_)};
    const int rc = uv_listen(listener_.stream(), static_cast<int>(config_.backlog), [](uv_stream_t* s, int status) {
      if (auto* w = owner_of<Worker>(s)) w->on_connection(status);
    });
    if (rc != 0) return Error{std::string("http: cannot listen: ") + uv_strerror(rc)};
    sweep_.init(uv_timer_init, &loop_, this);
    uv_timer_start(
        sweep_.get(),
        [](uv_timer_t* t) {
          if (auto* w = owner_of<Worker>(t)) w->sweep();
        },
        kSweepMs, kSweepMs);
    stop_.init(uv_async_init, &loop_, this, [](uv_async_t* a) {
      if (auto* w = owner_of<Worker>(a)) w->close_all();
    });
    thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
    return {};
  }

  // From any thread: the loop closes everything and its thread ends.
  void stop() {
    if (stop_) uv_async_send(stop_.get());
    if (thread_.joinable()) thread_.join();
  }

 private:
  struct Conn {
    UvHandle<uv_tcp_t> tcp;
    std::string peer;
    HttpRequestParser parser;
    std::string unread;  // input that arrived behind a request still being answered
    uint64_t last_active_ms = 0;
    uint64_t request_start_ms = 0;
    uint64_t write_progress_ms = 0;
    uint32_t requests = 0;
    size_t writes_pending = 0;
    bool paused = false;  // not reading until the answer in flight has left
    bool close_when_written = false;
    bool lingering = false;  // answered for the last time; the rest of the input is dropped
    std::list<Conn>::iterator self;

    explicit Conn(HttpLimits limits) : parser(limits) {}
  };

  struct Write {
    uv_write_t req{};
    std::string head;
    std::shared_ptr<const void> owner;  // keeps the body's memory alive until written
    Worker* worker = nullptr;
  };

  void on_connection(int status) {
    if (status < 0) {
      log_warn("http", std::string("accept failed: ") + uv_strerror(status));
      return;
    }
    conns_.emplace_front(HttpLimits{config_.max_uri_bytes, config_.max_header_bytes});
    Conn& c = conns_.front();
    c.self = conns_.begin();
    if (c.tcp.init(uv_tcp_init, &loop_, &c) != 0 || uv_accept(listener_.stream(), c.tcp.stream()) != 0) {
      conns_.erase(c.self);
      return;
    }
    accepted_->fetch_add(1, std::memory_order_relaxed);
    if (server_.connections_.fetch_add(1) >= config_.max_connections) {
      server_.connections_.fetch_sub(1);
      violation("http.max_connections");
      log_warn("http", "refused " + peer_name(c.tcp.get()) + ": limit http.max_connections (" +
                           std::to_string(config_.max_connections) + ")");
      conns_.erase(c.self);
      return;
    }
    c.peer = peer_name(c.tcp.get());
    uv_tcp_nodelay(c.tcp.get(), 1);  // without it a small playlist waits ~40 ms on Nagle + delayed ACK
    c.last_active_ms = uv_now(&loop_);
    start_reading(c);
  }

  void start_reading(Conn& c) {
    c.paused = false;
    uv_read_start(
        c.tcp.stream(),
        [](uv_handle_t* h, size_t, uv_buf_t* buf) {
          auto* w = static_cast<Worker*>(h->loop->data);
          *buf = uv_buf_init(w->read_buffer_, sizeof w->read_buffer_);
        },
        [](uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
          auto* c = owner_of<Conn>(s);
          auto* w = static_cast<Worker*>(s->loop->data);
          if (!c) return;
          if (n < 0) return w->close(*c);
          if (n > 0 && !c->lingering) w->on_data(*c, std::string_view(buf->base, static_cast<size_t>(n)));
        });
  }

  void on_data(Conn& c, std::string_view data) {
    c.last_active_ms = uv_now(&loop_);
    try {
      while (!data.empty() && !c.paused && !c.close_when_written) {
        const bool was_started = c.parser.started();
        data.remove_prefix(c.parser.feed(data));
        if (!was_started && c.parser.started()) c.request_start_ms = c.last_active_ms;
        if (c.parser.state() == HttpRequestParser::State::need_more) continue;
        if (c.parser.state() == HttpRequestParser::State::refused) {
          refuse(c, c.parser.status(), c.parser.reason());
          return;
        }
        answer(c, c.parser.request());
        c.parser.reset();
      }
    } catch (const std::exception& e) {  // out of memory or a bug: this connection ends, the loop goes on
      log_error("http", c.peer + ": " + e.what());
      refuse(c, 500, "internal error");
      return;
    }
    if (c.paused && !data.empty()) c.unread.assign(data);
  }

  void refuse(Conn& c, int status, const std::string& reason) {
    if (status == 414 || status == 431) {
      const char* limit = status == 414 ? "http.max_uri_bytes" : "http.max_header_bytes";
      violation(limit);
      log_warn("http", c.peer + ": " + reason);
    }
    HttpResponse r = text_response(status, reason);
    send(c, r, false, true);
  }

  void answer(Conn& c, const HttpRequest& req) {
    HttpResponse r = server_.router_.handle(req);
    const bool head_only = req.method == "HEAD";
    ++c.requests;
    const bool keep = req.keep_alive && c.requests < config_.keep_alive_max_requests;
    if (r.ranges && r.status == 200) {
      if (const std::string* h = req.header("range")) {
        const RangeRequest range = parse_range(*h, r.body.size());
        if (range.present && !range.range) {
          r.headers.emplace_back("Content-Range", "bytes */" + std::to_string(r.body.size()));
          r.status = 416;
          r.content_type = "text/plain; charset=utf-8";
          r.cache_control = "max-age=1";
          r.body = {};
        } else if (range.range) {
          r.headers.emplace_back("Content-Range", "bytes " + std::to_string(range.range->first) + "-" +
                                                      std::to_string(range.range->last) + "/" +
                                                      std::to_string(r.body.size()));
          r.status = 206;
          r.body = r.body.substr(range.range->first, range.range->last - range.range->first + 1);
        }
      }
    }
    send(c, r, head_only, !keep, req.minor_version == 0 && keep);
  }

  void send(Conn& c, const HttpResponse& r, bool head_only, bool close_after, bool say_keep_alive = false) {
    auto w = std::make_unique<Write>();
    std::string& h = w->head;
    h.reserve(320 + r.content_type.size());
    h.append("HTTP/1.1 ").append(std::to_string(r.status)).append(" ").append(reason_phrase(r.status)).append("\r\n");
    if (!r.content_type.empty()) h.append("Content-Type: ").append(r.content_type).append("\r\n");
    if (r.status != 204) h.append("Content-Length: ").append(std::to_string(r.body.size())).append("\r\n");
    if (!r.cache_control.empty()) h.append("Cache-Control: ").append(r.cache_control).append("\r\n");
    h.append("Access-Control-Allow-Origin: *\r\nAccess-Control-Expose-Headers: Content-Length, Content-Range\r\n");
    if (r.ranges) h.append("Accept-Ranges: bytes\r\n");
    for (const auto& [k, v] : r.headers) h.append(k).append(": ").append(v).append("\r\n");
    h.append("Date: ").append(http_date()).append("\r\n");
    if (close_after) h.append("Connection: close\r\n");
    else if (say_keep_alive) h.append("Connection: keep-alive\r\n");
    h.append("\r\n");

    counter_for(r.route, r.status).fetch_add(1, std::memory_order_relaxed);
    const std::string_view body = head_only ? std::string_view() : r.body;
    sent_bytes_->fetch_add(h.size() + body.size(), std::memory_order_relaxed);
    uv_buf_t bufs[2] = {uv_buf_init(h.data(), static_cast<unsigned>(h.size())),
                        uv_buf_init(const_cast<char*>(body.data()), static_cast<unsigned>(body.size()))};
    w->owner = r.owner;
    w->worker = this;
    w->req.data = w.get();
    const int rc = uv_write(&w->req, c.tcp.stream(), bufs, body.empty() ? 1 : 2, [](uv_write_t* req, int status) {
      std::unique_ptr<Write> done(static_cast<Write*>(req->data));
      auto* c = owner_of<Conn>(req->handle);
      if (c) done->worker->on_written(*c, status);
    });
    if (rc != 0) return close(c);
    w.release();  // the write callback frees it
    ++c.writes_pending;
    c.write_progress_ms = uv_now(&loop_);
    c.close_when_written = c.close_when_written || close_after;
    // Read nothing more until this answer has left (see the top of the file).
    if (!c.paused) {
      uv_read_stop(c.tcp.stream());
      c.paused = true;
    }
  }

  void on_written(Conn& c, int status) {
    --c.writes_pending;
    if (status < 0) return close(c);
    c.write_progress_ms = c.last_active_ms = uv_now(&loop_);
    if (c.writes_pending > 0) return;
    if (c.close_when_written) return linger(c);
    std::string unread = std::move(c.unread);
    c.unread.clear();
    start_reading(c);
    if (!unread.empty()) on_data(c, unread);
  }

  void linger(Conn& c) {
    c.lingering = true;
    c.last_active_ms = uv_now(&loop_);
    // Freed by its callback, which also runs (cancelled) when the socket closes first.
    auto req = std::make_unique<uv_shutdown_t>();
    if (uv_shutdown(req.get(), c.tcp.stream(), [](uv_shutdown_t* r, int) { std::unique_ptr<uv_shutdown_t>{r}; }) != 0)
      return close(c);
    req.release();
    start_reading(c);
  }

  void close(Conn& c) {
    server_.connections_.fetch_sub(1);
    conns_.erase(c.self);  // closes the socket; pending write callbacks then find no owner
  }

  void sweep() {
    const uint64_t now = uv_now(&loop_);
    const uint64_t read_ms = uint64_t{config_.read_timeout_s} * 1000;
    const uint64_t write_ms = uint64_t{config_.write_timeout_s} * 1000;
    const uint64_t idle_ms = uint64_t{config_.keep_alive_timeout_s} * 1000;
    for (auto it = conns_.begin(); it != conns_.end();) {
      Conn& c = *it++;
      if (c.lingering) {
        if (now - c.last_active_ms > kLingerMs) close(c);
      } else if (c.writes_pending > 0) {
        if (now - c.write_progress_ms > write_ms) {
          violation("http.write_timeout_s");
          log_warn("http", c.peer + ": closed: limit http.write_timeout_s reached (the client stopped reading)");
          close(c);
        }
      } else if (c.parser.started()) {
        if (now - c.request_start_ms > read_ms) {
          violation("http.read_timeout_s");
          log_warn("http", c.peer + ": closed: limit http.read_timeout_s reached (request head incomplete)");
          refuse(c, 408, "request not received in time (limit http.read_timeout_s)");
        }
      } else if (now - c.last_active_ms > idle_ms) {
        close(c);  // an idle keep-alive connection: routine, not worth a line
      }
    }
  }

  void close_all() {
    while (!conns_.empty()) close(conns_.front());
    listener_.close();
    sweep_.close();
    stop_.close();
  }

  std::atomic<uint64_t>& counter(const char* name, const char* help, const MetricLabels& labels = {}) {
    return server_.metrics_.counter(name, help, labels);
  }

  void violation(const char* limit) {
    counter("livegate_limit_violations_total", "Connections, requests or publishes stopped by a configured limit, by its config key.",
            {{"limit", limit}})
        .fetch_add(1, std::memory_order_relaxed);
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

  // The Date header (RFC 9110 5.6.7), formatted once a second.
  const std::string& http_date() {
    const std::time_t now = std::time(nullptr);
    if (now != date_time_) {
      std::tm tm{};
      gmtime_r(&now, &tm);
      char buf[40];
      std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
      date_ = buf;
      date_time_ = now;
    }
    return date_;
  }

  HttpServer& server_;
  const HttpConfig& config_;
  uv_loop_t loop_{};
  int listen_rc_ = 0;
  UvHandle<uv_tcp_t> listener_;
  UvHandle<uv_timer_t> sweep_;
  UvHandle<uv_async_t> stop_;
  std::thread thread_;
  std::list<Conn> conns_;
  char read_buffer_[kReadBufferBytes];
  std::map<std::pair<const char*, int>, std::atomic<uint64_t>*> request_counters_;
  std::atomic<uint64_t>* accepted_ =
      &counter("livegate_http_connections_accepted_total", "HTTP connections accepted.");
  std::atomic<uint64_t>* sent_bytes_ =
      &counter("livegate_http_sent_bytes_total", "Bytes of HTTP responses (head and body) sent.");
  std::string date_;
  std::time_t date_time_ = 0;
};

HttpServer::HttpServer(const HttpConfig& config, const StreamStore& store, Metrics& metrics)
    : config_(config),
      metrics_(metrics),
      files_(StaticFiles::load(config.www_dir.empty() ? default_www_dir() : config.www_dir)),
      router_(store, files_, metrics) {}

HttpServer::~HttpServer() { stop(); }

Status HttpServer::start(const std::string& address, uint16_t port) {
  sockaddr_storage addr{};
  if (uv_ip4_addr(address.c_str(), port, reinterpret_cast<sockaddr_in*>(&addr)) != 0 &&
      uv_ip6_addr(address.c_str(), port, reinterpret_cast<sockaddr_in6*>(&addr)) != 0) {
    return Error{"http: bad bind address " + address};
  }
  for (uint32_t i = 0; i < config_.threads; ++i) {
    Result<int> fd = open_listener(reinterpret_cast<const sockaddr*>(&addr), static_cast<int>(config_.backlog));
    if (!fd) return Error{"http: cannot listen on " + address + ":" + std::to_string(port) + ": " + fd.error()};
    if (i == 0) {  // with port 0 the first socket picks the port and the others share it
      sockaddr_storage bound{};
      socklen_t len = sizeof bound;
      getsockname(*fd, reinterpret_cast<sockaddr*>(&bound), &len);
      port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                                : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
      if (addr.ss_family == AF_INET6) reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port = htons(port_);
      else reinterpret_cast<sockaddr_in*>(&addr)->sin_port = htons(port_);
    }
    workers_.push_back(std::make_unique<Worker>(*this, *fd));
  }
  for (auto& w : workers_) {
    if (Status s = w->start(); !s) return s;
  }
  log_info("http", "serving on " + std::to_string(workers_.size()) + " event loops, the player from " +
                       std::to_string(files_.size()) + " files");
  return {};
}

void HttpServer::stop() {
  for (auto& w : workers_) w->stop();
  workers_.clear();
}

}  // namespace livegate
