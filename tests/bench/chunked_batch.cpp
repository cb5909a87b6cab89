// Zero-copy chunking of outgoing RTMP messages (RTMP 1.0 section 5.3).
#include "tests/bench/chunked_batch.h"

#include <algorithm>
#include <cassert>

#include "common/byte_writer.h"

namespace livegate::bench {
namespace {

constexpr uint32_t kExtendedMarker = 0xFFFFFF;

// 5.3.1.1 basic header with fmt 0:
//   csid 2..63: |fmt|csid|   64..319: |fmt|0|csid-64|   320..65599: |fmt|1|(csid-64) low|(csid-64) high|
void basic_header(uint32_t csid, uint8_t fmt, std::vector<uint8_t>& out) {
  const uint8_t f = static_cast<uint8_t>(fmt << 6);
  if (csid < 64) {
    out.push_back(static_cast<uint8_t>(f | csid));
  } else if (csid - 64 < 256) {
    out.push_back(f);
    out.push_back(static_cast<uint8_t>(csid - 64));
  } else {
    out.push_back(static_cast<uint8_t>(f | 1));
    out.push_back(static_cast<uint8_t>(csid - 64));
    out.push_back(static_cast<uint8_t>((csid - 64) >> 8));
  }
}

}  // namespace

void ChunkedBatch::add_arena(size_t from) {
  if (arena_.size() == from) return;
  // Adjacent header bytes merge into one piece, so a message fitting one chunk costs two iovecs.
  if (!refs_.empty() && refs_.back().external == nullptr && refs_.back().offset + refs_.back().size == from) {
    refs_.back().size += arena_.size() - from;
  } else {
    refs_.push_back({nullptr, from, arena_.size() - from});
  }
  size_ += arena_.size() - from;
}

void ChunkedBatch::add_copy(Bytes bytes) {
  const size_t from = arena_.size();
  arena_.insert(arena_.end(), bytes.begin(), bytes.end());
  add_arena(from);
}

void ChunkedBatch::add_message(uint32_t csid, uint8_t type, uint32_t stream_id, RtmpMs ts, Bytes payload,
                               uint32_t chunk_size) {
  assert(csid >= 2 && csid <= 65599 && payload.size() <= 0xFFFFFF && chunk_size > 0);
  const bool extended = ts >= kExtendedMarker;
  size_t from = arena_.size();
  // 5.3.1.2.1 fmt 0: | timestamp u24 | length u24 | type u8 | stream id u32 LE | [extended ts u32] |
  basic_header(csid, 0, arena_);
  ByteWriter w(arena_);
  w.u24(extended ? kExtendedMarker : ts);
  w.u24(static_cast<uint32_t>(payload.size()));
  w.u8(type);
  w.u32le(stream_id);
  if (extended) w.u32(ts);
  size_t off = 0;
  for (;;) {
    add_arena(from);
    const size_t n = std::min<size_t>(chunk_size, payload.size() - off);
    if (n > 0) {
      refs_.push_back({payload.data() + off, 0, n});
      size_ += n;
    }
    off += n;
    if (off == payload.size()) break;
    // 5.3.1.2.4 fmt 3 continuation; the extended timestamp is repeated as ffmpeg and librtmp expect.
    from = arena_.size();
    basic_header(csid, 3, arena_);
    if (extended) w.u32(ts);
  }
}

const std::vector<ChunkedBatch::Piece>& ChunkedBatch::pieces() {
  pieces_.clear();
  for (const Ref& r : refs_) {
    pieces_.push_back({r.external != nullptr ? r.external : arena_.data() + r.offset, r.size});
  }
  return pieces_;
}

void ChunkedBatch::clear() noexcept {
  arena_.clear();
  refs_.clear();
  pieces_.clear();
  size_ = 0;
}

}  // namespace livegate::bench
