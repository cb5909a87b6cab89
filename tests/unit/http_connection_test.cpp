// HttpConnection on a real libuv loop with loopback clients: keep-alive and pipelining, bounded input,
// the read and write (inactivity) timeouts, a client that resets mid-answer, a close or an exception
// raised while a request is being answered. The owner frees closed connections later, as the server does.
#include "http/http_connection.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "loop_fixture.h"

using namespace livegate;
using namespace livegate::testing;
using namespace std::chrono_literals;

namespace {

struct Harness final : HttpConnection::Owner {
  TestLoop loop;
  TestListener listener{loop.get()};
  HttpConnectionConfig config;
  char read_buffer[65536];
  std::vector<std::unique_ptr<HttpConnection>> conns;
  std::vector<HttpConnection*> closed_calls;
  std::vector<std::string> limits;
  std::vector<std::string> paths;
  size_t most_unread = 0;
  std::shared_ptr<const std::string> big = std::make_shared<const std::string>(8 << 20, 'x');
  UvHandle<uv_timer_t> sweeper;

  Harness() {
    config.read_timeout_ms = 500;
    config.write_timeout_ms = 1000;
    config.keep_alive_timeout_ms = 3000;
    config.linger_ms = 200;
    listener.on_connection = [this](uv_stream_t* s) {
      auto c = std::make_unique<HttpConnection>(loop.get(), *this, config, read_buffer, sizeof read_buffer);
      REQUIRE(c->accept(s) == 0);
      c->start();
      conns.push_back(std::move(c));
    };
    sweeper.init(uv_timer_init, loop.get(), this);
    uv_timer_start(
        sweeper.get(),
        [](uv_timer_t* t) {
          auto* h = owner_of<Harness>(t);
          for (auto& c : h->conns) c->sweep(uv_now(t->loop));
        },
        50, 50);
  }

  HttpResponse respond(const HttpRequest& r) override {
    paths.push_back(r.path);
    for (auto& c : conns) most_unread = std::max(most_unread, c->unread_bytes());
    if (r.path == "/throw") throw std::bad_alloc();
    if (r.path == "/close-now") conns.front()->close();  // the owner closes it while it is answering
    if (r.path == "/big") {
      HttpResponse out;
      out.content_type = "video/mp2t";
      out.body = *big;
      out.owner = big;
      return out;
    }
    return text_response(200, "hello " + r.path);
  }
  void sent(const HttpResponse&, size_t) override {}
  void limit_reached(const char* limit) override { limits.emplace_back(limit); }
  bool hold(HttpConnection&, const HttpResponse&) override { return false; }
  void closed(HttpConnection& c) override { closed_calls.push_back(&c); }
};

const char* kGet = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";

size_t count(const std::string& haystack, std::string_view needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("http connection: pipelined requests are answered in order, one at a time") {
  Harness h;
  TestClient c(h.listener.port);
  std::string many;
  for (int i = 0; i < 300; ++i) many += "GET /p" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\n\r\n";
  size_t sent = 0;
  REQUIRE(h.loop.run_until([&] {
    sent += c.send(std::string_view(many).substr(sent));
    c.read();
    return count(c.received, "HTTP/1.1 200 OK") == 300;
  }));
  CHECK(h.paths.size() == 300);
  CHECK(h.paths.front() == "/p0");
  CHECK(h.paths.back() == "/p299");
  CHECK(c.received.find("hello /p0\n") < c.received.find("hello /p1\n"));
  CHECK(h.closed_calls.empty());
}

TEST_CASE("http connection: input behind an answer in flight is bounded by one request head") {
  Harness h;
  TestClient c(h.listener.port, 8192);
  // A large answer the client does not read, and 200 KB of requests behind it, sent at once.
  std::string burst = "GET /big HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string filler(1000, 'f');
  while (burst.size() < 200000) burst += "GET /more HTTP/1.1\r\nHost: x\r\nX-F: " + filler + "\r\n\r\n";
  size_t sent = 0;
  REQUIRE(h.loop.run_until([&] {
    sent += c.send(std::string_view(burst).substr(sent));
    return !h.paths.empty();
  }));
  h.loop.run_for(200ms);
  REQUIRE(h.conns.size() == 1);
  const size_t head_limit = h.config.head.max_uri_bytes + 32 + h.config.head.max_header_bytes + 4;
  CHECK(h.conns[0]->unread_bytes() > 0);
  CHECK(h.conns[0]->unread_bytes() <= head_limit);
  CHECK(h.paths.size() == 1);  // nothing more is parsed until the answer has left
}

TEST_CASE("http connection: a slow but steady reader gets a large answer; one that stops reading is cut") {
  Harness h;
  // Steady: up to 64 KiB every 3 ms through a small receive buffer, slower than the socket could go, and the
  // whole answer takes several write timeouts.
  std::string got;
  bool eof = false;
  std::thread reader([&] {
    TestClient c(h.listener.port, 8192);
    while (!c.send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n")) std::this_thread::sleep_for(1ms);
    const auto give_up = std::chrono::steady_clock::now() + 60s;
    while (!c.eof() && std::chrono::steady_clock::now() < give_up) {
      c.read(64 << 10);
      const size_t head = c.received.find("\r\n\r\n");
      if (head != std::string::npos && c.received.size() - head - 4 >= (8u << 20)) break;
      std::this_thread::sleep_for(3ms);
    }
    got = std::move(c.received);
    eof = c.eof();
  });
  const auto start = std::chrono::steady_clock::now();
  h.loop.run_until([&] { return !got.empty(); }, 70s);
  reader.join();
  const double took_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CAPTURE(took_s);
  CHECK_FALSE(eof);
  const size_t head = got.find("\r\n\r\n");
  REQUIRE(head != std::string::npos);
  CHECK(got.size() - head - 4 == (8u << 20));
  CHECK(h.limits == std::vector<std::string>{});
  CHECK(took_s > 1.0);  // it did take longer than http.write_timeout_s; otherwise the case proves nothing

  // Stopped: reads nothing at all.
  TestClient idle(h.listener.port, 8192);
  idle.send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
  REQUIRE(h.loop.run_until([&] { return !h.limits.empty(); }, 10s));
  CHECK(h.limits == std::vector<std::string>{"http.write_timeout_s"});
  CHECK(h.conns.back()->closed());
}

TEST_CASE("http connection: an unfinished request head gets 408 after the read timeout") {
  Harness h;
  TestClient c(h.listener.port);
  c.send("GET /a HTTP/1.1\r\nHost:");
  REQUIRE(h.loop.run_until([&] {
    c.read();
    return c.eof();
  }));
  CHECK(c.received.rfind("HTTP/1.1 408 Request Timeout\r\n", 0) == 0);
  CHECK(h.limits == std::vector<std::string>{"http.read_timeout_s"});
}

TEST_CASE("http connection: a client that resets in the middle of an answer closes only itself") {
  Harness h;
  {
    TestClient c(h.listener.port, 4096);
    c.send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
    REQUIRE(h.loop.run_until([&] { return h.paths.size() == 1; }));
    h.loop.run_for(50ms);
    c.reset();
  }
  REQUIRE(h.loop.run_until([&] { return h.closed_calls.size() == 1; }));
  h.conns.clear();  // the owner frees it after the callbacks, as the server's reaper does
  TestClient next(h.listener.port);
  next.send(kGet);
  CHECK(h.loop.run_until([&] {
    next.read();
    return next.received.find("hello /a") != std::string::npos;
  }));
}

TEST_CASE("http connection: closed while answering, or by an exception, it stops at once and stays valid") {
  Harness h;
  TestClient a(h.listener.port);
  // Three requests in one read: the first makes the owner close the connection inside respond();
  // nothing more may be parsed, answered or written, and the object must still be usable afterwards.
  a.send(
      "GET /close-now HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHost: "
      "x\r\n\r\n");
  REQUIRE(h.loop.run_until([&] {
    a.read();
    return a.eof();
  }));
  CHECK(h.paths == std::vector<std::string>{"/close-now"});
  CHECK(a.received.empty());
  CHECK(h.closed_calls.size() == 1);
  CHECK(h.conns.front()->closed());
  h.conns.front()->sweep(uv_now(h.loop.get()) + 100000);  // late calls on a closed connection do nothing
  h.conns.front()->close();
  CHECK(h.closed_calls.size() == 1);

  TestClient b(h.listener.port);
  b.send("GET /throw HTTP/1.1\r\nHost: x\r\n\r\n");
  REQUIRE(h.loop.run_until([&] {
    b.read();
    return b.eof();
  }));
  CHECK(h.closed_calls.size() == 2);
  TestClient after(h.listener.port);
  after.send(kGet);
  CHECK(h.loop.run_until([&] {
    after.read();
    return after.received.find("hello /a") != std::string::npos;
  }));
}
