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
  // `wrap_tolerance_ms`: rtmp.timestamp_wrap_tolerance_ms (TimestampExtender).
  MediaDemuxer(StreamName name, StreamSink& sink, uint32_t wrap_tolerance_ms = 10000)
      : name_(std::move(name)), sink_(sink), video_clock_(wrap_tolerance_ms), audio_clock_(wrap_tolerance_ms) {}

  // `ts` is the message's RTMP timestamp. Frames that cannot be used (no configuration yet, a codec
  // we do not carry, malformed NAL framing) are dropped and counted; a warning names the first one
  // of each kind. Only a malformed tag header is an error.
  Status on_video(RtmpMs ts, Bytes payload);
  Status on_audio(RtmpMs ts, Bytes payload);

  uint64_t dropped_frames() const noexcept { return dropped_; }

 private:
  void drop(const std::string& why);
  MsTime extend(TimestampExtender& clock, RtmpMs ts, const char* track);

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
