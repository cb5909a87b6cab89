// StreamRegistry on a real libuv loop: admission (duplicates, max_streams), the reconnect grace (a lost
// publisher leaves the key waiting; a publish within the grace continues the stream, past it the stream
// ends), and shutdown ending whatever waits.
#include "ingest/stream_registry.h"

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "loop_fixture.h"
#include "recording_sink.h"

using namespace livegate;
using namespace livegate::testing;
using namespace std::chrono_literals;

namespace {

const StreamName kCam{"live", "cam"};

PublishInfo info(uint64_t session) { return PublishInfo{session, "127.0.0.1:5000", "test", 0}; }

struct Rig {
  TestLoop loop;
  RecordingSink sink;
  StreamRegistry registry;
  explicit Rig(std::chrono::milliseconds grace, uint32_t max_streams = 4)
      : registry(max_streams, grace, loop.get()) {
    registry.subscribe(&sink);
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
