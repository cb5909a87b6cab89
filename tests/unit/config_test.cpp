#include "common/config.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

using namespace livegate;

namespace {

Result<CommandLine> parse(std::vector<const char*> args) {
  args.insert(args.begin(), "livegate");
  return parse_command_line(static_cast<int>(args.size()), args.data());
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
