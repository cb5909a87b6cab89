// Splits outgoing RTMP messages into chunks (RTMP 1.0 section 5.3), sans IO.
#include "ingest/chunk_writer.h"

#include <algorithm>
#include <cassert>

#include "common/byte_writer.h"

namespace livegate {
namespace {

constexpr uint32_t kExtendedMarker = 0xFFFFFF;

// 5.3.1.1 Basic Header with fmt 0; the caller ORs in fmt 3 (0xC0) for continuations.
//   csid 2..63: |fmt|csid|   64..319: |fmt|0|csid-64|   320..65599: |fmt|1|(csid-64) low|(csid-64) high|
size_t basic_header(uint32_t csid, uint8_t (&b)[3]) noexcept {
  if (csid < 64) {
    b[0] = static_cast<uint8_t>(csid);
    return 1;
  }
  const uint32_t v = csid - 64;
  if (v < 256) {
    b[0] = 0;
    b[1] = static_cast<uint8_t>(v);
    return 2;
  }
  b[0] = 1;
  b[1] = static_cast<uint8_t>(v);
  b[2] = static_cast<uint8_t>(v >> 8);
  return 3;
}

}  // namespace

void ChunkWriter::set_chunk_size(uint32_t size) {
  assert(size >= 1 && size <= 0x7FFFFFFF);
  chunk_size_ = size;
}

void ChunkWriter::write(const RtmpMessage& msg, std::vector<uint8_t>& out) {
  write(msg.csid, msg.type, msg.stream_id, msg.timestamp, msg.payload, out);
}

void ChunkWriter::write(uint32_t csid, uint8_t type, uint32_t stream_id, RtmpMs ts, Bytes payload,
                        std::vector<uint8_t>& out) {
  assert(csid >= 2 && csid <= 65599);
  assert(payload.size() <= 0xFFFFFF);
  uint8_t basic[3];
  const size_t bh = basic_header(csid, basic);
  const bool extended = ts >= kExtendedMarker;
  const size_t ext = extended ? 4 : 0;
  const size_t size = payload.size();

  // Reserve once for the whole message, but geometrically, so many small writes into one buffer stay
  // amortised rather than reallocating each time.
  const size_t chunks = size == 0 ? 1 : (size + chunk_size_ - 1) / chunk_size_;
  const size_t total = bh + 11 + ext + (chunks - 1) * (bh + ext) + size;
  if (out.capacity() - out.size() < total) out.reserve(std::max(out.size() + total, out.capacity() * 2));

  // 5.3.1.2.1 fmt 0: | timestamp u24 | length u24 | type u8 | stream id u32 LE | [extended ts u32] |
  ByteWriter w(out);
  w.bytes({basic, bh});
  w.u24(extended ? kExtendedMarker : ts);
  w.u24(static_cast<uint32_t>(size));
  w.u8(type);
  w.u32le(stream_id);
  if (extended) w.u32(ts);

  basic[0] |= 0xC0;
  size_t off = 0;
  for (;;) {
    const size_t n = std::min<size_t>(chunk_size_, size - off);
    w.bytes(payload.subspan(off, n));
    off += n;
    if (off == size) break;
    // 5.3.1.2.4 fmt 3 continuation. The extended timestamp is repeated because ffmpeg and librtmp
    // always read it on fmt 3 chunks of a message that had one (5.3.1.3).
    w.bytes({basic, bh});
    if (extended) w.u32(ts);
  }
}

}  // namespace livegate
