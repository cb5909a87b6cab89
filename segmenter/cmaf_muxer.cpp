// CmafMuxer: libavformat's "mp4" muxer in fragmented CMAF mode, writing into memory.
#include "segmenter/cmaf_muxer.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/channel_layout.h>
#include <libavutil/dict.h>
#include <libavutil/error.h>
#include <libavutil/mathematics.h>
#include <libavutil/opt.h>
}

#include "segmenter/ff_util.h"

namespace livegate {

namespace {

constexpr AVRational k90kHz{1, 90000};
constexpr int kIoBufferSize = 64 << 10;
// frag_custom: a fragment ends only at cut() (av_write_frame(NULL)). empty_moov: the init segment has
// no samples. default_base_moof: data offsets relative to each moof. frag_discont: a fragment's tfdt is
// its first DTS as we give it, not 0 (the first) nor the sum of the durations before it (set again
// after each cut, as libavformat clears it). skip_sidx, skip_trailer: no index boxes, which a live player
// never reads. Not cmaf (or negative_cts_offsets): it shifts every DTS by the first frame's composition
// offset and writes negative offsets, which FFmpeg's own demuxer then presents one frame late; positive
// offsets (trun version 0) mean every reader presents each frame at the PTS we gave, as in the TS output.
// use_editlist 0: with an edit list the muxer would start the first fragment at the first PTS and count
// on an edit (which an init segment written before any frame cannot hold) to move it back.
constexpr const char* kMovFlags =
    "+frag_custom+empty_moov+default_base_moof+frag_discont+skip_sidx+skip_trailer";

Error fail(std::string_view what) { return Error{"cmaf muxer: " + std::string(what)}; }
Error fail(std::string_view what, int err) {
  return wrap("cmaf muxer: " + std::string(what), av_error_text(err));
}

// Options for avformat_write_header, which takes out those it used and leaves the rest.
struct Options {
  AVDictionary* dict = nullptr;
  Options() = default;
  Options(const Options&) = delete;
  Options& operator=(const Options&) = delete;
  ~Options() { av_dict_free(&dict); }
};

}  // namespace

Result<std::unique_ptr<CmafMuxer>> CmafMuxer::create(const std::optional<VideoConfig>& video,
                                                     const std::optional<AudioConfig>& audio) {
  if (const char* problem = track_problem(video, audio)) return fail(std::string("create: ") + problem);
  quiet_ffmpeg_log();
  if (video && video->record.size() < 7) return fail("create: H.264 configuration without an avcC");
  if (audio && audio->sample_rate == 0) return fail("create: audio without a sample rate");

  auto m = std::make_unique<CmafMuxer>(Key{});
  if (Status s = open_memory_output("mp4", kIoBufferSize, m.get(), &CmafMuxer::on_write, m->ctx_, m->io_,
                                    m->video_.held);
      !s)
    return wrap("cmaf muxer: create", s.error());
  m->audio_.held.reset(av_packet_alloc());
  if (!m->audio_.held) return fail("create: allocate packet", AVERROR(ENOMEM));
  AVFormatContext* ctx = m->ctx_.get();
  int ret = 0;

  if (video) {
    AVStream* st = avformat_new_stream(ctx, nullptr);
    if (st == nullptr) return fail("create: add video stream", AVERROR(ENOMEM));
    st->time_base = k90kHz;
    st->codecpar->codec_type = AVMEDIA_TYPE_VIDEO;
    st->codecpar->codec_id = AV_CODEC_ID_H264;
    st->codecpar->width = static_cast<int>(video->width);
    st->codecpar->height = static_cast<int>(video->height);
    ret = set_extradata(st->codecpar, video->record.data(), video->record.size());
    if (ret < 0) return fail("create: video extradata", ret);
    m->video_.index = st->index;
    m->video_.step = video->frame_rate > 0 ? static_cast<int64_t>(90000 / video->frame_rate) : 3000;
  }
  if (audio) {
    AVStream* st = avformat_new_stream(ctx, nullptr);
    if (st == nullptr) return fail("create: add audio stream", AVERROR(ENOMEM));
    st->time_base = AVRational{1, static_cast<int>(audio->sample_rate)};
    st->codecpar->codec_type = AVMEDIA_TYPE_AUDIO;
    st->codecpar->codec_id = audio->codec == AudioCodec::aac ? AV_CODEC_ID_AAC : AV_CODEC_ID_MP3;
    st->codecpar->sample_rate = static_cast<int>(audio->sample_rate);
    av_channel_layout_default(&st->codecpar->ch_layout, audio->channels > 0 ? audio->channels : 2);
    if (audio->codec == AudioCodec::aac) {
      ret = set_extradata(st->codecpar, audio->record.data(), audio->record.size());
      if (ret < 0) return fail("create: audio extradata", ret);
    }
    // Samples per frame: AAC 1024; MP3 1152 (MPEG-1), 576 (MPEG-2/2.5, rates below 32 kHz).
    const int64_t samples = audio->codec == AudioCodec::aac ? 1024 : audio->sample_rate >= 32000 ? 1152 : 576;
    st->codecpar->frame_size = static_cast<int>(samples);
    m->audio_.index = st->index;
    m->audio_.step = samples;
    m->audio_codec_ = audio->codec;
  }

  // Our timestamps go out as they are; frames come in DTS order, already in the layout mp4 wants.
  ctx->avoid_negative_ts = AVFMT_AVOID_NEG_TS_DISABLED;
  ctx->flush_packets = 0;
  ctx->flags &= ~AVFMT_FLAG_AUTO_BSF;
  Options opts;
  if (av_dict_set(&opts.dict, "movflags", kMovFlags, 0) < 0 ||
      av_dict_set(&opts.dict, "video_track_timescale", "90000", 0) < 0 ||
      av_dict_set(&opts.dict, "use_editlist", "0", 0) < 0)
    return fail("create: set options", AVERROR(ENOMEM));
  ret = avformat_write_header(ctx, &opts.dict);
  if (ret < 0) return fail("create: write header", ret);
  if (av_dict_count(opts.dict) > 0) return fail("create: an option this libavformat does not know");
  avio_flush(ctx->pb);
  if (ctx->pb->error < 0) return fail("create: write init segment", ctx->pb->error);
  m->init_ = std::make_shared<const std::vector<uint8_t>>(m->out_.take());
  if (m->init_->empty()) return fail("create: no init segment");
  // The muxer chose each track's timescale (90 kHz for video, the sample rate for audio).
  if (video) m->video_.time_base = ctx->streams[m->video_.index]->time_base;
  if (audio) {
    TrackState& a = m->audio_;
    const AVRational tb = ctx->streams[a.index]->time_base;
    a.step = av_rescale_q(a.step, AVRational{1, static_cast<int>(audio->sample_rate)}, tb);
    a.time_base = tb;
  }
  return m;
}

CmafMuxer::~CmafMuxer() = default;

int CmafMuxer::on_write(void* opaque, uint8_t* buf, int size) noexcept {
  auto* self = static_cast<CmafMuxer*>(opaque);
  try {
    self->out_.append(buf, static_cast<size_t>(size));
  } catch (...) {  // no exception may unwind through libavformat
    return AVERROR(ENOMEM);
  }
  return size;
}

Status CmafMuxer::write(const AccessUnit& unit) {
  if (const char* problem = unit_problem(unit)) return fail(std::string("write: ") + problem);
  if (const int ret = std::exchange(cut_error_, 0); ret < 0)
    return fail("write the frames before the last cut", ret);
  const uint8_t* data = unit.data->data();
  size_t size = unit.data->size();
  if (unit.track == Track::video) {
    if (video_.index < 0) return fail("write: video frame but no video track");
    return hold(video_, unit, data, size, "write video frame");
  }
  if (audio_.index < 0) return fail("write: audio frame but no audio track");
  // Some encoders put ADTS in FLV anyway: mp4 carries raw AAC (ISO 14496-3 1.A.2.2.1: 7 header bytes,
  // 9 with a CRC).
  if (audio_codec_ == AudioCodec::aac && size >= 2 && data[0] == 0xFF && (data[1] & 0xF6) == 0xF0) {
    const size_t header = (data[1] & 1) ? 7 : 9;
    if (size <= header) return fail("write audio frame: ADTS header without a frame");
    data += header;
    size -= header;
  }
  return hold(audio_, unit, data, size, "write audio frame");
}

Status CmafMuxer::hold(TrackState& track, const AccessUnit& unit, const uint8_t* data, size_t size,
                       const char* what) {
  int64_t dts = av_rescale_q(unit.dts, k90kHz, track.time_base);
  const int64_t pts = av_rescale_q(unit.pts, k90kHz, track.time_base);
  // Equal (or, after rounding to the track's timescale, earlier): one tick on.
  if (track.last_dts != INT64_MIN && dts <= track.last_dts) dts = track.last_dts + 1;
  if (track.holding) {
    if (const int ret = release(track, dts - track.last_dts); ret < 0) return fail(what, ret);
  }
  AVPacket* pkt = track.held.get();
  uint8_t* out = reuse_packet_buffer(pkt, size);
  if (out == nullptr) return fail(what, AVERROR(ENOMEM));
  std::memcpy(out, data, size);
  pkt->dts = dts;
  pkt->pts = std::max(pts, dts);
  pkt->stream_index = track.index;
  pkt->flags = (unit.keyframe || &track == &audio_) ? AV_PKT_FLAG_KEY : 0;
  pkt->pos = -1;
  track.holding = true;
  track.last_dts = dts;
  pending_ += size;
  return {};
}

int CmafMuxer::release(TrackState& track, int64_t duration) {
  track.holding = false;
  track.step_before = track.step;
  track.step = duration;
  AVPacket* pkt = track.held.get();
  pkt->duration = duration;
  return av_write_frame(ctx_.get(), pkt);
}

std::vector<uint8_t> CmafMuxer::cut(Ticks90k end_dts) {
  if (pending_ == 0) return {};
  // A failure here fails the next write(): out of memory in on_write stays in the IO context, a frame
  // libavformat refused is kept in cut_error_.
  const TrackState& main = main_track();
  for (TrackState* track : {&video_, &audio_}) {
    if (!track->holding) continue;
    const int64_t end = end_dts >= 0 ? av_rescale_q(end_dts, k90kHz, track->time_base) : INT64_MIN;
    int64_t duration = track->step_before > 0 ? std::min(track->step, track->step_before) : track->step;
    if (track == &main && end > track->last_dts) duration = end - track->last_dts;
    if (const int ret = release(*track, std::max<int64_t>(duration, 1)); ret < 0) cut_error_ = ret;
  }
  av_write_frame(ctx_.get(), nullptr);
  avio_flush(io_.get());
  av_opt_set(ctx_->priv_data, "movflags", "+frag_discont", 0);
  pending_ = 0;
  return out_.take();
}

}  // namespace livegate
