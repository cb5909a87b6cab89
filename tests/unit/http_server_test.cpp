// HttpServer with its own loops and threads: it serves on every loop, refuses past the per-address limit
// (counted), gives the place back when a client leaves, and stops with connections still open.
#include "http/http_server.h"

#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "loop_fixture.h"

using namespace livegate;
using namespace livegate::testing;
using namespace std::chrono_literals;

namespace {

bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

std::string get(uint16_t port, const std::string& path) {
  TestClient c(port);
  c.send("GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  eventually([&] {
    c.read();
    return c.eof();
  });
  return c.received;
}

}  // namespace

TEST_CASE("http server: serves from its loops and refuses past http.max_connections_per_ip") {
  HttpConfig config;
  config.threads = 2;
  config.max_connections_per_ip = 3;
  StreamStore store;
  Metrics metrics;
  HttpServer server(config, store, metrics, HttpServer::Audience::admin);
  REQUIRE(server.start("127.0.0.1", 0));
  for (int i = 0; i < 10; ++i) CHECK(get(server.port(), "/healthz").find("HTTP/1.1 200 OK") == 0);

  std::vector<std::unique_ptr<TestClient>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<TestClient>(server.port()));
    held.back()->send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");  // answered, then kept alive
    REQUIRE(eventually([&] {
      held.back()->read();
      return held.back()->received.find("ok\n") != std::string::npos;
    }));
  }
  TestClient fourth(server.port());
  REQUIRE(eventually([&] {
    fourth.read();
    return fourth.eof();
  }));
  CHECK(fourth.received.empty());
  CHECK(metrics.render().find("livegate_limit_violations_total{limit=\"http.max_connections_per_ip\"} 1") !=
        std::string::npos);
  held.pop_back();  // one leaves: its place comes back once the server has seen it go
  CHECK(eventually([&] { return get(server.port(), "/healthz").find("HTTP/1.1 200 OK") == 0; }));
  server.stop();  // with two connections still open
  server.stop();  // twice is fine
}

TEST_CASE("http server: the viewers' listener hides /metrics unless the token is given") {
  HttpConfig config;
  config.threads = 1;
  StreamStore store;
  Metrics metrics;
  HttpServer server(config, store, metrics, HttpServer::Audience::viewers, "0123456789abcdef");
  REQUIRE(server.start("127.0.0.1", 0));
  CHECK(get(server.port(), "/metrics").find("HTTP/1.1 401 ") == 0);
  TestClient c(server.port());
  c.send(
      "GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer 0123456789abcdef\r\nConnection: "
      "close\r\n\r\n");
  REQUIRE(eventually([&] {
    c.read();
    return c.eof();
  }));
  CHECK(c.received.find("HTTP/1.1 200 OK") == 0);
}
