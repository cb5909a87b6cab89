// TsMuxer: Annex B / ADTS framing of our access units and libavformat's "mpegts" writing into memory.
#include "segmenter/ts_muxer.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/channel_layout.h>
#include <libavutil/error.h>
#include <libavutil/opt.h>
}

#include "common/log.h"
#include "segmenter/ff_util.h"

namespace livegate {

namespace {

// ITU-T H.264 7.3.2.4: nal_unit_type 9, primary_pic_type 7 ("any slice type") plus the stop bit.
// Apple's HLS authoring spec wants one at the start of every video access unit.
constexpr uint8_t kAud[] = {0, 0, 0, 1, 9, 0xF0};
constexpr uint8_t kStartCode[] = {0, 0, 0, 1};
constexpr uint8_t kNalAud = 9;
constexpr size_t kAdtsHeaderSize = 7;
constexpr size_t kAdtsMaxFrame = 0x1FFF;  // 13-bit aac_frame_length
constexpr size_t kTsPacketSize = 188;
constexpr unsigned kSdtPid = 0x11;
// Big enough that a segment's TS packets reach out_ in a few large appends, not one per packet, and a
// whole number of TS packets: mpegtsenc writes 188 bytes at a time, so every callback then gets whole
// packets and on_write can look at their headers.
constexpr int kIoBufferSize = static_cast<int>(kTsPacketSize) * 348;  // 65,424 bytes

Error fail(std::string_view what) { return Error{"ts muxer: " + std::string(what)}; }
Error fail(std::string_view what, int err) {
  return wrap("ts muxer: " + std::string(what), av_error_text(err));
}

// Reads the few AudioSpecificConfig fields an ADTS header repeats; bounds-checked, sticky failure.
class BitReader {
 public:
  explicit BitReader(const std::vector<uint8_t>& bytes) : bytes_(bytes) {}
  uint32_t read(int bits) {
    uint32_t v = 0;
    for (int i = 0; i < bits; ++i) {
      if (pos_ >= bytes_.size() * 8) {
        bad_ = true;
        return 0;
      }
      v = (v << 1) | ((bytes_[pos_ / 8] >> (7 - pos_ % 8)) & 1u);
      ++pos_;
    }
    return v;
  }
  bool bad() const { return bad_; }

 private:
  const std::vector<uint8_t>& bytes_;
  size_t pos_ = 0;
  bool bad_ = false;
};

struct AdtsFields {
  uint8_t profile = 0;  // audio object type - 1
  uint8_t freq_index = 0;
  uint8_t channel_config = 0;
};

// ISO 14496-3 1.6.2.1 AudioSpecificConfig, as far as ADTS (1.A.2.2.1) needs it. Explicit SBR/PS
// signalling (object type 5/29) is written as its core object type and rate: decoders find SBR/PS
// implicitly, as FFmpeg's own ADTS writer does. Nothing when ADTS cannot carry the configuration
// simply (escape rate, channel configuration 0 with a PCE, object types above 4): then libavformat's
// ADTS writer handles it or refuses it.
std::optional<AdtsFields> adts_fields(const std::vector<uint8_t>& asc) {
  BitReader br(asc);
  auto object_type = [&br] {
    uint32_t t = br.read(5);
    return t == 31 ? 32 + br.read(6) : t;
  };
  auto freq_index = [&br] {
    uint32_t i = br.read(4);
    if (i == 15) br.read(24);
    return i;
  };
  uint32_t aot = object_type();
  const uint32_t freq = freq_index();
  const uint32_t channels = br.read(4);
  if (aot == 5 || aot == 29) {
    freq_index();  // extension (output) rate; ADTS carries the core rate
    aot = object_type();
  }
  if (br.bad() || aot < 1 || aot > 4 || freq > 12 || channels < 1 || channels > 7) return std::nullopt;
  return AdtsFields{static_cast<uint8_t>(aot - 1), static_cast<uint8_t>(freq),
                    static_cast<uint8_t>(channels)};
}

size_t read_length(const uint8_t* p, uint8_t size) {
  size_t v = 0;
  for (uint8_t i = 0; i < size; ++i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

Result<std::unique_ptr<TsMuxer>> TsMuxer::create(const std::optional<VideoConfig>& video,
                                                 const std::optional<AudioConfig>& audio) {
  // (Without the AudioSpecificConfig libavformat cannot turn raw AAC into ADTS and refuses it.)
  if (const char* problem = track_problem(video, audio)) return fail(std::string("create: ") + problem);
  quiet_ffmpeg_log();
  if (video) {
    if (video->sps.empty() || video->pps.empty()) return fail("create: H.264 configuration without SPS/PPS");
    if (video->nal_length_size < 1 || video->nal_length_size > 4) return fail("create: bad NAL length size");
  }

  auto m = std::make_unique<TsMuxer>(Key{});
  if (Status s =
          open_memory_output("mpegts", kIoBufferSize, m.get(), &TsMuxer::on_write, m->ctx_, m->io_, m->pkt_);
      !s)
    return wrap("ts muxer: create", s.error());
  AVFormatContext* ctx = m->ctx_.get();
  int ret = 0;

  if (video) {
    // AUD first, then every SPS and PPS: the bytes put in front of each keyframe. Without the AUD they
    // are also the extradata, in Annex B since packets reach libavformat in Annex B.
    std::vector<uint8_t>& prefix = m->key_prefix_;
    prefix.assign(std::begin(kAud), std::end(kAud));
    for (const auto* list : {&video->sps, &video->pps}) {
      for (const auto& nal : *list) {
        prefix.insert(prefix.end(), std::begin(kStartCode), std::end(kStartCode));
        prefix.insert(prefix.end(), nal.begin(), nal.end());
      }
    }
    AVStream* st = avformat_new_stream(ctx, nullptr);
    if (st == nullptr) return fail("create: add video stream", AVERROR(ENOMEM));
    st->time_base = AVRational{1, 90000};
    st->codecpar->codec_type = AVMEDIA_TYPE_VIDEO;
    st->codecpar->codec_id = AV_CODEC_ID_H264;
    st->codecpar->width = static_cast<int>(video->width);
    st->codecpar->height = static_cast<int>(video->height);
    ret = set_extradata(st->codecpar, prefix.data() + sizeof kAud, prefix.size() - sizeof kAud);
    if (ret < 0) return fail("create: video extradata", ret);
    m->video_index_ = st->index;
    m->nal_length_size_ = video->nal_length_size;
  }

  if (audio) {
    AVStream* st = avformat_new_stream(ctx, nullptr);
    if (st == nullptr) return fail("create: add audio stream", AVERROR(ENOMEM));
    st->time_base = AVRational{1, 90000};
    st->codecpar->codec_type = AVMEDIA_TYPE_AUDIO;
    st->codecpar->codec_id = audio->codec == AudioCodec::aac ? AV_CODEC_ID_AAC : AV_CODEC_ID_MP3;
    st->codecpar->sample_rate = static_cast<int>(audio->sample_rate);
    if (audio->channels > 0) av_channel_layout_default(&st->codecpar->ch_layout, audio->channels);
    if (audio->codec == AudioCodec::aac) {
      ret = set_extradata(st->codecpar, audio->record.data(), audio->record.size());
      if (ret < 0) return fail("create: audio extradata", ret);
      // libavformat 5.1 does add ADTS to raw AAC itself, through a nested "adts" muxer writing each
      // frame into a freshly allocated dynamic buffer. Writing the 7 bytes here saves that allocation
      // and copy per frame; libavformat sees the ADTS sync word and passes the frame through.
      if (auto f = adts_fields(audio->record)) {
        m->adts_by_hand_ = true;
        m->adts_fixed_[0] = 0xFF;
        m->adts_fixed_[1] = 0xF1;  // sync, MPEG-4, layer 0, no CRC
        m->adts_fixed_[2] =
            static_cast<uint8_t>(f->profile << 6 | f->freq_index << 2 | f->channel_config >> 2);
        m->adts_fixed_[3] = static_cast<uint8_t>((f->channel_config & 3) << 6);
      }
    }
    m->audio_index_ = st->index;
    m->audio_codec_ = audio->codec;
  }

  // Our timestamps go out unchanged: no muxing delay added to PTS/DTS (the ffmpeg CLI's default
  // muxdelay is what shifts its TS output), no shift of the first timestamp.
  ctx->max_delay = 0;
  ctx->avoid_negative_ts = AVFMT_AVOID_NEG_TS_DISABLED;
  // cut() flushes the IO buffer itself; flushing after every packet would only mean smaller appends.
  ctx->flush_packets = 0;
  // Packets arrive in Annex B with AUD and SPS/PPS already: a bitstream filter libavformat would add
  // silently could only mean a bug here, better seen as an error.
  ctx->flags &= ~AVFMT_FLAG_AUTO_BSF;
  ret = av_opt_set_int(ctx->priv_data, "mpegts_copyts", 1, 0);
  if (ret < 0) return fail("create: set mpegts_copyts", ret);
  ret = m->arm_headers();
  if (ret < 0) return fail("create: set mpegts_flags", ret);
  // A new muxer (a republish, new codecs, a discontinuity) restarts every PID's continuity counter. Its
  // first packets say so (the adaptation field's discontinuity_indicator): otherwise a demuxer reading
  // on from the previous segment sees counters skip and drops the frame it was still assembling (FFmpeg
  // flags the last frames before the join corrupt).
  ret = av_opt_set(ctx->priv_data, "mpegts_flags", "+initial_discontinuity", 0);
  if (ret < 0) return fail("create: set mpegts_flags", ret);
  ret = avformat_write_header(ctx, nullptr);
  if (ret < 0) return fail("create: write header", ret);
  return m;
}

TsMuxer::~TsMuxer() = default;

int TsMuxer::arm_headers() noexcept {
  // mpegtsenc clears resend_headers once it has written PAT/PMT, so it is set again for every segment.
  return av_opt_set(ctx_->priv_data, "mpegts_flags", "+resend_headers", 0);
}

int TsMuxer::on_write(void* opaque, uint8_t* buf, int size) noexcept {
  auto* self = static_cast<TsMuxer*>(opaque);
  const auto n = static_cast<size_t>(size);
  self->flushed_ += n;
  try {
    if (n % kTsPacketSize != 0) {  // cannot happen (see kIoBufferSize); keep the bytes rather than guess
      self->out_.append(buf, n);
      return size;
    }
    // Drop the DVB SDT (PID 0x11): mpegtsenc writes it before PAT/PMT at every resend_headers, and a
    // segment must start with PAT/PMT (RFC 8216 3.2); HLS players have no use for it. Dropping all
    // of them, not only the first, keeps the PID absent rather than leaving continuity counter gaps.
    size_t run = 0;  // start of the current run of kept packets
    for (size_t at = 0; at < n; at += kTsPacketSize) {
      const unsigned pid = (buf[at + 1] & 0x1Fu) << 8 | buf[at + 2];
      if (pid != kSdtPid) continue;
      self->out_.append(buf + run, at - run);
      run = at + kTsPacketSize;
    }
    self->out_.append(buf + run, n - run);
  } catch (...) {  // no exception may unwind through libavformat
    return AVERROR(ENOMEM);
  }
  return size;
}

Status TsMuxer::write(const AccessUnit& unit) {
  if (const char* problem = unit_problem(unit)) return fail(std::string("write: ") + problem);
  if (unit.track == Track::video) {
    if (video_index_ < 0) return fail("write: video frame but no video track");
    return write_video(unit);
  }
  if (audio_index_ < 0) return fail("write: audio frame but no audio track");
  return write_audio(unit);
}

Status TsMuxer::write_video(const AccessUnit& unit) {
  const std::vector<uint8_t>& in = *unit.data;
  const uint8_t n = nal_length_size_;
  // First pass: check every length and size the Annex B output, so the frame is copied once.
  size_t out_size = unit.keyframe ? key_prefix_.size() : sizeof kAud;
  size_t nals = 0;
  for (size_t pos = 0; pos < in.size();) {
    if (in.size() - pos < n) return fail("write video frame: truncated NAL unit length");
    const size_t len = read_length(in.data() + pos, n);
    pos += n;
    if (len > in.size() - pos) return fail("write video frame: NAL unit runs past the end of the frame");
    // The frame's own AUD is dropped: ours opens the access unit, and a second one would open another.
    if (len > 0 && (in[pos] & 0x1F) != kNalAud) {
      out_size += sizeof kStartCode + len;
      ++nals;
    }
    pos += len;
  }
  if (nals == 0) return fail("write video frame: no NAL units");

  uint8_t* out = reuse_packet_buffer(pkt_.get(), out_size);
  if (out == nullptr) return fail("write video frame: allocate packet", AVERROR(ENOMEM));
  // SPS/PPS in front of every keyframe, by hand, so each segment starts decodable whatever the frame
  // holds: libavformat 5.1 adds AUD and SPS/PPS only to a frame without an AUD, and then into a newly
  // allocated copy of the frame.
  if (unit.keyframe) {
    std::memcpy(out, key_prefix_.data(), key_prefix_.size());
    out += key_prefix_.size();
  } else {
    std::memcpy(out, kAud, sizeof kAud);
    out += sizeof kAud;
  }
  for (size_t pos = 0; pos < in.size();) {
    const size_t len = read_length(in.data() + pos, n);
    pos += n;
    if (len > 0 && (in[pos] & 0x1F) != kNalAud) {
      std::memcpy(out, kStartCode, sizeof kStartCode);
      std::memcpy(out + sizeof kStartCode, in.data() + pos, len);
      out += sizeof kStartCode + len;
    }
    pos += len;
  }
  return send(video_index_, last_video_dts_, unit, "write video frame");
}

Status TsMuxer::write_audio(const AccessUnit& unit) {
  const std::vector<uint8_t>& in = *unit.data;
  // Some encoders put ADTS in FLV anyway; libavformat keys on the same sync word.
  const bool has_adts = in.size() >= 2 && in[0] == 0xFF && (in[1] & 0xF0) == 0xF0;
  if (audio_codec_ == AudioCodec::aac && adts_by_hand_ && !has_adts) {
    // ISO 14496-3 1.A.2.2.1 adts_fixed_header + adts_variable_header, protection_absent = 1:
    //   FF F1 | profile:2 freq:4 private:1 chan:3 | original:1 home:1 copyright:2
    //   | frame_length:13 (header included) | buffer_fullness:11 | raw_data_blocks:2 (= 1 block)
    const size_t length = kAdtsHeaderSize + in.size();
    if (length > kAdtsMaxFrame) return fail("write audio frame: AAC frame too big for ADTS");
    uint8_t* out = reuse_packet_buffer(pkt_.get(), length);
    if (out == nullptr) return fail("write audio frame: allocate packet", AVERROR(ENOMEM));
    out[0] = adts_fixed_[0];
    out[1] = adts_fixed_[1];
    out[2] = adts_fixed_[2];
    out[3] = static_cast<uint8_t>(adts_fixed_[3] | length >> 11);
    out[4] = static_cast<uint8_t>(length >> 3);
    out[5] = static_cast<uint8_t>((length & 7) << 5 | 0x1F);  // buffer fullness 0x7FF: variable rate
    out[6] = 0xFC;
    std::memcpy(out + kAdtsHeaderSize, in.data(), in.size());
  } else {
    uint8_t* out = reuse_packet_buffer(pkt_.get(), in.size());
    if (out == nullptr) return fail("write audio frame: allocate packet", AVERROR(ENOMEM));
    std::memcpy(out, in.data(), in.size());
  }
  return send(audio_index_, last_audio_dts_, unit, "write audio frame");
}

Status TsMuxer::send(int stream_index, Ticks90k& last_dts, const AccessUnit& unit, const char* what) {
  AVPacket* pkt = pkt_.get();
  // libavformat wants strictly increasing DTS per stream; our contract allows equal ones (RTMP time
  // is in whole milliseconds), so an equal DTS moves on by one tick, 11 us.
  const Ticks90k dts = std::max(unit.dts, last_dts + 1);
  pkt->dts = dts;
  pkt->pts = std::max(unit.pts, dts);
  pkt->stream_index = stream_index;
  // Every audio frame is a random access point; for video only keyframes are.
  pkt->flags = (unit.keyframe || stream_index == audio_index_) ? AV_PKT_FLAG_KEY : 0;
  pkt->duration = 0;
  pkt->pos = -1;
  // av_write_frame, not av_interleaved_write_frame: frames already come in DTS order across tracks,
  // and interleaving would hold frames back until every track has one (audio-only gaps, cuts), take
  // a reference per packet, and let frames written before cut() land after it.
  const int ret = av_write_frame(ctx_.get(), pkt);
  if (ret < 0) return fail(what, ret);
  last_dts = dts;
  return {};
}

std::vector<uint8_t> TsMuxer::cut(Ticks90k /*end_dts: TS carries no durations*/) {
  // mpegtsenc holds the last audio frame back to pack it with the next one; a null packet writes out
  // every pending PES. The only failure possible here, out of memory in on_write, stays in the IO
  // context and fails the next write().
  av_write_frame(ctx_.get(), nullptr);
  avio_flush(io_.get());
  // One exact-size copy: no spare capacity is held for the half minute a segment lives.
  std::vector<uint8_t> segment = out_.take();
  arm_headers();  // cannot fail once it succeeded in create(): same option, same value
  return segment;
}

size_t TsMuxer::pending_bytes() const noexcept {
  // In out_ already, plus what still sits in the IO buffer (avio_tell counts bytes written to it).
  return out_.size() + static_cast<size_t>(avio_tell(io_.get()) - static_cast<int64_t>(flushed_));
}

}  // namespace livegate
