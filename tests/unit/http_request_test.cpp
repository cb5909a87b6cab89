// The HTTP request head parser and byte ranges, on byte strings: valid forms, every malformed form,
// the size limits, and input split at every byte.
#include "http/http_request.h"

#include <doctest/doctest.h>

#include <string>

using namespace livegate;

namespace {

HttpRequestParser parse_all(std::string_view text, HttpLimits limits = {}) {
  HttpRequestParser p(limits);
  p.feed(text);
  return p;
}

}  // namespace

TEST_CASE("a GET head is parsed, header names lower-cased and values trimmed") {
  const auto p = parse_all("GET /live/a/index.m3u8?x=1 HTTP/1.1\r\nHost: h\r\nRange:  bytes=0-1 \r\n\r\n");
  REQUIRE(p.state() == HttpRequestParser::State::done);
  const HttpRequest& r = p.request();
  CHECK(r.method == "GET");
  CHECK(r.target == "/live/a/index.m3u8?x=1");
  CHECK(r.path == "/live/a/index.m3u8");
  CHECK(r.minor_version == 1);
  REQUIRE(r.header("range"));
  CHECK(*r.header("range") == "bytes=0-1");
  CHECK(r.header("host"));
  CHECK_FALSE(r.header("Host"));
  CHECK(r.keep_alive);
}

TEST_CASE("keep-alive follows the version and the Connection header") {
  CHECK_FALSE(parse_all("GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Close\r\n\r\n").request().keep_alive);
  CHECK_FALSE(parse_all("GET / HTTP/1.0\r\n\r\n").request().keep_alive);
  CHECK(parse_all("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").request().keep_alive);
}

TEST_CASE("bare LF line ends, leading blank lines and the absolute form are accepted") {
  auto p = parse_all("\r\n\r\nHEAD http://example.test/healthz HTTP/1.1\nHost: example.test\n\n");
  REQUIRE(p.state() == HttpRequestParser::State::done);
  CHECK(p.request().method == "HEAD");
  CHECK(p.request().path == "/healthz");
  CHECK(parse_all("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n").state() == HttpRequestParser::State::done);
}

TEST_CASE("input split at every byte gives the same request, and the bytes of the next one are left") {
  const std::string text = "GET /a HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n\r\nGET /b HTTP/1.1\r\n";
  const size_t first_len = text.find("GET /b");
  for (size_t cut = 0; cut <= first_len; ++cut) {
    HttpRequestParser p({});
    size_t used = p.feed(std::string_view(text).substr(0, cut));
    if (p.state() == HttpRequestParser::State::need_more) used += p.feed(std::string_view(text).substr(cut));
    REQUIRE(p.state() == HttpRequestParser::State::done);
    CHECK(used == first_len);
    CHECK(p.request().path == "/a");
    CHECK(*p.request().header("x-a") == "1");
  }
  HttpRequestParser p({});
  const size_t used = p.feed(text);
  p.reset();
  p.feed(std::string_view(text).substr(used));
  CHECK(p.state() == HttpRequestParser::State::need_more);
  CHECK(p.started());
}

TEST_CASE("malformed heads are refused with 400, 505 or 413") {
  struct Case {
    const char* text;
    int status;
  };
  const Case cases[] = {
      {"GET /\r\n\r\n", 400},
      {"GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
      {"GET / HTTP/1.1 x\r\nHost: h\r\n\r\n", 400},
      {"G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
      {"GET x HTTP/1.1\r\nHost: h\r\n\r\n", 400},
      {"GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n", 400},
      {"GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505},
      {"GET / HTTP/1.2\r\nHost: h\r\n\r\n", 505},
      {"GET / FTP/1.1\r\nHost: h\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\n\r\n", 400},                                       // no Host
      {"GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n", 400},                 // obsolete line folding
      {"GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400},                          // space before the colon
      {"GET / HTTP/1.1\r\nHost h\r\n\r\n", 400},                            // no colon
      {"GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", 400},                // bare CR in a value
      {"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n", 413},
      {"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", 413},
      // Two lengths (even equal ones, even zero) or two hosts: a proxy may have read the other one.
      {"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\ncontent-length: 5\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    const auto p = parse_all(c.text);
    CHECK(p.state() == HttpRequestParser::State::refused);
    CHECK(p.status() == c.status);
    CHECK_FALSE(p.reason().empty());
  }
  CHECK(parse_all("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n").state() ==
        HttpRequestParser::State::done);
}

TEST_CASE("the URI and header limits refuse before the head ends, and hold no more than they allow") {
  const HttpLimits limits{100, 200};
  // A long target, still arriving: 414 once the request line cannot fit.
  HttpRequestParser p(limits);
  p.feed("GET /" + std::string(90, 'a'));
  CHECK(p.state() == HttpRequestParser::State::need_more);
  p.feed(std::string(50, 'a'));
  CHECK(p.state() == HttpRequestParser::State::refused);
  CHECK(p.status() == 414);
  CHECK(p.buffered() == 0);
  // A target just over the limit in a complete head.
  CHECK(parse_all("GET /" + std::string(100, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n", limits).status() == 414);
  CHECK(parse_all("GET /" + std::string(99, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n", limits).state() ==
        HttpRequestParser::State::done);
  // Headers over the limit, complete or still arriving.
  CHECK(parse_all("GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(200, 'b') + "\r\n\r\n", limits).status() == 431);
  HttpRequestParser q(limits);
  q.feed("GET / HTTP/1.1\r\nHost: h\r\n");
  for (int i = 0; i < 30 && q.state() == HttpRequestParser::State::need_more; ++i) q.feed("X-Header: value\r\n");
  CHECK(q.status() == 431);
  // Headers exactly at the limit pass: "Host: h\r\n" + "X: ...\r\n" + "\r\n" is 200 bytes.
  CHECK(parse_all("GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(200 - 9 - 5 - 2, 'c') + "\r\n\r\n", limits)
            .state() == HttpRequestParser::State::done);
}

TEST_CASE("byte ranges resolve against the body size") {
  auto r = parse_range("bytes=188-375", 1000);
  REQUIRE(r.range);
  CHECK(r.range->first == 188);
  CHECK(r.range->last == 375);
  r = parse_range("bytes=900-5000", 1000);
  CHECK(r.range->last == 999);
  r = parse_range("bytes=10-", 1000);
  CHECK(r.range->first == 10);
  CHECK(r.range->last == 999);
  r = parse_range("bytes=-188", 1000);
  CHECK(r.range->first == 812);
  r = parse_range("bytes=-5000", 1000);
  CHECK(r.range->first == 0);
  // Unsatisfiable: 416.
  CHECK((parse_range("bytes=1000-", 1000).present && !parse_range("bytes=1000-", 1000).range));
  CHECK((parse_range("bytes=-0", 1000).present && !parse_range("bytes=-0", 1000).range));
  // Not understood or several ranges: the whole body.
  for (const char* h : {"bytes=5-1", "bytes=a-b", "items=0-1", "bytes=0-1,5-6", "bytes=", "bytes=-", "bytes=99999999999999999999-"}) {
    CAPTURE(h);
    CHECK_FALSE(parse_range(h, 1000).present);
  }
}
