// ChunkBuffer: bytes out are the bytes in, across chunk boundaries, and chunks are reused.
#include "segmenter/chunk_buffer.h"

#include <doctest/doctest.h>

#include <numeric>

using namespace livegate;

TEST_CASE("appends of every size across chunk boundaries come out whole and in order") {
  std::vector<uint8_t> in(3 * ChunkBuffer::kChunkBytes + 12345);
  std::iota(in.begin(), in.end(), uint8_t{0});
  for (size_t step : {size_t{1}, size_t{188}, size_t{65424}, ChunkBuffer::kChunkBytes, in.size()}) {
    CAPTURE(step);
    ChunkBuffer b;
    for (size_t at = 0; at < in.size(); at += step) b.append(in.data() + at, std::min(step, in.size() - at));
    CHECK(b.size() == in.size());
    const std::vector<uint8_t> out = b.take();
    CHECK(out == in);
    CHECK(out.capacity() == in.size());
    CHECK(b.size() == 0);
    CHECK(b.take().empty());
  }
}

TEST_CASE("chunks go back to the free list and are drawn from it again") {
  const uint8_t byte = 7;
  {
    ChunkBuffer warm;
    for (size_t i = 0; i < 3 * ChunkBuffer::kChunkBytes; ++i) warm.append(&byte, 1);
  }  // destroyed: its 3 chunks are idle now
  const size_t idle = ChunkBuffer::idle_chunks();
  CHECK(idle >= 3);
  ChunkBuffer b;
  std::vector<uint8_t> two(2 * ChunkBuffer::kChunkBytes, 1);
  b.append(two.data(), two.size());
  CHECK(ChunkBuffer::idle_chunks() == idle - 2);
  b.take();
  CHECK(ChunkBuffer::idle_chunks() == idle);
}
