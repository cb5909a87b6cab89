// The disk worker: one thread, one bounded queue, write-then-rename.
#include "segmenter/disk_writer.h"

#include <cstdio>
#include <fstream>

#include "common/guard.h"
#include "common/log.h"

namespace livegate {

DiskWriter::DiskWriter(std::filesystem::path root, size_t max_queued)
    : root_(std::move(root)), max_queued_(max_queued), thread_([this] { run(); }) {}

DiskWriter::~DiskWriter() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void DiskWriter::write(std::string relative, std::shared_ptr<const std::vector<uint8_t>> bytes) {
  push({Op::write, std::move(relative), std::move(bytes)});
}

void DiskWriter::write(std::string relative, std::string text) {
  push({Op::write, std::move(relative),
        std::make_shared<const std::vector<uint8_t>>(text.begin(), text.end())});
}

void DiskWriter::remove(std::string relative) { push({Op::remove, std::move(relative), nullptr}); }

void DiskWriter::remove_dir(std::string relative) { push({Op::remove_dir, std::move(relative), nullptr}); }

uint64_t DiskWriter::dropped_writes() {
  std::lock_guard lock(mu_);
  return dropped_;
}

void DiskWriter::push(Job job) {
  {
    std::lock_guard lock(mu_);
    // Only writes are dropped: a dropped removal would leave its file on disk for good, and removals are
    // bounded by the writes that were queued.
    if (job.op == Op::write && writes_queued_ >= max_queued_) {
      if (dropped_++ % 100 == 0) {
        log_warn("disk", "queue full: dropping writes (the disk is too slow; limit hls.disk_queue)");
      }
      return;
    }
    if (job.op == Op::write) ++writes_queued_;
    jobs_.push_back(std::move(job));
  }
  wake_.notify_one();
}

void DiskWriter::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
    if (jobs_.empty()) return;  // stopping, and every job is done
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    if (job.op == Op::write) --writes_queued_;
    lock.unlock();
    guard_callback("disk writer", [&] { perform(job); });
    lock.lock();
  }
}

void DiskWriter::perform(const Job& job) {
  const std::filesystem::path path = root_ / job.relative;
  std::error_code ec;
  switch (job.op) {
    case Op::write: {
      std::filesystem::create_directories(path.parent_path(), ec);
      // Readers (nginx, a CDN pulling files) never see a half-written file: write aside, then rename.
      const std::filesystem::path tmp = path.string() + ".tmp";
      {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(job.bytes->data()),
                  static_cast<std::streamsize>(job.bytes->size()));
        if (!out) ec = std::make_error_code(std::errc::io_error);
      }
      if (!ec) std::filesystem::rename(tmp, path, ec);
      if (ec) {
        std::error_code ignored;
        std::filesystem::remove(tmp, ignored);
      }
      break;
    }
    case Op::remove: std::filesystem::remove(path, ec); break;
    case Op::remove_dir: std::filesystem::remove(path, ec); break;
  }
  if (ec) {
    std::lock_guard lock(mu_);
    if (failed_++ % 100 == 0) log_warn("disk", path.string() + ": " + ec.message());
  }
}

}  // namespace livegate
