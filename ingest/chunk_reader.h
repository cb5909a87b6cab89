// Reassembles RTMP messages from the chunk stream a peer sends (RTMP 1.0 sections 5.3 and 5.4), sans IO.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "common/byte_reader.h"
#include "common/result.h"
#include "ingest/rtmp_message.h"

namespace livegate {

// Every size here is chosen by the peer, so each one has a ceiling checked before anything is buffered.
struct ChunkLimits {
  uint32_t max_message_size = 2 * 1024 * 1024;  // a message header announcing more closes the connection
  uint32_t max_chunk_size = 65536;              // largest Set Chunk Size accepted from the peer
  size_t max_chunk_streams = 64;                // distinct chunk stream ids with state per connection
};

// Timestamp rules (5.3.1.2): fmt 0 carries the absolute time, fmt 1 and 2 a delta added to the previous
// message's time on that csid. A fmt 3 chunk that starts a new message re-applies the previous header's
// timestamp field as a delta, even when that header was fmt 0 and the field was absolute: this is what
// ffmpeg and librtmp do (nginx-rtmp uses a delta of 0 after fmt 0 instead), and what senders that build
// on them expect.
//
// Extended timestamps (5.3.1.3): on a fmt 3 chunk that starts a new message the 4 bytes are always read.
// On a fmt 3 continuation chunk ffmpeg and librtmp repeat them and other encoders do not, so the next 4
// bytes are consumed only if they equal the stored value; otherwise they are payload.
//
// Errors are sticky: once feed() has failed (protocol error or a failed on_message), every later call
// returns the same Status, because the stream position is no longer known.
class ChunkReader {
 public:
  explicit ChunkReader(ChunkLimits limits = {});

  // Parses as much of `in` as forms chunks; complete messages are passed to on_message in order.
  // Set Chunk Size (type 1) and Abort (type 2) are applied here as soon as they complete (so a chunk size
  // change takes effect for the very next chunk in the same buffer) and are ALSO passed to on_message.
  // If on_message returns a failed Status, feed stops and returns it. Partial chunks are kept internally.
  Status feed(Bytes in, const std::function<Status(RtmpMessage&&)>& on_message);

  uint32_t chunk_size() const noexcept { return chunk_size_; }
  uint64_t bytes_read() const noexcept { return bytes_read_; }  // total bytes consumed, for Ack (5.4.3)
  // Bytes held in incomplete messages plus a partial chunk header (for backpressure limits).
  size_t buffered_bytes() const noexcept { return buffered_payload_ + hdr_len_; }

 private:
  using Handler = std::function<Status(RtmpMessage&&)>;

  // What the previous headers on one chunk stream id said; fmt 1-3 headers only carry the changes.
  struct ChunkStream {
    uint32_t csid = 0;
    uint32_t length = 0;  // message length from the last fmt 0/1 header, already checked against the limit
    uint32_t stream_id = 0;
    RtmpMs timestamp = 0;  // absolute time of the message being (or last) assembled
    uint32_t delta = 0;    // the last header's full timestamp field, re-applied by fmt 3
    uint8_t type = 0;
    bool extended = false;     // the last fmt 0-2 header had 0xFFFFFF in its 24-bit timestamp field
    bool in_progress = false;  // a message has started and not completed, even with no bytes yet
    std::vector<uint8_t> payload;
  };

  Status run(const uint8_t*& p, const uint8_t* end, const Handler& on_message);
  Status read_header(const uint8_t*& p, const uint8_t* end, const Handler& on_message,
                     std::array<uint8_t, 4>& replay, size_t& replay_len);
  void read_body(const uint8_t*& p, const uint8_t* end);
  Status deliver(ChunkStream& st, const Handler& on_message);
  Status apply_control(const RtmpMessage& m);
  bool fill(size_t n, const uint8_t*& p, const uint8_t* end) noexcept;
  ChunkStream* find(uint32_t csid) noexcept;

  ChunkLimits limits_;
  uint32_t chunk_size_ = 128;  // 5.4.1: the default until the peer sends Set Chunk Size
  uint64_t bytes_read_ = 0;
  size_t buffered_payload_ = 0;
  Status error_;

  std::vector<ChunkStream> streams_;
  std::array<uint32_t, 64> slot_{};  // csid 2..63 -> index + 1 into streams_, 0 = none; others scan

  // A chunk header split across feed() calls: 3-byte basic + 11-byte fmt 0 + 4-byte extended timestamp.
  std::array<uint8_t, 18> hdr_{};
  size_t hdr_len_ = 0;

  size_t cur_ = 0;           // index into streams_ of the chunk whose body is being read
  uint32_t chunk_left_ = 0;  // body bytes of that chunk still to come; 0 = expecting a header
};

}  // namespace livegate
