// A keep-alive HTTP client connection for the simulated players.
#include "tests/bench/fetcher.h"

#include <utility>

namespace livegate::bench {
namespace {

char g_read_buffer[1 << 18];  // one loop: each read is consumed before the next

}  // namespace

Fetcher::Fetcher(uv_loop_t* loop, const sockaddr_storage& addr, std::string host, uint64_t timeout_ms)
    : loop_(loop), addr_(addr), host_(std::move(host)), timeout_ms_(timeout_ms) {
  connect_req_.data = this;
  write_req_.data = this;
}

void Fetcher::get(const std::string& path, bool keep_body, Done done) {
  busy_ = true;
  done_ = std::move(done);
  answer_ = Answer{};
  answer_.sent_ns = uv_hrtime();
  request_ = "GET " + path + " HTTP/1.1\r\nHost: " + host_ +
             "\r\nUser-Agent: livegate-players\r\nAccept: */*\r\n\r\n";
  reader_.reset(keep_body);
  if (connected_) return write_request();
  if (int rc = tcp_.init(uv_tcp_init, loop_, this); rc != 0)
    return finish(0, std::string("tcp: ") + uv_err_name(rc));
  uv_tcp_nodelay(tcp_.get(), 1);
  if (int rc =
          uv_tcp_connect(&connect_req_, tcp_.get(), reinterpret_cast<const sockaddr*>(&addr_), &on_connect);
      rc != 0) {
    tcp_.close();
    return finish(0, std::string("connect: ") + uv_err_name(rc));
  }
}

void Fetcher::on_connect(uv_connect_t* req, int status) {
  auto* self = static_cast<Fetcher*>(req->data);
  if (!self->busy_ || !self->tcp_) return;  // given up meanwhile
  if (status != 0) {
    self->tcp_.close();
    return self->finish(0, std::string("connect: ") + uv_err_name(status));
  }
  self->connected_ = true;
  uv_read_start(
      self->tcp_.stream(),
      [](uv_handle_t*, size_t, uv_buf_t* buf) { *buf = uv_buf_init(g_read_buffer, sizeof g_read_buffer); },
      &on_read);
  self->write_request();
}

void Fetcher::write_request() {
  if (write_pending_) return finish(0, "write still pending");  // the reused write request is not free yet
  uv_buf_t buf = uv_buf_init(request_.data(), static_cast<unsigned>(request_.size()));
  const int rc = uv_write(&write_req_, tcp_.stream(), &buf, 1, [](uv_write_t* req, int) {
    static_cast<Fetcher*>(req->data)->write_pending_ = false;  // errors show up as a failed read
  });
  if (rc != 0) {
    close();
    return finish(0, std::string("write: ") + uv_err_name(rc));
  }
  write_pending_ = true;
}

void Fetcher::on_read(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
  auto* self = owner_of<Fetcher>(s);
  if (self == nullptr || n == 0) return;
  if (n < 0) {
    self->close();  // an idle keep-alive connection the server closed is no error
    if (self->busy_)
      self->finish(0, n == UV_EOF ? "closed during a response" : std::string("read: ") + uv_err_name(int(n)));
    return;
  }
  const Bytes in(reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(n));
  if (!self->busy_) {
    self->close();
    return;
  }
  auto used = self->reader_.feed(in);
  if (!used) {
    self->close();
    return self->finish(0, used.error());
  }
  if (!self->reader_.complete()) return;
  if (*used != in.size() || !self->reader_.keep_alive()) self->close();
  self->finish(self->reader_.status(), "");
}

void Fetcher::finish(int status, std::string error) {
  busy_ = false;
  answer_.status = status;
  answer_.error = std::move(error);
  answer_.done_ns = uv_hrtime();
  answer_.body = &reader_.body();
  answer_.body_bytes = reader_.body_bytes();
  Done done = std::move(done_);  // it may start the next request
  done_ = nullptr;
  if (done) done(answer_);
}

void Fetcher::tick(uint64_t now_ns) {
  if (busy_ && now_ns - answer_.sent_ns > timeout_ms_ * 1'000'000) {
    close();
    finish(0, "timeout");
  }
}

void Fetcher::close() {
  connected_ = false;
  tcp_.close();  // cancels a pending write: its callback runs before a new connection can be made
}

}  // namespace livegate::bench
