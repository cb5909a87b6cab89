// Tests for the RTMP handshake state machines (ingest/handshake.h), simple and FP9 digest forms.
#include "ingest/handshake.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <string>
#include <string_view>
#include <vector>

using namespace livegate;

namespace {

constexpr size_t kPacket = 1536;

// The test keeps its own copy of the Flash keys (as published in nginx-rtmp / librtmp) so a typo
// in the production constants shows up as a failed check rather than agreeing with itself.
constexpr std::array<uint8_t, 32> kTail = {0xF0, 0xEE, 0xC2, 0x4A, 0x80, 0x68, 0xBE, 0xE8, 0x2E, 0x00, 0xD0,
                                           0xD1, 0x02, 0x9E, 0x7E, 0x57, 0x6E, 0xEC, 0x5D, 0x2D, 0x29, 0x80,
                                           0x6F, 0xAB, 0x93, 0xB8, 0xE6, 0x36, 0xCF, 0xEB, 0x31, 0xAE};

std::vector<uint8_t> key(std::string_view text, bool with_tail) {
  std::vector<uint8_t> k(text.begin(), text.end());
  if (with_tail) k.insert(k.end(), kTail.begin(), kTail.end());
  return k;
}

const std::vector<uint8_t> kClientPartial = key("Genuine Adobe Flash Player 001", false);
const std::vector<uint8_t> kServerPartial = key("Genuine Adobe Flash Media Server 001", false);
const std::vector<uint8_t> kServerFull = key("Genuine Adobe Flash Media Server 001", true);

std::string hex(Bytes b) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (uint8_t v : b) {
    s += digits[v >> 4];
    s += digits[v & 15];
  }
  return s;
}

uint32_t be32(Bytes b, size_t at) {
  return uint32_t(b[at]) << 24 | uint32_t(b[at + 1]) << 16 | uint32_t(b[at + 2]) << 8 | b[at + 3];
}

size_t offset_for(Bytes packet, int scheme) {
  const size_t base = scheme == 0 ? 8 : 772;
  return (packet[base] + packet[base + 1] + packet[base + 2] + packet[base + 3]) % 728 + base + 4;
}

Sha256Digest digest_at(Bytes packet, size_t offset, const std::vector<uint8_t>& k) {
  std::vector<uint8_t> rest(packet.begin(), packet.begin() + static_cast<ptrdiff_t>(offset));
  rest.insert(rest.end(), packet.begin() + static_cast<ptrdiff_t>(offset + 32), packet.end());
  auto d = hmac_sha256(k, rest);
  REQUIRE(d.ok());
  return *d;
}

bool has_digest(Bytes packet, int scheme, const std::vector<uint8_t>& k) {
  const size_t off = offset_for(packet, scheme);
  Sha256Digest d = digest_at(packet, off, k);
  return std::equal(d.begin(), d.end(), packet.begin() + static_cast<ptrdiff_t>(off));
}

// S2 = 1504 bytes signed with HMAC(HMAC(full server key, C1 digest), those bytes).
bool s2_signed_for(Bytes s2, const Sha256Digest& c1_digest) {
  auto k = hmac_sha256(kServerFull, c1_digest);
  REQUIRE(k.ok());
  auto sig = hmac_sha256(*k, s2.first(kPacket - 32));
  REQUIRE(sig.ok());
  return std::equal(sig->begin(), sig->end(), s2.begin() + (kPacket - 32));
}

template <class H>
std::vector<uint8_t> feed_in_chunks(H& h, Bytes in, size_t chunk) {
  std::vector<uint8_t> out;
  for (size_t pos = 0; pos < in.size();) {
    const size_t n = std::min(chunk, in.size() - pos);
    auto used = h.feed(in.subspan(pos, n), out);
    REQUIRE(used.ok());
    REQUIRE(*used == n);
    pos += n;
  }
  return out;
}

struct Exchange {
  std::vector<uint8_t> c0c1, s0s1s2, c2;
};

Exchange run(Handshake& server, ClientHandshake& client, size_t chunk) {
  Exchange x;
  x.c0c1 = client.start();
  REQUIRE(x.c0c1.size() == 1 + kPacket);
  x.s0s1s2 = feed_in_chunks(server, x.c0c1, chunk);
  REQUIRE(x.s0s1s2.size() == 1 + 2 * kPacket);
  CHECK(server.state() == Handshake::State::waiting_c2);
  x.c2 = feed_in_chunks(client, x.s0s1s2, chunk);
  REQUIRE(x.c2.size() == kPacket);
  CHECK(client.done());
  CHECK(feed_in_chunks(server, x.c2, chunk).empty());
  CHECK(server.done());
  return x;
}

Bytes s1_of(const Exchange& x) { return Bytes(x.s0s1s2).subspan(1, kPacket); }
Bytes s2_of(const Exchange& x) { return Bytes(x.s0s1s2).subspan(1 + kPacket, kPacket); }
Bytes c1_of(const Exchange& x) { return Bytes(x.c0c1).subspan(1); }

}  // namespace

TEST_CASE("handshake: hmac-sha256 matches RFC 4231 test case 2") {
  const std::string_view k = "Jefe", data = "what do ya want for nothing?";
  auto d = hmac_sha256(Bytes(reinterpret_cast<const uint8_t*>(k.data()), k.size()),
                       Bytes(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
  REQUIRE(d.ok());
  CHECK(hex(*d) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_CASE("handshake: simple handshake between server and client") {
  for (size_t chunk : {size_t{1}, size_t{7}, size_t{1537}, size_t{100000}}) {
    CAPTURE(chunk);
    Handshake server(123456);
    ClientHandshake client(false);
    Exchange x = run(server, client, chunk);
    CHECK_FALSE(server.used_digest());
    CHECK_FALSE(client.server_used_digest());
    CHECK(x.c0c1[0] == 3);
    CHECK(be32(c1_of(x), 4) == 0);
    CHECK(x.s0s1s2[0] == 3);
    CHECK(be32(s1_of(x), 0) == 123456);
    CHECK(be32(s1_of(x), 4) == 0);
    CHECK(std::equal(s2_of(x).begin(), s2_of(x).end(), c1_of(x).begin()));  // S2 echoes C1
    CHECK(std::equal(x.c2.begin(), x.c2.end(), s1_of(x).begin()));          // C2 echoes S1
  }
}

TEST_CASE("handshake: server answers as soon as C1 is complete, not before") {
  Handshake server;
  ClientHandshake client(false);
  std::vector<uint8_t> c0c1 = client.start(), out;
  for (size_t i = 0; i + 1 < c0c1.size(); ++i) {
    auto used = server.feed(Bytes(c0c1).subspan(i, 1), out);
    REQUIRE(used.ok());
    CHECK(*used == 1);
  }
  CHECK(out.empty());
  CHECK(server.state() == Handshake::State::waiting_c0c1);
  REQUIRE(server.feed(Bytes(c0c1).last(1), out).ok());
  CHECK(out.size() == 1 + 2 * kPacket);
  CHECK(server.state() == Handshake::State::waiting_c2);
}

TEST_CASE("handshake: digest handshake between server and client") {
  for (size_t chunk : {size_t{1}, size_t{500}, size_t{100000}}) {
    CAPTURE(chunk);
    Handshake server(42);
    ClientHandshake client(true);
    Exchange x = run(server, client, chunk);
    CHECK(server.used_digest());
    CHECK(client.server_used_digest());

    // Checked again here with the test's own keys, independent of the code under test.
    CHECK(be32(c1_of(x), 4) != 0);
    REQUIRE(has_digest(c1_of(x), 0, kClientPartial));
    CHECK(be32(s1_of(x), 0) == 42);
    CHECK(be32(s1_of(x), 4) != 0);
    CHECK(has_digest(s1_of(x), 0, kServerPartial));  // same scheme as C1
    const Sha256Digest c1_digest = digest_at(c1_of(x), offset_for(c1_of(x), 0), kClientPartial);
    CHECK(s2_signed_for(s2_of(x), c1_digest));
    CHECK_FALSE(std::equal(x.c2.begin(), x.c2.end(), s1_of(x).begin()));  // digest C2, not an echo
  }
}

TEST_CASE("handshake: scheme 1 (key first) C1 is accepted") {
  // A fixed C1 with the digest in the second block, checked against a digest computed
  // independently (Python hmac) so the layout and the client key are pinned, not just round-tripped.
  std::vector<uint8_t> c0c1(1 + kPacket);
  c0c1[0] = 3;
  std::span<uint8_t> c1 = std::span(c0c1).subspan(1);
  for (size_t i = 0; i < kPacket; ++i) c1[i] = static_cast<uint8_t>(i * 7 + 3);
  const std::array<uint8_t, 8> head = {0x00, 0x00, 0x03, 0xE8,
                                       0x80, 0x00, 0x07, 0x02};  // time 1000, 9.0.124.2
  std::copy(head.begin(), head.end(), c1.begin());
  const size_t off = offset_for(c1, 1);
  REQUIRE(off == 942);
  const Sha256Digest d = digest_at(c1, off, kClientPartial);
  CHECK(hex(d) == "c46255e1d3f114c725b070a6beef65ecc7ad822269f951ccfc1bbaef6a58da54");
  std::copy(d.begin(), d.end(), c1.begin() + off);
  REQUIRE_FALSE(has_digest(c1, 0, kClientPartial));

  Handshake server;
  std::vector<uint8_t> out;
  auto used = server.feed(c0c1, out);
  REQUIRE(used.ok());
  CHECK(*used == c0c1.size());
  REQUIRE(out.size() == 1 + 2 * kPacket);
  CHECK(server.used_digest());
  const Bytes s1 = Bytes(out).subspan(1, kPacket), s2 = Bytes(out).subspan(1 + kPacket);
  CHECK(be32(s1, 4) != 0);
  CHECK(has_digest(s1, 1, kServerPartial));
  CHECK(s2_signed_for(s2, d));
}

TEST_CASE("handshake: a C1 with a corrupted digest falls back to simple") {
  ClientHandshake client(true);
  std::vector<uint8_t> c0c1 = client.start();
  const std::span<uint8_t> c1 = std::span(c0c1).subspan(1);
  SUBCASE("digest bytes flipped") { c1[offset_for(c1, 0) + 5] ^= 0x01; }
  SUBCASE("signed bytes changed") { c1[kPacket - 1] ^= 0x80; }
  SUBCASE("zero version means no digest even if the bytes are right") {
    std::fill(c1.begin() + 4, c1.begin() + 8, uint8_t{0});
  }

  Handshake server;
  std::vector<uint8_t> out;
  auto used = server.feed(c0c1, out);
  REQUIRE(used.ok());
  REQUIRE(out.size() == 1 + 2 * kPacket);
  CHECK_FALSE(server.used_digest());
  const Bytes s1 = Bytes(out).subspan(1, kPacket), s2 = Bytes(out).subspan(1 + kPacket);
  CHECK(be32(s1, 4) == 0);
  CHECK(std::equal(s2.begin(), s2.end(), c1.begin()));
}

TEST_CASE("handshake: bad versions fail with a reason") {
  struct Case {
    uint8_t version;
    const char* text;
  };
  for (Case c : {Case{0x00, "unsupported version 0"}, Case{0x06, "unsupported version 6"},
                 Case{0x16, "unsupported version 22 (0x16"}, Case{'G', "unsupported version 71 (0x47"}}) {
    for (bool whole : {false, true}) {  // rejected on the first byte, and with C1 behind it
      CAPTURE(int(c.version));
      CAPTURE(whole);
      Handshake server;
      std::vector<uint8_t> out;
      std::vector<uint8_t> in(whole ? 1 + kPacket : 1, 0);
      in[0] = c.version;
      auto r = server.feed(in, out);
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().find("rtmp handshake: ") == 0);
      CHECK(r.error().find(c.text) != std::string::npos);
      CHECK(server.state() == Handshake::State::failed);
      CHECK(out.empty());
      CHECK_FALSE(server.feed(in, out).ok());  // stays failed
    }
  }
  {  // the reason names the likely protocol, which is what an operator needs to fix the client
    Handshake tls, http, rtmpe;
    std::vector<uint8_t> out;
    const uint8_t hello[] = {0x16, 0x03, 0x01}, get[] = {'G', 'E', 'T', ' '}, enc[] = {0x06};
    CHECK(tls.feed(hello, out).error().find("TLS") != std::string::npos);
    CHECK(http.feed(get, out).error().find("HTTP") != std::string::npos);
    CHECK(rtmpe.feed(enc, out).error().find("RTMPE") != std::string::npos);
  }
}

TEST_CASE("handshake: trailing chunk bytes after C2 are not consumed") {
  ClientHandshake client(false);
  std::vector<uint8_t> c0c1 = client.start(), s0s1s2, c2;
  const std::vector<uint8_t> chunk_bytes = {0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x01, 0, 0, 0x10, 0};

  SUBCASE("everything in one feed") {
    Handshake server;
    std::vector<uint8_t> tmp(c0c1);
    tmp.resize(tmp.size() + kPacket);  // C2 content is not validated
    tmp.insert(tmp.end(), chunk_bytes.begin(), chunk_bytes.end());
    auto used = server.feed(tmp, s0s1s2);
    REQUIRE(used.ok());
    CHECK(*used == 1 + 2 * kPacket);
    CHECK(server.done());
    CHECK(s0s1s2.size() == 1 + 2 * kPacket);
  }
  SUBCASE("C2 and chunk bytes together, after S0S1S2") {
    Handshake server;
    REQUIRE(server.feed(c0c1, s0s1s2).ok());
    REQUIRE(client.feed(s0s1s2, c2).ok());
    c2.insert(c2.end(), chunk_bytes.begin(), chunk_bytes.end());
    std::vector<uint8_t> out;
    auto used = server.feed(Bytes(c2).first(100), out);
    REQUIRE(used.ok());
    CHECK(*used == 100);
    used = server.feed(Bytes(c2).subspan(100), out);
    REQUIRE(used.ok());
    CHECK(*used == kPacket - 100);
    CHECK(server.done());
    CHECK(out.empty());
    used = server.feed(chunk_bytes, out);  // after done, nothing more is taken
    REQUIRE(used.ok());
    CHECK(*used == 0);
  }
  SUBCASE("client leaves bytes after S2 too") {
    Handshake server;
    REQUIRE(server.feed(c0c1, s0s1s2).ok());
    s0s1s2.insert(s0s1s2.end(), chunk_bytes.begin(), chunk_bytes.end());
    auto used = client.feed(s0s1s2, c2);
    REQUIRE(used.ok());
    CHECK(*used == 1 + 2 * kPacket);
    CHECK(client.done());
  }
}

TEST_CASE("handshake: client rejects a bad S0 and an S2 that answers nothing") {
  SUBCASE("bad S0") {
    ClientHandshake client(false);
    (void)client.start();
    std::vector<uint8_t> out;
    const uint8_t s0[] = {0x06};
    auto r = client.feed(s0, out);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().find("unsupported version 6") != std::string::npos);
  }
  SUBCASE("S2 neither an echo nor signed") {
    for (bool digest : {false, true}) {
      CAPTURE(digest);
      ClientHandshake client(digest);
      Handshake server;
      std::vector<uint8_t> s0s1s2, c2;
      REQUIRE(server.feed(client.start(), s0s1s2).ok());
      s0s1s2[1 + kPacket + 100] ^= 0xFF;
      auto r = client.feed(s0s1s2, c2);
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().find("S2") != std::string::npos);
      CHECK_FALSE(client.done());
    }
  }
}
