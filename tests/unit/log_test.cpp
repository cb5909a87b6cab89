#include "common/log.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <csignal>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

using namespace livegate;

namespace {
constexpr int64_t kT = 1700000000123;  // 2023-11-14T22:13:20.123Z
}

TEST_CASE("log: text lines are TIME LEVEL [subject] message") {
  CHECK(format_log_line(LogFormat::text, kT, LogLevel::warn, "rtmp#3 127.0.0.1:5000", "closed: limit x_y") ==
        "2023-11-14T22:13:20.123Z warn [rtmp#3 127.0.0.1:5000] closed: limit x_y\n");
}

TEST_CASE("log: JSON lines carry time, level, subject and msg, in that order, on one line") {
  const std::string line =
      format_log_line(LogFormat::json, kT, LogLevel::info, "live/cam", "publishing live/cam");
  CHECK(line ==
        "{\"time\":\"2023-11-14T22:13:20.123Z\",\"level\":\"info\",\"subject\":\"live/cam\","
        "\"msg\":\"publishing live/cam\"}\n");
}

TEST_CASE("log: JSON escapes quotes, backslashes, newlines and control bytes, and survives bad UTF-8") {
  const std::string nasty =
      std::string("app \"x\\y\"\nsecond line\ttab \x01 end ") + "\xff\xfe" + " caf\xc3\xa9";
  const std::string line = format_log_line(LogFormat::json, kT, LogLevel::error, "sub\"ject", nasty);
  REQUIRE(!line.empty());
  CHECK(line.back() == '\n');
  CHECK(line.find('\n') == line.size() - 1);  // one event, one line
  CHECK(line.find('\x01') == std::string::npos);
  CHECK(line.find("\\u0001") != std::string::npos);
  const auto j = nlohmann::json::parse(line);
  CHECK(j["subject"] == "sub\"ject");
  CHECK(j["level"] == "error");
  const std::string msg = j["msg"];
  CHECK(msg.rfind("app \"x\\y\"\nsecond line\ttab \x01 end ", 0) == 0);
  CHECK(msg.find("\xef\xbf\xbd") != std::string::npos);  // invalid bytes became U+FFFD
  CHECK(msg.find("caf\xc3\xa9") != std::string::npos);   // valid UTF-8 is kept
}

TEST_CASE("log: formats and levels parse by name") {
  LogFormat f = LogFormat::text;
  CHECK(parse_log_format("json", f));
  CHECK(f == LogFormat::json);
  CHECK(parse_log_format("text", f));
  CHECK(f == LogFormat::text);
  CHECK_FALSE(parse_log_format("JSON", f));
  CHECK_FALSE(parse_log_format("", f));
  CHECK(std::string(to_string(LogFormat::json)) == "json");
}

TEST_CASE("log: the limit a message names") {
  CHECK(limit_named_in("limit handshake_timeout_ms reached") == "handshake_timeout_ms");
  CHECK(limit_named_in("refused 1.2.3.4:5: limit max_connections_per_ip (50) reached") ==
        "max_connections_per_ip");
  CHECK(limit_named_in("rtmp chunk: message length 9 exceeds limit max_message_size 4096") ==
        "max_message_size");
  CHECK(limit_named_in("set chunk size 9 outside 1..8 (limit max_chunk_size)") == "max_chunk_size");
  CHECK(limit_named_in("limit auth.max_pending (256) reached") == "auth.max_pending");
  CHECK(limit_named_in("limit max_command_size: 70000 byte command") == "max_command_size");
  CHECK(limit_named_in("ends at limit foo_bar.") == "foo_bar");
  CHECK(limit_named_in("peer closed the connection") == "");
  CHECK(limit_named_in("no limit here") == "");        // a plain word is not a config key
  CHECK(limit_named_in("unlimit max_streams") == "");  // "limit" must be a word of its own
  CHECK(limit_named_in("limit Max_Streams") == "");    // keys are lower case
}

TEST_CASE("log: text lines escape control bytes and bad UTF-8, so a client string cannot forge a line") {
  const std::string forged = "key\n2026-01-01T00:00:00.000Z error [main] forged\r\x1b[2J\xff";
  const std::string line =
      format_log_line(LogFormat::text, kT, LogLevel::info, "rtmp#1 a\nb", "app " + forged);
  CHECK(line.find('\n') == line.size() - 1);
  CHECK(line.find('\r') == std::string::npos);
  CHECK(line.find('\x1b') == std::string::npos);
  CHECK(line ==
        "2023-11-14T22:13:20.123Z info [rtmp#1 a\\x0ab] app key\\x0a2026-01-01T00:00:00.000Z error [main] "
        "forged\\x0d\\x1b[2J\xef\xbf\xbd\n");
}

TEST_CASE("log: with the writer running, a stderr that does not drain never blocks the caller") {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  const uint64_t dropped_before = log_lines_dropped();
  start_log_writer(fds[1], 100);
  // Far more than the pipe (64 KiB) and the queue hold: if logging blocked, this would never return.
  const std::string filler(200, 'x');
  for (int i = 0; i < 20000; ++i)
    log_line(LogLevel::warn, "test", "line " + std::to_string(i) + " " + filler);
  const uint64_t dropped = log_lines_dropped() - dropped_before;
  CHECK(dropped > 0);
  // Drain the pipe in a thread while the writer finishes; every line that got out is whole.
  std::string out;
  std::thread drain([&] {
    char buf[65536];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  });
  // Once the queue has room again (the reader drains), a line is taken, and the dropped count is told.
  for (uint64_t d = log_lines_dropped();; d = log_lines_dropped()) {
    log_line(LogLevel::warn, "test", "after the stall");
    if (log_lines_dropped() == d) break;
  }
  stop_log_writer(5000);
  close(fds[1]);
  drain.join();
  close(fds[0]);
  CHECK(out.find("log lines dropped: stderr did not keep up (limit log_queue_lines)") != std::string::npos);
  CHECK(out.find("after the stall") != std::string::npos);
  size_t lines = 0;
  for (size_t at = 0; at < out.size();) {
    const size_t nl = out.find('\n', at);
    REQUIRE(nl != std::string::npos);
    const std::string_view l(out.data() + at, nl - at);
    CHECK(l.find("2") == 0);  // each line starts with its timestamp: nothing torn or interleaved
    at = nl + 1;
    ++lines;
  }
  CHECK(lines + dropped >= 20000);
}

TEST_CASE("log: stopping the writer gives up on a blocked stderr instead of hanging") {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  std::signal(SIGPIPE, SIG_IGN);  // as livegate does: the stuck write fails once the reader goes
  start_log_writer(fds[1], 1000);
  const std::string filler(1000, 'y');
  for (int i = 0; i < 200; ++i) log_line(LogLevel::warn, "test", filler);  // 200 KB into a 64 KiB pipe
  stop_log_writer(200);  // returns although the writer is stuck in write()
  log_line(LogLevel::info, "test", "written directly again");  // not queued any more
  close(fds[0]);  // the stuck writer's write() fails now and its thread ends
  close(fds[1]);
}
