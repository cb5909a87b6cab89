// libuv plumbing for RTMP: sockets in, Session bytes out; the protocol lives in Session.
#include "ingest/rtmp_server.h"

#include <cstring>

#include "common/guard.h"
#include "common/log.h"
#include "ingest/session.h"

namespace livegate {
namespace {

constexpr uint64_t kSweepIntervalMs = 250;

// The peer's address as the socket reports it (never anything the client sends).
struct PeerAddress {
  std::string ip;
  std::string display;  // "ip:port" or "[ip6]:port"
};

PeerAddress peer_address(const uv_tcp_t* tcp) {
  sockaddr_storage addr{};
  int len = sizeof addr;
  if (uv_tcp_getpeername(tcp, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return {"?", "?"};
  char ip[INET6_ADDRSTRLEN] = "?";
  if (addr.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    uv_ip4_name(a, ip, sizeof ip);
    return {ip, std::string(ip) + ":" + std::to_string(ntohs(a->sin_port))};
  }
  const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
  uv_ip6_name(a, ip, sizeof ip);
  return {ip, "[" + std::string(ip) + "]:" + std::to_string(ntohs(a->sin6_port))};
}

struct WriteRequest {
  uv_write_t req{};
  std::vector<uint8_t> data;
};

}  // namespace

class RtmpServer::Connection {
 public:
  Connection(RtmpServer& server, uint64_t id, UvHandle<uv_tcp_t> tcp, const PeerAddress& peer,
             ConnectionLimiter::Slot slot)
      : server_(server),
        id_(id),
        tcp_(std::move(tcp)),
        slot_(std::move(slot)),
        session_(server.config_, server.registry_, server.authorizer_, peer.display, peer.ip, id),
        accepted_ms_(uv_now(server.loop_)) {
    tcp_.handle()->data = this;
    uv_tcp_nodelay(tcp_.get(), 1);
    // Runs from a LoopPoster callback when an asynchronous publish decision arrives.
    session_.set_output_ready([this] {
      guarded("publish decision", [this] {
        if (flush() && session_.closing()) close("refused");
      });
    });
  }

  int start() {
    paused_ = false;
    return uv_read_start(
        tcp_.stream(),
        [](uv_handle_t* h, size_t, uv_buf_t* buf) {
          auto* self = owner_of<Connection>(h);
          *buf = self ? uv_buf_init(self->server_.read_buf_.data(), self->server_.read_buf_.size())
                      : uv_buf_init(nullptr, 0);
        },
        [](uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
          if (auto* self = owner_of<Connection>(s)) self->guarded("read", [&] { self->on_read(n, buf); });
        });
  }

  void resume() {
    if (const int rc = start(); rc != 0) close(std::string("read error: ") + uv_strerror(rc));
  }

  const Session& session() const noexcept { return session_; }

  // Every libuv callback runs its work through this: an exception (out of memory, a bug) ends this
  // connection alone and never unwinds into libuv's C frames.
  template <class F>
  void guarded(const char* where, F&& work) noexcept {
    try {
      work();
    } catch (const std::exception& e) {
      fail(where, e.what());
    } catch (...) {
      fail(where, "unknown exception");
    }
  }

  // Returns the reason this connection should be closed now, or an empty string.
  std::string check_timeouts(uint64_t now) {
    const RtmpConfig& c = server_.config_;
    switch (session_.state()) {
      case Session::State::handshake:
        if (now - accepted_ms_ > c.handshake_timeout_ms) return "limit handshake_timeout_ms reached";
        break;
      case Session::State::connecting:
      case Session::State::connected:
      case Session::State::authorizing:
        if (now - handshake_done_ms_ > c.publish_timeout_ms)
          return "limit publish_timeout_ms reached without a publish";
        break;
      case Session::State::publishing:
        if (session_.media_messages() != last_media_count_) {
          last_media_count_ = session_.media_messages();
          last_media_ms_ = now;
        } else if (last_media_ms_ == 0) {
          last_media_ms_ = now;
        } else if (now - last_media_ms_ > c.idle_timeout_ms) {
          return "limit idle_timeout_ms reached: no media";
        }
        break;
    }
    return {};
  }

  // A limit is always worth a line; a client that leaves before connecting is not. The connection is
  // freed later (RtmpServer::destroy), so a caller further up this stack may still look at it.
  void close(const std::string& reason) {
    if (closed_) return;
    closed_ = true;
    if (!session_.refusal().empty()) {
      server_.metrics_
          .counter("livegate_publish_refusals_total", "Publishers refused, by reason.",
                   {{"reason", session_.refusal()}})
          .fetch_add(1, std::memory_order_relaxed);
      if (!session_.refused_by_limit().empty()) server_.count_limit("limit " + session_.refused_by_limit());
    } else {
      server_.count_limit(reason);
    }
    if (reason.rfind("limit ", 0) == 0) {
      log_warn(session_.subject(), "closed: " + reason);
    } else if (session_.state() == Session::State::publishing ||
               session_.state() == Session::State::connected) {
      log_info(session_.subject(), "closed: " + reason);
    } else {
      log_debug(session_.subject(), "closed: " + reason);
    }
    session_.close();  // ends its publication now: the playlist must not wait for the memory to go
    tcp_.close();      // callbacks still due find no owner
    slot_.release();
    server_.destroy(id_);
  }

 private:
  void fail(const char* where, const char* what) noexcept {
    log_error(session_.subject(), std::string("internal error in ") + where + ": " + what);
    try {
      close("internal error");
    } catch (...) {
      // Out of memory while closing: the socket stays until shutdown, nothing else is harmed.
    }
  }

  void on_read(ssize_t n, const uv_buf_t* buf) {
    if (n == 0 || closed_) return;
    if (n < 0) {
      close(n == UV_EOF ? "peer closed the connection" : std::string("read error: ") + uv_strerror(n));
      return;
    }
    server_.received_bytes_total_.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
    Status s = session_.feed(Bytes(reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(n)));
    if (handshake_done_ms_ == 0 && session_.state() != Session::State::handshake) {
      handshake_done_ms_ = uv_now(server_.loop_);
    }
    if (s && session_.buffered_bytes() > server_.config_.max_buffered_bytes) {
      s = Error{"limit max_buffered_bytes (" + std::to_string(server_.config_.max_buffered_bytes) +
                ") reached: " + std::to_string(session_.buffered_bytes()) + " bytes of unfinished messages"};
    }
    const bool closing = session_.closing();
    if (!flush()) return;
    if (!s) {
      log_warn(session_.subject(), s.error());
      server_.count_limit(s.error());
      close("protocol error");
    } else if (closing) {
      close("refused");
    }
  }

  // Returns false when the connection was closed (and *this destroyed).
  bool flush() {
    if (closed_) return false;
    std::vector<uint8_t>& out = session_.output();
    if (out.empty()) return true;
    size_t sent = 0;
    if (pending_ == 0) {  // only when nothing is queued, or bytes would leave out of order
      uv_buf_t b = uv_buf_init(reinterpret_cast<char*>(out.data()), out.size());
      const int rc = uv_try_write(tcp_.stream(), &b, 1);
      if (rc > 0) sent = static_cast<size_t>(rc);
    }
    if (sent < out.size()) {
      auto req = std::make_unique<WriteRequest>();
      req->data.assign(out.begin() + static_cast<ptrdiff_t>(sent), out.end());
      pending_ += req->data.size();
      uv_buf_t b = uv_buf_init(reinterpret_cast<char*>(req->data.data()), req->data.size());
      const int rc = uv_write(&req->req, tcp_.stream(), &b, 1, [](uv_write_t* r, int status) {
        std::unique_ptr<WriteRequest> owned(reinterpret_cast<WriteRequest*>(r));
        auto* self = owner_of<Connection>(r->handle);
        if (!self) return;  // connection already closed; libuv cancels its writes
        self->guarded("write", [&] {
          self->pending_ -= owned->data.size();
          if (status < 0) return self->close(std::string("write error: ") + uv_strerror(status));
          if (self->pending_ == 0 && self->paused_) self->resume();
        });
      });
      if (rc == 0) {
        req.release();  // owned by libuv until the callback
      } else {
        pending_ -= req->data.size();
      }
      // Backpressure: answers only follow input, so a peer that does not read its answers is not read
      // either until they drain; a stuck one meets its publish or idle timeout.
      if (pending_ >= server_.config_.max_buffered_bytes && !paused_) {
        paused_ = true;
        uv_read_stop(tcp_.stream());
        log_debug(session_.subject(), "reading paused: the peer does not read its answers");
      }
    }
    out.clear();
    return true;
  }

  RtmpServer& server_;
  uint64_t id_;
  UvHandle<uv_tcp_t> tcp_;
  ConnectionLimiter::Slot slot_;
  Session session_;
  uint64_t accepted_ms_;
  uint64_t handshake_done_ms_ = 0;
  uint64_t last_media_count_ = 0;
  uint64_t last_media_ms_ = 0;
  size_t pending_ = 0;
  bool paused_ = false;  // reading stopped until pending_ drains
  bool closed_ = false;
};

RtmpServer::RtmpServer(uv_loop_t* loop, const RtmpConfig& config, StreamRegistry& registry,
                       PublishAuthorizer* authorizer, Metrics& metrics)
    : loop_(loop),
      config_(config),
      registry_(registry),
      authorizer_(authorizer),
      metrics_(metrics),
      accepted_total_(
          metrics.counter("livegate_rtmp_connections_accepted_total",
                          "RTMP connections accepted (those refused at accept count as limit violations).")),
      received_bytes_total_(
          metrics.counter("livegate_rtmp_received_bytes_total", "Bytes read from RTMP clients.")),
      limiter_(config.max_connections, config.max_connections_per_ip) {
  reaper_.init(uv_idle_init, loop_, this);
}

RtmpServer::~RtmpServer() {
  stop();
  graveyard_.clear();
}

Status RtmpServer::listen(const std::string& address, uint16_t port) {
  sockaddr_storage addr{};
  if (uv_ip4_addr(address.c_str(), port, reinterpret_cast<sockaddr_in*>(&addr)) != 0 &&
      uv_ip6_addr(address.c_str(), port, reinterpret_cast<sockaddr_in6*>(&addr)) != 0) {
    return Error{"rtmp: bad bind address " + address};
  }
  if (int rc = listener_.init(uv_tcp_init, loop_, this); rc != 0) return Error{uv_strerror(rc)};
  if (int rc = uv_tcp_bind(listener_.get(), reinterpret_cast<const sockaddr*>(&addr), 0); rc != 0) {
    return Error{"rtmp: cannot bind " + address + ":" + std::to_string(port) + ": " + uv_strerror(rc)};
  }
  const int rc = uv_listen(listener_.stream(), 511, [](uv_stream_t* s, int status) {
    if (auto* self = owner_of<RtmpServer>(s))
      guard_callback("rtmp accept", [&] { self->on_connection(status); });
  });
  if (rc != 0)
    return Error{"rtmp: cannot listen on " + address + ":" + std::to_string(port) + ": " + uv_strerror(rc)};
  sockaddr_storage bound{};
  int len = sizeof bound;
  uv_tcp_getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&bound), &len);
  port_ = ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);  // same offset for IPv6

  if (int t = sweep_timer_.init(uv_timer_init, loop_, this); t != 0) return Error{uv_strerror(t)};
  uv_timer_start(
      sweep_timer_.get(),
      [](uv_timer_t* t) {
        if (auto* self = owner_of<RtmpServer>(t)) guard_callback("rtmp sweep", [&] { self->sweep(); });
      },
      kSweepIntervalMs, kSweepIntervalMs);
  return {};
}

void RtmpServer::on_connection(int status) {
  if (status < 0) {
    log_warn("rtmp", std::string("accept failed: ") + uv_strerror(status));
    return;
  }
  UvHandle<uv_tcp_t> tcp;
  if (tcp.init(uv_tcp_init, loop_, nullptr) != 0) return;
  if (uv_accept(listener_.stream(), tcp.stream()) != 0) return;
  const PeerAddress peer = peer_address(tcp.get());
  // Both refusals close the socket at once (tcp's destructor) and cost nothing more.
  ConnectionLimiter::Refusal refused{};
  ConnectionLimiter::Slot slot = limiter_.acquire(peer.ip, refused);
  if (!slot) {
    const bool total = refused == ConnectionLimiter::Refusal::total;
    const char* limit = total ? "max_connections" : "max_connections_per_ip";
    const uint32_t value = total ? config_.max_connections : config_.max_connections_per_ip;
    log_warn("rtmp",
             "refused " + peer.display + ": limit " + limit + " (" + std::to_string(value) + ") reached");
    count_limit(std::string("limit ") + limit);
    return;
  }
  const uint64_t id = next_id_++;
  auto conn = std::make_unique<Connection>(*this, id, std::move(tcp), peer, std::move(slot));
  if (conn->start() != 0) return;  // the slot goes with it
  log_debug(conn->session().subject(), "accepted");
  accepted_total_.fetch_add(1, std::memory_order_relaxed);
  conns_.emplace(id, std::move(conn));
}

void RtmpServer::sweep() {
  const uint64_t now = uv_now(loop_);
  std::vector<std::pair<uint64_t, std::string>> expired;
  for (auto& [id, conn] : conns_) {
    if (std::string why = conn->check_timeouts(now); !why.empty()) expired.emplace_back(id, std::move(why));
  }
  for (auto& [id, why] : expired) {
    if (auto it = conns_.find(id); it != conns_.end()) it->second->close(why);
  }
}

void RtmpServer::destroy(uint64_t id) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  graveyard_.push_back(std::move(it->second));
  conns_.erase(it);
  if (reaper_ && !uv_is_active(reaper_.handle())) {
    uv_idle_start(reaper_.get(), [](uv_idle_t* h) {
      if (auto* self = owner_of<RtmpServer>(h)) {
        self->graveyard_.clear();
        uv_idle_stop(h);
      }
    });
  }
}

void RtmpServer::count_limit(std::string_view message) {
  const std::string_view key = limit_named_in(message);
  if (key.empty()) return;
  metrics_
      .counter("livegate_limit_violations_total",
               "Connections, requests or publishes stopped by a configured limit, by its config key.",
               {{"limit", "rtmp." + std::string(key)}})
      .fetch_add(1, std::memory_order_relaxed);
}

void RtmpServer::stop() {
  listener_.close();
  sweep_timer_.close();
  while (!conns_.empty()) conns_.begin()->second->close("server shutting down");
  graveyard_.clear();  // not inside any connection's callback here
  reaper_.close();
}

}  // namespace livegate
