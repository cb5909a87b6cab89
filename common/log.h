// One line per event to stderr: time, level, the subject it concerns (a connection, a stream), the message;
// as text or as a JSON object per line. Client bytes in a line are escaped, so a line is always one event.
// Once the writer thread runs, logging never blocks: lines wait in a bounded queue, and past it they are
// dropped and counted, so a stderr that stops draining (a full pipe) cannot stall an event loop.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace livegate {

enum class LogLevel { debug, info, warn, error };
// text: `TIME LEVEL [subject] message`; json: {"time","level","subject","msg"} for log collectors.
enum class LogFormat { text, json };

bool parse_log_level(std::string_view text, LogLevel& out) noexcept;
const char* to_string(LogLevel level) noexcept;
bool parse_log_format(std::string_view text, LogFormat& out) noexcept;
const char* to_string(LogFormat format) noexcept;

// The process-wide threshold and format; set once at start-up before threads exist.
void set_log_level(LogLevel level) noexcept;
bool log_enabled(LogLevel level) noexcept;
void set_log_format(LogFormat format) noexcept;

// Starts the thread that writes log lines to `fd` (stderr in the server), with at most `max_queued` lines
// waiting. Before it starts, and after stop_log_writer(), lines are written at once by the caller.
void start_log_writer(int fd, size_t max_queued);
// Writes what is queued, waiting up to `timeout_ms` for a blocked `fd`, then stops the thread.
void stop_log_writer(int timeout_ms = 1000) noexcept;
// Lines dropped because the queue was full, since the process started.
uint64_t log_lines_dropped() noexcept;

// One event as the line written for it (with its final newline), in `format`. `unix_ms` is the time.
// Text lines escape control characters and invalid UTF-8 in subject and message (see escape_for_log).
std::string format_log_line(LogFormat format, int64_t unix_ms, LogLevel level, std::string_view subject,
                            std::string_view message);

// A message about a broken limit names it as "limit KEY" (the config key, e.g. "limit
// handshake_timeout_ms reached"); this returns KEY, or "" when the message names no limit.
std::string_view limit_named_in(std::string_view message) noexcept;

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
