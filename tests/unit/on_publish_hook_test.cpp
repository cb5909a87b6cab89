// OnPublishHook against a real HTTP server (cpp-httplib on its own threads, 127.0.0.1, a free port) with a
// real libuv loop on the test thread: what the callback receives, 2xx allows and anything else refuses, a
// slow server times out, a full queue refuses at once, and shutdown neither waits for a blocked server nor
// calls a decision back once the hook is gone.
#include "http/on_publish_hook.h"

#include <doctest/doctest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/loop_poster.h"
#include "http/form_encoding.h"
#include "loop_fixture.h"

using namespace livegate;
using livegate::testing::TestLoop;
using namespace std::chrono_literals;

namespace {

struct Received {
  std::string path;
  std::string content_type;
  std::string body;
  httplib::Params params;  // as httplib itself decodes the form body
};

// The callback service. With hold(), each request waits until release() (at most 20 s) for its answer.
class CallbackServer {
 public:
  CallbackServer() {
    server_.new_task_queue = [] { return new httplib::ThreadPool(16); };  // every held request at once
    const auto handler = [this](const httplib::Request& req, httplib::Response& res) { handle(req, res); };
    server_.Post("/auth", handler);
    server_.Post("/done", handler);
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) return;
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // stop() does nothing before the accept loop runs, so the destructor could not end it: wait for it.
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!server_.is_running() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  }
  ~CallbackServer() {
    release();
    if (thread_.joinable()) {
      server_.stop();
      thread_.join();
    }
  }
  CallbackServer(const CallbackServer&) = delete;
  CallbackServer& operator=(const CallbackServer&) = delete;

  bool running() const { return port_ > 0 && server_.is_running(); }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  void answer(int status) {
    std::lock_guard lock(mu_);
    status_ = status;
  }
  void hold() {
    std::lock_guard lock(mu_);
    hold_ = true;
  }
  void release() {
    {
      std::lock_guard lock(mu_);
      released_ = true;
    }
    cv_.notify_all();
  }
  size_t arrived() {
    std::lock_guard lock(mu_);
    return received_.size();
  }
  std::vector<Received> received() {
    std::lock_guard lock(mu_);
    return received_;
  }

 private:
  void handle(const httplib::Request& req, httplib::Response& res) {
    std::unique_lock lock(mu_);
    received_.push_back({req.path, req.get_header_value("Content-Type"), req.body, req.params});
    if (hold_) cv_.wait_for(lock, 20s, [this] { return released_; });
    res.status = status_;
    res.set_content("answer", "text/plain");
  }

  httplib::Server server_;
  int port_ = -1;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Received> received_;
  int status_ = 200;
  bool hold_ = false;
  bool released_ = false;
  std::thread thread_;
};

// Decisions as the loop delivers them. Each callback holds the record, so one that came late (after the
// test is done with it) still finds live memory and is counted.
struct Decisions : std::enable_shared_from_this<Decisions> {
  std::vector<std::optional<Status>> results;
  int calls = 0;
  bool off_loop_thread = false;
  std::thread::id loop_thread = std::this_thread::get_id();

  PublishAuthorizer::Decision slot(size_t i) {
    if (results.size() <= i) results.resize(i + 1);
    return [self = shared_from_this(), i](Status s) {
      ++self->calls;
      if (std::this_thread::get_id() != self->loop_thread) self->off_loop_thread = true;
      self->results[i] = std::move(s);
    };
  }
  size_t decided() const {
    size_t n = 0;
    for (const auto& r : results) n += r.has_value();
    return n;
  }
};

PublishRequest request(std::string query = "") {
  PublishRequest r;
  r.name = {"live", "cam"};
  r.query = std::move(query);
  r.addr = "192.0.2.9";
  r.tc_url = "rtmp://127.0.0.1:1935/live";
  return r;
}

// Runs the loop until `n` requests reached the server, or 10 s passed.
bool wait_arrived(TestLoop& loop, CallbackServer& server, size_t n) {
  return loop.run_until([&] { return server.arrived() >= n; }, 10s);
}

}  // namespace

TEST_CASE(
    "on_publish hook: form_body sends nginx-rtmp's fields, then the key's arguments, none overriding them") {
  const PublishRequest r =
      request("name=mine&call=x&tok%26en=a%26b+c&caf%C3%A9=%FF&app=a&addr=1.2.3.4&tcurl=t&x");
  CHECK(OnPublishHook::form_body("publish", r) ==
        "call=publish&app=live&name=cam&addr=192.0.2.9&tcurl=rtmp%3A%2F%2F127.0.0.1%3A1935%2Flive"
        "&tok%26en=a%26b+c&caf%C3%A9=%FF&x=");
  CHECK(OnPublishHook::form_body("publish_done", request()) ==
        "call=publish_done&app=live&name=cam&addr=192.0.2.9&tcurl=rtmp%3A%2F%2F127.0.0.1%3A1935%2Flive");
  // The stream name and address themselves are encoded, so they cannot add a field either.
  PublishRequest odd = request();
  odd.name = {"a&b", "k=v"};
  odd.addr = "::1";
  CHECK(OnPublishHook::form_body("publish", odd) ==
        "call=publish&app=a%26b&name=k%3Dv&addr=%3A%3A1&tcurl=rtmp%3A%2F%2F127.0.0.1%3A1935%2Flive");
}

TEST_CASE(
    "on_publish hook: a 2xx allows, anything else refuses, and the server gets exactly the form fields") {
  CallbackServer server;
  REQUIRE(server.running());
  TestLoop loop;
  LoopPoster poster(loop.get());
  AuthConfig config;
  config.on_publish = server.url("/auth");
  config.timeout_ms = 5000;
  OnPublishHook hook(config, poster);
  const auto d = std::make_shared<Decisions>();

  const std::string query = "name=mine&call=x&tok%26en=a%26b+c&caf%C3%A9=%FF";
  hook.authorize(request(query), d->slot(0));
  REQUIRE(loop.run_until([&] { return d->decided() == 1; }));
  CHECK(d->results[0]->ok());

  const auto got = server.received();
  REQUIRE(got.size() == 1);
  CHECK(got[0].path == "/auth");
  CHECK(got[0].content_type == "application/x-www-form-urlencoded");
  CHECK(got[0].body == OnPublishHook::form_body("publish", request(query)));
  const httplib::Params expected{
      {"call", "publish"},   {"app", "live"},
      {"name", "cam"},  // not "mine": the key's arguments cannot override a field
      {"addr", "192.0.2.9"}, {"tcurl", "rtmp://127.0.0.1:1935/live"},
      {"tok&en", "a&b c"},   {"caf\xc3\xa9", "\xff"},
  };
  CHECK(got[0].params == expected);
  // Our own parser reads the same fields, in the order sent.
  CHECK(parse_form(got[0].body) == FormFields{{"call", "publish"},
                                              {"app", "live"},
                                              {"name", "cam"},
                                              {"addr", "192.0.2.9"},
                                              {"tcurl", "rtmp://127.0.0.1:1935/live"},
                                              {"tok&en", "a&b c"},
                                              {"caf\xc3\xa9", "\xff"}});

  // Each answer is set before its request is made, so every decision below is pinned.
  struct Answer {
    int status;
    const char* error;  // nullptr: allowed
  };
  const Answer answers[] = {
      {403, "publish callback answered 403"}, {204, nullptr},
      {302, "publish callback answered 302"},  // a redirect is not followed
      {500, "publish callback answered 500"}, {299, nullptr},
      {300, "publish callback answered 300"},
  };
  size_t i = 1;
  for (const Answer& a : answers) {
    CAPTURE(a.status);
    server.answer(a.status);
    hook.authorize(request(), d->slot(i));
    REQUIRE(loop.run_until([&] { return d->decided() == i + 1; }));
    const Status& s = *d->results[i];
    if (a.error == nullptr) {
      CHECK(s.ok());
    } else {
      REQUIRE_FALSE(s.ok());
      CHECK(s.error() == a.error);
    }
    ++i;
  }
  CHECK(server.arrived() == i);
  CHECK(d->calls == static_cast<int>(i));
  CHECK_FALSE(d->off_loop_thread);  // every decision came on the loop thread
}

TEST_CASE("on_publish hook: a server slower than auth.timeout_ms refuses with the callback's failure") {
  CallbackServer server;
  REQUIRE(server.running());
  server.hold();  // answers only when released, at the end of the test
  TestLoop loop;
  LoopPoster poster(loop.get());
  AuthConfig config;
  config.on_publish = server.url("/auth");
  config.timeout_ms = 300;
  OnPublishHook hook(config, poster);
  const auto d = std::make_shared<Decisions>();

  hook.authorize(request(), d->slot(0));
  REQUIRE(loop.run_until([&] { return d->decided() == 1; }));
  CHECK(server.arrived() == 1);  // it got there, and was not answered in time
  const Status& s = *d->results[0];
  REQUIRE_FALSE(s.ok());
  CAPTURE(s.error());
  CHECK(s.error().rfind("publish callback failed", 0) == 0);

  // Nothing listening at all fails the same way.
  AuthConfig closed = config;
  {
    // A port that was free a moment ago, and is closed again.
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    ::close(fd);
    closed.on_publish = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/auth";
  }
  OnPublishHook refused(closed, poster);
  refused.authorize(request(), d->slot(1));
  REQUIRE(loop.run_until([&] { return d->decided() == 2; }));
  REQUIRE_FALSE(d->results[1]->ok());
  CHECK(d->results[1]->error().rfind("publish callback failed", 0) == 0);
}

TEST_CASE("on_publish hook: with every worker busy and the queue full, more requests are refused at once") {
  CallbackServer server;
  REQUIRE(server.running());
  server.hold();
  TestLoop loop;
  LoopPoster poster(loop.get());
  AuthConfig config;
  config.on_publish = server.url("/auth");
  config.timeout_ms = 15000;  // longer than the test: nothing here times out
  config.max_pending = 1;
  OnPublishHook hook(config, poster);
  const auto d = std::make_shared<Decisions>();

  // One at a time until the server holds each: then every worker is busy (the hook runs four).
  constexpr size_t kWorkers = 4;
  for (size_t i = 0; i < kWorkers; ++i) {
    hook.authorize(request(), d->slot(i));
    REQUIRE(wait_arrived(loop, server, i + 1));
  }
  // The next one waits in the queue (max_pending 1): not refused.
  hook.authorize(request(), d->slot(kWorkers));
  CHECK(d->decided() == 0);
  // The queue is full now: more are refused before authorize returns, without the loop running.
  hook.authorize(request(), d->slot(kWorkers + 1));
  REQUIRE(d->results[kWorkers + 1].has_value());
  REQUIRE_FALSE(d->results[kWorkers + 1]->ok());
  CHECK(d->results[kWorkers + 1]->error() == "publish callback queue is full");
  hook.authorize(request(), d->slot(kWorkers + 2));
  REQUIRE(d->results[kWorkers + 2].has_value());
  REQUIRE_FALSE(d->results[kWorkers + 2]->ok());
  CHECK(d->results[kWorkers + 2]->error() == "publish callback queue is full");
  CHECK(d->decided() == 2);
  const size_t queued = kWorkers;

  // Released, the held ones and the queued one are all answered (and allowed).
  server.release();
  REQUIRE(loop.run_until([&] { return d->decided() == queued + 3; }));
  for (size_t i = 0; i <= queued; ++i) {
    CAPTURE(i);
    CHECK(d->results[i]->ok());
  }
  CHECK(server.arrived() == queued + 1);
  CHECK(d->calls == static_cast<int>(queued + 3));
  CHECK_FALSE(d->off_loop_thread);
}

TEST_CASE(
    "on_publish hook: cancel and destruction do not wait for a blocked server, and no decision comes after") {
  CallbackServer server;
  REQUIRE(server.running());
  server.hold();  // blocks each request for 20 s, or until the server is destroyed
  TestLoop loop;
  LoopPoster poster(loop.get());
  AuthConfig config;
  config.on_publish = server.url("/auth");
  config.timeout_ms = 20000;  // neither the client's timeouts nor the shutdown grace end this test early
  config.max_pending = 8;
  auto hook = std::make_unique<OnPublishHook>(config, poster);
  const auto d = std::make_shared<Decisions>();

  // Four in flight (one per worker), two queued.
  for (size_t i = 0; i < 4; ++i) {
    hook->authorize(request(), d->slot(i));
    REQUIRE(wait_arrived(loop, server, i + 1));
  }
  hook->authorize(request(), d->slot(4));
  hook->authorize(request(), d->slot(5));
  CHECK(d->decided() == 0);

  const auto started = std::chrono::steady_clock::now();
  hook->cancel();
  hook->authorize(request(), d->slot(6));  // after cancel: dropped, never called
  hook.reset();
  const auto took = std::chrono::steady_clock::now() - started;
  MESSAGE("cancel + destruction took " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                                       << " ms");
  CHECK(took < 5s);

  // The workers are joined, so whatever they posted is waiting for the loop now: run it.
  loop.run_for(200ms);
  for (size_t i = 0; i < d->results.size(); ++i) {
    if (d->results[i])
      MESSAGE("decision " << i << " called after destruction: "
                          << (d->results[i]->ok() ? "allowed" : d->results[i]->error()));
  }
  CHECK(d->calls == 0);
  CHECK(server.arrived() == 4);  // the queued ones were never sent
}

TEST_CASE(
    "on_publish hook: publish_done is sent with call=publish_done, and one queued at destruction still goes "
    "out") {
  CallbackServer server;
  REQUIRE(server.running());
  TestLoop loop;
  LoopPoster poster(loop.get());
  AuthConfig config;
  config.on_publish = server.url("/auth");
  config.on_publish_done = server.url("/done");
  config.timeout_ms = 5000;
  {
    OnPublishHook hook(config, poster);
    hook.publish_done(request("token=abc"));
  }  // the destructor gives notifications auth.timeout_ms to go out
  const auto got = server.received();
  REQUIRE(got.size() == 1);
  CHECK(got[0].path == "/done");
  CHECK(got[0].body ==
        "call=publish_done&app=live&name=cam&addr=192.0.2.9&tcurl=rtmp%3A%2F%2F127.0.0.1%3A1935%2Flive"
        "&token=abc");

  // No on_publish_done URL: nothing is sent.
  config.on_publish_done.clear();
  {
    OnPublishHook hook(config, poster);
    hook.publish_done(request());
  }
  CHECK(server.arrived() == 1);
}
