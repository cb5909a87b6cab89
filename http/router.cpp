// Routes by splitting the path on '/', with names checked as ingest accepts them: anything else in a
// path is simply not a route, so no URL reaches the filesystem or a stream it does not name.
#include "http/router.h"

#include <algorithm>
#include <cctype>

#include "http/api_json.h"
#include "http/hls_directives.h"
#include "http/metrics_text.h"

namespace livegate {
namespace {

constexpr const char* kShortLived = "max-age=1";  // playlists, and errors, which are not worth caching long

bool valid_name(std::string_view s) {
  return !s.empty() && s.size() <= 128 && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

// "<tag>-<seq><ext>" as the segmenter names segments (".ts", ".m4s") and CMAF init segments (".mp4"),
// and with `part`, "<tag>-<seq>.<index>.m4s" as it names parts.
bool valid_media_uri(std::string_view s, std::string_view ext, bool part = false) {
  if (s.size() < ext.size() + 3 || s.substr(s.size() - ext.size()) != ext) return false;
  s.remove_suffix(ext.size());
  if (part) {
    const size_t dot = s.rfind('.');
    if (dot == std::string_view::npos || dot + 1 == s.size() || s.size() - dot - 1 > 10 ||
        !std::all_of(s.begin() + dot + 1, s.end(),
                     [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
      return false;
    s = s.substr(0, dot);
  }
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
HttpResponse media_response(std::shared_ptr<const void> owner, std::span<const uint8_t> bytes,
                            const char* content_type, const char* route = "segment") {
  HttpResponse r;
  r.route = route;
  r.content_type = content_type;
  r.cache_control = "public, max-age=31536000, immutable";
  r.body = std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  r.owner = std::move(owner);
  r.ranges = true;
  return r;
}

HttpResponse media_response(std::shared_ptr<const std::vector<uint8_t>> bytes, const char* content_type) {
  const std::span<const uint8_t> view(*bytes);
  return media_response(std::move(bytes), view, content_type);
}

// A request that waits for the stream to move on: answered again on the next snapshot, or with 503
// after the LL-HLS limit of three target durations (RFC 8216bis 6.2.5.2).
HttpResponse hold(const std::string& path, std::shared_ptr<const HlsSnapshot> hls, const char* route,
                  const char* waiting_for) {
  HttpResponse r = text_response(503, std::string(waiting_for) + " was not published in time", route);
  r.cache_control = "no-cache";
  r.hold_ms = uint64_t{std::max<uint32_t>(hls->target_duration_s, 1)} * 3000;
  r.hold_path = path;
  r.held_on = std::move(hls);
  return r;
}

}  // namespace

HttpResponse Router::low_latency_playlist(const HttpRequest& req, const std::string& path,
                                          std::shared_ptr<const HlsSnapshot> hls) const {
  const size_t q = req.target.find('?');
  const Result<HlsDirectives> d = parse_hls_directives(
      q == std::string::npos ? std::string_view() : std::string_view(req.target).substr(q + 1));
  if (!d) return text_response(400, d.error(), "playlist");
  HttpResponse r;
  r.route = "playlist";
  r.content_type = "application/vnd.apple.mpegurl";
  // Every directive is ignored once the playlist has ended (RFC 8216bis 6.2.5).
  const bool blocking = d->msn && !hls->ended;
  // Not blocking: about half a part would be right, which whole seconds cannot say; players poll with
  // directives after their first load, so this one is not cached. A blocking answer is the same for
  // everyone asking that URL (it lists the part asked for, or later ones): an edge may keep it.
  r.cache_control =
      blocking ? "public, max-age=" + std::to_string(std::max<uint32_t>(hls->target_duration_s, 1) * 3)
               : std::string("no-cache");
  if (blocking) {
    const uint64_t last = hls->last_msn().value_or(0);
    const bool known = hls->last_msn().has_value();
    // Too far ahead to come within the hold (6.2.5.2): refused at once rather than held.
    if (*d->msn > (known ? last + 2 : 2))
      return text_response(400, "_HLS_msn is more than two segments past the live edge", "playlist");
    const uint64_t advance =
        (3000 + hls->ll.part_target_ms - 1) / std::max<uint32_t>(hls->ll.part_target_ms, 1);
    if (d->part) {
      const uint64_t published = *d->msn == hls->ll.open_seq ? hls->ll.open_parts.size() : 0;
      if (*d->msn >= hls->ll.open_seq && *d->part > published + advance)
        return text_response(400, "_HLS_part is too far past the last part", "playlist");
    }
    if (!hls->has(*d->msn, d->part))
      return hold(path, std::move(hls), "playlist", "the segment or part asked for");
  }
  const std::string& text = d->skip && !hls->ll.delta.empty() ? hls->ll.delta : hls->cmaf.text;
  r.body = text;
  r.owner = std::move(hls);
  return r;
}

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
    if (parts[2] == "ll.m3u8") {
      auto hls = store_.get_hls(path);
      if (!hls || hls->cmaf.text.empty()) return text_response(404, "no such stream", "playlist");
      return low_latency_playlist(req, path, std::move(hls));
    }
    if (valid_media_uri(parts[2], ".m4s", true)) {
      auto hls = store_.get_hls(path);
      if (!hls) return text_response(404, "no such part", "part");
      if (const Part* p = hls->find_part(parts[2])) {
        const std::span<const uint8_t> bytes = p->bytes();
        return media_response(p->buffer, bytes, "video/iso.segment", "part");
      }
      // The hinted next part may be asked for before it is complete (RFC 8216bis 6.2.6): it is sent
      // whole once it is.
      if (!hls->ended && hls->ll.preload_hint == parts[2])
        return hold(path, std::move(hls), "part", "the part");
      return text_response(404, "no such part", "part");
    }
    if (ts || master) {
      auto hls = store_.get_hls(path);
      const std::string* text = !hls ? nullptr : master ? &hls->master : &hls->ts.text;
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
