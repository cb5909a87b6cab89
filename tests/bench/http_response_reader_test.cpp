// HttpResponseReader: Content-Length and chunked framing, split anywhere, keep-alive, and its limits.
#include "tests/bench/http_response_reader.h"

#include <doctest/doctest.h>

#include <string>

using livegate::Bytes;
using livegate::bench::HttpResponseReader;

namespace {

Bytes bytes_of(const std::string& s) { return Bytes(reinterpret_cast<const uint8_t*>(s.data()), s.size()); }

// Feeds `wire` in pieces of `step` bytes; returns the bytes consumed in total.
size_t feed_in_steps(HttpResponseReader& r, const std::string& wire, size_t step) {
  size_t off = 0;
  while (off < wire.size() && !r.complete()) {
    const size_t n = std::min(step, wire.size() - off);
    auto used = r.feed(bytes_of(wire.substr(off, n)));
    REQUIRE(used.ok());
    off += *used;
    if (*used < n) break;
  }
  return off;
}

}  // namespace

TEST_CASE("a Content-Length response, split at every size") {
  const std::string wire =
      "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.apple.mpegurl\r\nContent-Length: 12\r\n\r\n#EXTM3U\nabcd";
  for (size_t step = 1; step <= wire.size(); ++step) {
    CAPTURE(step);
    HttpResponseReader r;
    r.reset(true);
    CHECK(feed_in_steps(r, wire, step) == wire.size());
    CHECK(r.complete());
    CHECK(r.status() == 200);
    CHECK(r.keep_alive());
    CHECK(r.body() == "#EXTM3U\nabcd");
  }
}

TEST_CASE("a chunked response, body counted but not kept") {
  const std::string wire =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
      "5\r\nhello\r\na;ext=1\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n";
  for (size_t step : {1, 3, 7, 200}) {
    HttpResponseReader r;
    r.reset(false);
    CHECK(feed_in_steps(r, wire, step) == wire.size());
    CHECK(r.complete());
    CHECK(r.body_bytes() == 15);
    CHECK(r.body().empty());
    CHECK_FALSE(r.keep_alive());
  }
}

TEST_CASE("the reader stops at the end of a response and resets for the next") {
  const std::string one = "HTTP/1.1 404 Not Found\r\ncontent-length: 3\r\n\r\nno!";
  HttpResponseReader r;
  r.reset(true);
  auto used = r.feed(bytes_of(one + "HTTP/1.1 204 No Content\r\n\r\n"));
  REQUIRE(used.ok());
  CHECK(*used == one.size());
  CHECK(r.status() == 404);
  r.reset(true);
  auto second = r.feed(bytes_of("HTTP/1.0 204 No Content\r\n\r\n"));
  REQUIRE(second.ok());
  CHECK(r.complete());
  CHECK(r.status() == 204);
  CHECK_FALSE(r.keep_alive());  // HTTP/1.0 without keep-alive
}

TEST_CASE("malformed responses and limits are errors") {
  HttpResponseReader::Limits limits;
  limits.max_header_bytes = 64;
  limits.max_kept_body = 4;
  const char* bad[] = {
      "HTTP/1.1 200 OK\r\n\r\nbody",                          // no framing
      "HTTX/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx",         // not HTTP
      "HTTP/1.1 2x0 OK\r\nContent-Length: 1\r\n\r\nx",         // bad code
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",  // bad chunk size
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxy",  // chunk without CRLF
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n12345",     // kept body over the limit
      "HTTP/1.1 200 OK\r\nX-Long: 0123456789012345678901234567890123456789\r\n\r\n",  // headers
  };
  for (const std::string wire : bad) {
    CAPTURE(wire);
    HttpResponseReader r(limits);
    r.reset(true);
    CHECK_FALSE(r.feed(bytes_of(wire)).ok());
    CHECK_FALSE(r.feed(bytes_of("x")).ok());  // errors are sticky
  }
}
