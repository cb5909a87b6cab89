// Unit tests for ChunkWriter: exact wire bytes, csid forms, extended timestamps, and round trips.
#include "ingest/chunk_writer.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <vector>

#include "ingest/chunk_reader.h"

using namespace livegate;

namespace {

using Buf = std::vector<uint8_t>;

Buf filled(size_t n, uint8_t v) { return Buf(n, v); }

Buf cat(std::initializer_list<Buf> parts) {
  Buf out;
  for (const Buf& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

}  // namespace

TEST_CASE("chunk writer: starts at chunk size 128") {
  ChunkWriter w;
  CHECK(w.chunk_size() == 128);
  w.set_chunk_size(4096);
  CHECK(w.chunk_size() == 4096);
}

TEST_CASE("chunk writer: single-chunk message, hand-written bytes") {
  ChunkWriter w;
  Buf out;
  const Buf hello = {'h', 'e', 'l', 'l', 'o'};
  w.write(3, msg_type::command_amf0, 1, 100, hello, out);
  CHECK(out ==
        Buf{0x03, 0x00, 0x00, 0x64, 0x00, 0x00, 0x05, 0x14, 0x01, 0x00, 0x00, 0x00, 'h', 'e', 'l', 'l', 'o'});

  // Appends after what is already there, and the RtmpMessage overload writes the same bytes.
  RtmpMessage m;
  m.csid = 3;
  m.type = msg_type::command_amf0;
  m.stream_id = 1;
  m.timestamp = 100;
  m.payload = hello;
  w.write(m, out);
  CHECK(out.size() == 34);
  CHECK(Buf(out.begin() + 17, out.end()) == Buf(out.begin(), out.begin() + 17));
}

TEST_CASE("chunk writer: zero-length message is a header alone") {
  ChunkWriter w;
  Buf out;
  w.write(2, msg_type::user_control, 0x01020304, 0, {}, out);
  CHECK(out == Buf{0x02, 0, 0, 0, 0, 0, 0, 0x04, 0x04, 0x03, 0x02, 0x01});
}

TEST_CASE("chunk writer: splits at the chunk size with fmt 3 continuations") {
  ChunkWriter w;
  Buf out;
  w.write(6, msg_type::video, 1, 0x10, cat({filled(128, 0xAA), filled(72, 0xBB)}), out);
  const Buf expected = cat({{0x06, 0x00, 0x00, 0x10, 0x00, 0x00, 0xC8, 0x09, 0x01, 0x00, 0x00, 0x00},
                            filled(128, 0xAA),
                            {0xC6},
                            filled(72, 0xBB)});
  CHECK(out == expected);
}

TEST_CASE("chunk writer: extended timestamp is repeated on every continuation") {
  ChunkWriter w;
  Buf out;
  w.write(6, msg_type::video, 1, 0x01000000, cat({filled(128, 0xAA), filled(72, 0xBB)}), out);
  const Buf expected =
      cat({{0x06, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0xC8, 0x09, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00},
           filled(128, 0xAA),
           {0xC6, 0x01, 0x00, 0x00, 0x00},
           filled(72, 0xBB)});
  CHECK(out == expected);

  // 0xFFFFFE still fits the 24-bit field; 0xFFFFFF is the marker, so it goes out extended.
  out.clear();
  w.write(3, msg_type::audio, 0, 0xFFFFFE, Buf{1}, out);
  CHECK(out == Buf{0x03, 0xFF, 0xFF, 0xFE, 0, 0, 1, 0x08, 0, 0, 0, 0, 1});
  out.clear();
  w.write(3, msg_type::audio, 0, 0xFFFFFF, Buf{1}, out);
  CHECK(out == Buf{0x03, 0xFF, 0xFF, 0xFF, 0, 0, 1, 0x08, 0, 0, 0, 0, 0x00, 0xFF, 0xFF, 0xFF, 1});
}

TEST_CASE("chunk writer: 2 and 3-byte basic headers") {
  struct Case {
    uint32_t csid;
    Buf first, cont;
  };
  const Case cases[] = {
      {63, {0x3F}, {0xFF}},
      {64, {0x00, 0x00}, {0xC0, 0x00}},
      {319, {0x00, 0xFF}, {0xC0, 0xFF}},
      {320, {0x01, 0x00, 0x01}, {0xC1, 0x00, 0x01}},
      {65599, {0x01, 0xFF, 0xFF}, {0xC1, 0xFF, 0xFF}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.csid);
    ChunkWriter w;
    w.set_chunk_size(1);
    Buf out;
    w.write(c.csid, msg_type::audio, 0, 0, Buf{0x5A, 0x5B}, out);
    CHECK(out == cat({c.first, {0, 0, 0, 0, 0, 2, 0x08, 0, 0, 0, 0, 0x5A}, c.cont, {0x5B}}));
  }
}

TEST_CASE("chunk writer: round trip through ChunkReader at every chunk size, length and timestamp") {
  for (uint32_t chunk : {1u, 128u, 4096u, 65536u}) {
    for (size_t len : {0u, 1u, 127u, 128u, 129u, 100000u}) {
      CAPTURE(chunk);
      CAPTURE(len);
      ChunkWriter w;
      Buf wire;
      const uint8_t size_be[4] = {uint8_t(chunk >> 24), uint8_t(chunk >> 16), uint8_t(chunk >> 8),
                                  uint8_t(chunk)};
      w.write(2, msg_type::set_chunk_size, 0, 0, size_be, wire);
      w.set_chunk_size(chunk);

      std::vector<RtmpMessage> sent;
      uint32_t csid = 3;
      for (RtmpMs ts : {0u, 0xFFFFFEu, 0xFFFFFFu, 0xFFFFFFFFu}) {
        RtmpMessage m;
        m.csid = csid;
        csid = csid == 3 ? 300 : csid == 300 ? 65599 : 3;  // 1, 3 and 3-byte (65599) forms
        m.type = msg_type::video;
        m.stream_id = 1;
        m.timestamp = ts;
        m.payload.resize(len);
        for (size_t i = 0; i < len; ++i) m.payload[i] = uint8_t(i * 31 + ts);
        w.write(m, wire);
        sent.push_back(std::move(m));
      }

      // Fed in odd-sized pieces so chunk and header boundaries fall everywhere.
      ChunkReader r;
      std::vector<RtmpMessage> got;
      auto keep = [&](RtmpMessage&& m) {
        got.push_back(std::move(m));
        return Status{};
      };
      for (size_t off = 0; off < wire.size(); off += 1009) {
        Status s = r.feed(Bytes(wire).subspan(off, std::min<size_t>(1009, wire.size() - off)), keep);
        REQUIRE_MESSAGE(s.ok(), s.error());
      }
      CHECK(r.chunk_size() == chunk);
      CHECK(r.bytes_read() == wire.size());
      CHECK(r.buffered_bytes() == 0);
      REQUIRE(got.size() == 5);
      CHECK(got[0].type == msg_type::set_chunk_size);
      for (size_t i = 0; i < sent.size(); ++i) {
        CAPTURE(i);
        CHECK(got[i + 1].csid == sent[i].csid);
        CHECK(got[i + 1].type == sent[i].type);
        CHECK(got[i + 1].stream_id == sent[i].stream_id);
        CHECK(got[i + 1].timestamp == sent[i].timestamp);
        CHECK(got[i + 1].payload == sent[i].payload);
      }
    }
  }
}
