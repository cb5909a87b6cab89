// HTTP routes: /healthz and the stream API. Handlers run on pool threads and read only snapshots.
#include "http/http_server.h"

#include <httplib.h>

#include "common/log.h"
#include "http/api_json.h"

namespace livegate {
namespace {

constexpr const char* kJson = "application/json";

void json_reply(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_header("Cache-Control", "no-cache");
  res.set_header("Access-Control-Allow-Origin", "*");
  res.set_content(body.dump(2) + "\n", kJson);
}

// Prometheus text exposition format 0.0.4.
std::string render_metrics(const ServerStats& st) {
  std::string out;
  auto gauge = [&out](const char* name, const char* help, uint64_t value) {
    out.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out.append("# TYPE ").append(name).append(" gauge\n");
    out.append(name).append(" ").append(std::to_string(value)).append("\n");
  };
  gauge("livegate_rtmp_connections", "Open RTMP connections.", st.rtmp_connections);
  gauge("livegate_streams_live", "Streams being published.", st.streams_live);
  gauge("livegate_hls_streams", "Streams whose HLS output is held (live or ended, within retention).",
        st.hls_streams);
  gauge("livegate_hls_bytes_held", "Bytes of MPEG-TS segments held in memory.", st.hls_bytes_held);
  return out;
}

void not_found(httplib::Response& res, const char* what) {
  res.status = 404;
  res.set_header("Cache-Control", "max-age=1");
  res.set_header("Access-Control-Allow-Origin", "*");
  res.set_content(std::string(what) + "\n", "text/plain");
}

}  // namespace

HttpServer::HttpServer(const HttpConfig& config, const StreamStore& store)
    : config_(config), store_(store), server_(std::make_unique<httplib::Server>()) {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::routes() {
  httplib::Server& s = *server_;
  s.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_header("Cache-Control", "no-cache");
    res.set_content("ok\n", "text/plain");
  });
  s.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_header("Cache-Control", "no-cache");
    res.set_content(render_metrics(store_.stats()), "text/plain; version=0.0.4");
  });
  s.Get("/api/streams", [this](const httplib::Request&, httplib::Response& res) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& snap : store_.list()) list.push_back(stream_json(*snap));
    json_reply(res, 200, {{"streams", std::move(list)}});
  });
  s.Get(R"(/api/streams/([^/]+)/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
    const auto snap = store_.get(req.matches[1].str() + "/" + req.matches[2].str());
    if (!snap) {
      json_reply(res, 404, {{"error", "no such stream"}});
      return;
    }
    json_reply(res, 200, stream_json(*snap));
  });
  // HLS: the playlist text and segment bytes come straight from the stream's snapshot.
  s.Get(R"(/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)/index\.m3u8)",
        [this](const httplib::Request& req, httplib::Response& res) {
          const auto hls = store_.get_hls(req.matches[1].str() + "/" + req.matches[2].str());
          if (!hls || hls->playlist.empty()) return not_found(res, "no such stream");
          res.set_header("Cache-Control", "max-age=1");
          res.set_header("Access-Control-Allow-Origin", "*");
          res.set_content(hls->playlist, "application/vnd.apple.mpegurl");
        });
  s.Get(R"(/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)/([A-Za-z0-9]+-[0-9]+\.ts))",
        [this](const httplib::Request& req, httplib::Response& res) {
          const auto hls = store_.get_hls(req.matches[1].str() + "/" + req.matches[2].str());
          const Segment* seg = hls ? hls->find(req.matches[3].str()) : nullptr;
          if (!seg) return not_found(res, "no such segment");
          // A segment URI is never reused, so caches may keep it as long as they like.
          res.set_header("Cache-Control", "public, max-age=31536000, immutable");
          res.set_header("Access-Control-Allow-Origin", "*");
          std::shared_ptr<const std::vector<uint8_t>> bytes = seg->bytes;  // kept alive by the provider
          res.set_content_provider(bytes->size(), "video/mp2t",
                                   [bytes](size_t offset, size_t length, httplib::DataSink& sink) {
                                     sink.write(reinterpret_cast<const char*>(bytes->data()) + offset, length);
                                     return true;
                                   });
        });
  s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    res.status = 500;
    res.set_content("internal error\n", "text/plain");
  });
}

Status HttpServer::start(const std::string& address, uint16_t port) {
  routes();
  server_->set_tcp_nodelay(true);
  server_->set_keep_alive_timeout(5);
  server_->set_read_timeout(5);
  server_->set_write_timeout(5);
  const size_t threads = config_.threads;
  server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };  // freed by httplib
  if (port == 0) {
    const int p = server_->bind_to_any_port(address);
    if (p <= 0) return Error{"http: cannot bind " + address};
    port_ = static_cast<uint16_t>(p);
  } else {
    if (!server_->bind_to_port(address, port)) {
      return Error{"http: cannot bind " + address + ":" + std::to_string(port)};
    }
    port_ = port;
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return {};
}

void HttpServer::stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace livegate
