// One line per event to stderr: time, level, the subject it concerns (a connection, a stream), the message.
#pragma once

#include <string>
#include <string_view>

namespace livegate {

enum class LogLevel { debug, info, warn, error };

bool parse_log_level(std::string_view text, LogLevel& out) noexcept;
const char* to_string(LogLevel level) noexcept;

// The process-wide threshold; set once at start-up before threads exist.
void set_log_level(LogLevel level) noexcept;
bool log_enabled(LogLevel level) noexcept;

void log_line(LogLevel level, std::string_view subject, std::string_view message) noexcept;

inline void log_debug(std::string_view subject, std::string_view message) noexcept {
  if (log_enabled(LogLevel::debug)) log_line(LogLevel::debug, subject, message);
}
inline void log_info(std::string_view subject, std::string_view message) noexcept {
  log_line(LogLevel::info, subject, message);
}
inline void log_warn(std::string_view subject, std::string_view message) noexcept {
  log_line(LogLevel::warn, subject, message);
}
inline void log_error(std::string_view subject, std::string_view message) noexcept {
  log_line(LogLevel::error, subject, message);
}

}  // namespace livegate
