// StreamRegistry on a real libuv loop: admission (duplicates, max_streams), the reconnect grace (a lost
// publisher leaves the key waiting; a publish within the grace continues the stream, past it the stream
// ends), and shutdown ending whatever waits.
#include "ingest/stream_registry.h"

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "common/metrics.h"
#include "loop_fixture.h"
#include "recording_sink.h"

using namespace livegate;
using namespace livegate::testing;
using namespace std::chrono_literals;

namespace {

const StreamName kCam{"live", "cam"};

PublishInfo info(uint64_t session) { return PublishInfo{session, "127.0.0.1:5000", "test", 0}; }

PublishInfo info(uint64_t session, const std::string& peer) { return PublishInfo{session, peer, "test", 0}; }

struct Rig {
  TestLoop loop;
  Metrics metrics;
  RecordingSink sink;
  StreamRegistry registry;
  explicit Rig(std::chrono::milliseconds grace, uint32_t max_streams = 4, const FailoverConfig& failover = {})
      : registry(max_streams, grace, loop.get(), failover, &metrics) {
    registry.subscribe(&sink);
  }
  uint64_t switches(const char* to) {
    return metrics.counter("livegate_failover_switches_total", "", {{"to", to}}).load();
  }
  size_t count(const std::string& event) const {
    size_t n = 0;
    for (const std::string& e : sink.events) n += e == event;
    return n;
  }
};

}  // namespace

TEST_CASE("stream registry: a live key refuses a second publisher; max_streams counts waiting keys too") {
  Rig r(1000ms, 2);
  auto first = r.registry.publish(kCam, info(1));
  REQUIRE(first.ok());
  auto second = r.registry.publish(kCam, info(2));
  REQUIRE_FALSE(second.ok());
  CHECK(second.error() == "stream live/cam is already being published");
  CHECK(r.registry.is_published(kCam));

  auto other = r.registry.publish({"live", "b"}, info(3));
  REQUIRE(other.ok());
  first->end();  // live/cam waits for its publisher: it still holds a place
  CHECK(r.registry.is_reconnecting(kCam));
  CHECK_FALSE(r.registry.is_published(kCam));
  CHECK(r.registry.size() == 2);
  auto third = r.registry.publish({"live", "c"}, info(4));
  REQUIRE_FALSE(third.ok());
  CHECK(third.error() == "limit max_streams (2) reached");
}

TEST_CASE("stream registry: a publisher back within the grace continues the stream without an unpublish") {
  Rig r(2000ms);
  {
    auto pub = r.registry.publish(kCam, info(1));
    REQUIRE(pub.ok());
  }  // the connection closed
  CHECK(r.sink.events == std::vector<std::string>{"publish live/cam", "interrupt live/cam 2000"});
  CHECK(r.registry.is_reconnecting(kCam));
  r.loop.run_for(200ms);
  auto back = r.registry.publish(kCam, info(2));
  REQUIRE(back.ok());
  CHECK(r.registry.is_published(kCam));
  CHECK_FALSE(r.registry.is_reconnecting(kCam));
  // Past the first grace's end nothing more happens: the key has its publisher.
  r.loop.run_for(2200ms);
  CHECK(r.sink.events ==
        std::vector<std::string>{"publish live/cam", "interrupt live/cam 2000", "publish live/cam"});
  CHECK(r.count("unpublish live/cam") == 0);
}

TEST_CASE("stream registry: past the grace the stream ends, and the timer follows the earliest deadline") {
  Rig r(300ms);
  const auto started = std::chrono::steady_clock::now();
  auto a = r.registry.publish(kCam, info(1));
  auto b = r.registry.publish({"live", "b"}, info(2));
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  a->end();
  r.loop.run_for(150ms);
  b->end();
  REQUIRE(r.loop.run_until([&] { return r.count("unpublish live/cam") == 1; }, 5s));
  const auto first_end = std::chrono::steady_clock::now() - started;
  CHECK(first_end >= 300ms);
  CHECK(r.count("unpublish live/b") == 0);  // its own grace is not over yet
  CHECK(r.registry.is_reconnecting({"live", "b"}));
  REQUIRE(r.loop.run_until([&] { return r.count("unpublish live/b") == 1; }, 5s));
  CHECK(r.registry.size() == 0);
  // The key is free again: a new publish starts a new stream.
  auto again = r.registry.publish(kCam, info(3));
  REQUIRE(again.ok());
  CHECK(r.sink.events.back() == "publish live/cam");
}

TEST_CASE("stream registry: with no grace (or no loop) a lost publisher ends the stream at once") {
  Rig r(0ms);
  auto pub = r.registry.publish(kCam, info(1));
  REQUIRE(pub.ok());
  pub->end();
  CHECK(r.sink.events == std::vector<std::string>{"publish live/cam", "unpublish live/cam"});
  CHECK(r.registry.size() == 0);

  RecordingSink sink;
  StreamRegistry no_loop(4, 10000ms, nullptr);
  no_loop.subscribe(&sink);
  auto p = no_loop.publish(kCam, info(1));
  REQUIRE(p.ok());
  p->end();
  CHECK(sink.events == std::vector<std::string>{"publish live/cam", "unpublish live/cam"});
}

TEST_CASE("stream registry: close() ends what waits and takes no grace afterwards") {
  Rig r(60000ms);
  auto waiting = r.registry.publish({"live", "w"}, info(1));
  auto live = r.registry.publish(kCam, info(2));
  REQUIRE(waiting.ok());
  REQUIRE(live.ok());
  waiting->end();
  CHECK(r.registry.is_reconnecting({"live", "w"}));
  r.registry.close();
  CHECK(r.count("unpublish live/w") == 1);
  live->end();  // shutting down: no grace
  CHECK(r.count("interrupt live/cam 60000") == 0);
  CHECK(r.count("unpublish live/cam") == 1);
  CHECK(r.registry.size() == 0);
  // Nothing keeps the loop alive: the timer is closed.
  CHECK(uv_run(r.loop.get(), UV_RUN_NOWAIT) == 0);
}

namespace {

VideoConfig video(uint32_t width, uint32_t height) {
  VideoConfig c;
  c.codec = VideoCodec::h264;
  c.record = {1, 100, 0, 31, 0xff, uint8_t(width >> 4), uint8_t(height >> 4)};  // tells the two apart
  c.width = width;
  c.height = height;
  return c;
}

// A video frame whose DTS says which publisher sent it (primary 1xxx, backup 2xxx).
AccessUnit frame(Ticks90k dts, bool key) {
  AccessUnit u;
  u.track = Track::video;
  u.dts = u.pts = dts;
  u.keyframe = key;
  return u;
}

std::vector<Ticks90k> dts_of(const std::vector<AccessUnit>& units) {
  std::vector<Ticks90k> out;
  for (const AccessUnit& u : units) out.push_back(u.dts);
  return out;
}

const InputStatus* input(const std::vector<InputStatus>& inputs, InputRole role) {
  for (const InputStatus& i : inputs) {
    if (i.role == role) return &i;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("stream registry: a backup joins a live key; its media is held back while the primary feeds the stream") {
  Rig r(1000ms);
  auto primary = r.registry.publish(kCam, info(1, "10.0.0.1:1"));
  REQUIRE(primary.ok());
  auto backup = r.registry.publish(kCam, info(2, "10.0.0.2:1"), InputRole::backup);
  REQUIRE(backup.ok());
  CHECK(backup->role() == InputRole::backup);
  // One of each at most.
  auto second_backup = r.registry.publish(kCam, info(3), InputRole::backup);
  REQUIRE_FALSE(second_backup.ok());
  CHECK(second_backup.error() == "stream live/cam already has a backup publisher");
  auto second_primary = r.registry.publish(kCam, info(4));
  REQUIRE_FALSE(second_primary.ok());
  CHECK(second_primary.error() == "stream live/cam is already being published");
  CHECK(r.registry.size() == 1);  // one key, one stream

  primary->sink().on_video_config(kCam, video(1280, 720));
  backup->sink().on_video_config(kCam, video(640, 360));
  primary->sink().on_access_unit(kCam, frame(1000, true));
  backup->sink().on_access_unit(kCam, frame(2000, true));
  primary->sink().on_access_unit(kCam, frame(1001, false));
  CHECK(r.sink.events == std::vector<std::string>{"publish live/cam", "video 1280x720"});
  CHECK(dts_of(r.sink.units) == std::vector<Ticks90k>{1000, 1001});
  const std::vector<InputStatus> now = r.registry.inputs(kCam);
  REQUIRE(now.size() == 2);
  CHECK(input(now, InputRole::primary)->active);
  CHECK(input(now, InputRole::primary)->width == 1280);
  CHECK_FALSE(input(now, InputRole::backup)->active);
  CHECK(input(now, InputRole::backup)->healthy);
  CHECK(input(now, InputRole::backup)->height == 360);
  CHECK(input(now, InputRole::backup)->info.peer == "10.0.0.2:1");
  CHECK(r.sink.last_inputs.size() == 2);  // the sinks were told as much
}

TEST_CASE("stream registry: a lost primary hands the stream to the backup at the backup's next keyframe") {
  Rig r(1000ms);
  auto primary = r.registry.publish(kCam, info(1, "10.0.0.1:1"));
  auto backup = r.registry.publish(kCam, info(2, "10.0.0.2:1"), InputRole::backup);
  REQUIRE(primary.ok());
  REQUIRE(backup.ok());
  primary->sink().on_video_config(kCam, video(1280, 720));
  backup->sink().on_video_config(kCam, video(640, 360));
  primary->sink().on_access_unit(kCam, frame(1000, true));
  backup->sink().on_access_unit(kCam, frame(2000, true));
  backup->sink().on_access_unit(kCam, frame(2001, false));

  primary->end();  // the primary's connection closed
  CHECK(r.registry.is_published(kCam));
  CHECK(r.count("interrupt live/cam 1000") == 0);  // the stream goes on: no pause, no end
  backup->sink().on_access_unit(kCam, frame(2002, false));  // not decodable alone: still held back
  CHECK(dts_of(r.sink.units) == std::vector<Ticks90k>{1000});
  backup->sink().on_access_unit(kCam, frame(2003, true));
  backup->sink().on_access_unit(kCam, frame(2004, false));
  CHECK(dts_of(r.sink.units) == std::vector<Ticks90k>{1000, 2003, 2004});
  // The switch, then the backup's own configuration, then its media.
  CHECK(r.sink.events == std::vector<std::string>{"publish live/cam", "video 1280x720",
                                                  "switch live/cam to backup 10.0.0.2:1 (primary disconnected)",
                                                  "video 640x360"});
  CHECK(r.switches("backup") == 1);
  CHECK(r.switches("primary") == 0);
  REQUIRE(r.sink.last_inputs.size() == 1);
  CHECK(r.sink.last_inputs[0].role == InputRole::backup);
  CHECK(r.sink.last_inputs[0].active);

  // Both gone: the reconnect grace as for a single publisher, then the end.
  backup->end();
  CHECK(r.sink.events.back() == "interrupt live/cam 1000");
  CHECK(r.registry.is_reconnecting(kCam));
  REQUIRE(r.loop.run_until([&] { return r.count("unpublish live/cam") == 1; }, 5s));
  CHECK(r.registry.size() == 0);
}

TEST_CASE("stream registry: a silent primary loses the stream; healthy again for return_after_ms it takes it back") {
  const FailoverConfig failover{.input_loss_ms = 100, .return_after_ms = 400, .prefer_primary = true};
  Rig r(1000ms, 4, failover);
  auto primary = r.registry.publish(kCam, info(1, "10.0.0.1:1"));
  auto backup = r.registry.publish(kCam, info(2, "10.0.0.2:1"), InputRole::backup);
  REQUIRE(primary.ok());
  REQUIRE(backup.ok());
  Ticks90k p = 1000, b = 2000;  // each one's next DTS; a keyframe every fifth frame
  auto pump = [&](bool primary_sends) {
    r.loop.run_for(10ms);
    if (primary_sends) primary->sink().on_access_unit(kCam, frame(p, p % 5 == 0)), ++p;
    backup->sink().on_access_unit(kCam, frame(b, b % 5 == 0)), ++b;
  };
  for (int i = 0; i < 10; ++i) pump(true);
  CHECK(r.count("switch live/cam to backup 10.0.0.2:1 (primary sent no media for 100 ms)") == 0);

  // The primary goes silent (still connected): after input_loss_ms the backup takes over at its keyframe.
  const auto silent_at = std::chrono::steady_clock::now();
  while (r.count("switch live/cam to backup 10.0.0.2:1 (primary sent no media for 100 ms)") == 0) {
    REQUIRE(std::chrono::steady_clock::now() - silent_at < 5s);
    pump(false);
  }
  CHECK(std::chrono::steady_clock::now() - silent_at >= 100ms);
  CHECK(r.sink.units.back().keyframe);
  CHECK(r.sink.units.back().dts >= 2000);
  CHECK(r.switches("backup") == 1);
  CHECK_FALSE(input(r.sink.last_inputs, InputRole::primary)->healthy);

  // The primary sends again: the stream stays with the backup for return_after_ms, then goes back at a
  // primary keyframe.
  const auto back_at = std::chrono::steady_clock::now();
  const size_t units_before = r.sink.units.size();
  while (r.switches("primary") == 0) {
    REQUIRE(std::chrono::steady_clock::now() - back_at < 5s);
    pump(true);
  }
  CHECK(std::chrono::steady_clock::now() - back_at >= 400ms);
  CHECK(r.sink.events.back() == "switch live/cam to primary 10.0.0.1:1 (primary healthy again for 400 ms)");
  const std::vector<AccessUnit> after(r.sink.units.begin() + units_before, r.sink.units.end());
  REQUIRE_FALSE(after.empty());
  CHECK(after.back().dts < 2000);  // the primary's, and only a keyframe of it starts it
  CHECK(after.back().keyframe);
  for (size_t i = 0; i + 1 < after.size(); ++i) CHECK(after[i].dts >= 2000);  // the backup's until then
  CHECK(input(r.sink.last_inputs, InputRole::primary)->active);
}

TEST_CASE("stream registry: without prefer_primary the backup keeps the stream; a primary's brief silence is called off") {
  const FailoverConfig failover{.input_loss_ms = 100, .return_after_ms = 0, .prefer_primary = false};
  Rig r(1000ms, 4, failover);
  auto primary = r.registry.publish(kCam, info(1, "10.0.0.1:1"));
  auto backup = r.registry.publish(kCam, info(2, "10.0.0.2:1"), InputRole::backup);
  REQUIRE(primary.ok());
  REQUIRE(backup.ok());
  // The backup sends no keyframe: a silent primary makes the stream want the backup, but it cannot switch
  // before a keyframe; the primary speaks again and the switch is called off.
  primary->sink().on_access_unit(kCam, frame(1000, true));
  backup->sink().on_access_unit(kCam, frame(2001, false));
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < 300ms) {
    r.loop.run_for(10ms);
    backup->sink().on_access_unit(kCam, frame(2001, false));
  }
  primary->sink().on_access_unit(kCam, frame(1001, false));
  r.loop.run_for(100ms);  // a failover check sees the primary healthy again
  backup->sink().on_access_unit(kCam, frame(2005, true));
  primary->sink().on_access_unit(kCam, frame(1002, false));
  CHECK(r.switches("backup") == 0);
  CHECK(dts_of(r.sink.units) == std::vector<Ticks90k>{1000, 1001, 1002});

  // Lost for good: the backup takes over and keeps the stream with the primary back.
  primary->end();
  backup->sink().on_access_unit(kCam, frame(2010, true));
  auto again = r.registry.publish(kCam, info(3, "10.0.0.1:2"));
  REQUIRE(again.ok());
  for (int i = 0; i < 30; ++i) {
    r.loop.run_for(10ms);
    again->sink().on_access_unit(kCam, frame(1100 + i, true));
    backup->sink().on_access_unit(kCam, frame(2011 + i, i % 5 == 0));
  }
  CHECK(r.switches("backup") == 1);
  CHECK(r.switches("primary") == 0);
  CHECK(r.sink.units.back().dts >= 2000);
}

TEST_CASE("stream registry: a backup alone publishes the stream; its end waits the grace like any publisher") {
  Rig r(1000ms);
  {
    auto backup = r.registry.publish(kCam, info(2, "10.0.0.2:1"), InputRole::backup);
    REQUIRE(backup.ok());
    backup->sink().on_access_unit(kCam, frame(2000, false));
    CHECK(dts_of(r.sink.units) == std::vector<Ticks90k>{2000});
  }
  CHECK(r.sink.events == std::vector<std::string>{"publish live/cam", "interrupt live/cam 1000"});
  auto primary = r.registry.publish(kCam, info(1, "10.0.0.1:1"));  // within the grace: the stream continues
  REQUIRE(primary.ok());
  CHECK(r.sink.events.back() == "publish live/cam");
  CHECK(r.count("unpublish live/cam") == 0);
}

TEST_CASE("stream registry: a lone publisher's health follows its media too") {
  const FailoverConfig failover{.input_loss_ms = 100, .return_after_ms = 0, .prefer_primary = true};
  Rig r(1000ms, 4, failover);
  auto primary = r.registry.publish(kCam, info(1, "10.0.0.1:1"));
  REQUIRE(primary.ok());
  REQUIRE(r.sink.last_inputs.size() == 1);
  CHECK_FALSE(r.sink.last_inputs[0].healthy);  // no media yet
  primary->sink().on_access_unit(kCam, frame(1000, true));
  CHECK(r.sink.last_inputs[0].healthy);
  REQUIRE(r.loop.run_until([&] { return !r.sink.last_inputs[0].healthy; }, 5s));
  CHECK(r.sink.last_inputs[0].active);
}
