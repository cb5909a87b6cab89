// DiskWriter on a temporary folder: files appear whole under their name (never half-written, no temporary
// left), removals work, and a full queue drops writes but never removals. The worker is held up by making
// the first write's temporary file a FIFO, whose open blocks until the test opens it for reading.
#include "segmenter/disk_writer.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <thread>

using namespace livegate;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "livegate-disk-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) != nullptr) path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path.empty()) fs::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

std::optional<std::string> read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void put_file(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

// Any "*.tmp" left anywhere under `root`.
bool has_tmp(const fs::path& root) {
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.path().extension() == ".tmp") return true;
  }
  return false;
}

// Version k of the rewritten file: its length says which version it is, every byte the same.
std::string version(int k) {
  return std::string(4096 + static_cast<size_t>(k) * 512, static_cast<char>('a' + k % 26));
}

}  // namespace

TEST_CASE("disk writer: writes land under their name with their bytes, folders made, no .tmp left") {
  TempDir dir;
  REQUIRE(!dir.path.empty());
  std::vector<uint8_t> every_byte;
  for (int b = 0; b < 256; ++b) every_byte.push_back(static_cast<uint8_t>(b));
  {
    DiskWriter w(dir.path, 100);
    w.write("live/cam/index.m3u8", std::string("#EXTM3U\n"));
    w.write("live/cam/seg-1.ts", std::make_shared<const std::vector<uint8_t>>(every_byte));
    w.write("live/cam/index.m3u8", std::string("#EXTM3U\n#EXT-X-VERSION:3\n"));  // replaces the first
    w.write("live/empty.txt", std::string());
    CHECK(w.dropped_writes() == 0);
  }  // the destructor finishes the queue
  CHECK(read_file(dir.path / "live/cam/index.m3u8") == "#EXTM3U\n#EXT-X-VERSION:3\n");
  CHECK(read_file(dir.path / "live/cam/seg-1.ts") == std::string(every_byte.begin(), every_byte.end()));
  CHECK(read_file(dir.path / "live/empty.txt") == "");
  CHECK_FALSE(has_tmp(dir.path));
}

TEST_CASE("disk writer: a reader polling a rewritten file only ever sees whole versions") {
  TempDir dir;
  REQUIRE(!dir.path.empty());
  const fs::path file = dir.path / "live/cam/index.m3u8";
  constexpr int kVersions = 300;
  std::atomic<bool> done{false};
  int seen = 0, torn = 0;
  std::string torn_example;
  std::thread reader([&] {
    while (!done.load()) {
      const auto text = read_file(file);
      if (!text) continue;  // not there yet
      ++seen;
      const size_t n = text->size();
      const bool whole =
          n >= 4096 && (n - 4096) % 512 == 0 && *text == version(static_cast<int>((n - 4096) / 512));
      if (!whole && torn++ == 0) torn_example = "length " + std::to_string(n);
    }
  });
  {
    DiskWriter w(dir.path, kVersions + 1);
    for (int k = 0; k < kVersions; ++k) w.write("live/cam/index.m3u8", version(k));
  }
  done = true;
  reader.join();
  CAPTURE(torn_example);
  CHECK(torn == 0);
  CHECK(read_file(file) == version(kVersions - 1));
  CHECK_FALSE(has_tmp(dir.path));
  MESSAGE("reads that saw the file: " << seen);
}

TEST_CASE("disk writer: remove deletes a file, remove_dir an empty folder only, missing paths are harmless") {
  TempDir dir;
  REQUIRE(!dir.path.empty());
  put_file(dir.path / "live/busy/keep.ts", "kept");
  {
    DiskWriter w(dir.path, 100);
    w.write("live/cam/seg-1.ts", std::string("one"));
    w.write("live/cam/seg-2.ts", std::string("two"));
    w.remove("live/cam/seg-1.ts");
    w.remove("live/cam/seg-2.ts");
    w.remove_dir("live/cam");
    w.remove_dir("live/busy");          // not empty: stays, with its file
    w.remove("live/never-written.ts");  // fails quietly
    w.remove_dir("live/no-such-dir");
    w.write("live/after.txt", std::string("still working"));
  }
  CHECK_FALSE(fs::exists(dir.path / "live/cam"));
  CHECK(fs::is_directory(dir.path / "live"));
  CHECK(read_file(dir.path / "live/busy/keep.ts") == "kept");
  CHECK(read_file(dir.path / "live/after.txt") == "still working");
}

TEST_CASE(
    "disk writer: past the bound writes are dropped, removals never, and all of them run once unblocked") {
  TempDir dir;
  REQUIRE(!dir.path.empty());
  constexpr size_t kBound = 4;
  constexpr int kWrites = 10;
  constexpr int kVictims = 10;
  // The first write goes through "blocked.ts.tmp": a FIFO, so the worker's open waits for a reader.
  const fs::path stream = dir.path / "live/cam";
  fs::create_directories(stream);
  const fs::path fifo = stream / "blocked.ts.tmp";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  for (int i = 0; i < kVictims; ++i)
    put_file(dir.path / "live/old" / ("v" + std::to_string(i) + ".ts"), "old");

  uint64_t dropped = 0;
  std::string through_fifo;
  {
    DiskWriter w(dir.path, kBound);
    w.write("live/cam/blocked.ts", std::string("through the fifo"));
    for (int i = 0; i < kWrites; ++i)
      w.write("live/cam/s" + std::to_string(i) + ".ts", "s" + std::to_string(i));
    // More removals than the bound, while the worker is stuck: none may be dropped.
    for (int i = 0; i < kVictims; ++i) w.remove("live/old/v" + std::to_string(i) + ".ts");
    w.remove_dir("live/old");

    // Whether or not the worker had taken the first write off the queue yet, the queue held kBound writes.
    dropped = w.dropped_writes();
    CHECK(dropped >= kWrites - kBound);
    CHECK(dropped <= kWrites - kBound + 1);
    // Nothing behind the blocked write ran.
    CHECK_FALSE(fs::exists(stream / "s0.ts"));
    CHECK(fs::exists(dir.path / "live/old/v0.ts"));

    // Unblock: open the FIFO for reading (non-blocking, so a broken writer cannot hang the test) and read
    // what the worker writes into it until it closes its end.
    const int fd = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
    CHECK(fd >= 0);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (fd >= 0 && std::chrono::steady_clock::now() < deadline) {
      char buf[256];
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n > 0) {
        through_fifo.append(buf, static_cast<size_t>(n));
      } else if (n == 0 && through_fifo.size() >= std::string("through the fifo").size()) {
        break;  // the worker wrote everything and closed
      } else {
        std::this_thread::sleep_for(
            std::chrono::milliseconds(1));  // not opened yet (0) or no bytes yet (EAGAIN)
      }
    }
    if (fd >= 0) ::close(fd);
  }  // the destructor runs the rest of the queue
  CHECK(through_fifo == "through the fifo");
  CHECK(fs::exists(fs::symlink_status(stream / "blocked.ts")));  // the FIFO, renamed into place
  // Every removal ran, the folder's included.
  for (int i = 0; i < kVictims; ++i) {
    CAPTURE(i);
    CHECK_FALSE(fs::exists(dir.path / "live/old" / ("v" + std::to_string(i) + ".ts")));
  }
  CHECK_FALSE(fs::exists(dir.path / "live/old"));
  // The writes that fit are there in full, the rest were dropped. The first kBound - 1 always fit (the
  // blocked write and they make kBound); the worker may take the blocked write off the queue at any point
  // while the rest are queued, which frees one place for whichever write comes next: at most one more.
  uint64_t written = 0, late = 0;
  for (int i = 0; i < kWrites; ++i) {
    CAPTURE(i);
    const auto text = read_file(stream / ("s" + std::to_string(i) + ".ts"));
    if (text) {
      ++written;
      CHECK(*text == "s" + std::to_string(i));
      if (static_cast<size_t>(i) + 1 >= kBound) ++late;
    }
    if (static_cast<size_t>(i) + 1 < kBound) CHECK(text);
  }
  CHECK(late <= 1);
  CHECK(written + dropped == kWrites);
  CHECK_FALSE(has_tmp(dir.path));
}
