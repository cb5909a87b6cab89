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

TEST_CASE("http server: a blocked playlist request is answered when the part is published, or 503 in time") {
  HttpConfig config;
  config.threads = 2;
  StreamStore store;
  Metrics metrics;
  auto snapshot = [](size_t parts, const char* text) {
    auto hls = std::make_shared<HlsSnapshot>();
    hls->target_duration_s = 1;  // held at most 3 s
    hls->cmaf.text = text;
    hls->ll.part_target_ms = 333;
    hls->ll.open_seq = 0;
    hls->ll.preload_hint = "t-0." + std::to_string(parts) + ".m4s";
    auto bytes = std::make_shared<const std::vector<uint8_t>>(parts * 4, 7);
    for (size_t i = 0; i < parts; ++i) {
      Part p;
      p.index = static_cast<uint32_t>(i);
      p.uri = "t-0." + std::to_string(i) + ".m4s";
      p.buffer = bytes;
      p.offset = i * 4;
      p.size = 4;
      hls->ll.open_parts.push_back(p);
    }
    return hls;
  };
  store.put_hls("live/cam", snapshot(1, "#EXTM3U\n#one\n"));
  HttpServer server(config, store, metrics);
  REQUIRE(server.start("127.0.0.1", 0));

  TestClient playlist(server.port());
  playlist.send("GET /live/cam/ll.m3u8?_HLS_msn=0&_HLS_part=1 HTTP/1.1\r\nHost: x\r\n\r\n");
  TestClient part(server.port());
  part.send("GET /live/cam/t-0.1.m4s HTTP/1.1\r\nHost: x\r\n\r\n");
  REQUIRE(eventually([&] { return server.held_requests() == 2; }));
  playlist.read();
  part.read();
  CHECK(playlist.received.empty());
  CHECK(part.received.empty());
  store.put_hls("live/cam", snapshot(2, "#EXTM3U\n#two\n"));  // the part is out: both are answered
  CHECK(eventually([&] {
    playlist.read();
    return playlist.received.find("#two\n") != std::string::npos;
  }));
  CHECK(playlist.received.find("HTTP/1.1 200 OK") == 0);
  CHECK(playlist.received.find("Cache-Control: public, max-age=3") != std::string::npos);
  CHECK(eventually([&] {
    part.read();
    return part.received.find("Content-Length: 4\r\n") != std::string::npos;
  }));
  CHECK(part.received.find("HTTP/1.1 200 OK") == 0);
  CHECK(server.held_requests() == 0);
  // Both answers are timed from the publish; the 503 below is not.
  const auto held_answers = [&] {
    const std::string text = metrics.render(), name = "livegate_http_held_answer_seconds_count ";
    const auto at = text.find(name);
    if (at == std::string::npos) return std::string("none");
    const auto from = at + name.size();
    return text.substr(from, text.find('\n', from) - from);
  };
  CHECK(held_answers() == "2");

  // The same connection asks for a part that does not come: 503 after three target durations.
  playlist.received.clear();
  playlist.send("GET /live/cam/ll.m3u8?_HLS_msn=0&_HLS_part=2 HTTP/1.1\r\nHost: x\r\n\r\n");
  REQUIRE(eventually([&] { return server.held_requests() == 1; }));
  store.put_hls("live/other", snapshot(1, "#EXTM3U\n"));  // another stream's news changes nothing
  CHECK(eventually([&] {
    playlist.read();
    return playlist.received.find("\r\n\r\n") != std::string::npos;
  }));
  CHECK(playlist.received.find("HTTP/1.1 503 Service Unavailable") == 0);
  CHECK(server.held_requests() == 0);
  CHECK(held_answers() == "2");

  // A held client that goes away is forgotten.
  {
    TestClient gone(server.port());
    gone.send("GET /live/cam/ll.m3u8?_HLS_msn=1 HTTP/1.1\r\nHost: x\r\n\r\n");
    REQUIRE(eventually([&] { return server.held_requests() == 1; }));
  }
  store.put_hls("live/cam", snapshot(3, "#EXTM3U\n#three\n"));  // retried: the write fails or is held again
  server.stop();                                                // with a request possibly still held
}
