#include "common/stream_sink.h"

#include <doctest/doctest.h>

using namespace livegate;

TEST_CASE("stream path map: a StreamName finds its \"app/key\" path and nothing else") {
  const StreamPathHash hash;
  const StreamPathEqual equal;
  const StreamName name{"live", "cam1"};
  CHECK(hash(name) == hash(name.path()));
  CHECK(hash(StreamName{"liv", "ecam1"}) != hash(name));
  CHECK(equal(name, "live/cam1"));
  CHECK(equal("live/cam1", name));
  for (const char* other : {"live/cam", "live/cam12", "livecam1", "live_cam1", "lives/cam1", "live/cam2", "/cam1", ""}) {
    CAPTURE(other);
    CHECK_FALSE(equal(name, other));
  }

  StreamPathMap<int> map;
  map[StreamName{"live", "a"}.path()] = 1;
  map["live/b"] = 2;
  map["other/a"] = 3;
  REQUIRE(map.find(StreamName{"live", "a"}) != map.end());
  CHECK(map.find(StreamName{"live", "a"})->second == 1);
  CHECK(map.find(StreamName{"live", "b"})->second == 2);
  CHECK(map.find(StreamName{"other", "a"})->second == 3);
  CHECK(map.find(StreamName{"live", "c"}) == map.end());
  CHECK(map.find(StreamName{"", "a"}) == map.end());
}
