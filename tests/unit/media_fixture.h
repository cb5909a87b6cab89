// Media for the muxer tests, made at test time: H.264 from libx264 and AAC/MP3 from libavcodec's
// encoders, shaped as the FLV parser hands them over; and the way back: demuxing a muxer's bytes from
// memory and decoding them, with FFmpeg's error lines counted.
#pragma once

#include <doctest/doctest.h>

#include <cstdarg>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/log.h>
}

#include "common/media.h"
#include "segmenter/ff_ptr.h"

namespace livegate::testing {

using Bytes = std::vector<uint8_t>;

struct CodecContextDeleter {
  void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
struct FrameDeleter {
  void operator()(AVFrame* f) const { av_frame_free(&f); }
};
struct CodecParametersDeleter {
  void operator()(AVCodecParameters* p) const { avcodec_parameters_free(&p); }
};
struct InputContextDeleter {
  void operator()(AVFormatContext* c) const { avformat_close_input(&c); }
};
using CodecContextPtr = std::unique_ptr<AVCodecContext, CodecContextDeleter>;
using FramePtr = std::unique_ptr<AVFrame, FrameDeleter>;
using CodecParametersPtr = std::unique_ptr<AVCodecParameters, CodecParametersDeleter>;
using InputContextPtr = std::unique_ptr<AVFormatContext, InputContextDeleter>;

// While alive, FFmpeg's log goes through here: errors are counted (a demuxer or decoder complaint is a
// test failure) and printed, the chatter below `level` (error, unless a test also counts warnings) is
// dropped.
class FfmpegErrors {
 public:
  // `report`: print each error as a test message (off where an error is what the test expects).
  explicit FfmpegErrors(bool report = true, int level = AV_LOG_ERROR) {
    count_ = 0;
    report_ = report;
    level_ = level;
    av_log_set_callback(&FfmpegErrors::callback);
  }
  ~FfmpegErrors() { av_log_set_callback(&av_log_default_callback); }
  FfmpegErrors(const FfmpegErrors&) = delete;
  FfmpegErrors& operator=(const FfmpegErrors&) = delete;
  int count() const { return count_; }
  // Stops or resumes printing (not counting): around a step whose complaints are expected.
  void report(bool on) { report_ = on; }

 private:
  static void callback(void* avcl, int level, const char* fmt, va_list vl) {
    if (level > level_) return;
    ++count_;
    char line[1024];
    int print_prefix = 1;
    av_log_format_line(avcl, level, fmt, vl, line, sizeof line, &print_prefix);
    if (report_) MESSAGE("FFmpeg error: " << line);
  }
  static inline int count_ = 0;
  static inline bool report_ = true;
  static inline int level_ = AV_LOG_ERROR;
};

AccessUnit make_unit(Track track, Ticks90k dts, Ticks90k pts, bool key, Bytes bytes);

// A cut rule for the muxer tests: before every video keyframe (never before the first unit).
bool before_keyframe(const AccessUnit& u, size_t index);

// NAL units of an Annex B byte stream, start codes and trailing zero bytes removed.
std::vector<Bytes> split_annexb(const uint8_t* data, size_t size);

// FLV/avcC framing: each NAL unit behind its big-endian length in `length_size` bytes.
Bytes length_prefixed(const std::vector<Bytes>& nals, uint8_t length_size);

struct VideoInput {
  VideoConfig config;
  std::vector<AccessUnit> units;  // decode order, timestamps not yet moved to >= 0
};

struct AudioInput {
  AudioConfig config;
  std::vector<AccessUnit> units;  // timestamps not yet moved to >= 0
};

// `frames` frames of a moving synthetic picture from libx264: 320x240 at 30 fps, GOP 30, 2 B-frames,
// reshaped the way the FLV parser hands them over (avcC configuration, length-prefixed NAL units).
// Nothing when this FFmpeg has no libx264.
std::optional<VideoInput> encode_h264(int frames, uint8_t nal_length_size = 4);

// About `seconds` of a stereo 440 Hz tone from a libavcodec audio encoder ("aac" or "libmp3lame").
std::optional<AudioInput> encode_audio(const char* encoder, int sample_rate, double seconds);

// The tracks merged in DTS order (video first on a tie), all moved so the earliest DTS is `first_dts`:
// what the Segmenter hands the muxer.
std::vector<AccessUnit> interleave(std::vector<AccessUnit> video, const std::vector<AccessUnit>& audio,
                                   Ticks90k first_dts);

struct DemuxedStream {
  AVMediaType type = AVMEDIA_TYPE_UNKNOWN;
  AVCodecID codec = AV_CODEC_ID_NONE;
  int width = 0, height = 0, sample_rate = 0, channels = 0;
  CodecParametersPtr par;
};

struct DemuxedPacket {
  int stream = -1;
  int64_t pts = 0, dts = 0;
  bool key = false;
  Bytes data;
};

struct Demuxed {
  std::vector<DemuxedStream> streams;
  std::vector<DemuxedPacket> packets;

  int find(AVMediaType type) const {
    for (size_t i = 0; i < streams.size(); ++i) {
      if (streams[i].type == type) return static_cast<int>(i);
    }
    return -1;
  }
  std::vector<const DemuxedPacket*> of(int stream) const {
    std::vector<const DemuxedPacket*> out;
    for (const DemuxedPacket& p : packets) {
      if (p.stream == stream) out.push_back(&p);
    }
    return out;
  }
};

struct Decoded {
  int frames = 0;
  int errors = 0;
  int width = 0, height = 0;
};

// Demuxes bytes in `format` ("mpegts", "mp4") from memory, as a player that starts at them would: one
// TS segment on its own, or a CMAF init segment followed by fragments.
Demuxed demux(const Bytes& bytes, const char* format);

// Decodes one stream with a fresh decoder. Without extradata whatever the stream needs (SPS/PPS, ADTS)
// must be in band, as in a TS segment; MP4 carries it in the init segment.
Decoded decode(const Demuxed& d, int stream, bool with_extradata = false);

}  // namespace livegate::testing
