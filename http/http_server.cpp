// HTTP routes: HLS, the API, metrics, health and the player page. Handlers run on pool threads and
// read only immutable snapshots from the StreamStore.
#include "http/http_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <regex>

#include "common/log.h"
#include "http/api_json.h"
#include "http/metrics_text.h"

namespace livegate {
namespace {

// Names as ingest accepts them; anything else in a path is simply not a route.
constexpr const char* kName = "([A-Za-z0-9_.-]{1,128})";

void common_headers(httplib::Response& res, const char* cache_control) {
  res.set_header("Cache-Control", cache_control);
  res.set_header("Access-Control-Allow-Origin", "*");
  res.set_header("Access-Control-Expose-Headers", "Content-Length, Content-Range");
}

void text_reply(httplib::Response& res, int status, const std::string& text) {
  res.status = status;
  common_headers(res, "max-age=1");  // errors are not worth caching for long
  res.set_content(text + "\n", "text/plain; charset=utf-8");
}

void json_reply(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  common_headers(res, "no-cache");
  res.set_content(body.dump(2) + "\n", "application/json");
}

const std::string kSegmentPattern =
    std::string("/") + kName + "/" + kName + R"(/([A-Za-z0-9]{1,64}-[0-9]{1,20}\.ts))";

size_t header_bytes(const httplib::Request& req) {
  size_t n = 0;
  for (const auto& [k, v] : req.headers) n += k.size() + v.size() + 4;
  return n;
}

}  // namespace

const Segment* HttpServer::find_segment(const httplib::Request& req,
                                        std::shared_ptr<const HlsSnapshot>& hls) const {
  static const std::regex pattern(kSegmentPattern);
  std::smatch m;
  if (!std::regex_match(req.path, m, pattern)) return nullptr;
  hls = store_.get_hls(m[1].str() + "/" + m[2].str());
  return hls ? hls->find(m[3].str()) : nullptr;
}

HttpServer::HttpServer(const HttpConfig& config, const StreamStore& store, const Metrics& metrics)
    : config_(config),
      store_(store),
      metrics_(metrics),
      files_(StaticFiles::load(config.www_dir.empty() ? default_www_dir() : config.www_dir)),
      server_(std::make_unique<httplib::Server>()) {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::routes() {
  httplib::Server& s = *server_;

  // Before any route and before a body is read: requests we never serve are refused here.
  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (req.target.size() > config_.max_uri_bytes) {
      text_reply(res, 414, "request target too long (limit http.max_uri_bytes)");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (header_bytes(req) > config_.max_header_bytes) {
      text_reply(res, 431, "request headers too large (limit http.max_header_bytes)");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (req.method != "GET" && req.method != "HEAD" && req.method != "OPTIONS") {
      res.set_header("Allow", "GET, HEAD, OPTIONS");
      text_reply(res, 405, "method not allowed");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (req.has_header("Content-Length") ? req.get_header_value("Content-Length") != "0"
                                         : req.has_header("Transfer-Encoding")) {
      text_reply(res, 413, "request bodies are not accepted");
      return httplib::Server::HandlerResponse::Handled;
    }
    // cpp-httplib answers a range past the end with the whole body; RFC 9110 14.1.2 wants 416. It only
    // leaves a response alone when it is made here, before routing.
    if (!req.ranges.empty()) {
      std::shared_ptr<const HlsSnapshot> hls;
      if (const Segment* seg = find_segment(req, hls)) {
        const auto size = static_cast<ssize_t>(seg->bytes->size());
        for (const auto& [first, last] : req.ranges) {
          if (first >= size || (first < 0 && last == 0)) {
            res.status = 416;
            common_headers(res, "max-age=1");
            res.set_header("Content-Range", "bytes */" + std::to_string(size));
            // An empty provider, because cpp-httplib rewrites Content-Range of any response with a body.
            res.set_content_provider(0, "text/plain",
                                     [](size_t, size_t, httplib::DataSink&) { return true; });
            res.set_header("Content-Length", "0");
            return httplib::Server::HandlerResponse::Handled;
          }
        }
      }
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });

  // CORS preflight for every route: players on other origins fetch playlists, segments and the API.
  s.Options(".*", [](const httplib::Request&, httplib::Response& res) {
    res.status = 204;
    common_headers(res, "max-age=86400");
    res.set_header("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS");
    res.set_header("Access-Control-Allow-Headers", "Range, Content-Type");
    res.set_header("Access-Control-Max-Age", "86400");
  });

  s.Get(std::string("/") + kName + "/" + kName + R"(/index\.m3u8)",
        [this](const httplib::Request& req, httplib::Response& res) {
          const auto hls = store_.get_hls(req.matches[1].str() + "/" + req.matches[2].str());
          if (!hls || hls->playlist.empty()) return text_reply(res, 404, "no such stream");
          common_headers(res, "max-age=1");
          res.set_content(hls->playlist, "application/vnd.apple.mpegurl");
        });
  s.Get(kSegmentPattern, [this](const httplib::Request& req, httplib::Response& res) {
    std::shared_ptr<const HlsSnapshot> hls;
    const Segment* seg = find_segment(req, hls);
    if (!seg) return text_reply(res, 404, "no such segment");
    // A segment URI is never reused, so caches may keep it as long as they like.
    common_headers(res, "public, max-age=31536000, immutable");
    std::shared_ptr<const std::vector<uint8_t>> bytes = seg->bytes;  // shared, not copied
    res.set_content_provider(
        bytes->size(), "video/mp2t", [bytes](size_t offset, size_t length, httplib::DataSink& sink) {
          return sink.write(reinterpret_cast<const char*>(bytes->data()) + offset, length);
        });
  });

  s.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    common_headers(res, "no-cache");
    res.set_content("ok\n", "text/plain");
  });
  s.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    common_headers(res, "no-cache");
    res.set_content(render_metrics(metrics_, store_), "text/plain; version=0.0.4");
  });
  s.Get("/api/streams", [this](const httplib::Request&, httplib::Response& res) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& snap : store_.list())
      list.push_back(stream_json(*snap, store_.get_hls(snap->name.path()).get()));
    json_reply(res, 200, {{"streams", std::move(list)}});
  });
  s.Get(std::string("/api/streams/") + kName + "/" + kName,
        [this](const httplib::Request& req, httplib::Response& res) {
          const std::string path = req.matches[1].str() + "/" + req.matches[2].str();
          const auto snap = store_.get(path);
          if (!snap) return json_reply(res, 404, {{"error", "no such stream"}});
          json_reply(res, 200, stream_json(*snap, store_.get_hls(path).get()));
        });

  s.Get(R"(/[A-Za-z0-9_.-]*(\.html|\.js|\.css)?)",
        [this](const httplib::Request& req, httplib::Response& res) {
          const StaticFile* f = files_.find(req.path);
          if (!f) return text_reply(res, 404, "not found");
          common_headers(res, "no-cache");
          res.set_content(f->body, f->content_type.c_str());
        });

  // Statuses cpp-httplib makes itself (400, 414, ...) get a short text body; ours already have one.
  s.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty() && !res.has_header("Cache-Control")) {
      text_reply(res, res.status, "error " + std::to_string(res.status));
    }
  });
  s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    text_reply(res, 500, "internal error");
  });
}

Status HttpServer::start(const std::string& address, uint16_t port) {
  routes();
  server_->set_tcp_nodelay(true);  // without it a small playlist waits ~40 ms on Nagle + delayed ACK
  server_->set_keep_alive_timeout(config_.keep_alive_timeout_s);
  server_->set_keep_alive_max_count(config_.keep_alive_max_requests);
  server_->set_read_timeout(config_.read_timeout_s);
  server_->set_write_timeout(config_.write_timeout_s);
  server_->set_payload_max_length(0);
  const size_t threads = config_.threads;
  server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };  // freed by httplib
  // Debian's cpp-httplib listens with a backlog of 5; remember the socket to listen() again with ours.
  server_->set_socket_options([this](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    listen_socket_ = sock;
  });
  bool bound = false;
  if (port == 0) {
    const int p = server_->bind_to_any_port(address);
    bound = p > 0;
    port_ = static_cast<uint16_t>(p);
  } else {
    bound = server_->bind_to_port(address, port);
    port_ = port;
  }
  if (!bound) return Error{"http: cannot bind " + address + ":" + std::to_string(port)};
  if (::listen(listen_socket_, static_cast<int>(config_.backlog)) != 0) {
    log_warn("http", "could not raise the listen backlog");
  }
  log_info("http", "serving the player from " + std::to_string(files_.size()) + " files");
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return {};
}

void HttpServer::stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace livegate
