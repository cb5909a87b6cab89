// RtmpServer on a real libuv loop with loopback clients: the connection limits and their per-address
// table, the timeouts its sweep applies, a publish over a socket and its end when the socket resets, and
// an exception raised by a subscriber, which closes that connection alone.
#include "ingest/rtmp_server.h"

#include <doctest/doctest.h>

#include <stdexcept>
#include <vector>

#include "loop_fixture.h"
#include "recording_sink.h"
#include "rtmp_test_client.h"

using namespace livegate;
using namespace livegate::testing;
using namespace std::chrono_literals;
using V = amf0::Value;

namespace {

struct Rig {
  TestLoop loop;
  RtmpConfig config;
  Metrics metrics;
  StreamRegistry registry{16};
  RecordingSink sink;
  std::unique_ptr<RtmpServer> server;
  bool handshake_answered = false;

  explicit Rig(RtmpConfig c = {}) : config(std::move(c)) {
    registry.subscribe(&sink);
    server = std::make_unique<RtmpServer>(loop.get(), config, registry, nullptr, metrics);
    REQUIRE(server->listen("127.0.0.1", 0));
  }
  uint16_t port() const { return server->port(); }

  // Sends `bytes` and runs the loop until the RTMP client has taken the server's answer; returns what the
  // client wants to send back (C2 during the handshake).
  std::vector<uint8_t> talk(TestClient& tcp, RtmpTestClient& rtmp, const std::vector<uint8_t>& bytes,
                            const std::function<bool()>& until) {
    tcp.send(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    std::vector<uint8_t> reply;
    loop.run_until([&] {
      tcp.read();
      if (!tcp.received.empty()) {
        std::vector<uint8_t> in(tcp.received.begin(), tcp.received.end());
        tcp.received.clear();
        const std::vector<uint8_t> r = rtmp.receive(in);
        reply.insert(reply.end(), r.begin(), r.end());
        handshake_answered = handshake_answered || !r.empty();
      }
      return until() || tcp.eof();  // a closed connection answers nothing more
    });
    return reply;
  }

  void publish(TestClient& tcp, RtmpTestClient& rtmp, const std::string& key) {
    // The server's S0+S1+S2 make the client answer C2, which goes out with connect.
    handshake_answered = false;
    std::vector<uint8_t> first =
        talk(tcp, rtmp, rtmp.start(), [&] { return handshake_answered || !rtmp.error.empty(); });
    REQUIRE(rtmp.error.empty());
    const auto connect =
        rtmp.command(0, {V::String("connect"), V::Number(1),
                         V::Object({{"app", V::String("live")}, {"tcUrl", V::String("rtmp://x/live")}})});
    first.insert(first.end(), connect.begin(), connect.end());
    talk(tcp, rtmp, first, [&] { return rtmp.last_code() == "NetConnection.Connect.Success"; });
    talk(tcp, rtmp, rtmp.command(0, {V::String("createStream"), V::Number(2), V::Null()}),
         [&] { return rtmp.received_command("_result") && rtmp.commands.size() >= 3; });
    talk(tcp, rtmp,
         rtmp.command(1, {V::String("publish"), V::Number(3), V::Null(), V::String(key), V::String("live")}),
         [&] { return rtmp.last_code().rfind("NetStream.Publish.", 0) == 0; });
  }
};

}  // namespace

TEST_CASE("rtmp server: connection limits refuse at accept and leave nothing behind in the address table") {
  RtmpConfig c;
  c.max_connections = 5;
  c.max_connections_per_ip = 3;
  Rig r(c);
  std::vector<std::unique_ptr<TestClient>> clients;
  for (int i = 0; i < 3; ++i) clients.push_back(std::make_unique<TestClient>(r.port()));
  REQUIRE(r.loop.run_until([&] { return r.server->connections() == 3; }));
  TestClient fourth(r.port());
  REQUIRE(r.loop.run_until([&] {
    fourth.read();
    return fourth.eof();
  }));
  CHECK(r.server->connections() == 3);
  CHECK(r.server->addresses() == 1);
  CHECK(r.metrics.render().find("livegate_limit_violations_total{limit=\"rtmp.max_connections_per_ip\"} 1") !=
        std::string::npos);
  clients.clear();
  REQUIRE(r.loop.run_until([&] { return r.server->connections() == 0; }));
  CHECK(r.server->addresses() == 0);
  TestClient again(r.port());
  CHECK(r.loop.run_until([&] { return r.server->connections() == 1; }));
}

TEST_CASE("rtmp server: a client that never completes the handshake is closed by the sweep") {
  RtmpConfig c;
  c.handshake_timeout_ms = 300;
  Rig r(c);
  TestClient silent(r.port());
  silent.send("\x03");
  REQUIRE(r.loop.run_until([&] {
    silent.read();
    return silent.eof();
  }));
  CHECK(r.metrics.render().find("livegate_limit_violations_total{limit=\"rtmp.handshake_timeout_ms\"} 1") !=
        std::string::npos);
  REQUIRE(r.loop.run_until([&] { return r.server->addresses() == 0; }));
}

TEST_CASE("rtmp server: a publish over a socket ends when the socket is reset") {
  Rig r;
  TestClient tcp(r.port());
  RtmpTestClient rtmp;
  r.publish(tcp, rtmp, "cam");
  CHECK(rtmp.last_code() == "NetStream.Publish.Start");
  CHECK(r.registry.is_published({"live", "cam"}));
  tcp.reset();
  REQUIRE(r.loop.run_until([&] { return !r.registry.is_published({"live", "cam"}); }));
  CHECK(r.sink.events.back() == "unpublish live/cam");
  REQUIRE(r.loop.run_until([&] { return r.server->connections() == 0; }));
}

namespace {
struct ThrowingSink final : StreamSink {
  void on_publish(const StreamName& n, const PublishInfo&) override {
    if (n.key == "boom") throw std::runtime_error("subscriber failed");
  }
  void on_metadata(const StreamName&, const Metadata&) override {}
  void on_video_config(const StreamName&, const VideoConfig&) override {}
  void on_audio_config(const StreamName&, const AudioConfig&) override {}
  void on_access_unit(const StreamName&, const AccessUnit&) override {}
  void on_switch(const StreamName&, const PublishInfo&, const InputSwitch&) override {}
  void on_inputs(const StreamName&, const std::vector<InputStatus>&) override {}
  void on_interrupt(const StreamName&, std::chrono::milliseconds) override {}
  void on_unpublish(const StreamName&) override {}
};
}  // namespace

TEST_CASE("rtmp server: an exception inside a read callback closes that connection, not the process") {
  ThrowingSink thrower;  // outlives the rig: the server's shutdown still tells it of the last unpublish
  Rig r;
  r.registry.subscribe(&thrower);
  TestClient bad(r.port());
  RtmpTestClient bad_rtmp;
  r.publish(bad, bad_rtmp, "boom");
  REQUIRE(r.loop.run_until([&] {
    bad.read();
    return bad.eof();
  }));
  // The publication the exception interrupted is not left behind holding the key.
  REQUIRE(r.loop.run_until([&] { return r.server->connections() == 0; }));
  CHECK_FALSE(r.registry.is_published({"live", "boom"}));
  TestClient good(r.port());
  RtmpTestClient good_rtmp;
  r.publish(good, good_rtmp, "fine");
  CHECK(good_rtmp.last_code() == "NetStream.Publish.Start");
}
