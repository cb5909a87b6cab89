// A real libuv loop for unit tests of classes that own handles, and a plain loopback TCP client whose
// non-blocking calls interleave with the loop on the test thread.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "common/uv_handle.h"

namespace livegate::testing {

class TestLoop {
 public:
  TestLoop() { uv_loop_init(&loop_); }
  ~TestLoop() {
    // Whatever the test left open is closed here, so the loop can end.
    uv_walk(
        &loop_,
        [](uv_handle_t* h, void*) {
          if (!uv_is_closing(h)) uv_close(h, nullptr);
        },
        nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
  }
  uv_loop_t* get() noexcept { return &loop_; }

  // Runs the loop until `done` holds or `timeout` passes; returns `done()`.
  bool run_until(const std::function<bool()>& done,
                 std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      uv_run(&loop_, UV_RUN_NOWAIT);
      usleep(1000);
    }
    return true;
  }
  // Runs the loop for `time`, whatever happens.
  void run_for(std::chrono::milliseconds time) {
    run_until([] { return false; }, time);
  }

 private:
  uv_loop_t loop_{};
};

// A listening TCP socket on 127.0.0.1 with a free port, owned by the loop.
struct TestListener {
  UvHandle<uv_tcp_t> tcp;
  uint16_t port = 0;
  std::function<void(uv_stream_t*)> on_connection;

  explicit TestListener(uv_loop_t* loop) {
    tcp.init(uv_tcp_init, loop, this);
    sockaddr_in addr{};
    uv_ip4_addr("127.0.0.1", 0, &addr);
    uv_tcp_bind(tcp.get(), reinterpret_cast<const sockaddr*>(&addr), 0);
    uv_listen(tcp.stream(), 128, [](uv_stream_t* s, int status) {
      auto* self = owner_of<TestListener>(s);
      if (self && status == 0 && self->on_connection) self->on_connection(s);
    });
    sockaddr_in bound{};
    int len = sizeof bound;
    uv_tcp_getsockname(tcp.get(), reinterpret_cast<sockaddr*>(&bound), &len);
    port = ntohs(bound.sin_port);
  }
};

class TestClient {
 public:
  // `rcvbuf` > 0 shrinks the receive buffer (before connecting), to make a slow reader.
  explicit TestClient(uint16_t port, int rcvbuf = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf > 0) setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
    fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) | O_NONBLOCK);
  }
  ~TestClient() { close(); }
  TestClient(const TestClient&) = delete;
  TestClient& operator=(const TestClient&) = delete;

  bool connected() const noexcept { return connected_; }
  // Sends what the socket takes now (small requests go whole); returns the bytes sent.
  size_t send(std::string_view data) {
    const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    return n > 0 ? static_cast<size_t>(n) : 0;
  }
  // Reads up to `max` bytes that are there now into received; returns how many.
  size_t read(size_t max = 1 << 20) {
    std::string buf(max, '\0');
    const ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
    if (n == 0) eof_ = true;
    if (n <= 0) return 0;
    received.append(buf.data(), static_cast<size_t>(n));
    return static_cast<size_t>(n);
  }
  bool eof() const noexcept { return eof_; }
  // Closes with a reset instead of a FIN.
  void reset() {
    linger l{1, 0};
    setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close();
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  std::string received;

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool eof_ = false;
};

}  // namespace livegate::testing
