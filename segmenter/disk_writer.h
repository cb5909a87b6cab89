// Optional on-disk copy of the HLS output, written by a worker thread so the loop never waits on
// the filesystem. Files appear atomically (written under a temporary name, then renamed).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace livegate {

class DiskWriter {
 public:
  // `max_queued` bounds the writes waiting: past it new writes are dropped and counted. Removals are
  // never dropped (a file left behind would stay forever).
  DiskWriter(std::filesystem::path root, size_t max_queued);
  ~DiskWriter();  // finishes every queued job, then stops
  DiskWriter(const DiskWriter&) = delete;
  DiskWriter& operator=(const DiskWriter&) = delete;

  // `relative` is "APP/KEY/NAME" built from validated names, never from a URL.
  void write(std::string relative, std::shared_ptr<const std::vector<uint8_t>> bytes);
  void write(std::string relative, std::string text);
  void remove(std::string relative);
  void remove_dir(std::string relative);  // the stream's folder, once it is empty
  uint64_t dropped_writes();

 private:
  enum class Op { write, remove, remove_dir };
  struct Job {
    Op op;
    std::string relative;
    std::shared_ptr<const std::vector<uint8_t>> bytes;
  };
  void push(Job job);
  void run();
  void perform(const Job& job);

  std::filesystem::path root_;
  size_t max_queued_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Job> jobs_;
  bool stopping_ = false;
  size_t writes_queued_ = 0;
  uint64_t dropped_ = 0;  // counted to log one line per hundred, not one per file
  uint64_t failed_ = 0;
  std::thread thread_;  // last: starts after everything it uses exists
};

}  // namespace livegate
