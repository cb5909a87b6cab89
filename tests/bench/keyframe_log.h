// The file where the load generator notes when each keyframe was handed to the socket.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

namespace livegate::bench {

// One line per keyframe: "STREAM KEYFRAME_INDEX MEDIA_TS_MS WALL_UNIX_MS". The bench script joins it
// with the times it saw segments listed, to measure publish-to-playlist latency. Buffered: a few
// hundred short lines a second must not cost the generator a syscall each.
class KeyframeLog {
 public:
  KeyframeLog() = default;
  bool open(const std::string& path) {
    file_.reset(std::fopen(path.c_str(), "w"));
    if (!file_) return false;
    std::setvbuf(file_.get(), nullptr, _IOFBF, 1 << 16);
    return true;
  }
  void record(int stream, uint64_t index, uint64_t media_ts_ms, double wall_ms) {
    if (file_) {
      std::fprintf(file_.get(), "%d %llu %llu %.3f\n", stream, static_cast<unsigned long long>(index),
                   static_cast<unsigned long long>(media_ts_ms), wall_ms);
    }
  }
  void flush() {
    if (file_) std::fflush(file_.get());
  }

 private:
  struct Closer {
    void operator()(std::FILE* f) const noexcept { std::fclose(f); }
  };
  std::unique_ptr<std::FILE, Closer> file_;
};

}  // namespace livegate::bench
