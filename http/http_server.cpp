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
