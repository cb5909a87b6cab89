// Config parsing: a table of keys with their validation, shared by the JSON file, the environment and the
// flags.
#include "common/config.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string_view>

namespace livegate {
namespace {

using json = nlohmann::json;

Status parse_uint(const json& v, const std::string& key, uint64_t lo, uint64_t hi, uint64_t& out) {
  if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0)) {
    return Error{"config: " + key + " must be a non-negative integer, got " + v.dump()};
  }
  const uint64_t n = v.get<uint64_t>();
  if (n < lo || n > hi) {
    return Error{"config: " + key + " must be between " + std::to_string(lo) + " and " + std::to_string(hi) +
                 ", got " + std::to_string(n)};
  }
  out = n;
  return {};
}

// How a value written as text (an environment variable) becomes the JSON its setter takes.
enum class TextForm { string, number, boolean, list };

// Setters by dotted key. `forms` holds the keys whose text is not taken as a plain string.
struct Setters : std::map<std::string, std::function<Status(const json&)>> {
  std::map<std::string, TextForm> forms;
};

template <class T>
void add_uint(Setters& s, const std::string& key, T& field, uint64_t lo, uint64_t hi) {
  s.forms[key] = TextForm::number;
  s[key] = [&field, key, lo, hi](const json& v) -> Status {
    uint64_t n = 0;
    if (Status st = parse_uint(v, key, lo, hi, n); !st) return st;
    field = static_cast<T>(n);
    return {};
  };
}

void add_bool(Setters& s, const std::string& key, bool& field) {
  s.forms[key] = TextForm::boolean;
  s[key] = [key, &field](const json& v) -> Status {
    if (!v.is_boolean()) return Error{"config: " + key + " must be true or false"};
    field = v.get<bool>();
    return {};
  };
}

void add_path(Setters& s, const std::string& key, std::string& field) {
  s[key] = [&field, key](const json& v) -> Status {
    if (!v.is_string()) return Error{"config: " + key + " must be a folder path string"};
    field = v.get<std::string>();
    return {};
  };
}

bool valid_name(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) return false;
  }
  return s != "." && s != "..";
}

// Every configurable key, by its dotted path. Adding a setting means adding one line here.
Setters make_setters(Config& c) {
  constexpr uint64_t u32max = std::numeric_limits<uint32_t>::max();
  Setters s;
  s["bind"] = [&c](const json& v) -> Status {
    if (!v.is_string() || v.get<std::string>().empty())
      return Error{"config: bind must be an address string"};
    c.bind = v.get<std::string>();
    return {};
  };
  add_uint(s, "rtmp_port", c.rtmp_port, 0, 65535);
  add_uint(s, "http_port", c.http_port, 0, 65535);
  s["log_level"] = [&c](const json& v) -> Status {
    if (!v.is_string() || !parse_log_level(v.get<std::string>(), c.log_level)) {
      return Error{"config: log_level must be one of debug, info, warn, error, got " + v.dump()};
    }
    return {};
  };
  s["log_format"] = [&c](const json& v) -> Status {
    if (!v.is_string() || !parse_log_format(v.get<std::string>(), c.log_format)) {
      return Error{"config: log_format must be text or json, got " + v.dump()};
    }
    return {};
  };
  add_uint(s, "log_queue_lines", c.log_queue_lines, 16, 10000000);
  RtmpConfig& r = c.rtmp;
  add_uint(s, "rtmp.max_connections", r.max_connections, 1, 1000000);
  add_uint(s, "rtmp.max_connections_per_ip", r.max_connections_per_ip, 1, 1000000);
  add_uint(s, "rtmp.max_buffered_bytes", r.max_buffered_bytes, 65536, 1u << 30);
  add_uint(s, "rtmp.handshake_timeout_ms", r.handshake_timeout_ms, 100, 600000);
  add_uint(s, "rtmp.publish_timeout_ms", r.publish_timeout_ms, 100, 600000);
  add_uint(s, "rtmp.idle_timeout_ms", r.idle_timeout_ms, 100, 3600000);
  add_uint(s, "rtmp.max_message_size", r.max_message_size, 4096, 0xFFFFFF);
  add_uint(s, "rtmp.max_command_size", r.max_command_size, 1024, 0xFFFFFF);
  add_uint(s, "rtmp.max_chunk_size", r.max_chunk_size, 128, 0x7FFFFFFF);
  add_uint(s, "rtmp.max_chunk_streams", r.max_chunk_streams, 4, 65599);
  add_uint(s, "rtmp.amf_max_depth", r.amf_max_depth, 2, 256);
  add_uint(s, "rtmp.max_streams", r.max_streams, 1, 100000);
  add_uint(s, "rtmp.out_chunk_size", r.out_chunk_size, 128, 0xFFFFFF);
  add_uint(s, "rtmp.window_ack_size", r.window_ack_size, 4096, u32max);
  add_uint(s, "rtmp.timestamp_wrap_tolerance_ms", r.timestamp_wrap_tolerance_ms, 0, 600000);
  s["rtmp.apps"] = [&r](const json& v) -> Status {
    if (!v.is_array() || v.empty()) return Error{"config: rtmp.apps must be a non-empty array of names"};
    std::vector<std::string> apps;
    for (const json& a : v) {
      if (!a.is_string() || !valid_name(a.get<std::string>())) {
        return Error{"config: rtmp.apps entry " + a.dump() + " is not a valid name ([A-Za-z0-9_.-]{1,64})"};
      }
      apps.push_back(a.get<std::string>());
    }
    r.apps = std::move(apps);
    return {};
  };
  s.forms["rtmp.apps"] = TextForm::list;
  HlsConfig& h = c.hls;
  add_uint(s, "hls.target_duration_s", h.target_duration_s, 1, 60);
  add_uint(s, "hls.window", h.window, 2, 100);
  add_uint(s, "hls.grace", h.grace, 0, 1000);
  add_uint(s, "hls.retention_s", h.retention_s, 0, 86400);
  add_uint(s, "hls.max_jump_ms", h.max_jump_ms, 1000, 3600000);
  add_uint(s, "hls.disk_queue", h.disk_queue, 16, 1000000);
  add_path(s, "hls.dir", h.dir);
  add_uint(s, "hls.max_segment_duration_s", h.max_segment_duration_s, 1, 600);
  add_uint(s, "hls.max_segment_bytes", h.max_segment_bytes, 1 << 20, 1u << 31);
  add_uint(s, "hls.video_stall_ms", h.video_stall_ms, 500, 600000);
  add_uint(s, "hls.max_ended_streams", h.max_ended_streams, 0, 1000000);
  add_uint(s, "hls.max_ended_bytes", h.max_ended_bytes, 0, u32max);
  add_uint(s, "hls.reconnect_grace_ms", h.reconnect_grace_ms, 0, 3600000);
  add_uint(s, "hls.ll.part_target_ms", h.part_target_ms, 100, 1000);
  s["hls.packaging"] = [&h](const json& v) -> Status {
    const Error bad{"config: hls.packaging must be a non-empty list of \"ts\" and \"cmaf\", got " + v.dump()};
    if (!v.is_array() || v.empty()) return bad;
    bool ts = false, cmaf = false;
    for (const json& p : v) {
      if (p == "ts" && !ts) {
        ts = true;
      } else if (p == "cmaf" && !cmaf) {
        cmaf = true;
      } else {
        return bad;
      }
    }
    h.packaging_ts = ts;
    h.packaging_cmaf = cmaf;
    return {};
  };
  s.forms["hls.packaging"] = TextForm::list;
  FailoverConfig& f = c.failover;
  add_uint(s, "failover.input_loss_ms", f.input_loss_ms, 100, 600000);
  add_uint(s, "failover.return_after_ms", f.return_after_ms, 0, 3600000);
  add_bool(s, "failover.prefer_primary", f.prefer_primary);
  HttpConfig& t = c.http;
  add_uint(s, "http.threads", t.threads, 1, 64);
  add_uint(s, "http.max_connections", t.max_connections, 1, 1000000);
  add_uint(s, "http.max_connections_per_ip", t.max_connections_per_ip, 1, 1000000);
  add_uint(s, "http.drain_ms", t.drain_ms, 0, 60000);
  add_uint(s, "http.backlog", t.backlog, 1, 65535);
  add_uint(s, "http.keep_alive_timeout_s", t.keep_alive_timeout_s, 1, 3600);
  add_uint(s, "http.keep_alive_max_requests", t.keep_alive_max_requests, 1, 1000000);
  add_uint(s, "http.read_timeout_s", t.read_timeout_s, 1, 3600);
  add_uint(s, "http.write_timeout_s", t.write_timeout_s, 1, 3600);
  add_uint(s, "http.max_uri_bytes", t.max_uri_bytes, 64, 8192);
  add_uint(s, "http.max_header_bytes", t.max_header_bytes, 256, 65536);
  add_path(s, "http.www_dir", t.www_dir);
  ApiConfig& api = c.api;
  s["api.bind"] = [&api](const json& v) -> Status {
    if (!v.is_string() || v.get<std::string>().empty())
      return Error{"config: api.bind must be an address string"};
    api.bind = v.get<std::string>();
    return {};
  };
  add_uint(s, "api.port", api.port, 0, 65535);
  s["api.token"] = [&api](const json& v) -> Status {
    if (!v.is_string()) return Error{"config: api.token must be a string"};
    const std::string t = v.get<std::string>();
    // The token travels in an HTTP header: printable ASCII without spaces, and long enough to guess.
    const bool printable = std::all_of(t.begin(), t.end(), [](char ch) { return ch > 0x20 && ch < 0x7f; });
    if (!t.empty() && (t.size() < 16 || !printable)) {
      return Error{"config: api.token must be at least 16 printable characters without spaces"};
    }
    api.token = t;
    return {};
  };
  AuthConfig& a = c.auth;
  s["auth.keys"] = [&a](const json& v) -> Status {
    if (!v.is_array()) return Error{"config: auth.keys must be an array of stream keys"};
    a.keys.clear();
    for (const json& k : v) {
      if (!k.is_string() || k.get<std::string>().empty())
        return Error{"config: auth.keys entries must be strings"};
      a.keys.push_back(k.get<std::string>());
    }
    return {};
  };
  s.forms["auth.keys"] = TextForm::list;
  auto url_key = [](const std::string& key, std::string& field) {
    return [&field, key](const json& v) -> Status {
      if (!v.is_string() ||
          !(v.get<std::string>().empty() || v.get<std::string>().rfind("http://", 0) == 0)) {
        return Error{"config: " + key + " must be an http:// URL"};
      }
      field = v.get<std::string>();
      return {};
    };
  };
  s["auth.on_publish"] = url_key("auth.on_publish", a.on_publish);
  s["auth.on_publish_done"] = url_key("auth.on_publish_done", a.on_publish_done);
  add_uint(s, "auth.timeout_ms", a.timeout_ms, 100, 60000);
  add_uint(s, "auth.max_pending", a.max_pending, 1, 100000);
  return s;
}

// Some key starts with "<section>.": `section` is a (possibly nested) group such as "hls.ll".
bool has_keys_under(const Setters& setters, const std::string& section) {
  const auto it = setters.lower_bound(section + ".");
  return it != setters.end() && it->first.compare(0, section.size() + 1, section + ".") == 0;
}

Status apply_object(const json& obj, const std::string& prefix, Setters& setters) {
  for (const auto& [name, value] : obj.items()) {
    const std::string key = prefix.empty() ? name : prefix + "." + name;
    if (auto it = setters.find(key); it != setters.end()) {
      if (Status s = it->second(value); !s) return s;
    } else if (value.is_object() && has_keys_under(setters, key)) {
      if (Status s = apply_object(value, key, setters); !s) return s;
    } else {
      return Error{"config: unknown key \"" + key + "\""};
    }
  }
  return {};
}

// Rules across keys, checked once every source has been applied.
Status check_consistency(const Config& config) {
  if (!config.auth.keys.empty() && !config.auth.on_publish.empty()) {
    return Error{"config: set auth.keys or auth.on_publish, not both"};
  }
  if (config.hls.max_segment_duration_s < config.hls.target_duration_s) {
    return Error{"config: hls.max_segment_duration_s must not be below hls.target_duration_s"};
  }
  return {};
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// The JSON a variable's text stands for, by the key's form. Numbers must be all digits so that
// "12ab" is refused rather than read as 12; a list is split at commas ("" is the empty list).
Result<json> text_to_json(const std::string& text, TextForm form) {
  switch (form) {
    case TextForm::string: return json(text);
    case TextForm::number: {
      const std::string_view t = trim(text);
      uint64_t n = 0;
      auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
      if (t.empty() || ec != std::errc{} || end != t.data() + t.size()) {
        return Error{"needs a non-negative integer, got \"" + text + "\""};
      }
      return json(n);
    }
    case TextForm::boolean: {
      const std::string_view t = trim(text);
      if (t == "true" || t == "1") return json(true);
      if (t == "false" || t == "0") return json(false);
      return Error{"needs true or false, got \"" + text + "\""};
    }
    case TextForm::list: {
      json list = json::array();
      if (trim(text).empty()) return list;
      std::string_view rest = text;
      for (;;) {
        const size_t comma = rest.find(',');
        list.push_back(std::string(trim(rest.substr(0, comma))));
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
      return list;
    }
  }
  return Error{"unknown value form"};
}

}  // namespace

Status apply_config_json(const std::string& json_text, Config& config) {
  json doc = json::parse(json_text, nullptr, /*allow_exceptions=*/false, /*ignore_comments=*/true);
  if (doc.is_discarded()) return Error{"config: not valid JSON"};
  if (!doc.is_object()) return Error{"config: the top level must be a JSON object"};
  Setters setters = make_setters(config);
  if (Status s = apply_object(doc, "", setters); !s) return s;
  return check_consistency(config);
}

Environment process_environment() {
  Environment env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry = *e;
    const size_t eq = entry.find('=');
    if (eq != std::string_view::npos) env.emplace(entry.substr(0, eq), entry.substr(eq + 1));
  }
  return env;
}

std::string environment_name(const std::string& key) {
  std::string name = "LIVEGATE_";
  for (char c : key) {
    name += c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return name;
}

std::vector<std::string> config_keys() {
  Config scratch;
  std::vector<std::string> keys;
  for (const auto& entry : make_setters(scratch)) keys.push_back(entry.first);
  return keys;
}

Status apply_environment(const Environment& env, Config& config) {
  Setters setters = make_setters(config);
  // Keys are visited in the table's order, so which of two bad variables is reported is stable.
  for (const auto& [key, set] : setters) {
    const std::string name = environment_name(key);
    const auto it = env.find(name);
    if (it == env.end()) continue;
    const auto form = setters.forms.find(key);
    Result<json> value =
        text_to_json(it->second, form == setters.forms.end() ? TextForm::string : form->second);
    if (!value) return Error{"environment " + name + ": " + value.error()};
    if (Status s = set(*value); !s) return Error{"environment " + name + ": " + s.error()};
  }
  return {};
}

const char* usage_text() noexcept {
  return "usage: livegate [--config FILE.json] [--bind ADDR] [--rtmp-port N] [--http-port N]\n"
         "                [--log-level debug|info|warn|error] [--help] [--version]\n"
         "\n"
         "Accepts RTMP publishers on rtmp://HOST:RTMP_PORT/APP/KEY and serves HLS on\n"
         "http://HOST:HTTP_PORT/APP/KEY/index.m3u8.\n"
         "\n"
         "Every config key (see README.md) can also be set by an environment variable:\n"
         "LIVEGATE_ and the key in upper case with dots as underscores, lists comma-separated,\n"
         "e.g. LIVEGATE_RTMP_PORT=1935 LIVEGATE_HLS_TARGET_DURATION_S=4 LIVEGATE_AUTH_KEYS=k1,k2.\n"
         "Flags override the environment, which overrides the config file, which overrides\n"
         "the built-in defaults.\n";
}

Result<CommandLine> parse_command_line(int argc, const char* const* argv) {
  return parse_command_line(argc, argv, process_environment());
}

Result<CommandLine> parse_command_line(int argc, const char* const* argv, const Environment& env) {
  CommandLine cl;
  struct Flag {
    std::string name, value;
  };
  std::vector<Flag> flags;
  std::string config_path;
  static const std::map<std::string, std::string> value_flags = {{"--config", ""},
                                                                 {"--bind", "bind"},
                                                                 {"--rtmp-port", "rtmp_port"},
                                                                 {"--http-port", "http_port"},
                                                                 {"--log-level", "log_level"}};
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      cl.help = true;
      continue;
    }
    if (arg == "--version") {
      cl.version = true;
      continue;
    }
    std::string value;
    bool has_value = false;
    if (auto eq = arg.find('='); eq != std::string::npos && arg.rfind("--", 0) == 0) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_value = true;
    }
    if (!value_flags.contains(arg)) return Error{"unknown option " + arg + " (see --help)"};
    if (!has_value) {
      if (i + 1 >= argc) return Error{"option " + arg + " needs a value"};
      value = argv[++i];
    }
    if (arg == "--config") {
      config_path = value;
    } else {
      flags.push_back({arg, value});
    }
  }
  if (cl.help || cl.version) return cl;

  if (!config_path.empty()) {
    std::ifstream in(config_path);
    if (!in) return Error{"config: cannot read " + config_path};
    std::stringstream text;
    text << in.rdbuf();
    if (Status s = apply_config_json(text.str(), cl.config); !s)
      return Error{s.error() + " in " + config_path};
  }
  if (Status s = apply_environment(env, cl.config); !s) return Error{s.error()};

  Setters setters = make_setters(cl.config);
  for (const Flag& f : flags) {
    const std::string& key = value_flags.at(f.name);
    json v;
    if (key == "bind" || key == "log_level") {
      v = f.value;
    } else {
      uint64_t n = 0;
      auto [end, ec] = std::from_chars(f.value.data(), f.value.data() + f.value.size(), n);
      if (ec != std::errc{} || end != f.value.data() + f.value.size()) {
        return Error{"option " + f.name + " needs a number, got \"" + f.value + "\""};
      }
      v = n;
    }
    if (Status s = setters.at(key)(v); !s) return Error{"option " + f.name + ": " + s.error()};
  }
  if (Status s = check_consistency(cl.config); !s) return Error{s.error()};
  return cl;
}

}  // namespace livegate
