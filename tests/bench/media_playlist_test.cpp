// parse_media_playlist and resolve_uri, on the playlists livegate and nginx-rtmp write.
#include "tests/bench/media_playlist.h"

#include <doctest/doctest.h>

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
