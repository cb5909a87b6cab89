// HTTP/1.1 response framing (RFC 9112 sections 4, 6 and 7.1), as a simulated player needs it.
#include "tests/bench/http_response_reader.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <string_view>

namespace livegate::bench {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool contains_token(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    const size_t comma = list.find(',');
    if (iequals(trim(list.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

constexpr size_t kMaxLine = 256;  // a chunk size line or a trailer line

}  // namespace

void HttpResponseReader::reset(bool keep_body) {
  state_ = State::headers;
  keep_body_ = keep_body;
  head_.clear();
  body_.clear();
  reason_.clear();
  status_ = 0;
  keep_alive_ = true;
  chunked_ = false;
  remaining_ = 0;
  body_bytes_ = 0;
}

Result<size_t> HttpResponseReader::fail(std::string reason) {
  state_ = State::failed;
  reason_ = std::move(reason);
  return Error{reason_};
}

void HttpResponseReader::take_body(Bytes b) {
  body_bytes_ += b.size();
  if (keep_body_) body_.append(reinterpret_cast<const char*>(b.data()), b.size());
}

Status HttpResponseReader::parse_head() {
  // status-line = HTTP-version SP status-code SP [ reason-phrase ] CRLF, then field lines, then CRLF.
  std::string_view head(head_);
  const size_t eol = head.find("\r\n");
  const std::string_view line = head.substr(0, eol);
  if (line.size() < 12 || line.substr(0, 5) != "HTTP/" || line[8] != ' ') return Error{"http: bad status line"};
  const bool http10 = line.substr(5, 3) == "1.0";
  if (std::from_chars(line.data() + 9, line.data() + 12, status_).ec != std::errc{} || status_ < 100) {
    return Error{"http: bad status code"};
  }
  keep_alive_ = !http10;
  bool have_length = false;
  head.remove_prefix(eol + 2);
  while (!head.empty()) {
    const size_t end = head.find("\r\n");
    const std::string_view field = head.substr(0, end);
    head.remove_prefix(end == std::string_view::npos ? head.size() : end + 2);
    const size_t colon = field.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view name = field.substr(0, colon), value = trim(field.substr(colon + 1));
    if (iequals(name, "content-length")) {
      if (std::from_chars(value.data(), value.data() + value.size(), remaining_).ec != std::errc{}) {
        return Error{"http: bad Content-Length"};
      }
      have_length = true;
    } else if (iequals(name, "transfer-encoding")) {
      chunked_ = contains_token(value, "chunked");
    } else if (iequals(name, "connection")) {
      if (contains_token(value, "close")) keep_alive_ = false;
      if (contains_token(value, "keep-alive")) keep_alive_ = true;
    }
  }
  // 1xx, 204 and 304 have no body; anything else must say how long it is, since we keep the connection.
  if (status_ < 200 || status_ == 204 || status_ == 304) {
    remaining_ = 0;
    state_ = State::complete;
  } else if (chunked_) {
    state_ = State::chunk_size;
  } else if (have_length) {
    state_ = remaining_ == 0 ? State::complete : State::body;
  } else {
    return Error{"http: response without Content-Length or chunked framing"};
  }
  if (keep_body_ && remaining_ > limits_.max_kept_body) return Error{"http: body over the kept-body limit"};
  head_.clear();
  return {};
}

Result<size_t> HttpResponseReader::feed(Bytes in) {
  if (state_ == State::failed) return Error{reason_};
  size_t used = 0;
  auto take_line = [&](size_t max) -> int {  // 1: a line is in head_ (CRLF stripped), 0: need more, -1: too long
    while (used < in.size()) {
      const char c = static_cast<char>(in[used++]);
      head_.push_back(c);
      if (head_.size() >= 2 && head_.ends_with("\r\n")) {
        head_.resize(head_.size() - 2);
        return 1;
      }
      if (head_.size() > max) return -1;
    }
    return 0;
  };
  while (used < in.size() && state_ != State::complete) {
    switch (state_) {
      case State::headers: {
        // Copy up to the blank line; search only the new bytes plus the 3 before them.
        const size_t before = head_.size();
        const size_t n = std::min(in.size() - used, limits_.max_header_bytes + 1 - std::min(before, limits_.max_header_bytes));
        head_.append(reinterpret_cast<const char*>(in.data() + used), n);
        const size_t at = head_.find("\r\n\r\n", before >= 3 ? before - 3 : 0);
        if (at == std::string::npos) {
          if (head_.size() > limits_.max_header_bytes) return fail("http: headers over the limit");
          used += n;
          break;
        }
        used += at + 4 - before;
        head_.resize(at + 2);  // keep the last field's CRLF for the line loop
        if (Status s = parse_head(); !s) return fail(s.error());
        break;
      }
      case State::body:
      case State::chunk_data: {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, in.size() - used));
        take_body(in.subspan(used, n));
        if (keep_body_ && body_.size() > limits_.max_kept_body) return fail("http: body over the kept-body limit");
        used += n;
        remaining_ -= n;
        if (remaining_ == 0) state_ = state_ == State::body ? State::complete : State::chunk_crlf;
        break;
      }
      case State::chunk_size: {
        // chunk-size [ chunk-ext ] CRLF (RFC 9112 7.1)
        const int got = take_line(kMaxLine);
        if (got < 0) return fail("http: chunk size line too long");
        if (got == 0) break;
        const std::string_view line = std::string_view(head_).substr(0, head_.find(';'));
        const std::string_view digits = trim(line);
        if (digits.empty() || std::from_chars(digits.data(), digits.data() + digits.size(), remaining_, 16).ec !=
                                  std::errc{}) {
          return fail("http: bad chunk size");
        }
        head_.clear();
        state_ = remaining_ == 0 ? State::trailers : State::chunk_data;
        break;
      }
      case State::chunk_crlf: {
        // Exactly CRLF after the chunk data; anything else means the chunk size was a lie.
        const char want = head_.empty() ? '\r' : '\n';
        if (static_cast<char>(in[used++]) != want) return fail("http: chunk not followed by CRLF");
        head_.push_back(want);
        if (want == '\n') {
          head_.clear();
          state_ = State::chunk_size;
        }
        break;
      }
      case State::trailers: {
        const int got = take_line(kMaxLine);
        if (got < 0) return fail("http: trailer line too long");
        if (got == 1) {
          if (head_.empty()) state_ = State::complete;
          head_.clear();
        }
        break;
      }
      case State::complete:
      case State::failed: break;
    }
  }
  return used;
}

}  // namespace livegate::bench
