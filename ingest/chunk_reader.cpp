// Reassembles RTMP messages from the chunk stream a peer sends (RTMP 1.0 sections 5.3 and 5.4), sans IO.
#include "ingest/chunk_reader.h"

#include <algorithm>
#include <cstring>
#include <string>

namespace livegate {
namespace {

constexpr size_t kMessageHeaderSize[4] = {11, 7, 3, 0};  // by fmt, 5.3.1.2.1-4
constexpr uint32_t kExtendedMarker = 0xFFFFFF;

uint32_t be24(const uint8_t* b) noexcept { return uint32_t(b[0]) << 16 | uint32_t(b[1]) << 8 | b[2]; }
uint32_t be32(const uint8_t* b) noexcept { return uint32_t(b[0]) << 24 | be24(b + 1); }
uint32_t le32(const uint8_t* b) noexcept {
  return uint32_t(b[0]) | uint32_t(b[1]) << 8 | uint32_t(b[2]) << 16 | uint32_t(b[3]) << 24;
}

Error fail(const std::string& why) { return Error{"rtmp chunk: " + why}; }

}  // namespace

ChunkReader::ChunkReader(ChunkLimits limits) : limits_(limits) {}

Status ChunkReader::feed(Bytes in, const std::function<Status(RtmpMessage&&)>& on_message) {
  if (!error_.ok()) return error_;
  const uint8_t* p = in.data();
  Status s = run(p, in.data() + in.size(), on_message);
  bytes_read_ += static_cast<uint64_t>(p - in.data());
  if (!s.ok()) error_ = s;
  return s;
}

Status ChunkReader::run(const uint8_t*& p, const uint8_t* end, const Handler& on_message) {
  while (p != end) {
    if (chunk_left_ > 0) {
      read_body(p, end);
      if (chunk_left_ > 0) break;  // input ran out mid-chunk; the bytes so far are already appended
      ChunkStream& st = streams_[cur_];
      if (st.payload.size() == st.length) {
        Status s = deliver(st, on_message);
        if (!s.ok()) return s;
      }
      continue;
    }
    std::array<uint8_t, 4> replay;
    size_t replay_len = 0;
    Status s = read_header(p, end, on_message, replay, replay_len);
    if (!s.ok()) return s;
    if (replay_len > 0) {
      // Bytes taken while testing for a repeated extended timestamp turned out to be data. They may
      // run past this chunk's body into the next header, so they go through the whole parser again.
      const uint8_t* r = replay.data();
      s = run(r, r + replay_len, on_message);
      if (!s.ok()) return s;
    }
  }
  return {};
}

bool ChunkReader::fill(size_t n, const uint8_t*& p, const uint8_t* end) noexcept {
  if (hdr_len_ < n) {
    const size_t take = std::min(n - hdr_len_, static_cast<size_t>(end - p));
    std::memcpy(hdr_.data() + hdr_len_, p, take);
    hdr_len_ += take;
    p += take;
  }
  return hdr_len_ >= n;
}

ChunkReader::ChunkStream* ChunkReader::find(uint32_t csid) noexcept {
  if (csid < slot_.size()) return slot_[csid] ? &streams_[slot_[csid] - 1] : nullptr;
  for (ChunkStream& st : streams_)
    if (st.csid == csid) return &st;
  return nullptr;
}

// Parses one chunk header, possibly across feed() calls: header bytes are collected in hdr_ and the
// parse restarts from hdr_[0] each time, which is cheap and keeps no half-decoded state. Returns with
// hdr_len_ > 0 when the input ran out, or with chunk_left_ set (or a zero-length message delivered)
// when the header is complete.
Status ChunkReader::read_header(const uint8_t*& p, const uint8_t* end, const Handler& on_message,
                                std::array<uint8_t, 4>& replay, size_t& replay_len) {
  // 5.3.1.1 Basic Header. The low 6 bits are the csid, or an escape to a longer form:
  //   fmt|csid 2..63     fmt|0  csid-64          fmt|1  (csid-64)&0xFF  (csid-64)>>8
  //   +--+------+        +--+------+--------+    +--+------+--------+--------+
  //   |2b|  6b  |        |2b|  0   | 1 byte |    |2b|  1   | low    | high   |
  //   +--+------+        +--+------+--------+    +--+------+--------+--------+
  if (!fill(1, p, end)) return {};
  const uint8_t fmt = hdr_[0] >> 6;
  const uint8_t low6 = hdr_[0] & 0x3F;
  const size_t bh = low6 == 0 ? 2 : low6 == 1 ? 3 : 1;
  if (!fill(bh, p, end)) return {};
  const uint32_t csid = bh == 1 ? low6 : bh == 2 ? 64 + hdr_[1] : 64 + hdr_[1] + hdr_[2] * 256u;

  // Fail as soon as the basic header shows the chunk cannot be valid, before waiting for more bytes.
  ChunkStream* st = find(csid);
  if (st == nullptr) {
    if (fmt != 0)
      return fail("fmt " + std::to_string(fmt) + " chunk on csid " + std::to_string(csid) +
                  " with no previous header");
    if (streams_.size() >= limits_.max_chunk_streams)
      return fail("too many chunk streams (limit max_chunk_streams " +
                  std::to_string(limits_.max_chunk_streams) + ") at csid " + std::to_string(csid));
  } else if (st->in_progress && fmt != 3) {
    // Only fmt 3 may continue a message. Letting fmt 0/1 change the length of a half-received message
    // is the CVE-2016-10191 heap overflow in ffmpeg; fmt 2 mid-message also means the peer's framing
    // and ours disagree, so it is refused the same way.
    return fail("new message header mid-message on csid " + std::to_string(csid));
  }

  // 5.3.1.2 Message Header, after the basic header:
  //   fmt 0: | timestamp u24 | length u24 | type u8 | stream id u32 LE |   11 bytes
  //   fmt 1: | ts delta u24  | length u24 | type u8 |                      7 bytes
  //   fmt 2: | ts delta u24  |                                             3 bytes
  //   fmt 3: (nothing: everything comes from the previous header on this csid)
  const size_t mh = kMessageHeaderSize[fmt];
  if (!fill(bh + mh, p, end)) return {};
  const uint8_t* h = hdr_.data() + bh;
  uint32_t field = 0;
  uint32_t length = 0;
  bool extended = false;
  if (fmt < 3) {
    field = be24(h);
    extended = field == kExtendedMarker;
  }
  if (fmt <= 1) {
    length = be24(h + 3);
    // Checked before anything is allocated: the length is the peer's word, not bytes it has sent.
    if (length > limits_.max_message_size)
      return fail("message length " + std::to_string(length) + " exceeds limit max_message_size " +
                  std::to_string(limits_.max_message_size) + " on csid " + std::to_string(csid));
  }

  // 5.3.1.3 Extended Timestamp: a u32 after the message header when the 24-bit field is 0xFFFFFF; it
  // replaces the field (absolute for fmt 0, delta for fmt 1/2).
  if (fmt < 3) {
    if (extended) {
      if (!fill(bh + mh + 4, p, end)) return {};
      field = be32(h + mh);
    }
  } else if (st->extended && !st->in_progress) {
    if (!fill(bh + 4, p, end)) return {};  // a fmt 3 chunk starting a message always carries it
    field = be32(h);
  } else if (st->extended) {
    // A continuation: consume the 4 bytes only if they repeat the stored value. Matching bytes are kept
    // in hdr_ so the comparison resumes across feed() calls; on a mismatch they are known to be the
    // first bytes of the stored value and are replayed as data.
    const uint8_t want[4] = {uint8_t(st->delta >> 24), uint8_t(st->delta >> 16), uint8_t(st->delta >> 8),
                             uint8_t(st->delta)};
    size_t k = hdr_len_ - bh;
    while (k < 4 && p != end && *p == want[k]) {
      hdr_[hdr_len_++] = *p++;
      ++k;
    }
    if (k < 4 && p == end) return {};
    if (k < 4) {
      std::memcpy(replay.data(), want, k);
      replay_len = k;
    }
  }
  hdr_len_ = 0;

  switch (fmt) {
    case 0:
      if (st == nullptr) {
        streams_.emplace_back();
        st = &streams_.back();
        st->csid = csid;
        if (csid < slot_.size()) slot_[csid] = static_cast<uint32_t>(streams_.size());
      }
      st->timestamp = field;
      st->stream_id = le32(h + 7);
      [[fallthrough]];
    case 1:
      st->length = length;
      st->type = h[6];
      [[fallthrough]];
    case 2:
      if (fmt != 0) st->timestamp += field;  // RtmpMs arithmetic wraps mod 2^32, as RTMP time does
      st->delta = field;
      st->extended = extended;
      break;
    default:
      if (!st->in_progress) {
        if (st->extended) st->delta = field;
        st->timestamp += st->delta;
      }
      break;
  }

  if (!st->in_progress) {
    st->in_progress = true;
    if (st->length == 0) return deliver(*st, on_message);  // nothing follows the header
  }
  cur_ = static_cast<size_t>(st - streams_.data());
  chunk_left_ = std::min<uint32_t>(chunk_size_, st->length - static_cast<uint32_t>(st->payload.size()));
  return {};
}

// Appends as much of the current chunk's body as has arrived, so a large chunk never waits whole in a
// second buffer: the input is copied once, into the message.
void ChunkReader::read_body(const uint8_t*& p, const uint8_t* end) {
  ChunkStream& st = streams_[cur_];
  const size_t in_hand = static_cast<size_t>(end - p);
  const size_t n = std::min<size_t>(chunk_left_, in_hand);
  const size_t need = st.payload.size() + n;
  if (need > st.payload.capacity()) {
    // Geometric growth keeps appends amortised; capping at the announced length and at what is in hand
    // means one allocation when the whole message has arrived, and a peer that only sends headers
    // cannot make us reserve memory for data it never sends.
    const size_t cap = std::max({need, st.payload.capacity() * 2, st.payload.size() + in_hand});
    st.payload.reserve(std::min<size_t>(cap, st.length));
  }
  st.payload.insert(st.payload.end(), p, p + n);
  p += n;
  chunk_left_ -= static_cast<uint32_t>(n);
  buffered_payload_ += n;
}

Status ChunkReader::deliver(ChunkStream& st, const Handler& on_message) {
  RtmpMessage m;
  m.csid = st.csid;
  m.type = st.type;
  m.stream_id = st.stream_id;
  m.timestamp = st.timestamp;
  m.payload = std::move(st.payload);
  st.payload = {};
  st.in_progress = false;
  buffered_payload_ -= m.payload.size();
  if (m.type == msg_type::set_chunk_size || m.type == msg_type::abort) {
    Status s = apply_control(m);
    if (!s.ok()) return s;
  }
  return on_message(std::move(m));
}

Status ChunkReader::apply_control(const RtmpMessage& m) {
  // 5.4.1 Set Chunk Size and 5.4.2 Abort: one u32 each.
  //   Set Chunk Size: |0| chunk size (31 bits) |       Abort: | chunk stream id u32 |
  if (m.payload.size() < 4)
    return fail("control message type " + std::to_string(m.type) + " payload is " +
                std::to_string(m.payload.size()) + " bytes, needs 4");
  const uint32_t v = be32(m.payload.data());
  if (m.type == msg_type::set_chunk_size) {
    if (v & 0x80000000u) return fail("set chunk size " + std::to_string(v) + " has the top bit set");
    if (v == 0 || v > limits_.max_chunk_size)
      return fail("set chunk size " + std::to_string(v) + " outside 1.." +
                  std::to_string(limits_.max_chunk_size) + " (limit max_chunk_size)");
    chunk_size_ = v;
    return {};
  }
  if (ChunkStream* st = find(v); st != nullptr && st->in_progress) {
    buffered_payload_ -= st->payload.size();
    std::vector<uint8_t>().swap(st->payload);  // the discarded message may have been large: free it
    st->in_progress = false;
  }
  return {};
}

}  // namespace livegate
