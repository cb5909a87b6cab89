// One simulated HLS viewer.
#include "tests/bench/player.h"

#include <algorithm>

#include "tests/bench/media_playlist.h"

namespace livegate::bench {
namespace {

// Shared by every connection: the loop is single-threaded and segment bodies are only counted.
char g_read_buffer[1 << 18];

double ms_between(uint64_t from_ns, uint64_t to_ns) { return static_cast<double>(to_ns - from_ns) / 1e6; }

}  // namespace

Player::Player(uv_loop_t* loop, const sockaddr_storage& addr, std::string host, std::string playlist_path,
               const PlayerOptions& options, PlayerTotals& totals)
    : loop_(loop),
      addr_(addr),
      host_(std::move(host)),
      playlist_path_(std::move(playlist_path)),
      options_(options),
      totals_(totals) {
  connect_req_.data = this;
  write_req_.data = this;
}

void Player::start(uint64_t now_ns) {
  started_ = true;
  start_ns_ = now_ns;
  next_reload_ns_ = now_ns;
  next();
}

void Player::connect() {
  connecting_ = true;
  connect_start_ns_ = uv_hrtime();
  if (int rc = tcp_.init(uv_tcp_init, loop_, this); rc != 0) {
    connecting_ = false;
    totals_.error(std::string("tcp init: ") + uv_err_name(rc));
    return;
  }
  uv_tcp_nodelay(tcp_.get(), 1);
  const int rc = uv_tcp_connect(&connect_req_, tcp_.get(), reinterpret_cast<const sockaddr*>(&addr_),
                                &Player::on_connect);
  if (rc != 0) {
    connecting_ = false;
    tcp_.close();
    totals_.error(std::string("connect: ") + uv_err_name(rc));
  }
}

void Player::on_connect(uv_connect_t* req, int status) {
  auto* self = static_cast<Player*>(req->data);
  if (!self->connecting_) return;  // closed meanwhile
  self->connecting_ = false;
  if (status != 0) {
    self->tcp_.close();
    self->in_flight_ = false;
    self->retry_ns_ = uv_hrtime() + self->options_.reconnect_delay_ms * 1'000'000;
    self->totals_.error(std::string("connect: ") + uv_err_name(status));
    return;
  }
  self->connected_ = true;
  self->totals_.connect_ms.push_back(ms_between(self->connect_start_ns_, uv_hrtime()));
  uv_read_start(
      self->tcp_.stream(),
      [](uv_handle_t*, size_t, uv_buf_t* buf) { *buf = uv_buf_init(g_read_buffer, sizeof g_read_buffer); },
      &Player::on_read);
  self->next();
}

void Player::next() {
  // One request at a time; and the write request is reused, so its previous use must have completed.
  if (stopped_ || in_flight_ || connecting_ || write_pending_) return;
  Kind kind;
  std::string path;
  // Like hls.js: a due reload goes before further segments, so the player learns of new ones in time.
  if (playlist_wanted_ || segments_.empty()) {
    if (!playlist_wanted_) return;
    kind = Kind::playlist;
    path = playlist_path_;
  } else {
    kind = Kind::segment;
    path = segments_.front();
  }
  if (!connected_) {
    if (uv_hrtime() < retry_ns_) return;
    connect();
    return;  // on_connect calls next() again
  }
  send(kind, path);
}

void Player::send(Kind kind, const std::string& path) {
  kind_ = kind;
  if (kind == Kind::playlist) {
    playlist_wanted_ = false;
  } else {
    segments_.pop_front();
  }
  request_ = "GET " + path + " HTTP/1.1\r\nHost: " + host_ + "\r\nUser-Agent: livegate-players\r\nAccept: */*\r\n\r\n";
  reader_.reset(kind == Kind::playlist);
  in_flight_ = true;
  request_ns_ = uv_hrtime();
  uv_buf_t buf = uv_buf_init(request_.data(), static_cast<unsigned>(request_.size()));
  if (int rc = uv_write(&write_req_, tcp_.stream(), &buf, 1, &Player::on_write); rc != 0) {
    drop(std::string("write: ") + uv_err_name(rc));
    return;
  }
  write_pending_ = true;
}

void Player::on_write(uv_write_t* req, int status) {
  auto* self = static_cast<Player*>(req->data);
  self->write_pending_ = false;
  if (status != 0 && status != UV_ECANCELED && self->connected_) self->drop(std::string("write: ") + uv_err_name(status));
  self->next();
}

void Player::on_read(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
  auto* self = owner_of<Player>(s);
  if (self == nullptr || n == 0) return;
  if (n < 0) {
    // The server may close an idle keep-alive connection; only a close during a response is an error.
    if (self->in_flight_) {
      self->drop(n == UV_EOF ? "closed during a response" : std::string("read: ") + uv_err_name(int(n)));
    } else {
      ++self->totals_.reconnects;
      self->drop("");
    }
    return;
  }
  Bytes in(reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(n));
  if (!self->in_flight_) return self->drop("bytes without a request");
  auto used = self->reader_.feed(in);
  if (!used) return self->drop(used.error());
  if (!self->reader_.complete()) return;
  if (*used != in.size()) return self->drop("bytes after the response");
  self->on_response();
}

void Player::on_response() {
  const uint64_t now = uv_hrtime();
  const double ms = ms_between(request_ns_, now);
  in_flight_ = false;
  const int status = reader_.status();
  if (status != 200) {
    totals_.error((kind_ == Kind::playlist ? "playlist HTTP " : "segment HTTP ") + std::to_string(status));
  } else if (kind_ == Kind::playlist) {
    if (totals_.measuring) totals_.playlist_ms.push_back(ms);
    if (!answered_) {
      answered_ = true;
      totals_.first_response_ms.push_back(ms_between(start_ns_, now));
    }
    on_playlist(reader_.body());
  } else {
    if (totals_.measuring) {
      totals_.segment_ms.push_back(ms);
      totals_.segment_bytes += reader_.body_bytes();
      if (ms > target_duration_s_ * 1000) ++totals_.late_segments;
    }
  }
  if (!reader_.keep_alive()) drop("");
  next();
}

void Player::on_playlist(const std::string& body) {
  auto p = parse_media_playlist(body);
  if (!p) return totals_.error(p.error());
  target_duration_s_ = p->target_duration_s;
  const uint64_t end = p->media_sequence + p->uris.size();
  if (!have_position_) {
    // Join at the live edge as hls.js does: a few segments back from the newest.
    next_seq_ = end - std::min<uint64_t>(p->uris.size(), options_.live_edge_segments);
    have_position_ = true;
  }
  // A player that fell behind the window skips to its start, as hls.js does.
  next_seq_ = std::max(next_seq_, p->media_sequence);
  for (; next_seq_ < end; ++next_seq_) {
    segments_.push_back(resolve_uri(playlist_path_, p->uris[next_seq_ - p->media_sequence]));
  }
}

void Player::tick(uint64_t now_ns) {
  if (!started_ || stopped_) return;
  if (in_flight_ && now_ns - request_ns_ > options_.request_timeout_ms * 1'000'000) {
    drop(kind_ == Kind::playlist ? "playlist timeout" : "segment timeout");
  }
  // Reload every target duration (hls.js reloads a changed live playlist after one target duration).
  if (now_ns >= next_reload_ns_) {
    const double period_s = target_duration_s_ > 0 ? target_duration_s_ : 1;
    next_reload_ns_ = now_ns + static_cast<uint64_t>(period_s * 1e9);
    playlist_wanted_ = true;
  }
  next();
}

void Player::drop(const std::string& error) {
  if (!error.empty()) {
    totals_.error(error);
    retry_ns_ = uv_hrtime() + options_.reconnect_delay_ms * 1'000'000;
  }
  in_flight_ = false;
  connected_ = false;
  connecting_ = false;
  tcp_.close();
}

void Player::stop() {
  stopped_ = true;
  drop("");
}

}  // namespace livegate::bench
