// The chunk free list is per thread: every muxer runs on the loop thread, so no lock is needed.
#include "segmenter/chunk_buffer.h"

#include <algorithm>
#include <cstring>

namespace livegate {
namespace {

// Idle chunks kept for reuse; beyond this (16 MiB) they go back to the allocator.
constexpr size_t kMaxIdleChunks = 256;

thread_local std::vector<std::unique_ptr<std::array<uint8_t, ChunkBuffer::kChunkBytes>>> t_idle;

}  // namespace

void ChunkBuffer::append(const uint8_t* data, size_t n) {
  while (n > 0) {
    const size_t used = size_ % kChunkBytes;
    if (used == 0 && size_ == chunks_.size() * kChunkBytes) {
      if (t_idle.empty()) {
        chunks_.push_back(std::make_unique_for_overwrite<Chunk>());
      } else {
        chunks_.push_back(std::move(t_idle.back()));
        t_idle.pop_back();
      }
    }
    const size_t take = std::min(n, kChunkBytes - used);
    std::memcpy(chunks_.back()->data() + used, data, take);
    size_ += take;
    data += take;
    n -= take;
  }
}

std::vector<uint8_t> ChunkBuffer::take() {
  std::vector<uint8_t> out;
  out.reserve(size_);  // then appended: a sized vector would zero the bytes first
  for (size_t i = 0, at = 0; at < size_; ++i, at += kChunkBytes) {
    out.insert(out.end(), chunks_[i]->data(), chunks_[i]->data() + std::min(kChunkBytes, size_ - at));
  }
  clear();
  return out;
}

void ChunkBuffer::clear() noexcept {
  for (auto& c : chunks_) {
    if (t_idle.size() >= kMaxIdleChunks) break;
    try {
      t_idle.push_back(std::move(c));
    } catch (...) {  // no room to remember it: let it be freed
      break;
    }
  }
  chunks_.clear();
  size_ = 0;
}

size_t ChunkBuffer::idle_chunks() noexcept { return t_idle.size(); }

}  // namespace livegate
