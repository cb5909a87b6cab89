// Log lines to stderr; each line is written with one call so lines from threads do not interleave.
#include "common/log.h"

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

namespace livegate {
namespace {
std::atomic<LogLevel> g_level{LogLevel::info};
std::atomic<LogFormat> g_format{LogFormat::text};

std::string iso_time(int64_t unix_ms) {
  const std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[64];
  std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(unix_ms % 1000));
  return stamp;
}

}  // namespace

bool parse_log_level(std::string_view text, LogLevel& out) noexcept {
  for (LogLevel l : {LogLevel::debug, LogLevel::info, LogLevel::warn, LogLevel::error}) {
    if (text == to_string(l)) {
      out = l;
      return true;
    }
  }
  return false;
}

const char* to_string(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warn";
    case LogLevel::error: return "error";
  }
  return "info";
}

bool parse_log_format(std::string_view text, LogFormat& out) noexcept {
  for (LogFormat f : {LogFormat::text, LogFormat::json}) {
    if (text == to_string(f)) {
      out = f;
      return true;
    }
  }
  return false;
}

const char* to_string(LogFormat format) noexcept { return format == LogFormat::json ? "json" : "text"; }

void set_log_level(LogLevel level) noexcept { g_level.store(level, std::memory_order_relaxed); }

bool log_enabled(LogLevel level) noexcept { return level >= g_level.load(std::memory_order_relaxed); }

void set_log_format(LogFormat format) noexcept { g_format.store(format, std::memory_order_relaxed); }

std::string format_log_line(LogFormat format, int64_t unix_ms, LogLevel level, std::string_view subject,
                            std::string_view message) {
  if (format == LogFormat::json) {
    // ordered_json keeps the fields in reading order. Messages can quote client bytes (an app name,
    // a command) that are not UTF-8: those are replaced by U+FFFD instead of making the line invalid.
    nlohmann::ordered_json j;
    j["time"] = iso_time(unix_ms);
    j["level"] = to_string(level);
    j["subject"] = subject;
    j["msg"] = message;
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  }
  std::string line;
  line.reserve(64 + subject.size() + message.size());
  line.append(iso_time(unix_ms))
      .append(" ")
      .append(to_string(level))
      .append(" [")
      .append(subject)
      .append("] ");
  line.append(message).push_back('\n');
  return line;
}

std::string_view limit_named_in(std::string_view message) noexcept {
  constexpr std::string_view kMarker = "limit ";
  for (size_t at = message.find(kMarker); at != std::string_view::npos; at = message.find(kMarker, at + 1)) {
    // "limit" as a word of its own, not the end of e.g. "unlimit ".
    if (at > 0 && std::isalnum(static_cast<unsigned char>(message[at - 1]))) continue;
    const size_t start = at + kMarker.size();
    size_t end = start;
    while (end < message.size() && (std::islower(static_cast<unsigned char>(message[end])) ||
                                    std::isdigit(static_cast<unsigned char>(message[end])) ||
                                    message[end] == '_' || message[end] == '.')) {
      ++end;
    }
    // A config key has an underscore (max_streams, handshake_timeout_ms); plain words do not.
    std::string_view key = message.substr(start, end - start);
    while (!key.empty() && key.back() == '.') key.remove_suffix(1);  // the end of a sentence
    if (key.find('_') != std::string_view::npos) return key;
  }
  return {};
}

void log_line(LogLevel level, std::string_view subject, std::string_view message) noexcept {
  if (!log_enabled(level)) return;
  using namespace std::chrono;
  const int64_t now_ms = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  try {
    const std::string line =
        format_log_line(g_format.load(std::memory_order_relaxed), now_ms, level, subject, message);
    std::fwrite(line.data(), 1, line.size(), stderr);
  } catch (...) {
    // Out of memory while logging: nothing sensible is left to do.
  }
}

}  // namespace livegate
