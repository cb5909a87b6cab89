// A growing byte buffer made of fixed-size chunks from a per-thread free list, copied out once into an
// exact-size vector. It builds segments: no reallocation copies while a segment grows, no fresh pages
// to fault in once the list is warm, and no segment-sized scratch space kept per stream between cuts.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace livegate {

class ChunkBuffer {
 public:
  static constexpr size_t kChunkBytes = 64 << 10;

  ChunkBuffer() = default;
  ~ChunkBuffer() { clear(); }
  ChunkBuffer(const ChunkBuffer&) = delete;
  ChunkBuffer& operator=(const ChunkBuffer&) = delete;

  // Throws std::bad_alloc like a vector would.
  void append(const uint8_t* data, size_t n);
  size_t size() const noexcept { return size_; }
  // Every byte, in one exact-size vector; the buffer is empty afterwards and its chunks are free again.
  std::vector<uint8_t> take();
  void clear() noexcept;

  // Chunks on this thread's free list, for tests.
  static size_t idle_chunks() noexcept;

 private:
  using Chunk = std::array<uint8_t, kChunkBytes>;
  std::vector<std::unique_ptr<Chunk>> chunks_;
  size_t size_ = 0;
};

}  // namespace livegate
