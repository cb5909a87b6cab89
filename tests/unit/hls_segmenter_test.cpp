// HlsSegmenter: stream events in, snapshots in the store out; ended streams kept for their retention but
// capped in count and bytes, the oldest freed first and counted; the counters follow the streams.
#include "segmenter/hls_segmenter.h"

#include <doctest/doctest.h>

#include <string>

#include "ingest/avc_config.h"
#include "test_bytes.h"

using namespace livegate;
using livegate::testing::hex;

namespace {

VideoConfig video() {
  auto c =
      parse_avcc(hex("0142c00dffe100186742c00dd90141fb0110000003001000000303c0f142a48001000568cb83cb20"));
  REQUIRE(c.ok());
  return *c;
}

// Publishes `key`, sends `seconds` of 30 fps video with a keyframe a second, and optionally ends it.
void publish(HlsSegmenter& hls, const std::string& key, double seconds, bool end = true) {
  const StreamName n{"live", key};
  hls.on_publish(n, {});
  hls.on_video_config(n, video());
  for (Ticks90k t = 0; t < Ticks90k(seconds * 90000); t += 3000) {
    AccessUnit u;
    u.track = Track::video;
    u.dts = u.pts = t;
    u.keyframe = t % 90000 == 0;
    u.data = std::make_shared<const std::vector<uint8_t>>(
        std::vector<uint8_t>{0, 0, 0, 4, uint8_t(u.keyframe ? 0x65 : 0x41), 0x88, 0x84, 0x00});
    hls.on_access_unit(n, u);
  }
  if (end) hls.on_unpublish(n);
}

uint64_t counter(const Metrics& m, const std::string& series) {
  const std::string text = m.render();
  const size_t at = text.find("\n" + series + " ");
  return at == std::string::npos ? 0 : std::stoull(text.substr(at + series.size() + 2));
}

}  // namespace

TEST_CASE("hls segmenter: snapshots reach the store and ended streams leave after their retention") {
  HlsConfig c;
  c.target_duration_s = 1;
  c.retention_s = 5;
  StreamStore store;
  Metrics metrics;
  HlsSegmenter hls(c, store, metrics);
  publish(hls, "a", 4);
  auto snap = store.get_hls("live/a");
  REQUIRE(snap);
  CHECK(snap->ended);
  CHECK(snap->ts.segments.size() == 4);
  CHECK(counter(metrics, "livegate_hls_segments_total") == 4);
  hls.tick(HlsSegmenter::Clock::now() + std::chrono::seconds(4));
  CHECK(store.get_hls("live/a"));
  hls.tick(HlsSegmenter::Clock::now() + std::chrono::seconds(6));
  CHECK_FALSE(store.get_hls("live/a"));
  CHECK(hls.streams() == 0);
}

TEST_CASE("hls segmenter: ended streams past hls.max_ended_streams go, the oldest first; live ones stay") {
  HlsConfig c;
  c.target_duration_s = 1;
  c.max_ended_streams = 3;
  StreamStore store;
  Metrics metrics;
  HlsSegmenter hls(c, store, metrics);
  publish(hls, "live-one", 2, /*end=*/false);
  for (int i = 0; i < 10; ++i) publish(hls, "short" + std::to_string(i), 2);
  CHECK(hls.streams() == 4);  // the live one and the three newest ended ones
  CHECK(store.get_hls("live/live-one"));
  for (int i = 0; i < 7; ++i) CHECK_FALSE(store.get_hls("live/short" + std::to_string(i)));
  for (int i = 7; i < 10; ++i) CHECK(store.get_hls("live/short" + std::to_string(i)));
  CHECK(counter(metrics, "livegate_hls_ended_streams_evicted_total{limit=\"hls.max_ended_streams\"}") == 7);
}

TEST_CASE("hls segmenter: ended streams holding more than hls.max_ended_bytes go, the oldest first") {
  HlsConfig c;
  c.target_duration_s = 1;
  StreamStore store;
  Metrics metrics;
  {
    HlsSegmenter probe(c, store, metrics);
    publish(probe, "probe", 4);
    c.max_ended_bytes = static_cast<uint32_t>(probe.bytes_held() * 2 + 10);  // room for two such streams
  }
  StreamStore store2;
  Metrics metrics2;
  HlsSegmenter hls(c, store2, metrics2);
  for (int i = 0; i < 5; ++i) publish(hls, "s" + std::to_string(i), 4);
  CHECK(hls.streams() == 2);
  CHECK(hls.bytes_held() <= c.max_ended_bytes);
  CHECK(store2.get_hls("live/s3"));
  CHECK(store2.get_hls("live/s4"));
  CHECK(counter(metrics2, "livegate_hls_ended_streams_evicted_total{limit=\"hls.max_ended_bytes\"}") == 3);
}

TEST_CASE("hls segmenter: a republish within retention continues its playlist; an evicted key starts anew") {
  HlsConfig c;
  c.target_duration_s = 1;
  c.max_ended_streams = 1;
  StreamStore store;
  Metrics metrics;
  HlsSegmenter hls(c, store, metrics);
  publish(hls, "k", 3);
  const std::string first_uri = store.get_hls("live/k")->ts.segments.front().uri;
  publish(hls, "k", 3);
  auto snap = store.get_hls("live/k");
  CHECK(snap->ts.segments.size() == 6);
  CHECK(snap->ts.segments[3].discontinuity);
  publish(hls, "other", 2);  // pushes "k" out
  CHECK_FALSE(store.get_hls("live/k"));
  publish(hls, "k", 2);
  snap = store.get_hls("live/k");
  REQUIRE(snap);
  CHECK(snap->ts.segments.front().uri != first_uri);  // a new playlist, whose URIs were never used
  CHECK(snap->ts.segments.front().seq == 0);
}
