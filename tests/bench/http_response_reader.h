// Reads HTTP/1.1 responses from a byte stream, sans IO: status, framing (Content-Length or chunked) and
// keep-alive, with the body kept or only counted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/byte_reader.h"
#include "common/result.h"

namespace livegate::bench {

class HttpResponseReader {
 public:
  struct Limits {
    size_t max_header_bytes = 16384;  // status line and headers together
    size_t max_kept_body = 1 << 20;   // a kept body (a playlist) larger than this is an error
  };

  HttpResponseReader() = default;
  explicit HttpResponseReader(Limits limits) : limits_(limits) {}

  // Starts a new response. keep_body: collect the body into body(), else only count its bytes.
  void reset(bool keep_body);

  // Consumes bytes up to the end of the current response at most; returns how many. Errors (a bad status
  // line, a response without framing, a limit) are values; the reader then stays failed.
  Result<size_t> feed(Bytes in);

  bool complete() const noexcept { return state_ == State::complete; }
  int status() const noexcept { return status_; }
  bool keep_alive() const noexcept { return keep_alive_; }
  uint64_t body_bytes() const noexcept { return body_bytes_; }
  const std::string& body() const noexcept { return body_; }
  bool started() const noexcept { return state_ != State::headers || !head_.empty(); }

 private:
  enum class State { headers, body, chunk_size, chunk_data, chunk_crlf, trailers, complete, failed };

  Result<size_t> fail(std::string reason);
  Status parse_head();
  void take_body(Bytes b);

  Limits limits_;
  State state_ = State::headers;
  bool keep_body_ = false;
  std::string head_;  // status line + headers; later a chunk size or trailer line
  std::string body_;
  std::string reason_;
  int status_ = 0;
  bool keep_alive_ = true;
  bool chunked_ = false;
  uint64_t remaining_ = 0;  // of the body or of the current chunk
  uint64_t body_bytes_ = 0;
};

}  // namespace livegate::bench
