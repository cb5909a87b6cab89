// The RTMP handshake state machines: RTMP 1.0 section 5.2 plus the Flash Player 9 digest handshake.
#include "ingest/handshake.h"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <random>
#include <span>

#include "common/byte_writer.h"

extern "C" {
#include <libavutil/hmac.h>
}

namespace livegate {
namespace {

constexpr uint8_t kVersion = 3;                    // RTMP 1.0 section 5.2.2
constexpr size_t kPacket = 1536;                   // C1/S1/C2/S2, section 5.2.3
constexpr size_t kDigest = 32;                     // SHA-256
constexpr size_t kDigestRange = 728;               // 764-byte block - 4 offset bytes - 32 digest bytes
constexpr size_t kSignedTail = kPacket - kDigest;  // the part of a digest-form C2/S2 that is signed

// A non-zero version in bytes 4..7 is what tells the peer to look for a digest at all; these
// mimic what Flash Player 9 and FMS 3.5 send so validating peers recognise us.
constexpr uint32_t kClientFlashVersion = 0x80000702;  // 9.0.124.2
constexpr uint32_t kServerFlashVersion = 0x04050001;

// The constant half of both Flash keys, as shipped in Flash Player and FMS (and echoed by
// nginx-rtmp, SRS and librtmp, which is what real peers validate against).
constexpr std::array<uint8_t, 32> kKeyTail = {
    0xF0, 0xEE, 0xC2, 0x4A, 0x80, 0x68, 0xBE, 0xE8, 0x2E, 0x00, 0xD0, 0xD1, 0x02, 0x9E, 0x7E, 0x57,
    0x6E, 0xEC, 0x5D, 0x2D, 0x29, 0x80, 0x6F, 0xAB, 0x93, 0xB8, 0xE6, 0x36, 0xCF, 0xEB, 0x31, 0xAE};

template <size_t N>
constexpr std::array<uint8_t, N - 1 + kKeyTail.size()> flash_key(const char (&text)[N]) {
  std::array<uint8_t, N - 1 + kKeyTail.size()> key{};
  for (size_t i = 0; i + 1 < N; ++i) key[i] = static_cast<uint8_t>(text[i]);
  for (size_t i = 0; i < kKeyTail.size(); ++i) key[N - 1 + i] = kKeyTail[i];
  return key;
}

constexpr auto kClientKey = flash_key("Genuine Adobe Flash Player 001");
constexpr auto kServerKey = flash_key("Genuine Adobe Flash Media Server 001");
static_assert(kClientKey.size() == 62 && kServerKey.size() == 68);

// C1/S1 digests are keyed with the text part only and the full key is kept for deriving the C2/S2
// key: the split is Flash Player's and FMS's, and peers reject anything else.
constexpr Bytes kClientPartialKey{kClientKey.data(), 30};
constexpr Bytes kServerPartialKey{kServerKey.data(), 36};

struct HmacDeleter {
  void operator()(AVHMAC* h) const noexcept { av_hmac_free(h); }
};
using HmacPtr = std::unique_ptr<AVHMAC, HmacDeleter>;

// Not cryptographic on purpose: the handshake's randomness only has to make packets distinct,
// and RTMP gives no secrecy anyway. One engine per thread keeps the objects thread-agnostic.
void fill_random(std::span<uint8_t> out) {
  thread_local std::mt19937 rng{std::random_device{}()};
  for (size_t i = 0; i < out.size(); i += 4) {
    uint32_t v = rng();
    for (size_t k = 0; k < 4 && i + k < out.size(); ++k) out[i + k] = static_cast<uint8_t>(v >> (8 * k));
  }
}

std::string version_reason(uint8_t v) {
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02X", v);
  std::string reason = "rtmp handshake: unsupported version " + std::to_string(v) + " (" + hex;
  // Name what the byte most likely is, since that is what an operator needs to fix the client.
  if (v == 0x06 || v == 0x08 || v == 0x09) {
    reason += ", RTMPE encryption is not supported";
  } else if (v == 0x16) {
    reason += ", a TLS ClientHello: rtmps sent to a plain rtmp port?";
  } else if (v == 'G' || v == 'P' || v == 'H') {
    reason += ", looks like an HTTP request";
  }
  return reason + ")";
}

// Two layouts exist because Flash Player picks one per version; a validator must try both.
enum class Scheme { digest_first = 0, key_first = 1 };

size_t digest_offset(Bytes packet, Scheme scheme) {
  const size_t base = scheme == Scheme::digest_first ? 8 : 772;
  ByteReader r(packet.subspan(base, 4));
  size_t sum = 0;
  for (int i = 0; i < 4; ++i) sum += r.u8();
  return sum % kDigestRange + base + 4;
}

// The digest signs the packet with its own 32 bytes cut out.
Result<Sha256Digest> packet_digest(Bytes packet, size_t offset, Bytes key) {
  std::array<uint8_t, kPacket - kDigest> rest;
  std::copy_n(packet.begin(), offset, rest.begin());
  std::copy(packet.begin() + static_cast<ptrdiff_t>(offset + kDigest), packet.end(),
            rest.begin() + static_cast<ptrdiff_t>(offset));
  return hmac_sha256(key, rest);
}

struct FoundDigest {
  Scheme scheme;
  Sha256Digest digest;
};

/*
 * Where the FP9 digest sits in C1/S1 (the Flash Player 9 handshake, not in the RTMP 1.0 spec,
 * which calls bytes 4..7 "zero" and the rest "random" - section 5.2.3):
 *
 *   0      4         8                          772                         1536
 *   +------+---------+--------------------------+---------------------------+
 *   | time | version |      764-byte block      |      764-byte block       |
 *   +------+---------+--------------------------+---------------------------+
 *
 *   digest block: | off (4) | ... | digest (32) at 4 + (off[0]+off[1]+off[2]+off[3]) % 728 | ... |
 *   key block:    | random ... | key (128) | ... | key offset (4) |   (DH key; unused by us)
 *
 *   scheme 0 "digest first": digest block at 8   -> digest at 12  + sum(b[8..11])    % 728
 *   scheme 1 "key first":    digest block at 772 -> digest at 776 + sum(b[772..775]) % 728
 *
 * version == 0 means a pre-FP9 peer that only speaks the simple handshake.
 */
std::optional<FoundDigest> find_digest(Bytes packet, Bytes key) {
  ByteReader r(packet);
  r.skip(4);
  if (r.u32() == 0) return std::nullopt;
  for (Scheme scheme : {Scheme::digest_first, Scheme::key_first}) {
    const size_t offset = digest_offset(packet, scheme);
    auto computed = packet_digest(packet, offset, key);
    // An HMAC failure (out of memory) is treated as "no digest": simple is always acceptable.
    if (computed.ok() && std::equal(computed->begin(), computed->end(), packet.begin() + offset)) {
      return FoundDigest{scheme, *computed};
    }
  }
  return std::nullopt;
}

// A digest-form C1/S1: time, version, random, then the digest patched in where `scheme` puts it.
std::optional<FoundDigest> make_signed_packet(std::vector<uint8_t>& packet, uint32_t time, uint32_t version,
                                              Scheme scheme, Bytes key) {
  packet.clear();
  ByteWriter w(packet);
  w.u32(time);
  w.u32(version);
  packet.resize(kPacket);
  fill_random(std::span(packet).subspan(8));
  const size_t offset = digest_offset(packet, scheme);
  auto digest = packet_digest(packet, offset, key);
  if (!digest.ok()) return std::nullopt;
  std::copy(digest->begin(), digest->end(), packet.begin() + static_cast<ptrdiff_t>(offset));
  return FoundDigest{scheme, *digest};
}

void make_simple_packet(std::vector<uint8_t>& packet, uint32_t time) {
  packet.clear();
  ByteWriter w(packet);
  w.u32(time);
  w.u32(0);
  packet.resize(kPacket);
  fill_random(std::span(packet).subspan(8));
}

// The second-round key binds C2/S2 to the peer's first-round digest, proving we saw its C1/S1.
Result<Sha256Digest> answer_key(const Sha256Digest& peer_digest, Bytes full_key) {
  return hmac_sha256(full_key, peer_digest);
}

// Digest-form C2/S2: 1504 random bytes signed in the last 32.
bool append_digest_answer(std::vector<uint8_t>& out, const Sha256Digest& peer_digest, Bytes full_key) {
  auto key = answer_key(peer_digest, full_key);
  if (!key.ok()) return false;
  std::array<uint8_t, kSignedTail> body;
  fill_random(body);
  auto sig = hmac_sha256(*key, body);
  if (!sig.ok()) return false;
  ByteWriter w(out);
  w.bytes(body);
  w.bytes(*sig);
  return true;
}

bool digest_answer_valid(Bytes answer, const Sha256Digest& our_digest, Bytes full_key) {
  auto key = answer_key(our_digest, full_key);
  if (!key.ok()) return false;
  auto sig = hmac_sha256(*key, answer.first(kSignedTail));
  return sig.ok() && std::equal(sig->begin(), sig->end(), answer.begin() + kSignedTail);
}

// Copies up to what `buf` still needs; returns how much of `in` it took.
size_t fill(std::span<uint8_t> buf, size_t& have, Bytes in) {
  const size_t n = std::min(buf.size() - have, in.size());
  std::copy_n(in.begin(), n, buf.begin() + static_cast<ptrdiff_t>(have));
  have += n;
  return n;
}

}  // namespace

Result<Sha256Digest> hmac_sha256(Bytes key, Bytes data) {
  HmacPtr h(av_hmac_alloc(AV_HMAC_SHA256));
  if (!h) return Error{"hmac-sha256: out of memory"};
  Sha256Digest out;
  int n = av_hmac_calc(h.get(), data.data(), static_cast<unsigned>(data.size()), key.data(),
                       static_cast<unsigned>(key.size()), out.data(), static_cast<unsigned>(out.size()));
  if (n != static_cast<int>(out.size())) return Error{"hmac-sha256: av_hmac_calc failed"};
  return out;
}

// ---- server ----

Handshake::Handshake(uint32_t server_epoch_ms) : epoch_(server_epoch_ms) {}

Result<size_t> Handshake::fail(std::string reason) {
  state_ = State::failed;
  reason_ = std::move(reason);
  return Error{reason_};
}

Result<size_t> Handshake::feed(Bytes in, std::vector<uint8_t>& out) {
  if (state_ == State::failed) return Error{reason_};
  size_t used = 0;
  if (state_ == State::waiting_c0c1) {
    // Take C0 alone first so a wrong protocol (TLS, HTTP) is rejected on its first byte, not
    // after we have waited for 1536 more bytes that may never come.
    if (have_ == 0 && !in.empty()) used += fill(std::span(c0c1_).first(1), have_, in);
    if (have_ >= 1 && c0c1_[0] != kVersion) return fail(version_reason(c0c1_[0]));
    used += fill(c0c1_, have_, in.subspan(used));
    if (have_ < c0c1_.size()) return used;
    // Section 5.2.1 lets the server send S2 once C1 is in; not waiting for C2 saves a round trip.
    answer(out);
    state_ = State::waiting_c2;
  }
  if (state_ == State::waiting_c2) {
    // C2 is not checked: many encoders fill it with junk, and rejecting them buys nothing.
    const size_t n = std::min(c2_left_, in.size() - used);
    used += n;
    c2_left_ -= n;
    if (c2_left_ == 0) state_ = State::done;
  }
  return used;
}

void Handshake::answer(std::vector<uint8_t>& out) {
  const Bytes c1 = Bytes(c0c1_).subspan(1);
  std::vector<uint8_t> s1;
  // A client whose digest does not check out still gets served: FP9 validation is only ever
  // enforced by the client side, and plenty of encoders fill bytes 4..7 without signing.
  if (auto c1_digest = find_digest(c1, kClientPartialKey)) {
    if (make_signed_packet(s1, epoch_, kServerFlashVersion, c1_digest->scheme, kServerPartialKey)) {
      const size_t start = out.size();
      out.push_back(kVersion);
      out.insert(out.end(), s1.begin(), s1.end());
      if (append_digest_answer(out, c1_digest->digest, kServerKey)) {
        used_digest_ = true;
        return;
      }
      out.resize(start);  // only on HMAC allocation failure: fall through to the simple form
    }
  }
  make_simple_packet(s1, epoch_);
  ByteWriter w(out);
  w.u8(kVersion);
  w.bytes(s1);
  w.bytes(c1);  // section 5.2.4: S2 echoes C1
}

// ---- client ----

ClientHandshake::ClientHandshake(bool digest) : digest_(digest) {}

Result<size_t> ClientHandshake::fail(std::string reason) {
  state_ = State::failed;
  reason_ = std::move(reason);
  return Error{reason_};
}

std::vector<uint8_t> ClientHandshake::start() {
  c1_digest_.reset();
  if (digest_) {
    // Scheme 0 is what Flash Player 9 itself sends.
    if (auto d = make_signed_packet(c1_, 0, kClientFlashVersion, Scheme::digest_first, kClientPartialKey)) {
      c1_digest_ = d->digest;
    }
  }
  if (!c1_digest_) make_simple_packet(c1_, 0);
  std::vector<uint8_t> out;
  out.reserve(1 + kPacket);
  out.push_back(kVersion);
  out.insert(out.end(), c1_.begin(), c1_.end());
  state_ = State::waiting_s0s1;
  have_ = 0;
  server_digest_ = false;
  return out;
}

Result<size_t> ClientHandshake::feed(Bytes in, std::vector<uint8_t>& out) {
  if (state_ == State::failed) return Error{reason_};
  if (state_ == State::idle) return fail("rtmp handshake: feed() before start()");
  size_t used = 0;
  if (state_ == State::waiting_s0s1) {
    if (have_ == 0 && !in.empty()) used += fill(std::span(buf_).first(1), have_, in);
    if (have_ >= 1 && buf_[0] != kVersion) return fail(version_reason(buf_[0]));
    used += fill(buf_, have_, in.subspan(used));
    if (have_ < buf_.size()) return used;
    // Section 5.2.1: C2 may go as soon as S1 is in; S2 is only needed to finish.
    answer(out);
    have_ = 0;
    state_ = State::waiting_s2;
  }
  if (state_ == State::waiting_s2) {
    used += fill(std::span(buf_).first(kPacket), have_, in.subspan(used));
    if (have_ < kPacket) return used;
    if (!s2_valid())
      return fail("rtmp handshake: S2 neither echoes C1 nor carries the server's digest answer");
    state_ = State::done;
  }
  return used;
}

void ClientHandshake::answer(std::vector<uint8_t>& out) {
  const Bytes s1 = Bytes(buf_).subspan(1);
  auto s1_digest = find_digest(s1, kServerPartialKey);
  server_digest_ = s1_digest.has_value();
  if (c1_digest_ && s1_digest && append_digest_answer(out, s1_digest->digest, kClientKey)) return;
  out.insert(out.end(), s1.begin(), s1.end());  // section 5.2.4: C2 echoes S1
}

bool ClientHandshake::s2_valid() const {
  const Bytes s2 = Bytes(buf_).first(kPacket);
  // Servers that ignore FP9 echo C1 even when we signed it; only time2 (4..7) may differ.
  const bool echoes_c1 = std::equal(s2.begin() + 8, s2.end(), c1_.begin() + 8);
  const bool signed_answer = server_digest_ && c1_digest_ && digest_answer_valid(s2, *c1_digest_, kServerKey);
  return echoes_c1 || signed_answer;
}

}  // namespace livegate
