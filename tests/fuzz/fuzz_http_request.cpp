// Fuzz target: the HTTP request head parser and byte ranges.
//
// Input: two control bytes (a split point and a header limit), then the bytes a client sends. The
// same bytes fed whole and fed in two pieces must give the same outcome; nothing past the limits is
// ever held; a parsed request names a path the router can trust to start with '/'.
#include "fuzz_input.h"
#include "http/http_request.h"

using namespace livegate;

namespace {

struct Outcome {
  HttpRequestParser::State state;
  int status;
  size_t used;
  std::string path;
};

Outcome run(std::string_view text, size_t split, HttpLimits limits) {
  HttpRequestParser p(limits);
  size_t used = 0;
  for (std::string_view piece : {text.substr(0, split), text.substr(split)}) {
    if (p.state() != HttpRequestParser::State::need_more) break;
    const size_t n = p.feed(piece);
    FUZZ_CHECK(n <= piece.size());
    used += n;
    FUZZ_CHECK(p.buffered() <= limits.max_uri_bytes + 32 + limits.max_header_bytes + 1 + piece.size());
    if (p.state() == HttpRequestParser::State::need_more) FUZZ_CHECK(n == piece.size());
  }
  return {p.state(), p.status(), used, p.state() == HttpRequestParser::State::done ? p.request().path : ""};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(data, size);
  const size_t split_at = in.u8();
  const HttpLimits limits{64 + size_t{in.u8()} * 8, 256 + size_t{in.u8()} * 32};
  const auto rest = in.rest();
  const std::string_view text(reinterpret_cast<const char*>(rest.data()), rest.size());
  const size_t split = text.empty() ? 0 : split_at % (text.size() + 1);

  const Outcome whole = run(text, text.size(), limits);
  const Outcome pieces = run(text, split, limits);
  FUZZ_CHECK(whole.state == pieces.state);
  FUZZ_CHECK(whole.status == pieces.status);
  if (whole.state == HttpRequestParser::State::done) {
    FUZZ_CHECK(whole.used == pieces.used);
    FUZZ_CHECK(whole.path == pieces.path);
    FUZZ_CHECK(!whole.path.empty() && (whole.path.front() == '/' || whole.path == "*"));
    FUZZ_CHECK(whole.path.find('?') == std::string::npos);
  }
  if (whole.state == HttpRequestParser::State::refused) FUZZ_CHECK(whole.status >= 400 && whole.status < 600);

  // Ranges: any header text against a size from the input; a resolved range lies inside the body.
  const size_t body = rest.size() * 97;
  const RangeRequest r = parse_range(text.substr(0, 64), body);
  if (r.range) FUZZ_CHECK(r.range->first <= r.range->last && r.range->last < body);
  if (r.range) FUZZ_CHECK(r.present);
  return 0;
}
