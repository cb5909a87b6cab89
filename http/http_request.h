// An HTTP/1.x request head and its incremental parser: bytes in, a request or a refusal out.
// Pure: no sockets, so it is unit-tested and fuzzed on byte vectors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace livegate {

struct HttpRequest {
  std::string method;
  std::string target;  // as sent: path and query
  std::string path;    // target up to '?'
  int minor_version = 1;                                     // HTTP/1.minor
  std::vector<std::pair<std::string, std::string>> headers;  // names in lower case, values trimmed
  bool keep_alive = true;  // HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with "keep-alive"

  // The first header of that (lower-case) name, or nullptr.
  const std::string* header(std::string_view name) const;
};

// An inclusive byte range resolved against a body size.
struct ByteRange {
  size_t first = 0;
  size_t last = 0;
};

// A single "bytes=a-b", "bytes=a-" or "bytes=-n" against `size`: nullopt means unsatisfiable (416).
// Multiple ranges and anything unparsable are ignored (whole body), as RFC 9110 14.2 allows.
struct RangeRequest {
  bool present = false;  // a range we honour was asked for
  std::optional<ByteRange> range;
};
RangeRequest parse_range(std::string_view header, size_t size);

struct HttpLimits {
  size_t max_uri_bytes = 2048;
  size_t max_header_bytes = 8192;  // the whole head, request line included
};

class HttpRequestParser {
 public:
  enum class State { need_more, done, refused };

  explicit HttpRequestParser(HttpLimits limits) : limits_(limits) {}

  // Consumes bytes up to the end of one request head (or all of `data` if none ends there) and returns
  // how many it took. After `done`, request() holds the request; call reset() for the next one, and
  // feed the rest of `data` again. After `refused`, status() and reason() say why; the connection
  // should answer that status and close.
  size_t feed(std::string_view data);

  State state() const noexcept { return state_; }
  const HttpRequest& request() const noexcept { return request_; }
  int status() const noexcept { return status_; }
  const std::string& reason() const noexcept { return reason_; }
  bool started() const noexcept { return !buf_.empty() || state_ != State::need_more; }
  size_t buffered() const noexcept { return buf_.size(); }

  void reset();

 private:
  void refuse(int status, std::string reason);
  void parse_head();

  HttpLimits limits_;
  State state_ = State::need_more;
  std::string buf_;  // the head so far; never longer than the limits allow
  HttpRequest request_;
  int status_ = 0;
  std::string reason_;
};

}  // namespace livegate
