// Routes by splitting the path on '/', with names checked as ingest accepts them: anything else in a
// path is simply not a route, so no URL reaches the filesystem or a stream it does not name.
#include "http/router.h"

#include <algorithm>
#include <cctype>

#include "http/api_json.h"
#include "http/metrics_text.h"

namespace livegate {
namespace {

constexpr const char* kShortLived = "max-age=1";  // playlists, and errors, which are not worth caching long

bool valid_name(std::string_view s) {
  return !s.empty() && s.size() <= 128 && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

// "<tag>-<seq><ext>" as the segmenter names segments (".ts", ".m4s") and CMAF init segments (".mp4").
bool valid_media_uri(std::string_view s, std::string_view ext) {
  if (s.size() < ext.size() + 3 || s.substr(s.size() - ext.size()) != ext) return false;
  s.remove_suffix(ext.size());
  const size_t dash = s.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash > 64 || s.size() - dash - 1 > 20 ||
      dash + 1 == s.size())
    return false;
  return std::all_of(s.begin(), s.begin() + dash,
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)); }) &&
         std::all_of(s.begin() + dash + 1, s.end(),
                     [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

// The path's parts between slashes; at most 5, more is no route of ours.
std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  if (path.empty() || path.front() != '/') return parts;
  path.remove_prefix(1);
  while (parts.size() <= 5) {
    const size_t slash = path.find('/');
    parts.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return parts;
}

HttpResponse json_response(int status, const nlohmann::json& body, const char* route) {
  HttpResponse r;
  r.status = status;
  r.route = route;
  r.content_type = "application/json";
  r.cache_control = "no-cache";
  // Strings from clients are valid UTF-8 by the time they are stored; `replace` makes sure a dump can
  // never throw (and answer 500 for every caller) whatever slips through.
  r.set_text(body.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  return r;
}

// A segment or init segment: its URI is never reused, so caches may keep it as long as they like.
HttpResponse media_response(std::shared_ptr<const std::vector<uint8_t>> bytes, const char* content_type) {
  HttpResponse r;
  r.route = "segment";
  r.content_type = content_type;
  r.cache_control = "public, max-age=31536000, immutable";
  r.body = std::string_view(reinterpret_cast<const char*>(bytes->data()), bytes->size());
  r.owner = std::move(bytes);
  r.ranges = true;
  return r;
}

}  // namespace

void HttpResponse::set_text(std::string text) {
  auto owned = std::make_shared<const std::string>(std::move(text));
  body = *owned;
  owner = std::move(owned);
}

HttpResponse text_response(int status, std::string text, const char* route) {
  HttpResponse r;
  r.status = status;
  r.route = route;
  r.content_type = "text/plain; charset=utf-8";
  r.cache_control = kShortLived;
  r.set_text(std::move(text) + "\n");
  return r;
}

HttpResponse Router::handle(const HttpRequest& req, Caller caller) const {
  if (req.method == "OPTIONS") {  // CORS preflight: players on other origins fetch HLS and the API
    HttpResponse r;
    r.status = 204;
    r.route = "preflight";
    r.cache_control = "max-age=86400";
    r.headers = {{"Access-Control-Allow-Methods", "GET, HEAD, OPTIONS"},
                 {"Access-Control-Allow-Headers", "Range, Content-Type"},
                 {"Access-Control-Max-Age", "86400"}};
    return r;
  }
  if (req.method != "GET" && req.method != "HEAD") {
    HttpResponse r = text_response(405, "method not allowed");
    r.headers = {{"Allow", "GET, HEAD, OPTIONS"}};
    return r;
  }
  return get(req, caller);
}

HttpResponse Router::get(const HttpRequest& req, Caller caller) const {
  const std::vector<std::string_view> parts = split_path(req.path);

  if (parts.size() == 3 && valid_name(parts[0]) && valid_name(parts[1])) {
    const std::string path = std::string(parts[0]) + "/" + std::string(parts[1]);
    const bool ts = parts[2] == "index.m3u8";
    const bool master = parts[2] == "master.m3u8";
    if (ts || master || parts[2] == "ll.m3u8") {
      auto hls = store_.get_hls(path);
      const std::string* text = !hls ? nullptr : master ? &hls->master : &(ts ? hls->ts : hls->cmaf).text;
      if (!text || text->empty()) return text_response(404, "no such stream", "playlist");
      HttpResponse r;
      r.route = "playlist";
      r.content_type = "application/vnd.apple.mpegurl";
      r.cache_control = kShortLived;
      r.body = *text;
      r.owner = std::move(hls);
      return r;
    }
    const bool ts_segment = valid_media_uri(parts[2], ".ts");
    if (ts_segment || valid_media_uri(parts[2], ".m4s")) {
      auto hls = store_.get_hls(path);
      const Segment* seg = hls ? (ts_segment ? hls->ts : hls->cmaf).find(parts[2]) : nullptr;
      if (!seg) return text_response(404, "no such segment", "segment");
      return media_response(seg->bytes, ts_segment ? "video/mp2t" : "video/iso.segment");
    }
    if (valid_media_uri(parts[2], ".mp4")) {
      auto hls = store_.get_hls(path);
      auto map = hls ? hls->find_map(parts[2]) : nullptr;
      if (!map) return text_response(404, "no such segment", "segment");
      return media_response(std::move(map), "video/mp4");
    }
  }

  if (!parts.empty() && parts[0] == "api") {
    if (parts.size() == 2 && parts[1] == "streams") {
      nlohmann::json list = nlohmann::json::array();
      for (const auto& snap : store_.list())
        list.push_back(stream_json(*snap, store_.get_hls(snap->name.path()).get(), caller.is_operator));
      return json_response(200, {{"streams", std::move(list)}}, "api");
    }
    if (parts.size() == 4 && parts[1] == "streams" && valid_name(parts[2]) && valid_name(parts[3])) {
      const std::string path = std::string(parts[2]) + "/" + std::string(parts[3]);
      const auto snap = store_.get(path);
      if (!snap) return json_response(404, {{"error", "no such stream"}}, "api");
      return json_response(200, stream_json(*snap, store_.get_hls(path).get(), caller.is_operator), "api");
    }
  }
  if (req.path == "/healthz") {
    HttpResponse r = text_response(200, "ok", "healthz");
    r.cache_control = "no-cache";
    return r;
  }
  if (req.path == "/metrics") {
    if (!caller.is_operator) {
      if (caller.token_accepted) {
        HttpResponse r = text_response(401, "metrics need Authorization: Bearer <api.token>", "metrics");
        r.headers = {{"WWW-Authenticate", "Bearer realm=\"livegate\""}};
        return r;
      }
      return text_response(403, "metrics are served on the admin listener (api.bind, api.port)", "metrics");
    }
    HttpResponse r;
    r.route = "metrics";
    r.content_type = "text/plain; version=0.0.4";
    r.cache_control = "no-cache";
    r.set_text(render_metrics(metrics_, store_));
    return r;
  }
  if (const StaticFile* f = files_.find(req.path)) {
    HttpResponse r;
    r.route = "static";
    r.content_type = f->content_type;
    r.cache_control = "no-cache";
    r.body = f->body;  // the files live as long as the server
    r.ranges = true;
    return r;
  }
  return text_response(404, "not found");
}

}  // namespace livegate
