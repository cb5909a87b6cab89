// Turns the audio and video messages of one publish into codec configurations and access units.
#pragma once

#include <optional>
#include <string>

#include "common/byte_reader.h"
#include "common/result.h"
#include "common/stream_sink.h"
#include "ingest/timestamp_extender.h"

namespace livegate {

class MediaDemuxer {
 public:
  MediaDemuxer(StreamName name, StreamSink& sink) : name_(std::move(name)), sink_(sink) {}

  // `ts` is the message's RTMP timestamp. Frames that cannot be used (no configuration yet, a codec
  // we do not carry, malformed NAL framing) are dropped and counted; a warning names the first one
  // of each kind. Only a malformed tag header is an error.
  Status on_video(RtmpMs ts, Bytes payload);
  Status on_audio(RtmpMs ts, Bytes payload);

  uint64_t dropped_frames() const noexcept { return dropped_; }

 private:
  void drop(const std::string& why);

  StreamName name_;
  StreamSink& sink_;
  std::optional<VideoConfig> video_;
  std::optional<AudioConfig> audio_;
  TimestampExtender video_clock_;
  TimestampExtender audio_clock_;
  uint64_t dropped_ = 0;
  std::string last_drop_reason_;
};

}  // namespace livegate
