// HTTP connections on libuv: the request/answer cycle, keep-alive, and the timeouts of one client.
#include "http/http_connection.h"

#include <linux/sockios.h>
#include <sys/ioctl.h>

#include <ctime>
#include <exception>
#include <memory>

#include "common/log.h"

namespace livegate {
namespace {

const char* reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
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

// The Date header (RFC 9110 5.6.7), formatted once a second per loop thread.
const std::string& http_date() {
  thread_local std::string date;
  thread_local std::time_t formatted = 0;
  const std::time_t now = std::time(nullptr);
  if (now != formatted) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[40];
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    date = buf;
    formatted = now;
  }
  return date;
}

struct Peer {
  std::string ip = "?";
  std::string display = "?";
};

Peer peer_of(const uv_tcp_t* tcp) {
  sockaddr_storage addr{};
  int len = sizeof addr;
  if (uv_tcp_getpeername(tcp, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return {};
  char ip[INET6_ADDRSTRLEN] = "?";
  if (addr.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    uv_ip4_name(a, ip, sizeof ip);
    return {ip, std::string(ip) + ":" + std::to_string(ntohs(a->sin_port))};
  }
  if (addr.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    uv_ip6_name(a, ip, sizeof ip);
    return {ip, "[" + std::string(ip) + "]:" + std::to_string(ntohs(a->sin6_port))};
  }
  return {};
}

}  // namespace

struct HttpConnection::Write {
  uv_write_t req{};
  std::string head;
  std::shared_ptr<const void> owner;  // keeps the body's memory alive until written
};

HttpConnection::HttpConnection(uv_loop_t* loop, Owner& owner, const HttpConnectionConfig& config,
                               char* read_buffer, size_t read_buffer_size)
    : loop_(loop),
      owner_(owner),
      config_(config),
      read_buffer_(read_buffer),
      read_buffer_size_(read_buffer_size),
      parser_(config.head) {}

HttpConnection::~HttpConnection() = default;

template <class F>
void HttpConnection::guarded(const char* where, F&& work) noexcept {
  try {
    work();
  } catch (const std::exception& e) {  // out of memory or a bug: this connection ends, the loop goes on
    log_error("http", peer_ + ": internal error in " + where + ": " + e.what());
    close();
  } catch (...) {
    log_error("http", peer_ + ": internal error in " + where);
    close();
  }
}

int HttpConnection::accept(uv_stream_t* listener) {
  if (const int rc = tcp_.init(uv_tcp_init, loop_, this); rc != 0) return rc;
  if (const int rc = uv_accept(listener, tcp_.stream()); rc != 0) return rc;
  const Peer p = peer_of(tcp_.get());
  ip_ = p.ip;
  peer_ = p.display;
  uv_tcp_nodelay(tcp_.get(), 1);  // without it a small playlist waits ~40 ms on Nagle + delayed ACK
  return 0;
}

void HttpConnection::start() {
  last_active_ms_ = uv_now(loop_);
  read_more();
}

// At most one request head's worth per read: what arrives behind a request being answered stays in the
// kernel (which stops the sender) rather than in our memory.
size_t HttpConnection::read_size() const noexcept {
  const size_t head = config_.head.max_uri_bytes + 32 + config_.head.max_header_bytes + 4;
  return std::min(read_buffer_size_, head);
}

void HttpConnection::read_more() {
  if (closed_) return;
  paused_ = false;
  const int rc = uv_read_start(
      tcp_.stream(),
      [](uv_handle_t* h, size_t, uv_buf_t* buf) {
        auto* c = owner_of<HttpConnection>(h);
        *buf =
            c ? uv_buf_init(c->read_buffer_, static_cast<unsigned>(c->read_size())) : uv_buf_init(nullptr, 0);
      },
      [](uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
        auto* c = owner_of<HttpConnection>(s);
        if (!c) return;
        c->guarded("read", [&] {
          if (n < 0) return c->close();
          if (n > 0 && !c->lingering_) c->on_data(std::string_view(buf->base, static_cast<size_t>(n)));
        });
      });
  if (rc != 0) close();
}

void HttpConnection::on_data(std::string_view data) {
  last_active_ms_ = uv_now(loop_);
  while (!data.empty() && !paused_ && !close_when_written_ && !closed_) {
    const bool was_started = parser_.started();
    data.remove_prefix(parser_.feed(data));
    if (!was_started && parser_.started()) request_start_ms_ = last_active_ms_;
    if (parser_.state() == HttpRequestParser::State::need_more) continue;
    if (parser_.state() == HttpRequestParser::State::refused) {
      refuse(parser_.status(), parser_.reason());
      return;
    }
    answer(parser_.request());
    parser_.reset();
  }
  if (paused_ && !closed_ && !data.empty()) unread_.assign(data);
}

void HttpConnection::refuse(int status, const std::string& reason) {
  if (status == 414 || status == 431) {
    owner_.limit_reached(status == 414 ? "http.max_uri_bytes" : "http.max_header_bytes");
    log_warn("http", peer_ + ": " + reason);
  }
  send(text_response(status, reason), false, true);
}

void HttpConnection::answer(const HttpRequest& req, bool may_hold) {
  HttpResponse r = owner_.respond(req);
  if (r.hold_ms > 0 && may_hold && owner_.hold(*this, r)) {
    held_ = req;
    if (!paused_) {  // as while an answer is being written: the next request waits in the kernel
      uv_read_stop(tcp_.stream());
      paused_ = true;
    }
    return;
  }
  const bool head_only = req.method == "HEAD";
  ++requests_;
  const bool keep = req.keep_alive && requests_ < config_.keep_alive_max_requests;
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
  send(r, head_only, !keep, req.minor_version == 0 && keep);
}

void HttpConnection::send(const HttpResponse& r, bool head_only, bool close_after, bool say_keep_alive) {
  if (closed_) return;
  auto w = std::make_unique<Write>();
  std::string& h = w->head;
  h.reserve(320 + r.content_type.size());
  h.append("HTTP/1.1 ")
      .append(std::to_string(r.status))
      .append(" ")
      .append(reason_phrase(r.status))
      .append("\r\n");
  if (!r.content_type.empty()) h.append("Content-Type: ").append(r.content_type).append("\r\n");
  if (r.status != 204) h.append("Content-Length: ").append(std::to_string(r.body.size())).append("\r\n");
  if (!r.cache_control.empty()) h.append("Cache-Control: ").append(r.cache_control).append("\r\n");
  h.append(
      "Access-Control-Allow-Origin: *\r\nAccess-Control-Expose-Headers: Content-Length, Content-Range\r\n");
  if (r.ranges) h.append("Accept-Ranges: bytes\r\n");
  for (const auto& [k, v] : r.headers) h.append(k).append(": ").append(v).append("\r\n");
  h.append("Date: ").append(http_date()).append("\r\n");
  if (close_after) {
    h.append("Connection: close\r\n");
  } else if (say_keep_alive) {
    h.append("Connection: keep-alive\r\n");
  }
  h.append("\r\n");

  const std::string_view body = head_only ? std::string_view() : r.body;
  owner_.sent(r, h.size() + body.size());
  uv_buf_t bufs[2] = {uv_buf_init(h.data(), static_cast<unsigned>(h.size())),
                      uv_buf_init(const_cast<char*>(body.data()), static_cast<unsigned>(body.size()))};
  w->owner = r.owner;
  w->req.data = w.get();
  const int rc =
      uv_write(&w->req, tcp_.stream(), bufs, body.empty() ? 1 : 2, [](uv_write_t* req, int status) {
        std::unique_ptr<Write> done(static_cast<Write*>(req->data));
        if (auto* c = owner_of<HttpConnection>(req->handle)) c->guarded("write", [&] { c->written(status); });
      });
  if (rc != 0) return close();  // the caller sees closed() and stops
  w.release();                  // the write callback frees it
  ++writes_pending_;
  write_progress_ms_ = uv_now(loop_);
  write_queue_bytes_ = unsent_bytes();
  close_when_written_ = close_when_written_ || close_after;
  // Read nothing more until this answer has left (see the top of the header).
  if (!paused_) {
    uv_read_stop(tcp_.stream());
    paused_ = true;
  }
}

void HttpConnection::written(int status) {
  --writes_pending_;
  if (status < 0) return close();
  write_progress_ms_ = last_active_ms_ = uv_now(loop_);
  if (writes_pending_ > 0) return;
  if (close_when_written_) return linger();
  const std::string unread = std::move(unread_);
  unread_.clear();
  read_more();
  if (!unread.empty()) on_data(unread);
}

void HttpConnection::retry(bool give_up) {
  if (!held_ || closed_) return;
  const HttpRequest req = std::move(*held_);
  held_.reset();
  guarded("retry", [&] { answer(req, !give_up); });
}

void HttpConnection::linger() {
  lingering_ = true;
  last_active_ms_ = uv_now(loop_);
  // Freed by its callback, which also runs (cancelled) when the socket closes first.
  auto req = std::make_unique<uv_shutdown_t>();
  if (uv_shutdown(req.get(), tcp_.stream(),
                  [](uv_shutdown_t* r, int) { std::unique_ptr<uv_shutdown_t>{r}; }) != 0)
    return close();
  req.release();
  read_more();
}

// What the client has not received yet: still queued in libuv, or in the kernel's send queue (SIOCOUTQ:
// sent or not, not acknowledged). The kernel's part matters: its buffer grows to megabytes, and while it
// drains to a slow reader libuv's queue does not move at all.
size_t HttpConnection::unsent_bytes() const noexcept {
  size_t n = uv_stream_get_write_queue_size(tcp_.stream());
  uv_os_fd_t fd = -1;
  int in_kernel = 0;
  if (uv_fileno(tcp_.handle(), &fd) == 0 && ioctl(fd, SIOCOUTQ, &in_kernel) == 0 && in_kernel > 0) {
    n += static_cast<size_t>(in_kernel);
  }
  return n;
}

void HttpConnection::sweep(uint64_t now) {
  if (closed_) return;
  guarded("sweep", [&] {
    if (held_) return;  // the owner times held requests out
    if (lingering_) {
      if (now - last_active_ms_ > config_.linger_ms) close();
    } else if (writes_pending_ > 0) {
      // An inactivity timeout, not a deadline for the whole answer: a viewer on a slow link fetching a
      // large segment is fine as long as the socket keeps taking bytes.
      const size_t queued = unsent_bytes();
      if (queued < write_queue_bytes_) {
        write_queue_bytes_ = queued;
        write_progress_ms_ = now;
      } else if (now - write_progress_ms_ > config_.write_timeout_ms) {
        owner_.limit_reached("http.write_timeout_s");
        log_warn("http", peer_ + ": closed: limit http.write_timeout_s reached (the client stopped reading)");
        close();
      }
    } else if (parser_.started()) {
      if (now - request_start_ms_ > config_.read_timeout_ms) {
        owner_.limit_reached("http.read_timeout_s");
        log_warn("http", peer_ + ": closed: limit http.read_timeout_s reached (request head incomplete)");
        refuse(408, "request not received in time (limit http.read_timeout_s)");
      }
    } else if (now - last_active_ms_ > config_.keep_alive_timeout_ms) {
      close();  // an idle keep-alive connection: routine, not worth a line
    }
  });
}

void HttpConnection::close() noexcept {
  if (closed_) return;
  closed_ = true;
  tcp_.close();  // pending write callbacks now find no owner; their requests free themselves
  slot.release();
  unread_.clear();
  owner_.closed(*this);
}

}  // namespace livegate
