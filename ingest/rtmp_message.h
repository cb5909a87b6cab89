// An RTMP message as the chunk stream layer delivers and accepts it, with the message type ids of RTMP 1.0.
#pragma once

#include <cstdint>
#include <vector>

#include "common/media.h"

namespace livegate {

// Message type ids: 1-6 are protocol control (5.4, 5.4.1-5.4.5 and 6.2 for user control), the rest are
// the RTMP commands and media of section 7.1.
namespace msg_type {
constexpr uint8_t set_chunk_size = 1, abort = 2, ack = 3, user_control = 4, window_ack_size = 5,
                  set_peer_bandwidth = 6, audio = 8, video = 9, data_amf3 = 15, shared_object_amf3 = 16,
                  command_amf3 = 17, data_amf0 = 18, shared_object_amf0 = 19, command_amf0 = 20,
                  aggregate = 22;
}  // namespace msg_type

struct RtmpMessage {
  uint32_t csid = 0;  // chunk stream id it arrived on / goes out on
  uint8_t type = 0;
  uint32_t stream_id = 0;  // message stream id (little-endian on the wire)
  RtmpMs timestamp = 0;    // absolute, 32-bit wrapping (deltas already applied)
  std::vector<uint8_t> payload;
};

}  // namespace livegate
