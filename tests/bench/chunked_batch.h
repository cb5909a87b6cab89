// A batch of outgoing RTMP chunks whose media payloads stay in shared memory: only headers are written.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/byte_reader.h"
#include "common/media.h"

namespace livegate::bench {

// livegate's ChunkWriter copies each payload into its output; with hundreds of connections sending
// the same file that copy would dominate the generator's cost. Here a message becomes a list of
// pieces: chunk headers written into a small per-batch arena, and spans of the caller's payload,
// which must outlive the write (the generator's payloads live as long as the process).
// The byte stream equals ChunkWriter's for the same message (fmt 0, then fmt 3 continuations, the
// extended timestamp repeated on each): a unit test holds the two to that.
class ChunkedBatch {
 public:
  struct Piece {
    const uint8_t* data;
    size_t size;
  };

  // Appends msg as chunks of at most chunk_size payload bytes. csid 2..65599, payload <= 0xFFFFFF.
  void add_message(uint32_t csid, uint8_t type, uint32_t stream_id, RtmpMs ts, Bytes payload,
                   uint32_t chunk_size);
  // Appends bytes that are copied into the arena (commands, control messages, C2).
  void add_copy(Bytes bytes);

  // The pieces in send order. Pointers into the arena are resolved here, after every add, because
  // the arena may have moved while growing.
  const std::vector<Piece>& pieces();
  size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  // Keeps the capacity, so a recycled batch allocates nothing in steady state.
  void clear() noexcept;

 private:
  struct Ref {
    const uint8_t* external;  // nullptr: `offset` is into arena_
    size_t offset;
    size_t size;
  };
  void add_arena(size_t from);

  std::vector<uint8_t> arena_;
  std::vector<Ref> refs_;
  std::vector<Piece> pieces_;
  size_t size_ = 0;
};

}  // namespace livegate::bench
