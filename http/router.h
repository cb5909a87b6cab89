// What each URL answers: HLS playlists and segments, the JSON API, metrics, health and the player
// page. Pure request-to-response over immutable snapshots, so every route is testable without sockets.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/metrics.h"
#include "http/http_request.h"
#include "http/static_files.h"
#include "segmenter/stream_store.h"

namespace livegate {

struct HttpResponse {
  int status = 200;
  const char* route = "none";  // the metrics label of the route that answered
  std::string content_type;
  std::string cache_control;
  std::vector<std::pair<std::string, std::string>> headers;  // besides the standard ones
  // The body is a view into memory kept alive by `owner` (a snapshot, a segment's bytes), so serving
  // never copies it.
  std::shared_ptr<const void> owner;
  std::string_view body;
  bool ranges = false;  // byte ranges are honoured on this body
  // Not the answer yet (LL-HLS blocking reload, a preload hint): ask the router again once the stream's
  // HLS snapshot is no longer `held_on`, and send this response (a 503) if none has come by `hold_ms`.
  uint64_t hold_ms = 0;
  std::string hold_path;  // "app/key"
  std::shared_ptr<const HlsSnapshot> held_on;

  void set_text(std::string text);  // owns a copy of `text` as the body
};

// A short text response with the given status, for errors and refusals.
HttpResponse text_response(int status, std::string text, const char* route = "none");

// Who is asking, as the server judged it before routing.
struct Caller {
  bool is_operator = false;     // on the admin listener, or with the right api.token
  bool token_accepted = false;  // the listener takes api.token (a 401 then tells how to get in)
};

class Router {
 public:
  Router(const StreamStore& store, const StaticFiles& files, const Metrics& metrics)
      : store_(store), files_(files), metrics_(metrics) {}

  // Never throws for a client's input; the body of a HEAD answer is left for the caller to drop.
  // Viewers get the public view of the API (no publisher addresses) and no /metrics.
  HttpResponse handle(const HttpRequest& req, Caller caller = {}) const;

 private:
  HttpResponse get(const HttpRequest& req, Caller caller) const;
  HttpResponse low_latency_playlist(const HttpRequest& req, const std::string& path,
                                    std::shared_ptr<const HlsSnapshot> hls) const;

  const StreamStore& store_;
  const StaticFiles& files_;
  const Metrics& metrics_;
};

}  // namespace livegate
