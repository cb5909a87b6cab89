// The RTMP handshake (C0-C2 / S0-S2) as sans-IO state machines: the server side, and a client side.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/byte_reader.h"
#include "common/result.h"

namespace livegate {

using Sha256Digest = std::array<uint8_t, 32>;

// HMAC-SHA256 via libavutil. Public so a known-answer test can pin it: the FP9 digests are only
// checked against peers built from the same code otherwise, which would hide a wrong primitive.
Result<Sha256Digest> hmac_sha256(Bytes key, Bytes data);

// Server side: feed bytes from the client, get bytes to send back.
class Handshake {
 public:
  enum class State { waiting_c0c1, waiting_c2, done, failed };

  explicit Handshake(uint32_t server_epoch_ms = 0);  // epoch written into S1's time field

  // Consumes bytes of the handshake from `in` and appends whatever must be sent to `out`.
  // Returns how many bytes of `in` it consumed; bytes after the handshake (the chunk stream,
  // clients often send it in the same TCP segment as C2) are left for the caller. An error
  // (e.g. "rtmp handshake: unsupported version 6") puts it in State::failed.
  Result<size_t> feed(Bytes in, std::vector<uint8_t>& out);

  State state() const noexcept { return state_; }
  bool done() const noexcept { return state_ == State::done; }
  // Client C1 carried a valid FP9 digest and we answered in kind.
  bool used_digest() const noexcept { return used_digest_; }

 private:
  Result<size_t> fail(std::string reason);
  void answer(std::vector<uint8_t>& out);

  State state_ = State::waiting_c0c1;
  uint32_t epoch_;
  std::array<uint8_t, 1537> c0c1_{};
  size_t have_ = 0;
  size_t c2_left_ = 1536;
  bool used_digest_ = false;
  std::string reason_;
};

// Client side, for tests and the load generator.
class ClientHandshake {
 public:
  explicit ClientHandshake(bool digest);  // simple or FP9 digest C1

  std::vector<uint8_t> start();  // C0+C1 (1537 bytes)

  // Consumes S0S1S2, appends C2 (as soon as S1 is in); done after S2. Fails on a bad S0 version
  // or an S2 that neither echoes C1 nor carries the server's FP9 answer to our digest.
  Result<size_t> feed(Bytes in, std::vector<uint8_t>& out);

  bool done() const noexcept { return state_ == State::done; }
  bool server_used_digest() const noexcept { return server_digest_; }  // S1 had a valid server digest

 private:
  enum class State { idle, waiting_s0s1, waiting_s2, done, failed };

  Result<size_t> fail(std::string reason);
  void answer(std::vector<uint8_t>& out);
  bool s2_valid() const;

  bool digest_;
  State state_ = State::idle;
  std::vector<uint8_t> c1_;
  std::optional<Sha256Digest> c1_digest_;
  std::array<uint8_t, 1537> buf_{};
  size_t have_ = 0;
  bool server_digest_ = false;
  std::string reason_;
};

}  // namespace livegate
