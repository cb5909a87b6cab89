// Fuzz target: ChunkReader with the default limits or small ones, fed a chunk stream in one to three pieces.
//
// Input: u8 flags (bits 0-1: pieces 1 + n % 3; bit 2: small limits; bit 3: on_message fails after
// n >> 4 messages), u16 and u16 split points (modulo the stream size + 1), u8 u8 u8 selecting the
// small limits (max message 256 << n % 8, max chunk 128 << n % 7, max chunk streams 1 + n % 8),
// then the bytes a client sends after the handshake.
#include <algorithm>
#include <string>
#include <vector>

#include "fuzz_input.h"
#include "ingest/chunk_reader.h"

using namespace livegate;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(data, size);
  const uint8_t flags = in.u8();
  const size_t a = in.u16();
  const size_t b = in.u16();
  const uint8_t l0 = in.u8(), l1 = in.u8(), l2 = in.u8();
  const Bytes stream = in.rest();

  ChunkLimits limits;
  if (flags & 4) {
    limits.max_message_size = 256u << (l0 % 8);
    limits.max_chunk_size = 128u << (l1 % 7);
    limits.max_chunk_streams = 1 + l2 % 8;
  }
  const unsigned pieces = 1 + (flags & 3) % 3;
  const bool stop_early = (flags & 8) != 0;
  const size_t stop_after = flags >> 4;

  std::vector<size_t> cuts;
  if (pieces >= 2) cuts.push_back(a % (stream.size() + 1));
  if (pieces >= 3) cuts.push_back(b % (stream.size() + 1));
  cuts.push_back(stream.size());
  std::sort(cuts.begin(), cuts.end());

  ChunkReader reader(limits);
  const uint32_t max_chunk = std::max<uint32_t>(128, limits.max_chunk_size);
  size_t messages = 0;
  auto on_message = [&](RtmpMessage&& m) -> Status {
    FUZZ_CHECK(m.payload.size() <= limits.max_message_size);
    if (m.type == msg_type::set_chunk_size) FUZZ_CHECK(reader.chunk_size() <= max_chunk);
    ++messages;
    if (stop_early && messages > stop_after) return Error{"fuzz: handler refused the message"};
    return {};
  };

  uint64_t fed = 0;
  size_t from = 0;
  std::string error;
  for (size_t cut : cuts) {
    const Bytes piece = stream.subspan(from, cut - from);
    from = cut;
    const uint64_t read_before = reader.bytes_read();
    Status s = reader.feed(piece, on_message);
    if (!error.empty()) {
      FUZZ_CHECK(!s.ok() && s.error() == error);  // errors are sticky
      FUZZ_CHECK(reader.bytes_read() == read_before);
    } else if (!s.ok()) {
      FUZZ_CHECK(!s.error().empty());
      error = s.error();
      FUZZ_CHECK(reader.bytes_read() <= fed + piece.size());
    } else {
      fed += piece.size();
      FUZZ_CHECK(reader.bytes_read() == fed);  // partial chunks are kept, so all of it is consumed
    }
    FUZZ_CHECK(reader.chunk_size() >= 1 && reader.chunk_size() <= max_chunk);
    FUZZ_CHECK(reader.buffered_bytes() <= limits.max_chunk_streams * size_t{limits.max_message_size} + 18);
  }
  if (!error.empty()) {
    Status s = reader.feed({}, on_message);
    FUZZ_CHECK(!s.ok() && s.error() == error);
  }
  return 0;
}
