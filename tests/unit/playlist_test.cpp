// Golden-text tests for the HLS media playlist renderer (RFC 8216).
#include "segmenter/playlist.h"

#include <doctest/doctest.h>

#include <span>
#include <vector>

#include "segmenter/segment_window.h"

using namespace livegate;

namespace {

constexpr int64_t kT0 = 1795608000000;  // 2026-11-25T12:00:00.000Z

Segment seg(uint64_t seq, double duration, bool disc = false) {
  Segment s;
  s.seq = seq;
  s.duration_s = duration;
  s.pdt_unix_ms = kT0 + static_cast<int64_t>(seq) * 2000;
  s.discontinuity = disc;
  s.uri = "s3f9a2c-" + std::to_string(seq) + ".ts";
  return s;
}

// Every field set: designated initializers that omit members trip -Wmissing-field-initializers.
PlaylistParams params(uint32_t target, uint64_t media_seq, uint64_t disc_seq, std::span<const Segment> segs,
                      bool ended = false) {
  PlaylistParams p;
  p.target_duration_s = target;
  p.media_sequence = media_seq;
  p.discontinuity_sequence = disc_seq;
  p.segments = segs;
  p.ended = ended;
  return p;
}

}  // namespace

TEST_CASE("playlist: live playlist with three segments") {
  const std::vector<Segment> segs{seg(0, 2.0), seg(1, 2.002), seg(2, 1.968)};
  const std::string expected =
      "#EXTM3U\n"
      "#EXT-X-VERSION:3\n"
      "#EXT-X-TARGETDURATION:2\n"
      "#EXT-X-MEDIA-SEQUENCE:0\n"
      "#EXT-X-DISCONTINUITY-SEQUENCE:0\n"
      "#EXT-X-PROGRAM-DATE-TIME:2026-11-25T12:00:00.000Z\n"
      "#EXTINF:2.000,\n"
      "s3f9a2c-0.ts\n"
      "#EXT-X-PROGRAM-DATE-TIME:2026-11-25T12:00:02.000Z\n"
      "#EXTINF:2.002,\n"
      "s3f9a2c-1.ts\n"
      "#EXT-X-PROGRAM-DATE-TIME:2026-11-25T12:00:04.000Z\n"
      "#EXTINF:1.968,\n"
      "s3f9a2c-2.ts\n";
  CHECK(render_playlist(params(2, 0, 0, segs)) == expected);
}

TEST_CASE("playlist: an ended playlist closes with EXT-X-ENDLIST") {
  const std::vector<Segment> segs{seg(7, 4.0), seg(8, 1.5)};
  const std::string expected =
      "#EXTM3U\n"
      "#EXT-X-VERSION:3\n"
      "#EXT-X-TARGETDURATION:4\n"
      "#EXT-X-MEDIA-SEQUENCE:7\n"
      "#EXT-X-DISCONTINUITY-SEQUENCE:0\n"
      "#EXT-X-PROGRAM-DATE-TIME:2026-11-25T12:00:14.000Z\n"
      "#EXTINF:4.000,\n"
      "s3f9a2c-7.ts\n"
      "#EXT-X-PROGRAM-DATE-TIME:2026-11-25T12:00:16.000Z\n"
      "#EXTINF:1.500,\n"
      "s3f9a2c-8.ts\n"
      "#EXT-X-ENDLIST\n";
  CHECK(render_playlist(params(4, 7, 0, segs, true)) == expected);
}

TEST_CASE("playlist: a discontinuity in the middle is tagged before its segment") {
  const std::vector<Segment> segs{seg(3, 2.0), seg(4, 2.0, true), seg(5, 2.0)};
  const std::string expected =
      "#EXTM3U\n"
      "#EXT-X-VERSION:3\n"
      "#EXT-X-TARGETDURATION:2\n"
      "#EXT-X-MEDIA-SEQUENCE:3\n"
      "#EXT-X-DISCONTINUITY-SEQUENCE:0\n"
      "#EXT-X-PROGRAM-DATE-TIME:2026-11-25T12:00:06.000Z\n"
      "#EXTINF:2.000,\n"
      "s3f9a2c-3.ts\n"
      "#EXT-X-DISCONTINUITY\n"
      "#EXT-X-PROGRAM-DATE-TIME:2026-11-25T12:00:08.000Z\n"
      "#EXTINF:2.000,\n"
      "s3f9a2c-4.ts\n"
      "#EXT-X-PROGRAM-DATE-TIME:2026-11-25T12:00:10.000Z\n"
      "#EXTINF:2.000,\n"
      "s3f9a2c-5.ts\n";
  CHECK(render_playlist(params(2, 3, 0, segs)) == expected);
}

TEST_CASE("playlist: the window sliding past a discontinuity counts it in DISCONTINUITY-SEQUENCE") {
  SegmentWindow w(3, 2);
  for (uint64_t i = 0; i < 6; ++i) REQUIRE(w.push(seg(i, 2.0, i == 2)));
  // Listed 3..5; segment 2 carried the tag out of the window (RFC 8216 4.3.3.3).
  const std::string expected =
      "#EXTM3U\n"
      "#EXT-X-VERSION:3\n"
      "#EXT-X-TARGETDURATION:2\n"
      "#EXT-X-MEDIA-SEQUENCE:3\n"
      "#EXT-X-DISCONTINUITY-SEQUENCE:1\n"
      "#EXT-X-PROGRAM-DATE-TIME:2026-11-25T12:00:06.000Z\n"
      "#EXTINF:2.000,\n"
      "s3f9a2c-3.ts\n"
      "#EXT-X-PROGRAM-DATE-TIME:2026-11-25T12:00:08.000Z\n"
      "#EXTINF:2.000,\n"
      "s3f9a2c-4.ts\n"
      "#EXT-X-PROGRAM-DATE-TIME:2026-11-25T12:00:10.000Z\n"
      "#EXTINF:2.000,\n"
      "s3f9a2c-5.ts\n";
  CHECK(render_playlist(params(2, w.media_sequence(), w.discontinuity_sequence(), w.listed())) == expected);
}

TEST_CASE("playlist: a discontinuity on the first listed segment is still tagged") {
  SegmentWindow w(3, 2);
  for (uint64_t i = 0; i < 5; ++i) REQUIRE(w.push(seg(i, 2.0, i == 2)));
  const std::string expected =
      "#EXTM3U\n"
      "#EXT-X-VERSION:3\n"
      "#EXT-X-TARGETDURATION:2\n"
      "#EXT-X-MEDIA-SEQUENCE:2\n"
      "#EXT-X-DISCONTINUITY-SEQUENCE:0\n"
      "#EXT-X-DISCONTINUITY\n"
      "#EXT-X-PROGRAM-DATE-TIME:2026-11-25T12:00:04.000Z\n"
      "#EXTINF:2.000,\n"
      "s3f9a2c-2.ts\n"
      "#EXT-X-PROGRAM-DATE-TIME:2026-11-25T12:00:06.000Z\n"
      "#EXTINF:2.000,\n"
      "s3f9a2c-3.ts\n"
      "#EXT-X-PROGRAM-DATE-TIME:2026-11-25T12:00:08.000Z\n"
      "#EXTINF:2.000,\n"
      "s3f9a2c-4.ts\n";
  CHECK(render_playlist(params(2, w.media_sequence(), w.discontinuity_sequence(), w.listed())) == expected);
}

TEST_CASE("playlist: an empty live playlist is the header only") {
  const std::string expected =
      "#EXTM3U\n"
      "#EXT-X-VERSION:3\n"
      "#EXT-X-TARGETDURATION:6\n"
      "#EXT-X-MEDIA-SEQUENCE:0\n"
      "#EXT-X-DISCONTINUITY-SEQUENCE:0\n";
  CHECK(render_playlist(params(6, 0, 0, {})) == expected);
}

TEST_CASE("playlist: EXTINF has exactly three decimals, rounded to the nearest millisecond") {
  auto extinf_line = [](double d) {
    const std::vector<Segment> segs{seg(0, d)};
    const std::string text = render_playlist(params(10, 0, 0, segs));
    const size_t at = text.find("#EXTINF:");
    return text.substr(at, text.find('\n', at) - at);
  };
  CHECK(extinf_line(2.0) == "#EXTINF:2.000,");
  CHECK(extinf_line(1.9996) == "#EXTINF:2.000,");  // rounds up into the next second
  CHECK(extinf_line(1.9994) == "#EXTINF:1.999,");
  CHECK(extinf_line(0.0335) == "#EXTINF:0.034,");  // half a millisecond rounds away from zero
  CHECK(extinf_line(0.0) == "#EXTINF:0.000,");
  CHECK(extinf_line(-1.0) == "#EXTINF:0.000,");  // never a negative duration
  CHECK(extinf_line(10.01) == "#EXTINF:10.010,");
  CHECK(extinf_ms(0.0335) == 34);
}

TEST_CASE("playlist: rounded_duration rounds to nearest, halves up (RFC 8216 4.3.3.1)") {
  CHECK(rounded_duration(2.4) == 2);
  CHECK(rounded_duration(2.5) == 3);
  CHECK(rounded_duration(2.6) == 3);
  CHECK(rounded_duration(0.0) == 0);
  CHECK(rounded_duration(-3.0) == 0);
  // Rounds what EXTINF prints: 2.4996 is written "2.500", which a player rounds to 3.
  CHECK(rounded_duration(2.4996) == 3);
  CHECK(rounded_duration(2.4994) == 2);
}

TEST_CASE("playlist: format_pdt is ISO 8601 UTC with milliseconds") {
  CHECK(format_pdt(0) == "1970-01-01T00:00:00.000Z");
  CHECK(format_pdt(1795608510873) == "2026-11-25T12:08:30.873Z");
  CHECK(format_pdt(1709251199999) == "2024-02-29T23:59:59.999Z");
  CHECK(format_pdt(-1) == "1969-12-31T23:59:59.999Z");  // floors, never "-0.001"
}

TEST_CASE("playlist: CMAF segments get version 6 and an EXT-X-MAP before the first and where it changes") {
  std::vector<Segment> segs = {seg(4, 2.0), seg(5, 2.0), seg(6, 2.0, true)};
  for (Segment& s : segs) s.uri = "s3f9a2c-" + std::to_string(s.seq) + ".m4s";
  segs[0].map_uri = segs[1].map_uri = "s3f9a2c-0.mp4";  // older than the window: still named first
  segs[2].map_uri = "s3f9a2c-6.mp4";
  PlaylistParams p = params(2, 4, 0, segs);
  p.fmp4 = true;
  CHECK(render_playlist(p) ==
        "#EXTM3U\n"
        "#EXT-X-VERSION:6\n"
        "#EXT-X-TARGETDURATION:2\n"
        "#EXT-X-MEDIA-SEQUENCE:4\n"
        "#EXT-X-DISCONTINUITY-SEQUENCE:0\n"
        "#EXT-X-MAP:URI=\"s3f9a2c-0.mp4\"\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-25T12:00:08.000Z\n"
        "#EXTINF:2.000,\n"
        "s3f9a2c-4.m4s\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-25T12:00:10.000Z\n"
        "#EXTINF:2.000,\n"
        "s3f9a2c-5.m4s\n"
        "#EXT-X-DISCONTINUITY\n"
        "#EXT-X-MAP:URI=\"s3f9a2c-6.mp4\"\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-25T12:00:12.000Z\n"
        "#EXTINF:2.000,\n"
        "s3f9a2c-6.m4s\n");
}

TEST_CASE("playlist: a multivariant playlist lists each variant with its attributes") {
  std::vector<Variant> v(2);
  v[0].uri = "ll.m3u8";
  v[0].bandwidth = 3200000;
  v[0].average_bandwidth = 3000001;
  v[0].codecs = "avc1.4d401f,mp4a.40.2";
  v[0].width = 1280;
  v[0].height = 720;
  v[0].frame_rate = 29.97002997;
  v[1].uri = "audio.m3u8";  // nothing known but the bit rate: the optional attributes are left out
  v[1].bandwidth = 130000;
  v[1].average_bandwidth = 128000;
  CHECK(render_multivariant(v) ==
        "#EXTM3U\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=3200000,AVERAGE-BANDWIDTH=3000001,CODECS=\"avc1.4d401f,mp4a.40.2\","
        "RESOLUTION=1280x720,FRAME-RATE=29.970\n"
        "ll.m3u8\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=130000,AVERAGE-BANDWIDTH=128000\n"
        "audio.m3u8\n");
}

TEST_CASE("playlist: CODECS joins the tracks' codec strings, video first") {
  VideoConfig v;
  v.codec = VideoCodec::h264;
  v.codec_string = "avc1.4d401f";
  AudioConfig a;
  a.codec = AudioCodec::aac;
  a.codec_string = "mp4a.40.2";
  CHECK(codecs_string(v, a) == "avc1.4d401f,mp4a.40.2");
  CHECK(codecs_string(std::nullopt, a) == "mp4a.40.2");
  CHECK(codecs_string(v, std::nullopt) == "avc1.4d401f");
  a.codec_string.clear();  // a track whose parser could not say leaves it out
  CHECK(codecs_string(v, a) == "avc1.4d401f");
  v.codec_string.clear();
  CHECK(codecs_string(v, a).empty());
  CHECK(codecs_string(std::nullopt, std::nullopt).empty());
}

TEST_CASE("playlist: bandwidth is the peak segment bit rate and the average over all") {
  std::vector<Segment> segs = {seg(0, 2.0), seg(1, 1.0), seg(2, 2.0)};
  segs[0].bytes = std::make_shared<const std::vector<uint8_t>>(500000, 0);  // 2 Mbit/s
  segs[1].bytes = std::make_shared<const std::vector<uint8_t>>(500000, 0);  // 4 Mbit/s
  segs[2].bytes = std::make_shared<const std::vector<uint8_t>>(250000, 0);  // 1 Mbit/s
  const Bandwidth b = measure_bandwidth(segs);
  CHECK(b.peak == 4000000);
  CHECK(b.average == 2000000);  // 1.25 MB in 5 s
  CHECK(measure_bandwidth({}).peak == 0);
}

namespace {

// CMAF segments of two 1 s parts each (the first independent), all with one map.
std::vector<Segment> ll_segments(uint64_t first, size_t count) {
  std::vector<Segment> segs;
  for (uint64_t seq = first; seq < first + count; ++seq) {
    Segment s = seg(seq, 2.0);
    s.uri = "t-" + std::to_string(seq) + ".m4s";
    s.map_uri = "t-0.mp4";
    for (uint32_t i = 0; i < 2; ++i) {
      Part part;
      part.seq = seq;
      part.index = i;
      part.duration_s = 1.0;
      part.independent = i == 0;
      part.uri = "t-" + std::to_string(seq) + "." + std::to_string(i) + ".m4s";
      s.parts.push_back(part);
    }
    segs.push_back(s);
  }
  return segs;
}

}  // namespace

TEST_CASE("playlist: LL-HLS lists parts near the live edge, the open segment's parts and the hint") {
  const std::vector<Segment> segs = ll_segments(10, 4);
  std::vector<Part> open(1);
  open[0] = {14, 0, 0.3, true, "t-14.0.m4s", nullptr, 0, 0};
  const std::vector<RenditionReport> reports = {{"../480p/ll.m3u8", 14, 0}};
  LowLatencyParams ll;
  ll.part_target_ms = 1000;
  ll.open_seq = 14;
  ll.open_parts = open;
  ll.preload_hint = "t-14.1.m4s";
  ll.reports = reports;
  PlaylistParams p = params(2, 10, 0, segs);
  p.fmp4 = true;
  p.ll = &ll;
  // Parts for the segments ending within 3 target durations (6 s) of the edge: 13 and 12 end 0.3 s and
  // 2.3 s before it, 11 ends 4.3 s before it; 10 ends 6.3 s before it and is listed whole.
  CHECK(render_playlist(p) ==
        "#EXTM3U\n"
        "#EXT-X-VERSION:6\n"
        "#EXT-X-TARGETDURATION:2\n"
        "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=12.000,PART-HOLD-BACK=3.000,"
        "HOLD-BACK=6.000\n"
        "#EXT-X-PART-INF:PART-TARGET=1.000\n"
        "#EXT-X-MEDIA-SEQUENCE:10\n"
        "#EXT-X-DISCONTINUITY-SEQUENCE:0\n"
        "#EXT-X-MAP:URI=\"t-0.mp4\"\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-25T12:00:20.000Z\n"
        "#EXTINF:2.000,\n"
        "t-10.m4s\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-25T12:00:22.000Z\n"
        "#EXT-X-PART:DURATION=1.000,URI=\"t-11.0.m4s\",INDEPENDENT=YES\n"
        "#EXT-X-PART:DURATION=1.000,URI=\"t-11.1.m4s\"\n"
        "#EXTINF:2.000,\n"
        "t-11.m4s\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-25T12:00:24.000Z\n"
        "#EXT-X-PART:DURATION=1.000,URI=\"t-12.0.m4s\",INDEPENDENT=YES\n"
        "#EXT-X-PART:DURATION=1.000,URI=\"t-12.1.m4s\"\n"
        "#EXTINF:2.000,\n"
        "t-12.m4s\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-25T12:00:26.000Z\n"
        "#EXT-X-PART:DURATION=1.000,URI=\"t-13.0.m4s\",INDEPENDENT=YES\n"
        "#EXT-X-PART:DURATION=1.000,URI=\"t-13.1.m4s\"\n"
        "#EXTINF:2.000,\n"
        "t-13.m4s\n"
        "#EXT-X-PART:DURATION=0.300,URI=\"t-14.0.m4s\",INDEPENDENT=YES\n"
        "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"t-14.1.m4s\"\n"
        "#EXT-X-RENDITION-REPORT:URI=\"../480p/ll.m3u8\",LAST-MSN=14,LAST-PART=0\n");

  SUBCASE("an ended playlist has no hint") {
    p.ended = true;
    const std::string text = render_playlist(p);
    CHECK(text.find("PRELOAD-HINT") == std::string::npos);
    CHECK(text.ends_with("#EXT-X-ENDLIST\n"));
  }
  SUBCASE("a TS playlist ignores the LL parameters") {
    p.fmp4 = false;
    CHECK(render_playlist(p).find("#EXT-X-PART") == std::string::npos);
  }
}

TEST_CASE("playlist: a delta update skips what starts CAN-SKIP-UNTIL before the end, and is version 9") {
  const std::vector<Segment> segs = ll_segments(20, 8);  // 16 s; the skip boundary is 12 s
  LowLatencyParams ll;
  ll.part_target_ms = 1000;
  ll.open_seq = 28;
  ll.delta = true;
  PlaylistParams p = params(2, 20, 3, segs);
  p.fmp4 = true;
  p.ll = &ll;
  // 20 and 21 start 16 s and 14 s before the end, 22 starts 12 s before it: skipped too.
  CHECK(skippable_segments(segs, {}, 12.0) == 3);
  const std::string text = render_playlist(p);
  CHECK(text.starts_with("#EXTM3U\n#EXT-X-VERSION:9\n"));
  CHECK(text.find("#EXT-X-DISCONTINUITY-SEQUENCE:3\n#EXT-X-SKIP:SKIPPED-SEGMENTS=3\n"
                  "#EXT-X-MAP:URI=\"t-0.mp4\"\n#EXT-X-PROGRAM-DATE-TIME:2026-11-25T12:00:46.000Z\n") !=
        std::string::npos);
  CHECK(text.find("t-22.m4s") == std::string::npos);
  CHECK(text.find("t-23.m4s") != std::string::npos);

  SUBCASE("the last segment is never skipped, and a short playlist skips nothing") {
    CHECK(skippable_segments(std::span(segs).subspan(7), {}, 1.0) == 0);
    CHECK(skippable_segments(std::span(segs).subspan(4), {}, 12.0) == 0);
    std::vector<Part> open(1);
    open[0].duration_s = 1.5;
    CHECK(skippable_segments(std::span(segs).subspan(2), open, 12.0) == 1);  // 13.5 s from 22's start
  }
  SUBCASE("an ended playlist is never a delta") {
    p.ended = true;
    CHECK(render_playlist(p).find("EXT-X-SKIP") == std::string::npos);
  }
}

TEST_CASE("playlist: the open segment's discontinuity and new map come before its first part") {
  const std::vector<Segment> segs = ll_segments(10, 2);
  std::vector<Part> open(1);
  open[0] = {12, 0, 0.3, true, "t-12.0.m4s", nullptr, 0, 0};
  LowLatencyParams ll;
  ll.part_target_ms = 1000;
  ll.open_seq = 12;
  ll.open_parts = open;
  ll.open_discontinuity = true;
  ll.open_map_uri = "t-12.mp4";
  ll.preload_hint = "t-12.1.m4s";
  PlaylistParams p = params(2, 10, 0, segs);
  p.fmp4 = true;
  p.ll = &ll;
  const std::string tail =
      "t-11.m4s\n"
      "#EXT-X-DISCONTINUITY\n"
      "#EXT-X-MAP:URI=\"t-12.mp4\"\n"
      "#EXT-X-PART:DURATION=0.300,URI=\"t-12.0.m4s\",INDEPENDENT=YES\n"
      "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"t-12.1.m4s\"\n";
  CHECK(render_playlist(p).ends_with(tail));
  // The same map as the segment before it is not repeated; without parts there is nothing to state.
  ll.open_discontinuity = false;
  ll.open_map_uri = "t-0.mp4";
  CHECK(
      render_playlist(p).ends_with("t-11.m4s\n#EXT-X-PART:DURATION=0.300,URI=\"t-12.0.m4s\",INDEPENDENT=YES\n"
                                   "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"t-12.1.m4s\"\n"));
  ll.open_parts = {};
  ll.open_discontinuity = true;
  CHECK(render_playlist(p).ends_with("t-11.m4s\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"t-12.1.m4s\"\n"));
}
