// Fuzz target: the server-side RTMP Handshake fed a client's bytes in one to three pieces.
//
// Input: u8 piece count (1 + n % 3), u16 and u16 split points (modulo the body size + 1), then the
// bytes a client sends (C0 C1 C2 and whatever follows). The same body is also given to a
// ClientHandshake as S0 S1 S2, since both sides parse the same packet layout.
#include <algorithm>
#include <vector>

#include "fuzz_input.h"
#include "ingest/handshake.h"

using namespace livegate;

namespace {

constexpr size_t kC0C1 = 1 + 1536;
constexpr size_t kAll = kC0C1 + 1536;

std::vector<Bytes> split(Bytes body, unsigned pieces, size_t a, size_t b) {
  std::vector<size_t> cuts;
  if (pieces >= 2) cuts.push_back(a % (body.size() + 1));
  if (pieces >= 3) cuts.push_back(b % (body.size() + 1));
  std::sort(cuts.begin(), cuts.end());
  std::vector<Bytes> out;
  size_t from = 0;
  for (size_t c : cuts) {
    out.push_back(body.subspan(from, c - from));
    from = c;
  }
  out.push_back(body.subspan(from));
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(data, size);
  const unsigned pieces = 1 + in.u8() % 3;
  const size_t a = in.u16();
  const size_t b = in.u16();
  const Bytes body = in.rest();

  Handshake server(0x01020304);
  std::vector<uint8_t> out;
  size_t consumed = 0;
  for (Bytes piece : split(body, pieces, a, b)) {
    const Handshake::State before = server.state();
    auto r = server.feed(piece, out);
    if (!r) {
      FUZZ_CHECK(server.state() == Handshake::State::failed);
      FUZZ_CHECK(!r.error().empty());
      // Failure is final and says the same thing again.
      auto again = server.feed(piece, out);
      FUZZ_CHECK(!again && again.error() == r.error());
      break;
    }
    FUZZ_CHECK(*r <= piece.size());
    if (before == Handshake::State::done) FUZZ_CHECK(*r == 0);
    // Until it is done, the handshake buffers everything it is given.
    if (!server.done()) FUZZ_CHECK(*r == piece.size());
    consumed += *r;
  }
  switch (server.state()) {
    case Handshake::State::waiting_c0c1:
      FUZZ_CHECK(out.empty());
      FUZZ_CHECK(consumed == body.size() && consumed < kC0C1);
      break;
    case Handshake::State::waiting_c2:
      FUZZ_CHECK(out.size() == kAll && out[0] == 3);  // S0 S1 S2 as soon as C1 is in
      FUZZ_CHECK(consumed == body.size() && consumed >= kC0C1 && consumed < kAll);
      break;
    case Handshake::State::done:
      FUZZ_CHECK(out.size() == kAll && out[0] == 3);
      FUZZ_CHECK(consumed == kAll);  // the rest belongs to the chunk stream
      break;
    case Handshake::State::failed: FUZZ_CHECK(out.empty() || out.size() == kAll); break;
  }

  ClientHandshake client(pieces % 2 == 0);
  const std::vector<uint8_t> c0c1 = client.start();
  FUZZ_CHECK(c0c1.size() == kC0C1 && c0c1[0] == 3);
  std::vector<uint8_t> c2;
  for (Bytes piece : split(body, pieces, a, b)) {
    auto r = client.feed(piece, c2);
    if (!r) break;
    FUZZ_CHECK(*r <= piece.size());
  }
  FUZZ_CHECK(c2.empty() || c2.size() == 1536);
  return 0;
}
