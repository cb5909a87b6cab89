// HTTP/1.x request heads (RFC 9112 sections 2-5): strict where leniency lets requests be smuggled or
// misread, bounded by the configured sizes before any byte past them is kept.
#include "http/http_request.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace livegate {
namespace {

bool is_tchar(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (std::isalnum(u)) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar); }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool has_token(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    const size_t comma = list.find(',');
    const std::string_view item = trim(list.substr(0, comma));
    if (item.size() == token.size() && lower(item) == token) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

bool parse_size(std::string_view s, size_t& out) {
  if (s.empty() || s.size() > 19) return false;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

// The end of the head (one past its blank line) in `buf`, searching from `from`; npos if not there yet.
size_t head_end(std::string_view buf, size_t from) {
  for (size_t i = buf.find('\n', from); i != std::string_view::npos; i = buf.find('\n', i + 1)) {
    if (i + 1 < buf.size() && buf[i + 1] == '\n') return i + 2;
    if (i + 2 < buf.size() && buf[i + 1] == '\r' && buf[i + 2] == '\n') return i + 3;
  }
  return std::string_view::npos;
}

}  // namespace

const std::string* HttpRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return &v;
  }
  return nullptr;
}

RangeRequest parse_range(std::string_view header, size_t size) {
  RangeRequest out;
  if (header.substr(0, 6) != "bytes=") return out;
  const std::string_view spec = trim(header.substr(6));
  const size_t dash = spec.find('-');
  if (dash == std::string_view::npos || spec.find(',') != std::string_view::npos) return out;
  const std::string_view a = trim(spec.substr(0, dash)), b = trim(spec.substr(dash + 1));
  size_t first = 0, last = 0;
  if (a.empty()) {  // the last b bytes
    if (!parse_size(b, last)) return out;
    out.present = true;
    if (last == 0 || size == 0) return out;
    out.range = ByteRange{size - std::min(last, size), size - 1};
    return out;
  }
  if (!parse_size(a, first) || (!b.empty() && (!parse_size(b, last) || last < first))) return out;
  out.present = true;
  if (first >= size) return out;
  out.range = ByteRange{first, b.empty() ? size - 1 : std::min(last, size - 1)};
  return out;
}

void HttpRequestParser::reset() {
  state_ = State::need_more;
  buf_.clear();
  request_ = HttpRequest{};
  status_ = 0;
  reason_.clear();
}

void HttpRequestParser::refuse(int status, std::string reason) {
  state_ = State::refused;
  status_ = status;
  reason_ = std::move(reason);
  buf_.clear();
  buf_.shrink_to_fit();
}

size_t HttpRequestParser::feed(std::string_view data) {
  if (state_ != State::need_more) return 0;
  size_t taken = 0;
  if (buf_.empty()) {  // blank lines between requests are allowed (RFC 9112 2.2)
    while (taken < data.size() && (data[taken] == '\r' || data[taken] == '\n')) ++taken;
    data.remove_prefix(taken);
    if (data.empty()) return taken;
  }
  const size_t old = buf_.size();
  buf_.append(data);
  const size_t end = head_end(buf_, old >= 2 ? old - 2 : 0);
  if (end != std::string::npos) buf_.resize(end);
  // A request line gets the URI limit plus room for the method and version; the rest the header limit.
  const size_t line_end = buf_.find('\n');
  const size_t line_limit = limits_.max_uri_bytes + 32;
  if (line_end == std::string::npos ? buf_.size() > line_limit : line_end > line_limit) {
    refuse(414, "request target too long (limit http.max_uri_bytes)");
  } else if (line_end != std::string::npos && buf_.size() - line_end - 1 > limits_.max_header_bytes) {
    refuse(431, "request headers too large (limit http.max_header_bytes)");
  } else if (end != std::string::npos) {
    parse_head();
  }
  return end == std::string::npos ? taken + data.size() : taken + (end - old);
}

void HttpRequestParser::parse_head() {
  std::string_view head(buf_);
  auto next_line = [&head]() {
    const size_t nl = head.find('\n');
    std::string_view line = head.substr(0, nl);
    head.remove_prefix(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
  };

  const std::string_view line = next_line();
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return refuse(400, "malformed request line");
  }
  const std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!is_token(method) || method.size() > 16) return refuse(400, "malformed method");
  if (target.size() > limits_.max_uri_bytes) return refuse(414, "request target too long (limit http.max_uri_bytes)");
  if (target.empty() || !std::all_of(target.begin(), target.end(), [](char c) { return c > 0x20 && c < 0x7f; })) {
    return refuse(400, "malformed request target");
  }
  if (version.size() != 8 || version.substr(0, 7) != "HTTP/1." || (version[7] != '0' && version[7] != '1')) {
    return version.substr(0, 5) == "HTTP/" ? refuse(505, "only HTTP/1.0 and HTTP/1.1 are served")
                                           : refuse(400, "malformed HTTP version");
  }
  // Absolute form (RFC 9112 3.2.2): keep the path; the authority is not ours to check.
  for (std::string_view scheme : {"http://", "https://"}) {
    if (target.size() > scheme.size() && lower(target.substr(0, scheme.size())) == scheme) {
      const size_t slash = target.find('/', scheme.size());
      target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
    }
  }
  if (target.front() != '/' && !(target == "*" && method == "OPTIONS")) {
    return refuse(400, "malformed request target");
  }

  HttpRequest& r = request_;
  r.method = method;
  r.target = target;
  r.path = target.substr(0, target.find('?'));
  r.minor_version = version[7] - '0';
  while (!head.empty()) {
    const std::string_view field = next_line();
    if (field.empty()) break;
    if (field.front() == ' ' || field.front() == '\t') return refuse(400, "folded header line");
    const size_t colon = field.find(':');
    if (colon == std::string_view::npos || !is_token(field.substr(0, colon))) {
      return refuse(400, "malformed header line");
    }
    const std::string_view value = trim(field.substr(colon + 1));
    if (std::any_of(value.begin(), value.end(), [](char c) { return c == '\0' || c == '\r' || c == '\n'; })) {
      return refuse(400, "malformed header value");
    }
    r.headers.emplace_back(lower(field.substr(0, colon)), std::string(value));
  }

  auto count = [&r](std::string_view name) {
    return std::count_if(r.headers.begin(), r.headers.end(), [name](const auto& h) { return h.first == name; });
  };
  if (r.minor_version == 1 && !r.header("host")) return refuse(400, "HTTP/1.1 request without Host");
  // Two of either could be read differently by a proxy in front of us (RFC 9112 3.2, 6.3): refused.
  if (count("host") > 1) return refuse(400, "more than one Host header");
  if (count("content-length") > 1) return refuse(400, "more than one Content-Length header");
  // No route takes a body, so a request announcing one is refused before any of it is read.
  if (r.header("transfer-encoding")) return refuse(413, "request bodies are not accepted");
  if (const std::string* cl = r.header("content-length")) {
    size_t n = 0;
    if (!parse_size(*cl, n)) return refuse(400, "malformed Content-Length");
    if (n != 0) return refuse(413, "request bodies are not accepted");
  }
  const std::string* conn = r.header("connection");
  r.keep_alive = r.minor_version == 1 ? !(conn && has_token(*conn, "close")) : conn && has_token(*conn, "keep-alive");
  state_ = State::done;
}

}  // namespace livegate
