// Unit tests for ChunkReader: header formats, csid forms, timestamps, control messages and bad input.
#include "ingest/chunk_reader.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

using namespace livegate;

namespace {

using Buf = std::vector<uint8_t>;
using Msgs = std::vector<RtmpMessage>;

bool same(const RtmpMessage& a, const RtmpMessage& b) {
  return a.csid == b.csid && a.type == b.type && a.stream_id == b.stream_id && a.timestamp == b.timestamp &&
         a.payload == b.payload;
}

bool same(const Msgs& a, const Msgs& b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](auto& x, auto& y) { return same(x, y); });
}

Status feed(ChunkReader& r, Bytes in, Msgs& out) {
  return r.feed(in, [&](RtmpMessage&& m) {
    out.push_back(std::move(m));
    return Status{};
  });
}

Msgs parse(const Buf& in, ChunkLimits limits = {}) {
  ChunkReader r(limits);
  Msgs out;
  Status s = feed(r, in, out);
  REQUIRE_MESSAGE(s.ok(), s.error());
  CHECK(r.buffered_bytes() == 0);
  CHECK(r.bytes_read() == in.size());
  return out;
}

std::string error_of(const Buf& in, ChunkLimits limits = {}) {
  ChunkReader r(limits);
  Msgs out;
  Status s = feed(r, in, out);
  return s.ok() ? std::string("(no error)") : s.error();
}

// Test-side encoders, written independently of ChunkWriter so that each checks the other.
void put24(Buf& v, uint32_t x) {
  for (int i = 2; i >= 0; --i) v.push_back(uint8_t(x >> (8 * i)));
}
void put32(Buf& v, uint32_t x) {
  for (int i = 3; i >= 0; --i) v.push_back(uint8_t(x >> (8 * i)));
}
void basic(Buf& v, int fmt, uint32_t csid) {
  const uint8_t f = uint8_t(fmt << 6);
  if (csid < 64) {
    v.push_back(uint8_t(f | csid));
  } else if (csid < 320) {
    v.insert(v.end(), {f, uint8_t(csid - 64)});
  } else {
    v.insert(v.end(), {uint8_t(f | 1), uint8_t((csid - 64) & 0xFF), uint8_t((csid - 64) >> 8)});
  }
}
void ts_field(Buf& v, uint32_t ts) { put24(v, std::min<uint32_t>(ts, 0xFFFFFF)); }
void ext(Buf& v, uint32_t ts) {
  if (ts >= 0xFFFFFF) put32(v, ts);
}
void hdr0(Buf& v, uint32_t csid, uint32_t ts, uint32_t len, uint8_t type, uint32_t msid) {
  basic(v, 0, csid);
  ts_field(v, ts);
  put24(v, len);
  v.push_back(type);
  for (int i = 0; i < 4; ++i) v.push_back(uint8_t(msid >> (8 * i)));
  ext(v, ts);
}
void hdr1(Buf& v, uint32_t csid, uint32_t delta, uint32_t len, uint8_t type) {
  basic(v, 1, csid);
  ts_field(v, delta);
  put24(v, len);
  v.push_back(type);
  ext(v, delta);
}
void hdr2(Buf& v, uint32_t csid, uint32_t delta) {
  basic(v, 2, csid);
  ts_field(v, delta);
  ext(v, delta);
}
void hdr3(Buf& v, uint32_t csid) { basic(v, 3, csid); }
Buf pattern(size_t n, uint8_t seed) {
  Buf b(n);
  for (size_t i = 0; i < n; ++i) b[i] = uint8_t(seed + i * 7);
  return b;
}
void append(Buf& v, const Buf& b, size_t from, size_t n) {
  v.insert(v.end(), b.begin() + long(from), b.begin() + long(from + n));
}
void control(Buf& v, uint8_t type, uint32_t value) {
  hdr0(v, 2, 0, 4, type, 0);
  put32(v, value);
}

// A stream using every feature the reader must carry across feed() boundaries.
Buf rich_stream() {
  Buf v;
  const Buf a = pattern(200, 1), b = pattern(300, 2), c = pattern(130, 3), d = pattern(500, 4);
  hdr0(v, 4, 1000, 200, 8, 1);  // interleaved audio (csid 4) and video (csid 6)
  append(v, a, 0, 128);
  hdr0(v, 6, 1000, 300, 9, 1);
  append(v, b, 0, 128);
  hdr3(v, 4);
  append(v, a, 128, 72);
  hdr3(v, 6);
  append(v, b, 128, 128);
  hdr3(v, 6);
  append(v, b, 256, 44);
  hdr1(v, 4, 23, 3, 8);  // fmt 1, 2, 3-new on csid 4
  append(v, a, 0, 3);
  hdr2(v, 4, 21);
  append(v, a, 3, 3);
  hdr3(v, 4);
  append(v, a, 6, 3);
  hdr0(v, 320, 0x01000000, 200, 9, 1);  // extended, repeated on the continuation (ffmpeg)
  append(v, b, 0, 128);
  hdr3(v, 320);
  put32(v, 0x01000000);
  append(v, b, 128, 72);
  hdr0(v, 65599, 0xFFFFFFFF, 130, 9, 1);  // extended, not repeated, 2-byte tail that starts like it
  append(v, c, 0, 128);
  hdr3(v, 65599);
  v.insert(v.end(), {0xFF, 0xFF});
  hdr0(v, 5, 7, 500, 9, 1);  // chunk size changes while csid 5 is mid-message
  append(v, d, 0, 128);
  control(v, msg_type::set_chunk_size, 300);
  hdr3(v, 5);
  append(v, d, 128, 300);
  hdr3(v, 5);
  append(v, d, 428, 72);
  hdr0(v, 7, 5, 400, 9, 1);  // aborted, then restarted on the same csid
  append(v, d, 0, 300);
  control(v, msg_type::abort, 7);
  hdr0(v, 7, 9, 0, 18, 1);  // zero-length messages, fmt 0 and fmt 3
  hdr3(v, 7);
  hdr0(v, 64, 3, 1, 20, 0);
  v.push_back(0x42);
  return v;
}

}  // namespace

TEST_CASE("chunk reader: fmt 0 single-chunk message, hand-written bytes") {
  const Buf in = {0x03, 0x00, 0x00, 0x64, 0x00, 0x00, 0x05, 0x14, 0x01,
                  0x00, 0x00, 0x00, 'h',  'e',  'l',  'l',  'o'};
  Msgs m = parse(in);
  REQUIRE(m.size() == 1);
  CHECK(m[0].csid == 3);
  CHECK(m[0].timestamp == 100);
  CHECK(m[0].type == msg_type::command_amf0);
  CHECK(m[0].stream_id == 1);
  CHECK(m[0].payload == Buf{'h', 'e', 'l', 'l', 'o'});
}

TEST_CASE("chunk reader: stream id is little-endian") {
  const Buf in = {0x03, 0, 0, 0, 0, 0, 1, 0x09, 0x78, 0x56, 0x34, 0x12, 0xAA};
  Msgs m = parse(in);
  REQUIRE(m.size() == 1);
  CHECK(m[0].stream_id == 0x12345678);
}

TEST_CASE("chunk reader: fmt 1, 2 and 3 inherit from the previous header and add deltas") {
  const Buf in = {
      0x04, 0x00, 0x03, 0xE8, 0x00, 0x00, 0x03, 0x09, 0x01, 0x00, 0x00, 0x00, 'a', 'b', 'c',  // fmt 0 t=1000
      0x44, 0x00, 0x00, 0x21, 0x00, 0x00, 0x02, 0x08, 'd',  'e',                              // fmt 1 +33
      0x84, 0x00, 0x00, 0x28, 'f',  'g',                                                      // fmt 2 +40
      0xC4, 'h',  'i',                                                                        // fmt 3 +40
  };
  Msgs m = parse(in);
  REQUIRE(m.size() == 4);
  CHECK(m[0].timestamp == 1000);
  CHECK(m[1].timestamp == 1033);
  CHECK(m[2].timestamp == 1073);
  CHECK(m[3].timestamp == 1113);
  CHECK(m[0].type == msg_type::video);
  for (size_t i = 1; i < 4; ++i) {
    CHECK(m[i].type == msg_type::audio);
    CHECK(m[i].payload.size() == 2);
  }
  for (auto& x : m) CHECK(x.stream_id == 1);
  CHECK(m[3].payload == Buf{'h', 'i'});
}

TEST_CASE("chunk reader: fmt 3 new message after fmt 0 re-applies the absolute field as delta") {
  // The ffmpeg/librtmp reading (see chunk_reader.h); nginx-rtmp would give 20 twice.
  const Buf in = {0x05, 0x00, 0x00, 0x14, 0x00, 0x00, 0x01, 0x08, 0, 0, 0, 0, 'x', 0xC5, 'y', 0xC5, 'z'};
  Msgs m = parse(in);
  REQUIRE(m.size() == 3);
  CHECK(m[0].timestamp == 20);
  CHECK(m[1].timestamp == 40);
  CHECK(m[2].timestamp == 60);
  CHECK(m[2].payload == Buf{'z'});
}

TEST_CASE("chunk reader: message split over chunks at the default size of 128") {
  const Buf p = pattern(300, 9);
  Buf in;
  hdr0(in, 3, 0, 300, 9, 1);
  append(in, p, 0, 128);
  in.push_back(0xC3);
  append(in, p, 128, 128);
  in.push_back(0xC3);
  append(in, p, 256, 44);
  Msgs m = parse(in);
  REQUIRE(m.size() == 1);
  CHECK(m[0].payload == p);
}

TEST_CASE("chunk reader: 1, 2 and 3-byte basic headers") {
  struct Case {
    uint32_t csid;
    Buf basic;  // fmt 0 form; continuations set the top two bits of the first byte
  };
  const Case cases[] = {
      {2, {0x02}},
      {63, {0x3F}},
      {64, {0x00, 0x00}},
      {65, {0x00, 0x01}},
      {319, {0x00, 0xFF}},
      {320, {0x01, 0x00, 0x01}},
      {65599, {0x01, 0xFF, 0xFF}},
      {64, {0x01, 0x00, 0x00}},  // non-canonical 3-byte forms name the same ids
      {100, {0x01, 36, 0x00}},
  };
  const Buf p = pattern(200, 5);
  for (const Case& c : cases) {
    CAPTURE(c.csid);
    Buf in = c.basic;
    in.insert(in.end(), {0, 0, 7, 0, 0, 200, 9, 1, 0, 0, 0});
    append(in, p, 0, 128);
    Buf cont = c.basic;
    cont[0] |= 0xC0;
    in.insert(in.end(), cont.begin(), cont.end());
    append(in, p, 128, 72);
    Msgs m = parse(in);
    REQUIRE(m.size() == 1);
    CHECK(m[0].csid == c.csid);
    CHECK(m[0].timestamp == 7);
    CHECK(m[0].payload == p);
  }
}

TEST_CASE("chunk reader: extended timestamp on fmt 0, repeated and not repeated on continuations") {
  const Buf head = {0x06, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0xC8, 0x09,
                    0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00};
  Buf first(128, 0x11), rest(72, 0x22);
  Buf expected = first;
  expected.insert(expected.end(), rest.begin(), rest.end());

  SUBCASE("repeated (ffmpeg, librtmp)") {
    Buf in = head;
    in.insert(in.end(), first.begin(), first.end());
    in.insert(in.end(), {0xC6, 0x01, 0x00, 0x00, 0x00});
    in.insert(in.end(), rest.begin(), rest.end());
    Msgs m = parse(in);
    REQUIRE(m.size() == 1);
    CHECK(m[0].timestamp == 0x01000000);
    CHECK(m[0].payload == expected);
  }
  SUBCASE("not repeated") {
    Buf in = head;
    in.insert(in.end(), first.begin(), first.end());
    in.push_back(0xC6);
    in.insert(in.end(), rest.begin(), rest.end());
    Msgs m = parse(in);
    REQUIRE(m.size() == 1);
    CHECK(m[0].timestamp == 0x01000000);
    CHECK(m[0].payload == expected);
  }
  SUBCASE("not repeated, and the data starts with three bytes of the timestamp") {
    rest[0] = 0x01, rest[1] = 0x00, rest[2] = 0x00;
    expected = first;
    expected.insert(expected.end(), rest.begin(), rest.end());
    Buf in = head;
    in.insert(in.end(), first.begin(), first.end());
    in.push_back(0xC6);
    in.insert(in.end(), rest.begin(), rest.end());
    Msgs m = parse(in);
    REQUIRE(m.size() == 1);
    CHECK(m[0].payload == expected);
    // Fed byte by byte the decision waits for the differing byte and still lands the same way.
    ChunkReader r;
    Msgs out;
    for (uint8_t byte : in) REQUIRE(feed(r, Bytes(&byte, 1), out).ok());
    CHECK(same(out, m));
  }
}

TEST_CASE(
    "chunk reader: unrepeated extended timestamp on a short last chunk, replayed into the next header") {
  // Stored value 0x01000004. The 2-byte tail 01 00 and the next basic header 00 05 (fmt 0, csid 69) read
  // 01 00 00 05: three bytes match, so two go to the tail and the third starts the next header again.
  Buf in;
  hdr0(in, 6, 0x01000004, 130, 9, 1);
  Buf p(128, 0x33);
  in.insert(in.end(), p.begin(), p.end());
  in.insert(in.end(), {0xC6, 0x01, 0x00});
  hdr0(in, 69, 10, 1, 8, 1);
  in.push_back(0x44);
  p.insert(p.end(), {0x01, 0x00});
  Msgs m = parse(in);
  REQUIRE(m.size() == 2);
  CHECK(m[0].payload == p);
  CHECK(m[0].timestamp == 0x01000004);
  CHECK(m[1].csid == 69);
  CHECK(m[1].payload == Buf{0x44});
}

TEST_CASE("chunk reader: extended timestamps on fmt 1 and on a fmt 3 new message") {
  Buf in;
  hdr0(in, 7, 0x01000000, 2, 9, 1);
  in.insert(in.end(), {1, 2});
  in.insert(in.end(), {0xC7, 0x01, 0x00, 0x00, 0x00, 3, 4});  // fmt 3 new message: always carries it
  hdr1(in, 7, 0x01000000, 1, 9);
  in.push_back(5);
  hdr2(in, 7, 0xFF000000);  // wraps mod 2^32
  in.push_back(6);
  Msgs m = parse(in);
  REQUIRE(m.size() == 4);
  CHECK(m[0].timestamp == 0x01000000);
  CHECK(m[1].timestamp == 0x02000000);
  CHECK(m[1].payload == Buf{3, 4});
  CHECK(m[2].timestamp == 0x03000000);
  CHECK(m[3].timestamp == 0x02000000);
}

TEST_CASE("chunk reader: set chunk size applies to the next chunk in the same buffer") {
  Buf in = {0x02, 0, 0, 0, 0, 0, 4, 0x01, 0, 0, 0, 0, 0x00, 0x00, 0x10, 0x00};  // 4096
  const Buf p = pattern(3000, 1);
  hdr0(in, 3, 0, 3000, 9, 1);
  in.insert(in.end(), p.begin(), p.end());
  ChunkReader r;
  Msgs m;
  REQUIRE(feed(r, in, m).ok());
  REQUIRE(m.size() == 2);
  CHECK(m[0].type == msg_type::set_chunk_size);
  CHECK(m[0].payload == Buf{0, 0, 0x10, 0});
  CHECK(r.chunk_size() == 4096);
  CHECK(m[1].payload == p);
}

TEST_CASE("chunk reader: set chunk size while a message is mid-flight on another csid") {
  const Buf p = pattern(500, 3);
  Buf in;
  hdr0(in, 4, 0, 500, 9, 1);
  append(in, p, 0, 128);
  control(in, msg_type::set_chunk_size, 200);
  hdr3(in, 4);
  append(in, p, 128, 200);
  hdr3(in, 4);
  append(in, p, 328, 172);
  Msgs m = parse(in);
  REQUIRE(m.size() == 2);
  CHECK(m[1].payload == p);
}

TEST_CASE("chunk reader: messages interleaved chunk by chunk on two csids") {
  const Buf a = pattern(200, 1), v = pattern(300, 2);
  Buf in;
  hdr0(in, 4, 40, 200, 8, 1);
  append(in, a, 0, 128);
  hdr0(in, 6, 33, 300, 9, 1);
  append(in, v, 0, 128);
  hdr3(in, 4);
  append(in, a, 128, 72);
  hdr3(in, 6);
  append(in, v, 128, 128);
  hdr3(in, 6);
  append(in, v, 256, 44);
  Msgs m = parse(in);
  REQUIRE(m.size() == 2);
  CHECK(m[0].csid == 4);
  CHECK(m[0].timestamp == 40);
  CHECK(m[0].payload == a);
  CHECK(m[1].csid == 6);
  CHECK(m[1].timestamp == 33);
  CHECK(m[1].payload == v);
}

TEST_CASE("chunk reader: abort discards the partial message on its csid") {
  const Buf p = pattern(300, 1);
  Buf in;
  hdr0(in, 6, 0, 300, 9, 1);
  append(in, p, 0, 128);
  ChunkReader r;
  Msgs m;
  REQUIRE(feed(r, in, m).ok());
  CHECK(r.buffered_bytes() == 128);

  in.clear();
  control(in, msg_type::abort, 50);                                             // unknown csid: ignored
  in.insert(in.end(), {0x02, 0, 0, 0, 0, 0, 4, 0x02, 0, 0, 0, 0, 0, 0, 0, 6});  // Abort csid 6
  hdr0(in, 6, 5, 3, 8, 1);  // a new header on csid 6 is fine once the partial is gone
  in.insert(in.end(), {'a', 'b', 'c'});
  REQUIRE(feed(r, in, m).ok());
  REQUIRE(m.size() == 3);
  CHECK(m[0].type == msg_type::abort);
  CHECK(m[1].type == msg_type::abort);
  CHECK(m[2].csid == 6);
  CHECK(m[2].payload == Buf{'a', 'b', 'c'});
  CHECK(r.buffered_bytes() == 0);
}

TEST_CASE("chunk reader: zero-length messages are delivered") {
  Buf in;
  hdr0(in, 3, 1, 0, 18, 1);
  hdr3(in, 3);
  Msgs m = parse(in);
  REQUIRE(m.size() == 2);
  CHECK(m[0].payload.empty());
  CHECK(m[1].timestamp == 2);
}

TEST_CASE("chunk reader: byte by byte, every split point and all at once agree") {
  const Buf in = rich_stream();
  const Msgs whole = parse(in);
  REQUIRE(whole.size() == 13);
  CHECK(whole[0].payload == pattern(200, 1));
  CHECK(whole[1].payload == pattern(300, 2));
  CHECK(whole[2].timestamp == 1023);
  CHECK(whole[3].timestamp == 1044);
  CHECK(whole[4].timestamp == 1065);
  CHECK(whole[5].timestamp == 0x01000000);
  CHECK(whole[6].timestamp == 0xFFFFFFFF);
  Buf c = pattern(128, 3);
  c.insert(c.end(), {0xFF, 0xFF});
  CHECK(whole[6].payload == c);
  CHECK(whole[7].type == msg_type::set_chunk_size);
  CHECK(whole[8].payload == pattern(500, 4));
  CHECK(whole[9].type == msg_type::abort);
  CHECK(whole[10].timestamp == 9);
  CHECK(whole[11].timestamp == 18);
  CHECK(whole[12].csid == 64);

  {
    ChunkReader r;
    Msgs out;
    for (size_t i = 0; i < in.size(); ++i) REQUIRE(feed(r, Bytes(&in[i], 1), out).ok());
    CHECK(same(out, whole));
    CHECK(r.bytes_read() == in.size());
    CHECK(r.buffered_bytes() == 0);
  }
  for (size_t split = 0; split <= in.size(); ++split) {
    CAPTURE(split);
    ChunkReader r;
    Msgs out;
    REQUIRE(feed(r, Bytes(in).first(split), out).ok());
    REQUIRE(feed(r, Bytes(in).subspan(split), out).ok());
    REQUIRE(same(out, whole));
  }
}

TEST_CASE("chunk reader: buffered bytes count partial headers and partial messages") {
  Buf in;
  hdr0(in, 3, 0, 2 * 1024 * 1024, 9, 1);  // announces the maximum, sends ten bytes
  in.insert(in.end(), 10, 0xAB);
  ChunkReader r;
  Msgs m;
  REQUIRE(feed(r, Bytes(in).first(5), m).ok());
  CHECK(r.buffered_bytes() == 5);
  REQUIRE(feed(r, Bytes(in).subspan(5), m).ok());
  CHECK(r.buffered_bytes() == 10);
  CHECK(r.bytes_read() == in.size());
  CHECK(m.empty());
}

TEST_CASE("chunk reader: fmt 1, 2 or 3 with no previous header on the csid") {
  CHECK(error_of({0xC3, 'x'}) == "rtmp chunk: fmt 3 chunk on csid 3 with no previous header");
  CHECK(error_of({0x43}) == "rtmp chunk: fmt 1 chunk on csid 3 with no previous header");
  CHECK(error_of({0x80, 0x05}) == "rtmp chunk: fmt 2 chunk on csid 69 with no previous header");
}

TEST_CASE("chunk reader: message length over the limit is refused from the header alone") {
  Buf in;
  hdr0(in, 6, 0, 0xFFFFFF, 9, 1);
  ChunkReader r;
  Msgs m;
  Status s = feed(r, in, m);
  REQUIRE(!s.ok());
  CHECK(s.error() == "rtmp chunk: message length 16777215 exceeds limit max_message_size 2097152 on csid 6");
  CHECK(r.buffered_bytes() == in.size());  // the 12 header bytes, nothing for the payload

  ChunkLimits small;
  small.max_message_size = 100;
  in.clear();
  hdr0(in, 3, 0, 10, 9, 1);
  in.insert(in.end(), 10, 0);
  hdr1(in, 3, 0, 101, 9);
  CHECK(error_of(in, small) == "rtmp chunk: message length 101 exceeds limit max_message_size 100 on csid 3");
}

TEST_CASE("chunk reader: set chunk size out of range is refused") {
  auto with_size = [](uint32_t size) {
    Buf in;
    control(in, msg_type::set_chunk_size, size);
    return error_of(in);
  };
  CHECK(with_size(0) == "rtmp chunk: set chunk size 0 outside 1..65536 (limit max_chunk_size)");
  CHECK(with_size(0x7FFFFFFF) ==
        "rtmp chunk: set chunk size 2147483647 outside 1..65536 (limit max_chunk_size)");
  CHECK(with_size(0x80000000) == "rtmp chunk: set chunk size 2147483648 has the top bit set");
  CHECK(with_size(65537) == "rtmp chunk: set chunk size 65537 outside 1..65536 (limit max_chunk_size)");
  CHECK(with_size(65536) == "(no error)");
  CHECK(with_size(1) == "(no error)");
  Buf shortp = {0x02, 0, 0, 0, 0, 0, 2, 0x01, 0, 0, 0, 0, 0x10, 0x00};
  CHECK(error_of(shortp) == "rtmp chunk: control message type 1 payload is 2 bytes, needs 4");
}

TEST_CASE("chunk reader: too many chunk streams") {
  ChunkLimits limits;
  limits.max_chunk_streams = 3;
  Buf in;
  for (uint32_t csid : {3u, 400u, 3u, 5u}) {
    hdr0(in, csid, 0, 1, 8, 1);
    in.push_back(0);
  }
  CHECK(parse(in, limits).size() == 4);
  hdr0(in, 70, 0, 1, 8, 1);
  in.push_back(0);
  CHECK(error_of(in, limits) == "rtmp chunk: too many chunk streams (limit max_chunk_streams 3) at csid 70");
}

TEST_CASE("chunk reader: a new message header mid-message is refused") {
  for (int fmt : {0, 1, 2}) {
    CAPTURE(fmt);
    Buf in;
    hdr0(in, 4, 0, 300, 9, 1);
    in.insert(in.end(), 128, 0);
    if (fmt == 0) hdr0(in, 4, 0, 10, 9, 1);
    if (fmt == 1) hdr1(in, 4, 0, 10, 9);
    if (fmt == 2) hdr2(in, 4, 0);
    CHECK(error_of(in) == "rtmp chunk: new message header mid-message on csid 4");
  }
}

TEST_CASE("chunk reader: errors are sticky and a failing handler stops the feed") {
  Buf in;
  hdr0(in, 3, 0, 1, 8, 1);
  in.push_back(1);
  hdr0(in, 3, 0, 1, 8, 1);
  in.push_back(2);
  ChunkReader r;
  int calls = 0;
  Status s = r.feed(in, [&](RtmpMessage&&) {
    ++calls;
    return Status{Error{"handler says no"}};
  });
  CHECK(s.error() == "handler says no");
  CHECK(calls == 1);
  CHECK(r.bytes_read() == 13);
  Msgs m;
  CHECK(feed(r, in, m).error() == "handler says no");
  CHECK(m.empty());

  ChunkReader bad;
  CHECK(feed(bad, Buf{0xC3}, m).error() == "rtmp chunk: fmt 3 chunk on csid 3 with no previous header");
  CHECK(!feed(bad, in, m).ok());
  CHECK(m.empty());
}
