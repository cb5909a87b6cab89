#include "ingest/session.h"

#include <doctest/doctest.h>

#include "recording_sink.h"
#include "rtmp_test_client.h"
#include "test_bytes.h"

using namespace livegate;
using livegate::testing::hex;
using livegate::testing::RecordingSink;
using livegate::testing::RtmpTestClient;
using V = amf0::Value;

namespace {

// FLV video tag bodies from ffmpeg/libx264 (baseline, 320x240), and AAC-LC 48 kHz stereo.
const std::vector<uint8_t> kAvcSequenceHeader =
    hex("17000000000142c00dffe100186742c00dd90141fb0110000003001000000303c0f142a48001000568cb83cb20");
const std::vector<uint8_t> kKeyframe =
    hex("1701000000"
        "00000005"
        "6588840021");
const std::vector<uint8_t> kInterFrame =
    hex("2701000021"
        "00000004"
        "419a2200");  // CTS 33 ms
const std::vector<uint8_t> kAacSequenceHeader = hex("af001190");
const std::vector<uint8_t> kAacFrame = hex("af01210049900219");

struct Fixture {
  RtmpConfig config;
  StreamRegistry registry{16};
  RecordingSink sink;
  Fixture() { registry.subscribe(&sink); }
};

// Runs bytes from the client into the session and the session's answer back to the client.
Status exchange(Session& s, RtmpTestClient& c, const std::vector<uint8_t>& bytes) {
  Status st = s.feed(bytes);
  std::vector<uint8_t> reply = c.receive(s.output());
  if (st && !reply.empty()) return exchange(s, c, reply);
  return st;
}

void connect_and_publish(Session& s, RtmpTestClient& c, const std::string& key) {
  REQUIRE(exchange(s, c, c.start()));
  REQUIRE(c.error.empty());
  REQUIRE(exchange(s, c,
                   c.command(0, {V::String("connect"), V::Number(1),
                                 V::Object({{"app", V::String("live")},
                                            {"flashVer", V::String("FMLE/3.0 (compatible; test)")},
                                            {"tcUrl", V::String("rtmp://127.0.0.1/live")}})})));
  CHECK(c.last_code() == "NetConnection.Connect.Success");
  REQUIRE(
      exchange(s, c, c.command(0, {V::String("releaseStream"), V::Number(2), V::Null(), V::String(key)})));
  REQUIRE(exchange(s, c, c.command(0, {V::String("FCPublish"), V::Number(3), V::Null(), V::String(key)})));
  REQUIRE(exchange(s, c, c.command(0, {V::String("createStream"), V::Number(4), V::Null()})));
  REQUIRE(exchange(
      s, c,
      c.command(1, {V::String("publish"), V::Number(5), V::Null(), V::String(key), V::String("live")})));
}

}  // namespace

TEST_CASE("session: connect, createStream and publish as ffmpeg does, then media becomes access units") {
  Fixture f;
  Session s(f.config, f.registry, nullptr, "127.0.0.1:5000", "127.0.0.1", 1);
  RtmpTestClient c;
  connect_and_publish(s, c, "cam1?token=abc");
  CHECK(c.last_code() == "NetStream.Publish.Start");
  CHECK(c.received_command("onBWDone"));
  CHECK(c.received_command("onFCPublish"));
  CHECK(s.state() == Session::State::publishing);
  CHECK(f.registry.is_published({"live", "cam1"}));

  REQUIRE(exchange(
      s, c,
      c.message(4, msg_type::data_amf0, 1, 0,
                amf0::encode_all({V::String("@setDataFrame"), V::String("onMetaData"),
                                  V::EcmaArray({{"width", V::Number(320)}, {"height", V::Number(240)}})}))));
  REQUIRE(exchange(s, c, c.message(6, msg_type::video, 1, 0, kAvcSequenceHeader)));
  REQUIRE(exchange(s, c, c.message(4, msg_type::audio, 1, 0, kAacSequenceHeader)));
  REQUIRE(exchange(s, c, c.message(6, msg_type::video, 1, 0, kKeyframe)));
  REQUIRE(exchange(s, c, c.message(4, msg_type::audio, 1, 21, kAacFrame)));
  REQUIRE(exchange(s, c, c.message(6, msg_type::video, 1, 33, kInterFrame)));
  // The same sequence header again (encoders resend it) is not a new configuration.
  REQUIRE(exchange(s, c, c.message(6, msg_type::video, 1, 66, kAvcSequenceHeader)));

  CHECK(f.sink.events ==
        std::vector<std::string>{"publish live/cam1", "metadata 2", "video 320x240", "audio 48000"});
  REQUIRE(f.sink.units.size() == 3);
  CHECK(f.sink.units[0].track == Track::video);
  CHECK(f.sink.units[0].keyframe);
  CHECK(f.sink.units[0].dts == 0);
  CHECK(f.sink.units[1].track == Track::audio);
  CHECK(f.sink.units[1].dts == 21 * 90);
  CHECK(f.sink.units[2].dts == 33 * 90);
  CHECK(f.sink.units[2].pts == 66 * 90);  // DTS + composition time
  CHECK_FALSE(f.sink.units[2].keyframe);

  REQUIRE(
      exchange(s, c, c.command(0, {V::String("FCUnpublish"), V::Number(6), V::Null(), V::String("cam1")})));
  REQUIRE(exchange(s, c, c.command(0, {V::String("deleteStream"), V::Number(7), V::Null(), V::Number(1)})));
  CHECK(f.sink.events.back() == "unpublish live/cam1");
  CHECK_FALSE(f.registry.is_published({"live", "cam1"}));
}

TEST_CASE("session: the digest handshake is answered in kind") {
  Fixture f;
  Session s(f.config, f.registry, nullptr, "127.0.0.1:5000", "127.0.0.1", 1);
  RtmpTestClient c(/*digest=*/true);
  REQUIRE(exchange(s, c, c.start()));
  CHECK(c.error.empty());
  CHECK(s.state() == Session::State::connecting);
}

TEST_CASE("session: a second publisher on a live key is refused and the first is untouched") {
  Fixture f;
  Session first(f.config, f.registry, nullptr, "127.0.0.1:5000", "127.0.0.1", 1);
  RtmpTestClient c1;
  connect_and_publish(first, c1, "cam");
  REQUIRE(exchange(first, c1, c1.message(6, msg_type::video, 1, 0, kAvcSequenceHeader)));

  Session second(f.config, f.registry, nullptr, "127.0.0.1:5001", "127.0.0.1", 2);
  RtmpTestClient c2;
  connect_and_publish(second, c2, "cam");
  CHECK(c2.last_code() == "NetStream.Publish.BadName");
  CHECK(second.closing());
  CHECK(first.state() == Session::State::publishing);

  REQUIRE(exchange(first, c1, c1.message(6, msg_type::video, 1, 0, kKeyframe)));
  CHECK(f.sink.units.size() == 1);
  CHECK(f.sink.events == std::vector<std::string>{"publish live/cam", "video 320x240"});
}

TEST_CASE("session: a publisher that goes away ends its stream") {
  Fixture f;
  {
    Session s(f.config, f.registry, nullptr, "127.0.0.1:5000", "127.0.0.1", 1);
    RtmpTestClient c;
    connect_and_publish(s, c, "gone");
    CHECK(f.registry.is_published({"live", "gone"}));
  }
  CHECK_FALSE(f.registry.is_published({"live", "gone"}));
  CHECK(f.sink.events.back() == "unpublish live/gone");
}

TEST_CASE("session: protocol misuse is an error value") {
  Fixture f;
  SUBCASE("media before publish") {
    Session s(f.config, f.registry, nullptr, "p", "p", 1);
    RtmpTestClient c;
    REQUIRE(exchange(s, c, c.start()));
    CHECK_FALSE(exchange(s, c, c.message(6, msg_type::video, 1, 0, kKeyframe)));
  }
  SUBCASE("publish before connect") {
    Session s(f.config, f.registry, nullptr, "p", "p", 1);
    RtmpTestClient c;
    REQUIRE(exchange(s, c, c.start()));
    CHECK_FALSE(
        exchange(s, c, c.command(1, {V::String("publish"), V::Number(5), V::Null(), V::String("k")})));
  }
  SUBCASE("publish on a stream that was never created") {
    Session s(f.config, f.registry, nullptr, "p", "p", 1);
    RtmpTestClient c;
    REQUIRE(exchange(s, c, c.start()));
    REQUIRE(exchange(
        s, c, c.command(0, {V::String("connect"), V::Number(1), V::Object({{"app", V::String("live")}})})));
    CHECK_FALSE(
        exchange(s, c, c.command(7, {V::String("publish"), V::Number(5), V::Null(), V::String("k")})));
  }
  SUBCASE("bad RTMP version") {
    Session s(f.config, f.registry, nullptr, "p", "p", 1);
    const std::vector<uint8_t> tls{0x16, 0x03, 0x01};
    Status st = s.feed(tls);
    REQUIRE_FALSE(st);
    CHECK(st.error().find("version") != std::string::npos);
  }
  SUBCASE("unknown application is rejected") {
    Session s(f.config, f.registry, nullptr, "p", "p", 1);
    RtmpTestClient c;
    REQUIRE(exchange(s, c, c.start()));
    REQUIRE(exchange(
        s, c, c.command(0, {V::String("connect"), V::Number(1), V::Object({{"app", V::String("other")}})})));
    CHECK(c.last_code() == "NetConnection.Connect.Rejected");
    CHECK(s.closing());
  }
  SUBCASE("invalid stream keys are refused") {
    for (const char* key : {"", "../etc", "a/b", "with space", ".hidden"}) {
      Session s(f.config, f.registry, nullptr, "p", "p", 1);
      RtmpTestClient c;
      connect_and_publish(s, c, key);
      CHECK(c.last_code() == "NetStream.Publish.BadName");
      CHECK(s.closing());
    }
  }
  SUBCASE("unknown commands get a clean _error and the session continues") {
    Session s(f.config, f.registry, nullptr, "p", "p", 1);
    RtmpTestClient c;
    connect_and_publish(s, c, "k");
    REQUIRE(exchange(s, c, c.command(0, {V::String("play"), V::Number(9), V::Null(), V::String("k")})));
    CHECK(c.last_code() == "NetConnection.Call.Failed");
    CHECK(s.state() == Session::State::publishing);
  }
}

TEST_CASE("session: ping requests are answered and acknowledgements sent per window") {
  Fixture f;
  Session s(f.config, f.registry, nullptr, "p", "p", 1);
  RtmpTestClient c;
  connect_and_publish(s, c, "k");
  c.messages.clear();
  REQUIRE(exchange(s, c, c.message(2, msg_type::user_control, 0, 0, {0, 6, 0, 0, 0x12, 0x34})));
  REQUIRE(c.messages.size() == 1);
  CHECK(c.messages[0].payload == std::vector<uint8_t>{0, 7, 0, 0, 0x12, 0x34});

  REQUIRE(exchange(s, c, c.message(2, msg_type::window_ack_size, 0, 0, {0, 0, 0x10, 0})));  // 4096 bytes
  c.messages.clear();
  std::vector<uint8_t> big(5000, 0xAA);
  big[0] = 0xAF;
  big[1] = 0x01;
  REQUIRE(exchange(s, c, c.message(4, msg_type::audio, 1, 0, big)));
  bool acked = false;
  for (const auto& m : c.messages) acked |= m.type == msg_type::ack;
  CHECK(acked);
}

namespace {

// Holds the decision until the test gives it, as a slow HTTP callback would.
struct DeferredAuthorizer final : PublishAuthorizer {
  std::vector<Decision> pending;
  std::vector<PublishRequest> requests;
  int done_calls = 0;
  void authorize(const PublishRequest& r, Decision done) override {
    requests.push_back(r);
    pending.push_back(std::move(done));
  }
  void publish_done(const PublishRequest&) override { ++done_calls; }
};

}  // namespace

TEST_CASE("session: static stream keys allow and refuse") {
  Fixture f;
  StaticKeyAuthorizer keys({"secret"});
  Session ok(f.config, f.registry, &keys, "p", "10.0.0.1", 1);
  RtmpTestClient c1;
  connect_and_publish(ok, c1, "secret");
  CHECK(c1.last_code() == "NetStream.Publish.Start");

  Session bad(f.config, f.registry, &keys, "p", "10.0.0.2", 2);
  RtmpTestClient c2;
  connect_and_publish(bad, c2, "guess");
  CHECK(c2.last_code() == "NetStream.Publish.BadName");
  CHECK(bad.closing());
  CHECK_FALSE(f.registry.is_published({"live", "guess"}));
}

TEST_CASE("session: an asynchronous publish decision is applied when it arrives") {
  Fixture f;
  DeferredAuthorizer auth;
  Session s(f.config, f.registry, &auth, "10.0.0.1:4000", "10.0.0.1", 1);
  int output_ready = 0;
  s.set_output_ready([&] { ++output_ready; });
  RtmpTestClient c;
  connect_and_publish(s, c, "cam?token=abc&x=1");
  CHECK(s.state() == Session::State::authorizing);
  CHECK_FALSE(c.received_command("onStatus"));  // no answer to publish yet
  REQUIRE(auth.requests.size() == 1);
  CHECK(auth.requests[0].name.key == "cam");
  CHECK(auth.requests[0].query == "token=abc&x=1");
  CHECK(auth.requests[0].addr == "10.0.0.1");
  CHECK(auth.requests[0].tc_url == "rtmp://127.0.0.1/live");

  // Media from a client that did not wait is dropped, not an error.
  CHECK(exchange(s, c, c.message(6, msg_type::video, 1, 0, kAvcSequenceHeader)));

  auth.pending[0](Status{});
  CHECK(output_ready == 1);
  c.receive(s.output());
  CHECK(c.last_code() == "NetStream.Publish.Start");
  CHECK(s.state() == Session::State::publishing);
  CHECK(f.registry.is_published({"live", "cam"}));
  REQUIRE(exchange(s, c, c.command(0, {V::String("deleteStream"), V::Number(7), V::Null(), V::Number(1)})));
  CHECK(auth.done_calls == 1);
}

TEST_CASE("session: a refusal that arrives later closes; a decision for a gone session is ignored") {
  Fixture f;
  DeferredAuthorizer auth;
  {
    Session s(f.config, f.registry, &auth, "p", "10.0.0.1", 1);
    RtmpTestClient c;
    connect_and_publish(s, c, "cam");
    auth.pending[0](Status{Error{"callback answered 403"}});
    c.receive(s.output());
    CHECK(c.last_code() == "NetStream.Publish.BadName");
    CHECK(s.closing());
  }
  {
    Session s(f.config, f.registry, &auth, "p", "10.0.0.1", 2);
    RtmpTestClient c;
    connect_and_publish(s, c, "cam");
  }
  auth.pending[1](Status{});  // the session is gone: nothing happens, nothing is published
  CHECK_FALSE(f.registry.is_published({"live", "cam"}));
  CHECK(auth.done_calls == 0);
}

TEST_CASE("session: backup=... is taken out of the publish query string; the last one decides") {
  auto flag = [](std::string q) {
    const bool b = take_backup_flag(q);
    return std::pair<bool, std::string>{b, q};
  };
  CHECK(flag("") == std::pair<bool, std::string>{false, ""});
  CHECK(flag("backup=1") == std::pair<bool, std::string>{true, ""});
  CHECK(flag("token=abc&backup=1&x=2") == std::pair<bool, std::string>{true, "token=abc&x=2"});
  CHECK(flag("backup=true") == std::pair<bool, std::string>{true, ""});
  CHECK(flag("backup=0&token=t") == std::pair<bool, std::string>{false, "token=t"});
  CHECK(flag("backup=1&backup=0") == std::pair<bool, std::string>{false, ""});
  CHECK(flag("backup") == std::pair<bool, std::string>{false, ""});
  CHECK(flag("backups=1") == std::pair<bool, std::string>{false, "backups=1"});
  CHECK(flag("&&backup=1&") == std::pair<bool, std::string>{true, ""});
  CHECK(flag("a=%26backup%3D1") == std::pair<bool, std::string>{false, "a=%26backup%3D1"});
}
