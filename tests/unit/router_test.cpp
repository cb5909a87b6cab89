// Routes over a StreamStore with one stream: what each URL answers, with which headers, and that no
// malformed or foreign path reaches a stream or a file.
#include "http/router.h"

#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

using namespace livegate;

namespace {

HttpRequest get(std::string path, std::string method = "GET") {
  HttpRequest r;
  r.method = std::move(method);
  r.target = path;
  r.path = path.substr(0, path.find('?'));
  return r;
}

struct Fixture {
  StreamStore store;
  Metrics metrics;
  StaticFiles files;
  std::shared_ptr<const std::vector<uint8_t>> bytes = std::make_shared<const std::vector<uint8_t>>(376, 0x47);
  std::shared_ptr<const std::vector<uint8_t>> fragment = std::make_shared<const std::vector<uint8_t>>(100, 1);
  std::shared_ptr<const std::vector<uint8_t>> init = std::make_shared<const std::vector<uint8_t>>(50, 2);

  Fixture() {
    const auto dir =
        std::filesystem::temp_directory_path() / ("livegate-router-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "index.html") << "<video></video>";
    files = StaticFiles::load(dir.string());
    std::filesystem::remove_all(dir);

    auto hls = std::make_shared<HlsSnapshot>();
    hls->ts.text = "#EXTM3U\n";
    Segment s;
    s.uri = "abcx1-7.ts";
    s.bytes = bytes;
    hls->ts.segments.push_back(s);
    hls->cmaf.text = "#EXTM3U\n#EXT-X-VERSION:6\n";
    hls->master = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,AVERAGE-BANDWIDTH=1\nll.m3u8\n";
    Segment c;
    c.uri = "abcx1-7.m4s";
    c.bytes = fragment;
    c.map_uri = "abcx1-5.mp4";
    c.map = init;
    hls->cmaf.segments.push_back(c);
    hls->listed = 1;
    store.put_hls("live/cam", hls);
    auto snap = std::make_shared<StreamSnapshot>();
    snap->name = StreamName{"live", "cam"};
    snap->live = true;
    snap->publisher.peer = "192.0.2.7:40000";
    snap->publisher.encoder = "obs-output module (libobs version 30.0.0)";
    store.put(snap);
  }
  static constexpr Caller kOperator{true, false};
  HttpResponse handle(const HttpRequest& r, Caller c = kOperator) const {
    return Router(store, files, metrics).handle(r, c);
  }
};

}  // namespace

TEST_CASE_FIXTURE(Fixture, "playlists and segments are served from the snapshot without a copy") {
  HttpResponse r = handle(get("/live/cam/index.m3u8"));
  CHECK(r.status == 200);
  CHECK(r.route == std::string("playlist"));
  CHECK(r.content_type == "application/vnd.apple.mpegurl");
  CHECK(r.cache_control == "max-age=1");
  CHECK(r.body == "#EXTM3U\n");
  CHECK(r.body.data() == store.get_hls("live/cam")->ts.text.data());

  r = handle(get("/live/cam/abcx1-7.ts"));
  CHECK(r.status == 200);
  CHECK(r.content_type == "video/mp2t");
  CHECK(r.cache_control == "public, max-age=31536000, immutable");
  CHECK(r.ranges);
  CHECK(r.body.size() == 376);
  CHECK(static_cast<const void*>(r.body.data()) == bytes->data());
  CHECK(bytes.use_count() == 3);  // the fixture, the store's segment and the response
}

TEST_CASE_FIXTURE(Fixture, "the CMAF playlist, its segments and init segments, each with its type") {
  HttpResponse r = handle(get("/live/cam/ll.m3u8"));
  CHECK(r.status == 200);
  CHECK(r.content_type == "application/vnd.apple.mpegurl");
  CHECK(r.body.data() == store.get_hls("live/cam")->cmaf.text.data());
  r = handle(get("/live/cam/master.m3u8"));
  CHECK(r.status == 200);
  CHECK(r.content_type == "application/vnd.apple.mpegurl");
  CHECK(r.cache_control == "max-age=1");
  CHECK(r.body.data() == store.get_hls("live/cam")->master.data());
  r = handle(get("/live/cam/abcx1-7.m4s"));
  CHECK(r.status == 200);
  CHECK(r.content_type == "video/iso.segment");
  CHECK(r.cache_control == "public, max-age=31536000, immutable");
  CHECK(static_cast<const void*>(r.body.data()) == fragment->data());
  r = handle(get("/live/cam/abcx1-5.mp4"));
  CHECK(r.status == 200);
  CHECK(r.content_type == "video/mp4");
  CHECK(r.cache_control == "public, max-age=31536000, immutable");
  CHECK(r.ranges);
  CHECK(static_cast<const void*>(r.body.data()) == init->data());
  // A segment of one packaging is not found under the other's extension, nor an init segment no
  // fetchable segment names.
  for (const char* path : {"/live/cam/abcx1-7.mp4", "/live/cam/abcx1-5.m4s", "/live/cam/abcx1-5.ts",
                           "/live/cam/abcx1-6.mp4", "/live/other/ll.m3u8"}) {
    CAPTURE(path);
    CHECK(handle(get(path)).status == 404);
  }
  // A stream with only the TS packaging has no ll.m3u8.
  auto ts_only = std::make_shared<HlsSnapshot>();
  ts_only->ts.text = "#EXTM3U\n";
  store.put_hls("live/tsonly", ts_only);
  CHECK(handle(get("/live/tsonly/ll.m3u8")).status == 404);
  CHECK(handle(get("/live/tsonly/master.m3u8")).status == 404);  // none rendered (in this snapshot)
  CHECK(handle(get("/live/tsonly/index.m3u8")).status == 200);
}

TEST_CASE_FIXTURE(Fixture, "unknown streams, segments and malformed names are 404 with a short max-age") {
  for (const char* path :
       {"/live/other/index.m3u8", "/live/cam/abcx1-8.ts", "/live/cam/../cam/index.m3u8", "/live/cam/abc-x.ts",
        "/live/cam/-1.ts", "/live/c%61m/index.m3u8", "/live/cam/index.m3u8/", "/live//index.m3u8",
        "//cam/index.m3u8", "/a/b/c/d/e/f/g", "/live/cam/abcx1-7.ts.ts", "/api/streams/live", "/nothing"}) {
    CAPTURE(path);
    const HttpResponse r = handle(get(path));
    CHECK(r.status == 404);
    CHECK(r.cache_control == "max-age=1");
  }
}

TEST_CASE_FIXTURE(Fixture, "the API, health, metrics and page routes") {
  HttpResponse r = handle(get("/api/streams"));
  CHECK(r.status == 200);
  CHECK(r.content_type == "application/json");
  CHECK(r.body.find("\"cam\"") != std::string_view::npos);
  CHECK(handle(get("/api/streams/live/cam")).status == 200);
  r = handle(get("/api/streams/live/other"));
  CHECK(r.status == 404);
  CHECK(r.content_type == "application/json");
  CHECK(handle(get("/healthz")).body == "ok\n");
  metrics.counter("livegate_test_total", "A test counter.").fetch_add(3);
  r = handle(get("/metrics"));
  CHECK(r.body.find("livegate_test_total 3\n") != std::string_view::npos);
  CHECK(r.cache_control == "no-cache");
  r = handle(get("/"));
  CHECK(r.status == 200);
  CHECK(r.body == "<video></video>");
}

TEST_CASE_FIXTURE(Fixture, "methods: preflight for every route, 405 for anything but GET, HEAD and OPTIONS") {
  HttpResponse r = handle(get("/live/cam/index.m3u8", "OPTIONS"));
  CHECK(r.status == 204);
  CHECK(r.body.empty());
  CHECK(handle(get("/live/cam/index.m3u8", "HEAD")).status == 200);
  for (const char* m : {"POST", "PUT", "DELETE", "PATCH", "TRACE", "CONNECT"}) {
    r = handle(get("/live/cam/index.m3u8", m));
    CHECK(r.status == 405);
    REQUIRE(r.headers.size() == 1);
    CHECK(r.headers[0].first == "Allow");
  }
}

TEST_CASE_FIXTURE(Fixture, "viewers get no publisher addresses and no metrics; operators get both") {
  const Caller viewer{false, false}, viewer_with_token_listener{false, true};
  for (const char* path : {"/api/streams", "/api/streams/live/cam"}) {
    CAPTURE(path);
    const HttpResponse pub = handle(get(path), viewer);
    CHECK(pub.status == 200);
    CHECK(pub.body.find("192.0.2.7") == std::string_view::npos);
    CHECK(pub.body.find("libobs") != std::string_view::npos);  // the encoder's name is not a secret
    CHECK(handle(get(path)).body.find("\"address\": \"192.0.2.7:40000\"") != std::string_view::npos);
  }
  HttpResponse r = handle(get("/metrics"), viewer);
  CHECK(r.status == 403);
  CHECK(r.body.find("livegate_") == std::string_view::npos);
  r = handle(get("/metrics"), viewer_with_token_listener);
  CHECK(r.status == 401);
  REQUIRE(r.headers.size() == 1);
  CHECK(r.headers[0].first == "WWW-Authenticate");
  CHECK(handle(get("/metrics")).status == 200);
  // HLS and the pages are for everyone.
  CHECK(handle(get("/live/cam/index.m3u8"), viewer).status == 200);
  CHECK(handle(get("/"), viewer).status == 200);
}

TEST_CASE("the API answers valid JSON whatever bytes a publisher sent") {
  StreamStore store;
  Metrics metrics;
  StaticFiles files;
  auto snap = std::make_shared<StreamSnapshot>();
  snap->name = StreamName{"live", "x"};
  snap->live = true;
  // Strings as a hostile encoder could send them, had ingest not cleaned them: the dump must not throw.
  snap->publisher.encoder = std::string("FMLE\xff\xfe/3.0\xc3");
  snap->metadata = {{"title\xed\xa0\x80", "caf\xe9"}, {"encoder", "\x80\x80"}};
  store.put(snap);
  const HttpResponse r = Router(store, files, metrics).handle(get("/api/streams"), Caller{true, false});
  CHECK(r.status == 200);
  const auto j = nlohmann::json::parse(r.body);  // throws on invalid UTF-8 in the body
  CHECK(j["streams"][0]["publisher"]["encoder"] == "FMLE\xef\xbf\xbd\xef\xbf\xbd/3.0\xef\xbf\xbd");
}

namespace {

// live/ll: segments 5 and 6 of two parts each, segment 7 open with one part and the next hinted; 2 s
// segments, 1 s parts (an advance limit of 3 parts).
std::shared_ptr<HlsSnapshot> low_latency_snapshot(const std::shared_ptr<const std::vector<uint8_t>>& bytes) {
  auto hls = std::make_shared<HlsSnapshot>();
  hls->target_duration_s = 2;
  hls->cmaf.text = "#EXTM3U\n#full\n";
  hls->ll.delta = "#EXTM3U\n#delta\n";
  hls->ll.part_target_ms = 1000;
  auto part = [&](uint64_t seq, uint32_t i) {
    Part p;
    p.seq = seq;
    p.index = i;
    p.uri = "abcx1-" + std::to_string(seq) + "." + std::to_string(i) + ".m4s";
    p.buffer = bytes;
    p.offset = i * 10;
    p.size = 10;
    return p;
  };
  for (uint64_t seq : {5, 6}) {
    Segment s;
    s.seq = seq;
    s.uri = "abcx1-" + std::to_string(seq) + ".m4s";
    s.bytes = bytes;
    s.parts = {part(seq, 0), part(seq, 1)};
    hls->cmaf.segments.push_back(s);
  }
  hls->ll.open_seq = 7;
  hls->ll.open_parts = {part(7, 0)};
  hls->ll.preload_hint = "abcx1-7.1.m4s";
  return hls;
}

}  // namespace

TEST_CASE_FIXTURE(Fixture,
                  "ll.m3u8: blocking reload is answered at once, held, or refused by the RFC 8216bis rules") {
  auto hls = low_latency_snapshot(fragment);
  store.put_hls("live/ll", hls);
  auto ask = [&](const std::string& query) { return handle(get("/live/ll/ll.m3u8" + query)); };

  HttpResponse r = ask("");
  CHECK(r.status == 200);
  CHECK(r.hold_ms == 0);
  CHECK(r.cache_control == "no-cache");
  CHECK(r.body.data() == hls->cmaf.text.data());
  // Published already: answered at once, cacheable by the full URL.
  for (const char* q :
       {"?_HLS_msn=6", "?_HLS_msn=5&_HLS_part=1", "?_HLS_msn=7&_HLS_part=0", "?_HLS_msn=6&_HLS_part=2",
        "?_HLS_msn=6&_HLS_part=9", "?_HLS_msn=0", "?token=abc&_HLS_msn=6&cb=1"}) {
    CAPTURE(q);
    r = ask(q);
    CHECK(r.status == 200);
    CHECK(r.hold_ms == 0);
    CHECK(r.cache_control == "public, max-age=6");
  }
  // Not yet: held for three target durations, with the 503 to send if nothing comes.
  for (const char* q : {"?_HLS_msn=7", "?_HLS_msn=7&_HLS_part=1", "?_HLS_msn=8", "?_HLS_msn=8&_HLS_part=3",
                        "?_HLS_msn=7&_HLS_part=4"}) {
    CAPTURE(q);
    r = ask(q);
    CHECK(r.status == 503);
    CHECK(r.hold_ms == 6000);
    CHECK(r.hold_path == "live/ll");
    CHECK(r.held_on == hls);
  }
  // Refused at once: past the live edge by more than two segments or the advance part limit, or malformed.
  for (const char* q :
       {"?_HLS_msn=9", "?_HLS_msn=7&_HLS_part=5", "?_HLS_msn=8&_HLS_part=4", "?_HLS_part=1", "?_HLS_msn=x",
        "?_HLS_msn=-1", "?_HLS_msn=+1", "?_HLS_msn=1&_HLS_msn=1", "?_HLS_msn=99999999999999999999999",
        "?_HLS_msn=1&_HLS_part=4294967296", "?_HLS_msn="}) {
    CAPTURE(q);
    r = ask(q);
    CHECK(r.status == 400);
    CHECK(r.hold_ms == 0);
  }
  // Delta updates, asked for with either value; other values are ignored.
  CHECK(ask("?_HLS_skip=YES").body.data() == hls->ll.delta.data());
  CHECK(ask("?_HLS_msn=6&_HLS_skip=v2").body.data() == hls->ll.delta.data());
  CHECK(ask("?_HLS_skip=no").body.data() == hls->cmaf.text.data());

  // Once ended, every directive is ignored.
  auto ended = std::make_shared<HlsSnapshot>(*hls);
  ended->ended = true;
  ended->ll.preload_hint.clear();
  store.put_hls("live/ll", ended);
  r = ask("?_HLS_msn=8&_HLS_part=3");
  CHECK(r.status == 200);
  CHECK(r.hold_ms == 0);
}

TEST_CASE_FIXTURE(Fixture, "parts are served as ranges of their buffer; the hinted next part is held") {
  auto hls = low_latency_snapshot(fragment);
  store.put_hls("live/ll", hls);
  HttpResponse r = handle(get("/live/ll/abcx1-6.1.m4s"));
  CHECK(r.status == 200);
  CHECK(r.route == std::string("part"));
  CHECK(r.content_type == "video/iso.segment");
  CHECK(r.cache_control == "public, max-age=31536000, immutable");
  CHECK(static_cast<const void*>(r.body.data()) == fragment->data() + 10);
  CHECK(r.body.size() == 10);
  CHECK(handle(get("/live/ll/abcx1-7.0.m4s")).status == 200);
  r = handle(get("/live/ll/abcx1-7.1.m4s"));
  CHECK(r.status == 503);
  CHECK(r.hold_ms == 6000);
  for (const char* path : {"/live/ll/abcx1-7.2.m4s", "/live/ll/abcx1-8.0.m4s", "/live/ll/abcx1-7..m4s",
                           "/live/ll/abcx1-7.x.m4s", "/live/ll/abcx1-.1.m4s", "/live/ll/abcx1-6.1.ts",
                           "/live/ll/abcx1-6.12345678901.m4s", "/live/other/abcx1-7.1.m4s"}) {
    CAPTURE(path);
    r = handle(get(path));
    CHECK(r.status == 404);
    CHECK(r.hold_ms == 0);
  }
}
