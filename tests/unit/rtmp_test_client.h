// A scripted RTMP publisher for unit tests: builds the bytes a real client sends and reads the replies.
#pragma once

#include <string>
#include <vector>

#include "ingest/amf0.h"
#include "ingest/chunk_reader.h"
#include "ingest/chunk_writer.h"
#include "ingest/handshake.h"
#include "ingest/rtmp_message.h"

namespace livegate::testing {

class RtmpTestClient {
 public:
  explicit RtmpTestClient(bool digest = false) : hs_(digest) {}

  // The bytes to send first (C0+C1).
  std::vector<uint8_t> start() { return hs_.start(); }

  // Feeds what the server sent; returns bytes the client must send in answer (C2 during the handshake).
  std::vector<uint8_t> receive(std::vector<uint8_t>& from_server) {
    std::vector<uint8_t> reply;
    Bytes in(from_server);
    if (!hs_.done()) {
      auto used = hs_.feed(in, reply);
      if (!used) {
        error = used.error();
        return reply;
      }
      in = in.subspan(*used);
    }
    Status s = reader_.feed(in, [this](RtmpMessage&& m) {
      if (m.type == msg_type::command_amf0) {
        auto values = amf0::decode_all(m.payload);
        if (values && !values->empty()) commands.push_back(*values);
      }
      messages.push_back(std::move(m));
      return Status{};
    });
    if (!s) error = s.error();
    from_server.clear();
    return reply;
  }

  std::vector<uint8_t> command(uint32_t stream_id, std::initializer_list<amf0::Value> values) {
    std::vector<uint8_t> out;
    writer_.write(3, msg_type::command_amf0, stream_id, 0, amf0::encode_all(values), out);
    return out;
  }
  std::vector<uint8_t> message(uint32_t csid, uint8_t type, uint32_t stream_id, RtmpMs ts,
                               const std::vector<uint8_t>& payload) {
    std::vector<uint8_t> out;
    writer_.write(csid, type, stream_id, ts, payload, out);
    return out;
  }

  // The code of the last onStatus / _error info object received, or "".
  std::string last_code() const {
    for (auto it = commands.rbegin(); it != commands.rend(); ++it) {
      for (const amf0::Value& v : *it) {
        if (auto code = v.get_string("code")) return std::string(*code);
      }
    }
    return {};
  }
  bool received_command(const std::string& name) const {
    for (const auto& c : commands) {
      if (c[0].is_string() && c[0].string == name) return true;
    }
    return false;
  }

  std::vector<RtmpMessage> messages;
  std::vector<std::vector<amf0::Value>> commands;
  std::string error;

 private:
  ClientHandshake hs_;
  ChunkReader reader_;
  ChunkWriter writer_;
};

}  // namespace livegate::testing
