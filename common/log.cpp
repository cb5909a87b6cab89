// Log lines to stderr: formatted by the caller, written by one writer thread from a bounded queue (or at
// once, before it starts), each line whole, so lines from threads never interleave.
#include "common/log.h"

#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/utf8.h"

namespace livegate {
namespace {
std::atomic<LogLevel> g_level{LogLevel::info};
std::atomic<LogFormat> g_format{LogFormat::text};
std::atomic<uint64_t> g_dropped{0};

// Writes all of `data` to `fd`, retrying short writes; gives up on an error (nowhere left to report it).
void write_all(int fd, std::string_view data) noexcept {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data.remove_prefix(static_cast<size_t>(n));
  }
}

// The writer thread and its queue. Allocated once and never freed: a writer stuck on a blocked fd at exit
// is left behind (detached) and may still touch it while the process ends.
struct Writer {
  std::mutex mu;
  std::condition_variable wake;     // lines queued, or stop asked
  std::condition_variable drained;  // the queue became empty
  std::deque<std::string> lines;
  size_t max_queued = 0;
  uint64_t dropped_unreported = 0;
  bool running = false;
  bool stopping = false;
  bool busy = false;  // writing a batch outside the lock
  int fd = 2;
  std::thread thread;

  void run() noexcept {
    try {
      drain_queue();
    } catch (...) {
      // Out of memory while batching: nothing may escape a thread function. Later lines are written by
      // their callers, as before the writer started.
      std::lock_guard lock(mu);
      running = false;
      busy = false;
      lines.clear();
      drained.notify_all();
    }
  }

  void drain_queue() {
    std::unique_lock lock(mu);
    for (;;) {
      wake.wait(lock, [this] { return stopping || !lines.empty(); });
      if (lines.empty()) return;  // stopping, everything written
      std::deque<std::string> batch;
      batch.swap(lines);
      const uint64_t dropped = std::exchange(dropped_unreported, 0);
      busy = true;
      lock.unlock();
      std::string out;
      for (const std::string& l : batch) out += l;
      if (dropped > 0) {
        out += format_log_line(
            g_format.load(std::memory_order_relaxed), unix_ms(), LogLevel::warn, "log",
            std::to_string(dropped) + " log lines dropped: stderr did not keep up (limit log_queue_lines)");
      }
      write_all(fd, out);
      lock.lock();
      busy = false;
      if (lines.empty()) drained.notify_all();
    }
  }

  static int64_t unix_ms() noexcept {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  }
};

Writer& writer() {
  static Writer* w = new Writer;  // never freed, see above
  return *w;
}

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
      .append(escape_for_log(subject))
      .append("] ");
  line.append(escape_for_log(message)).push_back('\n');
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

void start_log_writer(int fd, size_t max_queued) {
  Writer& w = writer();
  std::lock_guard lock(w.mu);
  if (w.running) return;
  w.fd = fd;
  w.max_queued = max_queued;
  w.stopping = false;
  w.running = true;
  w.thread = std::thread([&w] { w.run(); });
}

void stop_log_writer(int timeout_ms) noexcept {
  Writer& w = writer();
  std::unique_lock lock(w.mu);
  if (!w.running) return;
  w.stopping = true;
  w.wake.notify_one();
  // A blocked fd must not hold up the exit: wait a while for the queue to drain, then leave the thread.
  const bool done = w.drained.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                                       [&w] { return w.lines.empty() && !w.busy; });
  w.running = false;
  w.fd = STDERR_FILENO;  // later lines (there are few) go out directly
  std::thread t = std::move(w.thread);
  lock.unlock();
  if (done) {
    t.join();
  } else {
    t.detach();
  }
}

uint64_t log_lines_dropped() noexcept { return g_dropped.load(std::memory_order_relaxed); }

void log_line(LogLevel level, std::string_view subject, std::string_view message) noexcept {
  if (!log_enabled(level)) return;
  try {
    std::string line =
        format_log_line(g_format.load(std::memory_order_relaxed), Writer::unix_ms(), level, subject, message);
    Writer& w = writer();
    {
      std::lock_guard lock(w.mu);
      if (w.running) {
        if (w.lines.size() >= w.max_queued) {
          ++w.dropped_unreported;
          g_dropped.fetch_add(1, std::memory_order_relaxed);
        } else {
          w.lines.push_back(std::move(line));
          w.wake.notify_one();
        }
        return;
      }
    }
    write_all(w.fd, line);
  } catch (...) {
    // Out of memory while logging: nothing sensible is left to do.
  }
}

}  // namespace livegate
