#include "common/log.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>

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
