// parse_media_playlist and resolve_uri, on the playlists livegate and nginx-rtmp write.
#include "tests/bench/media_playlist.h"

#include <doctest/doctest.h>

using livegate::bench::parse_low_latency_playlist;
using livegate::bench::parse_media_playlist;
using livegate::bench::resolve_uri;

TEST_CASE("a live playlist") {
  auto p = parse_media_playlist(
      "#EXTM3U\r\n#EXT-X-VERSION:3\r\n#EXT-X-TARGETDURATION:2\r\n#EXT-X-MEDIA-SEQUENCE:17\r\n"
      "#EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:00:00.000Z\r\n#EXTINF:2.000,\r\nseg-17.ts\r\n#EXTINF:2.000,\r\n"
      "seg-18.ts\r\n");
  REQUIRE(p.ok());
  CHECK(p->target_duration_s == 2);
  CHECK(p->media_sequence == 17);
  REQUIRE(p->uris.size() == 2);
  CHECK(p->uris[1] == "seg-18.ts");
  CHECK_FALSE(p->ended);
}

TEST_CASE("an ended playlist without a media sequence starts at 0") {
  auto p = parse_media_playlist("#EXTM3U\n#EXT-X-TARGETDURATION:3\n#EXTINF:3,\n0.ts\n#EXT-X-ENDLIST\n");
  REQUIRE(p.ok());
  CHECK(p->media_sequence == 0);
  CHECK(p->ended);
}

TEST_CASE("not a playlist") {
  CHECK_FALSE(parse_media_playlist("").ok());
  CHECK_FALSE(parse_media_playlist("<html>").ok());
  CHECK_FALSE(parse_media_playlist("#EXTM3U\n#EXTINF:2,\na.ts\n").ok());  // no target duration
  CHECK_FALSE(parse_media_playlist("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:x\n").ok());
}

TEST_CASE("segment URIs resolve against the playlist's folder") {
  CHECK(resolve_uri("/live/s1/index.m3u8", "seg-3.ts") == "/live/s1/seg-3.ts");
  CHECK(resolve_uri("/live/s1/index.m3u8?x=1", "seg-3.ts") == "/live/s1/seg-3.ts");
  CHECK(resolve_uri("/live/s1/index.m3u8", "/other/4.ts") == "/other/4.ts");
  CHECK(resolve_uri("/live/s1/index.m3u8", "http://h:80/a/5.ts") == "/a/5.ts");
}

TEST_CASE("a low-latency playlist: the next part to block for, from a full and a delta update") {
  const char* tail =
      "#EXT-X-PART:DURATION=0.333,URI=\"t-7.0.m4s\",INDEPENDENT=YES\n#EXTINF:2.000,\nt-7.m4s\n"
      "#EXT-X-PART:DURATION=0.333,URI=\"t-8.0.m4s\",INDEPENDENT=YES\n#EXT-X-PART:DURATION=0.333,URI=\"t-8.1."
      "m4s\"\n"
      "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"t-8.2.m4s\"\n#EXT-X-RENDITION-REPORT:URI=\"x.m3u8\",LAST-MSN=8\n";
  auto full =
      parse_low_latency_playlist(std::string("#EXTM3U\n#EXT-X-TARGETDURATION:2\n"
                                             "#EXT-X-PART-INF:PART-TARGET=0.333\n#EXT-X-MEDIA-SEQUENCE:5\n"
                                             "#EXTINF:2.000,\nt-5.m4s\n#EXTINF:2.000,\nt-6.m4s\n") +
                                 tail);
  REQUIRE(full.ok());
  CHECK(full->part_target_s == doctest::Approx(0.333));
  CHECK(full->next_msn == 8);
  CHECK(full->next_part == 2);
  CHECK(full->preload_hint == "t-8.2.m4s");
  auto delta =
      parse_low_latency_playlist(std::string("#EXTM3U\r\n#EXT-X-PART-INF:PART-TARGET=0.333\r\n"
                                             "#EXT-X-MEDIA-SEQUENCE:5\n#EXT-X-SKIP:SKIPPED-SEGMENTS=2\n") +
                                 tail);
  REQUIRE(delta.ok());
  CHECK(delta->next_msn == 8);
  CHECK(delta->next_part == 2);
  // A segment just completed, no part of the next one yet.
  auto edge = parse_low_latency_playlist("#EXTM3U\n#EXT-X-PART-INF:PART-TARGET=1\n#EXTINF:2,\na.m4s\n");
  REQUIRE(edge.ok());
  CHECK(edge->next_msn == 1);
  CHECK(edge->next_part == 0);
  CHECK(edge->preload_hint.empty());
}

TEST_CASE("not a low-latency playlist") {
  CHECK_FALSE(parse_low_latency_playlist("").ok());
  CHECK_FALSE(parse_low_latency_playlist("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n").ok());
  CHECK_FALSE(parse_low_latency_playlist("#EXTM3U\n#EXT-X-PART-INF:PART-TARGET=x\n").ok());
  CHECK_FALSE(
      parse_low_latency_playlist("#EXTM3U\n#EXT-X-PART-INF:PART-TARGET=1\n#EXT-X-SKIP:SKIPPED-SEGMENTS=\n")
          .ok());
  CHECK_FALSE(parse_low_latency_playlist("#EXTM3U\n#EXT-X-PART-INF:PART-TARGET=\"1\n").ok());  // open quote
}
