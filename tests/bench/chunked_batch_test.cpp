// ChunkedBatch must put on the wire exactly what livegate's ChunkWriter does, and the server's ChunkReader
// must read it back as the same messages.
#include "tests/bench/chunked_batch.h"

#include <doctest/doctest.h>

#include <vector>

#include "ingest/chunk_reader.h"
#include "ingest/chunk_writer.h"

using namespace livegate;
using livegate::bench::ChunkedBatch;

namespace {

std::vector<uint8_t> payload_of(size_t n, uint8_t seed) {
  std::vector<uint8_t> p(n);
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(seed + i * 7);
  return p;
}

std::vector<uint8_t> concat(ChunkedBatch& b) {
  std::vector<uint8_t> out;
  for (const auto& piece : b.pieces()) out.insert(out.end(), piece.data, piece.data + piece.size);
  return out;
}

struct Case {
  uint32_t csid;
  RtmpMs ts;
  size_t size;
  uint32_t chunk_size;
};

}  // namespace

TEST_CASE("ChunkedBatch bytes equal ChunkWriter's, headers only copied") {
  const Case cases[] = {
      {6, 0, 0, 128},              // empty payload: one header, no body
      {4, 40, 100, 128},           // fits one chunk
      {6, 1000, 128, 128},         // exactly one chunk
      {6, 1033, 129, 128},         // one byte spills into a fmt 3 chunk
      {6, 0xFFFFFE, 300, 128},     // largest 24-bit timestamp
      {6, 0xFFFFFF, 300, 128},     // extended timestamp, repeated on continuations
      {6, 0x12345678, 70000, 65536},
      {70, 5, 1000, 256},          // two-byte basic header
      {400, 5, 1000, 256},         // three-byte basic header
  };
  for (const Case& c : cases) {
    CAPTURE(c.csid);
    CAPTURE(c.ts);
    CAPTURE(c.size);
    const std::vector<uint8_t> payload = payload_of(c.size, static_cast<uint8_t>(c.size));
    ChunkWriter writer;
    writer.set_chunk_size(c.chunk_size);
    std::vector<uint8_t> expected;
    writer.write(c.csid, msg_type::video, 1, c.ts, payload, expected);

    ChunkedBatch batch;
    batch.add_message(c.csid, msg_type::video, 1, c.ts, payload, c.chunk_size);
    CHECK(batch.size() == expected.size());
    CHECK(concat(batch) == expected);
    // Payload pieces point into the caller's buffer instead of holding copies.
    size_t external = 0;
    for (const auto& piece : batch.pieces()) {
      if (piece.data >= payload.data() && piece.data < payload.data() + payload.size()) external += piece.size;
    }
    CHECK(external == payload.size());
  }
}

TEST_CASE("a batch of several messages reads back through ChunkReader") {
  const std::vector<uint8_t> video = payload_of(5000, 1), audio = payload_of(300, 2);
  ChunkedBatch batch;
  // Set Chunk Size first, copied into the arena, as the generator does.
  std::vector<uint8_t> control;
  ChunkWriter writer;
  writer.write(2, msg_type::set_chunk_size, 0, 0, std::vector<uint8_t>{0, 0, 4, 0}, control);  // 1024
  batch.add_copy(control);
  batch.add_message(6, msg_type::video, 1, 0, video, 1024);
  batch.add_message(4, msg_type::audio, 1, 21, audio, 1024);
  batch.add_message(6, msg_type::video, 1, 33, video, 1024);

  std::vector<RtmpMessage> got;
  ChunkReader reader;
  const std::vector<uint8_t> wire = concat(batch);
  // Fed in uneven pieces, as TCP may deliver it.
  for (size_t off = 0; off < wire.size(); off += 777) {
    const size_t n = std::min<size_t>(777, wire.size() - off);
    Status s = reader.feed(Bytes(wire).subspan(off, n), [&](RtmpMessage&& m) {
      got.push_back(std::move(m));
      return Status{};
    });
    REQUIRE(s.ok());
  }
  REQUIRE(got.size() == 4);
  CHECK(got[0].type == msg_type::set_chunk_size);
  CHECK(got[1].payload == video);
  CHECK(got[2].payload == audio);
  CHECK(got[2].timestamp == 21);
  CHECK(got[3].timestamp == 33);
  CHECK(got[3].csid == 6);
}

TEST_CASE("clear keeps nothing of the previous batch") {
  const std::vector<uint8_t> a = payload_of(10, 3);
  ChunkedBatch batch;
  batch.add_message(4, msg_type::audio, 1, 0, a, 128);
  batch.clear();
  CHECK(batch.empty());
  CHECK(batch.pieces().empty());
  batch.add_copy(a);
  CHECK(concat(batch) == a);
}
