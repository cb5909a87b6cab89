#include "common/config.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>
#include <vector>

using namespace livegate;

namespace {

// The process environment is left out so that a LIVEGATE_* variable of the shell cannot change results.
Result<CommandLine> parse(std::vector<const char*> args, const Environment& env = {}) {
  args.insert(args.begin(), "livegate");
  return parse_command_line(static_cast<int>(args.size()), args.data(), env);
}

std::string temp_file(const std::string& text) {
  char name[] = "/tmp/livegate_config_XXXXXX";
  const int fd = mkstemp(name);
  REQUIRE(fd >= 0);
  ::close(fd);
  std::ofstream(name) << text;
  return name;
}

}  // namespace

TEST_CASE("config: defaults are the documented ones") {
  auto cl = parse({});
  REQUIRE(cl.ok());
  CHECK(cl->config.rtmp_port == 1935);
  CHECK(cl->config.http_port == 8080);
  CHECK(cl->config.bind == "0.0.0.0");
  CHECK(cl->config.rtmp.handshake_timeout_ms == 5000);
  CHECK(cl->config.rtmp.apps == std::vector<std::string>{"live"});
}

TEST_CASE("config: flags override the file, which overrides defaults") {
  const std::string path = temp_file(
      R"({"rtmp_port": 2000, "http_port": 2001, "log_level": "debug", "rtmp": {"max_streams": 7}})");
  auto cl = parse({"--config", path.c_str(), "--rtmp-port", "3000", "--bind=127.0.0.1"});
  std::remove(path.c_str());
  REQUIRE(cl.ok());
  CHECK(cl->config.rtmp_port == 3000);
  CHECK(cl->config.http_port == 2001);
  CHECK(cl->config.bind == "127.0.0.1");
  CHECK(cl->config.log_level == LogLevel::debug);
  CHECK(cl->config.rtmp.max_streams == 7);
}

TEST_CASE("config: unknown flags, bad values and unknown keys are errors that name them") {
  auto a = parse({"--rtmp-prot", "1"});
  REQUIRE_FALSE(a.ok());
  CHECK(a.error().find("--rtmp-prot") != std::string::npos);

  auto b = parse({"--rtmp-port", "70000"});
  REQUIRE_FALSE(b.ok());
  CHECK(b.error().find("rtmp_port") != std::string::npos);

  auto c = parse({"--http-port", "12ab"});
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().find("12ab") != std::string::npos);

  auto d = parse({"--log-level", "loud"});
  REQUIRE_FALSE(d.ok());
  CHECK(d.error().find("log_level") != std::string::npos);

  auto e = parse({"--rtmp-port"});
  REQUIRE_FALSE(e.ok());
  CHECK(e.error().find("needs a value") != std::string::npos);

  Config config;
  Status f = apply_config_json(R"({"rtmp": {"max_conections": 5}})", config);
  REQUIRE_FALSE(f.ok());
  CHECK(f.error().find("rtmp.max_conections") != std::string::npos);

  Status g = apply_config_json(R"({"rtmp": {"max_streams": -1}})", config);
  REQUIRE_FALSE(g.ok());
  CHECK(g.error().find("rtmp.max_streams") != std::string::npos);

  CHECK_FALSE(apply_config_json("{not json", config).ok());
  CHECK_FALSE(apply_config_json("[1,2]", config).ok());
  CHECK_FALSE(apply_config_json(R"({"rtmp": {"apps": ["../x"]}})", config).ok());
  CHECK_FALSE(apply_config_json(R"({"rtmp": {"max_chunk_size": 64}})", config).ok());
}

TEST_CASE("config: a missing config file is an error naming it") {
  auto cl = parse({"--config", "/nonexistent/livegate.json"});
  REQUIRE_FALSE(cl.ok());
  CHECK(cl.error().find("/nonexistent/livegate.json") != std::string::npos);
}

TEST_CASE("config: --help and --version are recognised") {
  CHECK(parse({"--help"})->help);
  CHECK(parse({"--version"})->version);
}

TEST_CASE("config: environment names are derived from the keys, one per key") {
  CHECK(environment_name("rtmp_port") == "LIVEGATE_RTMP_PORT");
  CHECK(environment_name("hls.target_duration_s") == "LIVEGATE_HLS_TARGET_DURATION_S");
  CHECK(environment_name("auth.keys") == "LIVEGATE_AUTH_KEYS");
  const std::vector<std::string> keys = config_keys();
  REQUIRE(keys.size() > 30);
  std::set<std::string> names;
  for (const std::string& k : keys) names.insert(environment_name(k));
  CHECK(names.size() == keys.size());
}

TEST_CASE("config: the environment overrides the file, flags override the environment") {
  const std::string path =
      temp_file(R"({"rtmp_port": 2000, "http_port": 2001, "hls": {"window": 4, "target_duration_s": 3}})");
  const Environment env = {{"LIVEGATE_HTTP_PORT", "4001"},
                           {"LIVEGATE_RTMP_PORT", "4000"},
                           {"LIVEGATE_HLS_TARGET_DURATION_S", "5"},
                           {"LIVEGATE_BIND", "127.0.0.2"}};
  auto cl = parse({"--config", path.c_str(), "--rtmp-port", "3000"}, env);
  std::remove(path.c_str());
  REQUIRE(cl.ok());
  CHECK(cl->config.rtmp_port == 3000);           // flag
  CHECK(cl->config.http_port == 4001);           // environment over file
  CHECK(cl->config.hls.target_duration_s == 5);  // environment over file
  CHECK(cl->config.hls.window == 4);             // file
  CHECK(cl->config.bind == "127.0.0.2");         // environment over default
  CHECK(cl->config.hls.grace == 7);              // default
}

TEST_CASE("config: every kind of value from the environment") {
  Config c;
  const Environment env = {{"LIVEGATE_AUTH_KEYS", "alpha, beta ,gamma"},
                           {"LIVEGATE_RTMP_APPS", "live,studio"},
                           {"LIVEGATE_LOG_LEVEL", "warn"},
                           {"LIVEGATE_HLS_DIR", "/var/lib/livegate/hls"},
                           {"LIVEGATE_HLS_MAX_JUMP_MS", "2000"},
                           {"LIVEGATE_AUTH_ON_PUBLISH_DONE", "http://auth.internal/done"}};
  REQUIRE(apply_environment(env, c).ok());
  CHECK(c.auth.keys == std::vector<std::string>{"alpha", "beta", "gamma"});
  CHECK(c.rtmp.apps == std::vector<std::string>{"live", "studio"});
  CHECK(c.log_level == LogLevel::warn);
  CHECK(c.hls.dir == "/var/lib/livegate/hls");
  CHECK(c.hls.max_jump_ms == 2000);
  CHECK(c.auth.on_publish_done == "http://auth.internal/done");

  // An empty value is a value: it clears a list or a path set by the config file.
  REQUIRE(apply_environment({{"LIVEGATE_AUTH_KEYS", ""}, {"LIVEGATE_HLS_DIR", ""}}, c).ok());
  CHECK(c.auth.keys.empty());
  CHECK(c.hls.dir.empty());
}

TEST_CASE("config: a bad environment value is an error naming the variable") {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"LIVEGATE_RTMP_PORT", "70000"},        {"LIVEGATE_RTMP_PORT", "12ab"},
      {"LIVEGATE_RTMP_PORT", "-1"},           {"LIVEGATE_HTTP_PORT", ""},
      {"LIVEGATE_LOG_LEVEL", "loud"},         {"LIVEGATE_RTMP_APPS", ""},
      {"LIVEGATE_RTMP_APPS", "live,../x"},    {"LIVEGATE_AUTH_KEYS", "a,,b"},
      {"LIVEGATE_AUTH_ON_PUBLISH", "ftp://x"}};
  for (const auto& entry : bad) {
    // Named copies: clang cannot capture structured bindings in CAPTURE's lambda.
    const std::string& name = entry.first;
    const std::string& value = entry.second;
    CAPTURE(name);
    CAPTURE(value);
    auto cl = parse({}, {{name, value}});
    REQUIRE_FALSE(cl.ok());
    CHECK(cl.error().find("environment " + name + ":") == 0);
  }
  // Keys and a callback together are refused wherever each comes from.
  const std::string path = temp_file(R"({"auth": {"on_publish": "http://auth.internal/check"}})");
  auto mixed = parse({"--config", path.c_str()}, {{"LIVEGATE_AUTH_KEYS", "k1"}});
  std::remove(path.c_str());
  REQUIRE_FALSE(mixed.ok());
  CHECK(mixed.error().find("not both") != std::string::npos);
}

TEST_CASE("config: variables that name no key are left alone") {
  // What Kubernetes sets for a Service named livegate, and what the build script reads.
  const Environment env = {{"LIVEGATE_SERVICE_HOST", "10.0.0.7"},
                           {"LIVEGATE_PORT", "tcp://10.0.0.7:1935"},
                           {"LIVEGATE_BUILD_DIR", "build"},
                           {"RTMP_PORT", "1"},
                           {"livegate_rtmp_port", "1"}};
  auto cl = parse({}, env);
  REQUIRE(cl.ok());
  CHECK(cl->config.rtmp_port == 1935);
}

TEST_CASE("config: process_environment() copies the variables of this process") {
  // Only reads: a variable of this process is looked up, none is set.
  const Environment env = process_environment();
  CHECK(env.contains("PATH") == (std::getenv("PATH") != nullptr));
  if (const char* path = std::getenv("PATH")) CHECK(env.at("PATH") == path);
}

TEST_CASE("config: the round-2 limits have their documented defaults and ranges") {
  auto cl = parse({});
  REQUIRE(cl.ok());
  const Config& c = cl->config;
  CHECK(c.log_queue_lines == 10000);
  CHECK(c.hls.max_segment_duration_s == 10);
  CHECK(c.hls.max_segment_bytes == 32u << 20);
  CHECK(c.hls.video_stall_ms == 4000);
  CHECK(c.hls.max_ended_streams == 256);
  CHECK(c.hls.max_ended_bytes == 512u << 20);
  CHECK(c.http.max_connections_per_ip == 1000);
  CHECK(c.http.drain_ms == 3000);
  CHECK(c.api.bind == "127.0.0.1");
  CHECK(c.api.port == 8081);
  CHECK(c.api.token.empty());

  Config ok;
  CHECK(
      apply_config_json(R"({"api": {"token": "0123456789abcdef", "port": 0}, "http": {"drain_ms": 0}})", ok));
  CHECK(ok.api.port == 0);
  for (const char* bad :
       {R"({"api": {"token": "short"}})", R"({"api": {"token": "has a space in it, long"}})",
        R"({"hls": {"target_duration_s": 6, "max_segment_duration_s": 4}})",
        R"({"hls": {"max_segment_bytes": 1000}})", R"({"log_queue_lines": 1})",
        R"({"http": {"max_connections_per_ip": 0}})"}) {
    CAPTURE(bad);
    Config c2;
    CHECK_FALSE(apply_config_json(bad, c2));
  }
}

TEST_CASE("config: continuity settings have their documented defaults and ranges") {
  auto cl = parse({});
  REQUIRE(cl.ok());
  CHECK(cl->config.hls.reconnect_grace_ms == 10000);
  CHECK(cl->config.rtmp.timestamp_wrap_tolerance_ms == 10000);
  Config c;
  CHECK(apply_config_json(R"({"hls": {"reconnect_grace_ms": 0}, "rtmp": {"timestamp_wrap_tolerance_ms": 0}})",
                          c));
  CHECK(c.hls.reconnect_grace_ms == 0);
  CHECK(c.rtmp.timestamp_wrap_tolerance_ms == 0);
  for (const char* bad :
       {R"({"hls": {"reconnect_grace_ms": 3600001}})", R"({"hls": {"reconnect_grace_ms": -1}})",
        R"({"rtmp": {"timestamp_wrap_tolerance_ms": 600001}})"}) {
    CAPTURE(bad);
    Config c2;
    CHECK_FALSE(apply_config_json(bad, c2));
  }
}

TEST_CASE(
    "config: failover settings have their documented defaults and ranges; booleans from the environment") {
  auto cl = parse({});
  REQUIRE(cl.ok());
  CHECK(cl->config.failover.input_loss_ms == 1000);
  CHECK(cl->config.failover.return_after_ms == 5000);
  CHECK(cl->config.failover.prefer_primary);
  Config c;
  CHECK(apply_config_json(
      R"({"failover": {"input_loss_ms": 100, "return_after_ms": 0, "prefer_primary": false}})", c));
  CHECK(c.failover.input_loss_ms == 100);
  CHECK(c.failover.return_after_ms == 0);
  CHECK_FALSE(c.failover.prefer_primary);
  for (const char* bad :
       {R"({"failover": {"input_loss_ms": 99}})", R"({"failover": {"return_after_ms": 3600001}})",
        R"({"failover": {"prefer_primary": 1}})", R"({"failover": {"prefer_primary": "yes"}})"}) {
    CAPTURE(bad);
    Config c2;
    CHECK_FALSE(apply_config_json(bad, c2));
  }
  Config e;
  REQUIRE(apply_environment({{"LIVEGATE_FAILOVER_PREFER_PRIMARY", "false"}}, e).ok());
  CHECK_FALSE(e.failover.prefer_primary);
  REQUIRE(apply_environment({{"LIVEGATE_FAILOVER_PREFER_PRIMARY", " 1 "}}, e).ok());
  CHECK(e.failover.prefer_primary);
  const Status bad = apply_environment({{"LIVEGATE_FAILOVER_PREFER_PRIMARY", "maybe"}}, e);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error() == "environment LIVEGATE_FAILOVER_PREFER_PRIMARY: needs true or false, got \"maybe\"");
}

TEST_CASE("config: hls.packaging is a list of ts and cmaf, both by default, from a file or the environment") {
  auto cl = parse({});
  REQUIRE(cl.ok());
  CHECK(cl->config.hls.packaging_ts);
  CHECK(cl->config.hls.packaging_cmaf);
  Config c;
  REQUIRE(apply_config_json(R"({"hls": {"packaging": ["cmaf"]}})", c).ok());
  CHECK_FALSE(c.hls.packaging_ts);
  CHECK(c.hls.packaging_cmaf);
  REQUIRE(apply_config_json(R"({"hls": {"packaging": ["cmaf", "ts"]}})", c).ok());
  CHECK(c.hls.packaging_ts);
  CHECK(c.hls.packaging_cmaf);
  for (const char* bad : {R"({"hls": {"packaging": []}})", R"({"hls": {"packaging": ["ts", "ts"]}})",
                          R"({"hls": {"packaging": ["mp4"]}})", R"({"hls": {"packaging": "ts"}})",
                          R"({"hls": {"packaging": [1]}})"}) {
    CAPTURE(bad);
    Config c2;
    const Status s = apply_config_json(bad, c2);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().rfind("config: hls.packaging must be a non-empty list of \"ts\" and \"cmaf\"", 0) == 0);
  }
  Config e;
  REQUIRE(apply_environment({{"LIVEGATE_HLS_PACKAGING", "ts"}}, e).ok());
  CHECK(e.hls.packaging_ts);
  CHECK_FALSE(e.hls.packaging_cmaf);
  CHECK_FALSE(apply_environment({{"LIVEGATE_HLS_PACKAGING", ""}}, e).ok());
}

TEST_CASE("config: hls.ll.part_target_ms is read from a nested object or the environment, within 100-1000") {
  Config c;
  CHECK(c.hls.part_target_ms == 333);
  REQUIRE(apply_config_json(R"({"hls": {"ll": {"part_target_ms": 500}}})", c).ok());
  CHECK(c.hls.part_target_ms == 500);
  for (const char* bad :
       {R"({"hls": {"ll": {"part_target_ms": 99}}})", R"({"hls": {"ll": {"part_target_ms": 1001}}})"}) {
    CAPTURE(bad);
    Config c2;
    CHECK_FALSE(apply_config_json(bad, c2).ok());
  }
  // Groups nest only where keys exist: an unknown group is an unknown key, named in full.
  Config c3;
  const Status unknown = apply_config_json(R"({"hls": {"lowlatency": {"part_target_ms": 500}}})", c3);
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error() == "config: unknown key \"hls.lowlatency\"");
  const Status unknown_leaf = apply_config_json(R"({"hls": {"ll": {"parts": 5}}})", c3);
  REQUIRE_FALSE(unknown_leaf.ok());
  CHECK(unknown_leaf.error() == "config: unknown key \"hls.ll.parts\"");
  Config e;
  REQUIRE(apply_environment({{"LIVEGATE_HLS_LL_PART_TARGET_MS", "200"}}, e).ok());
  CHECK(e.hls.part_target_ms == 200);
}
