// Splits outgoing RTMP messages into chunks (RTMP 1.0 section 5.3), sans IO.
#pragma once

#include <cstdint>
#include <vector>

#include "common/byte_reader.h"
#include "ingest/rtmp_message.h"

namespace livegate {

// Every message goes out with a full fmt 0 header: we send few messages (control, commands), so the
// bytes saved by fmt 1/2 compression are not worth state shared with the peer's reader.
class ChunkWriter {
 public:
  // Call after queueing our own Set Chunk Size message: chunks already written keep the old size, as the
  // peer applies the new one only after reading that message. 1..0x7FFFFFFF (5.4.1).
  void set_chunk_size(uint32_t size);
  uint32_t chunk_size() const noexcept { return chunk_size_; }  // starts at 128

  // Appends msg as chunks: fmt 0 header on the first chunk, fmt 3 on continuations; extended timestamp
  // when timestamp >= 0xFFFFFF, repeated on every fmt 3 continuation (as ffmpeg and librtmp expect).
  // csid must be 2..65599 and the payload at most 0xFFFFFF bytes (the u24 length field).
  void write(const RtmpMessage& msg, std::vector<uint8_t>& out);
  // Convenience: payload span version
  void write(uint32_t csid, uint8_t type, uint32_t stream_id, RtmpMs ts, Bytes payload,
             std::vector<uint8_t>& out);

 private:
  uint32_t chunk_size_ = 128;
};

}  // namespace livegate
