// Media for the muxer tests: see media_fixture.h.
#include "media_fixture.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/mathematics.h>
}

namespace livegate::testing {

AccessUnit make_unit(Track track, Ticks90k dts, Ticks90k pts, bool key, Bytes bytes) {
  AccessUnit u;
  u.track = track;
  u.dts = dts;
  u.pts = pts;
  u.keyframe = key;
  u.data = std::make_shared<const Bytes>(std::move(bytes));
  return u;
}

bool before_keyframe(const AccessUnit& u, size_t) { return u.track == Track::video && u.keyframe; }

std::vector<Bytes> split_annexb(const uint8_t* data, size_t size) {
  std::vector<size_t> starts;
  for (size_t i = 0; i + 3 <= size; ++i) {
    if (data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1) {
      starts.push_back(i + 3);
      i += 2;
    }
  }
  std::vector<Bytes> nals;
  for (size_t k = 0; k < starts.size(); ++k) {
    size_t end = k + 1 < starts.size() ? starts[k + 1] - 3 : size;
    while (end > starts[k] && data[end - 1] == 0) --end;
    nals.emplace_back(data + starts[k], data + end);
  }
  return nals;
}

Bytes length_prefixed(const std::vector<Bytes>& nals, uint8_t length_size) {
  Bytes out;
  for (const Bytes& nal : nals) {
    for (int i = length_size - 1; i >= 0; --i) out.push_back(static_cast<uint8_t>(nal.size() >> (8 * i)));
    out.insert(out.end(), nal.begin(), nal.end());
  }
  return out;
}

std::optional<VideoInput> encode_h264(int frames, uint8_t nal_length_size) {
  const AVCodec* codec = avcodec_find_encoder_by_name("libx264");
  if (codec == nullptr) return std::nullopt;
  CodecContextPtr ctx(avcodec_alloc_context3(codec));
  REQUIRE(ctx);
  ctx->width = 320;
  ctx->height = 240;
  ctx->pix_fmt = AV_PIX_FMT_YUV420P;
  ctx->time_base = AVRational{1, 30};
  ctx->framerate = AVRational{30, 1};
  ctx->gop_size = 30;
  ctx->keyint_min = 30;
  ctx->max_b_frames = 2;
  ctx->thread_count = 1;
  ctx->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;  // SPS/PPS in extradata only, as an RTMP encoder sends them
  AVDictionary* opts = nullptr;
  av_dict_set(&opts, "preset", "veryfast", 0);
  av_dict_set(&opts, "x264-params", "scenecut=0:open-gop=0", 0);
  const int open = avcodec_open2(ctx.get(), codec, &opts);
  av_dict_free(&opts);
  REQUIRE(open == 0);

  VideoInput in;
  VideoConfig& cfg = in.config;
  cfg.codec = VideoCodec::h264;
  cfg.nal_length_size = nal_length_size;
  cfg.width = 320;
  cfg.height = 240;
  for (Bytes& nal : split_annexb(ctx->extradata, static_cast<size_t>(ctx->extradata_size))) {
    if ((nal[0] & 0x1F) == 7)
      cfg.sps.push_back(std::move(nal));
    else if ((nal[0] & 0x1F) == 8)
      cfg.pps.push_back(std::move(nal));
  }
  REQUIRE(cfg.sps.size() == 1);
  REQUIRE(cfg.pps.size() == 1);
  const Bytes& sps = cfg.sps[0];
  const Bytes& pps = cfg.pps[0];
  cfg.profile = sps[1];
  cfg.level = sps[3];
  cfg.record = {1, sps[1], sps[2], sps[3], static_cast<uint8_t>(0xFC | (nal_length_size - 1)), 0xE1};
  cfg.record.push_back(static_cast<uint8_t>(sps.size() >> 8));
  cfg.record.push_back(static_cast<uint8_t>(sps.size()));
  cfg.record.insert(cfg.record.end(), sps.begin(), sps.end());
  cfg.record.push_back(1);
  cfg.record.push_back(static_cast<uint8_t>(pps.size() >> 8));
  cfg.record.push_back(static_cast<uint8_t>(pps.size()));
  cfg.record.insert(cfg.record.end(), pps.begin(), pps.end());

  FramePtr frame(av_frame_alloc());
  PacketPtr pkt(av_packet_alloc());
  REQUIRE(frame);
  REQUIRE(pkt);
  frame->format = ctx->pix_fmt;
  frame->width = ctx->width;
  frame->height = ctx->height;
  REQUIRE(av_frame_get_buffer(frame.get(), 0) == 0);
  auto drain = [&] {
    int ret;
    while ((ret = avcodec_receive_packet(ctx.get(), pkt.get())) == 0) {
      const auto nals = split_annexb(pkt->data, static_cast<size_t>(pkt->size));
      in.units.push_back(make_unit(Track::video, pkt->dts * 3000, pkt->pts * 3000,
                                   (pkt->flags & AV_PKT_FLAG_KEY) != 0,
                                   length_prefixed(nals, nal_length_size)));
      av_packet_unref(pkt.get());
    }
    REQUIRE((ret == AVERROR(EAGAIN) || ret == AVERROR_EOF));
  };
  for (int i = 0; i < frames; ++i) {
    REQUIRE(av_frame_make_writable(frame.get()) == 0);
    for (int y = 0; y < ctx->height; ++y) {
      for (int x = 0; x < ctx->width; ++x)
        frame->data[0][y * frame->linesize[0] + x] = uint8_t(x + y + 3 * i);
    }
    for (int y = 0; y < ctx->height / 2; ++y) {
      for (int x = 0; x < ctx->width / 2; ++x) {
        frame->data[1][y * frame->linesize[1] + x] = uint8_t(128 + x / 4 - i);
        frame->data[2][y * frame->linesize[2] + x] = uint8_t(64 + y / 2 + i);
      }
    }
    frame->pts = i;
    REQUIRE(avcodec_send_frame(ctx.get(), frame.get()) == 0);
    drain();
  }
  REQUIRE(avcodec_send_frame(ctx.get(), nullptr) == 0);
  drain();
  REQUIRE(in.units.size() == static_cast<size_t>(frames));
  return in;
}

std::optional<AudioInput> encode_audio(const char* encoder, int sample_rate, double seconds) {
  const AVCodec* codec = avcodec_find_encoder_by_name(encoder);
  if (codec == nullptr) return std::nullopt;
  CodecContextPtr ctx(avcodec_alloc_context3(codec));
  REQUIRE(ctx);
  ctx->sample_fmt = AV_SAMPLE_FMT_FLTP;
  ctx->sample_rate = sample_rate;
  av_channel_layout_default(&ctx->ch_layout, 2);
  ctx->bit_rate = 128000;
  ctx->time_base = AVRational{1, sample_rate};
  ctx->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  REQUIRE(avcodec_open2(ctx.get(), codec, nullptr) == 0);

  AudioInput in;
  in.config.codec = codec->id == AV_CODEC_ID_AAC ? AudioCodec::aac : AudioCodec::mp3;
  if (ctx->extradata_size > 0) in.config.record.assign(ctx->extradata, ctx->extradata + ctx->extradata_size);
  in.config.object_type = codec->id == AV_CODEC_ID_AAC ? 2 : 0;
  in.config.sample_rate = static_cast<uint32_t>(sample_rate);
  in.config.channels = 2;

  FramePtr frame(av_frame_alloc());
  PacketPtr pkt(av_packet_alloc());
  REQUIRE(frame);
  REQUIRE(pkt);
  frame->format = ctx->sample_fmt;
  frame->nb_samples = ctx->frame_size;
  frame->sample_rate = sample_rate;
  REQUIRE(av_channel_layout_copy(&frame->ch_layout, &ctx->ch_layout) == 0);
  REQUIRE(av_frame_get_buffer(frame.get(), 0) == 0);
  auto drain = [&] {
    int ret;
    while ((ret = avcodec_receive_packet(ctx.get(), pkt.get())) == 0) {
      const Ticks90k ts = av_rescale_q(pkt->pts, ctx->time_base, AVRational{1, 90000});
      in.units.push_back(make_unit(Track::audio, ts, ts, true, Bytes(pkt->data, pkt->data + pkt->size)));
      av_packet_unref(pkt.get());
    }
    REQUIRE((ret == AVERROR(EAGAIN) || ret == AVERROR_EOF));
  };
  const int frames = static_cast<int>(seconds * sample_rate / ctx->frame_size);
  for (int i = 0; i < frames; ++i) {
    REQUIRE(av_frame_make_writable(frame.get()) == 0);
    for (int ch = 0; ch < 2; ++ch) {
      auto* samples = reinterpret_cast<float*>(frame->data[ch]);
      for (int s = 0; s < ctx->frame_size; ++s) {
        const double t = double(i * ctx->frame_size + s) / sample_rate;
        samples[s] = static_cast<float>(0.3 * std::sin(2 * M_PI * 440 * t));
      }
    }
    frame->pts = int64_t{i} * ctx->frame_size;
    REQUIRE(avcodec_send_frame(ctx.get(), frame.get()) == 0);
    drain();
  }
  REQUIRE(avcodec_send_frame(ctx.get(), nullptr) == 0);
  drain();
  REQUIRE(!in.units.empty());
  return in;
}

std::vector<AccessUnit> interleave(std::vector<AccessUnit> video, const std::vector<AccessUnit>& audio,
                                   Ticks90k first_dts) {
  std::vector<AccessUnit> all = std::move(video);
  all.insert(all.end(), audio.begin(), audio.end());
  Ticks90k min_dts = all.front().dts;
  for (const AccessUnit& u : all) min_dts = std::min(min_dts, u.dts);
  for (AccessUnit& u : all) {
    u.dts += first_dts - min_dts;
    u.pts += first_dts - min_dts;
  }
  std::stable_sort(all.begin(), all.end(),
                   [](const AccessUnit& a, const AccessUnit& b) { return a.dts < b.dts; });
  return all;
}

Demuxed demux(const Bytes& bytes, const char* format) {
  struct Reader {
    const Bytes* data;
    size_t pos = 0;
  } reader{&bytes};
  auto read = [](void* opaque, uint8_t* buf, int size) -> int {
    auto* r = static_cast<Reader*>(opaque);
    const size_t n = std::min(r->data->size() - r->pos, static_cast<size_t>(size));
    if (n == 0) return AVERROR_EOF;
    std::memcpy(buf, r->data->data() + r->pos, n);
    r->pos += n;
    return static_cast<int>(n);
  };
  constexpr int kBuffer = 4096;
  auto* buffer = static_cast<uint8_t*>(av_malloc(kBuffer));
  REQUIRE(buffer != nullptr);
  AvioContextPtr io(avio_alloc_context(buffer, kBuffer, 0, &reader, read, nullptr, nullptr));
  REQUIRE(io);
  AVFormatContext* raw = avformat_alloc_context();
  REQUIRE(raw != nullptr);
  raw->pb = io.get();
  raw->flags |= AVFMT_FLAG_CUSTOM_IO;
  REQUIRE(avformat_open_input(&raw, nullptr, av_find_input_format(format), nullptr) == 0);
  InputContextPtr fmt(raw);
  REQUIRE(avformat_find_stream_info(fmt.get(), nullptr) >= 0);

  Demuxed d;
  for (unsigned i = 0; i < fmt->nb_streams; ++i) {
    const AVCodecParameters* par = fmt->streams[i]->codecpar;
    DemuxedStream s;
    s.type = par->codec_type;
    s.codec = par->codec_id;
    s.width = par->width;
    s.height = par->height;
    s.sample_rate = par->sample_rate;
    s.channels = par->ch_layout.nb_channels;
    s.par.reset(avcodec_parameters_alloc());
    REQUIRE(s.par);
    REQUIRE(avcodec_parameters_copy(s.par.get(), par) >= 0);
    d.streams.push_back(std::move(s));
  }
  PacketPtr pkt(av_packet_alloc());
  REQUIRE(pkt);
  while (av_read_frame(fmt.get(), pkt.get()) >= 0) {
    DemuxedPacket p;
    p.stream = pkt->stream_index;
    p.pts = pkt->pts;
    p.dts = pkt->dts;
    p.key = (pkt->flags & AV_PKT_FLAG_KEY) != 0;
    p.data.assign(pkt->data, pkt->data + pkt->size);
    d.packets.push_back(std::move(p));
    av_packet_unref(pkt.get());
  }
  return d;
}

Decoded decode(const Demuxed& d, int stream, bool with_extradata) {
  const DemuxedStream& s = d.streams[static_cast<size_t>(stream)];
  const AVCodec* codec = avcodec_find_decoder(s.codec);
  REQUIRE(codec != nullptr);
  CodecContextPtr ctx(avcodec_alloc_context3(codec));
  REQUIRE(ctx);
  REQUIRE(avcodec_parameters_to_context(ctx.get(), s.par.get()) >= 0);
  if (!with_extradata) {
    av_freep(&ctx->extradata);
    ctx->extradata_size = 0;
  }
  ctx->err_recognition = AV_EF_EXPLODE | AV_EF_BITSTREAM | AV_EF_BUFFER | AV_EF_CRCCHECK;
  ctx->thread_count = 1;
  REQUIRE(avcodec_open2(ctx.get(), codec, nullptr) == 0);
  FramePtr frame(av_frame_alloc());
  PacketPtr pkt(av_packet_alloc());
  Decoded out;
  auto receive = [&] {
    int ret;
    while ((ret = avcodec_receive_frame(ctx.get(), frame.get())) == 0) {
      ++out.frames;
      if (frame->decode_error_flags != 0 || (frame->flags & AV_FRAME_FLAG_CORRUPT) != 0) ++out.errors;
      out.width = frame->width;
      out.height = frame->height;
      av_frame_unref(frame.get());
    }
    if (ret != AVERROR(EAGAIN) && ret != AVERROR_EOF) ++out.errors;
  };
  for (const DemuxedPacket* p : d.of(stream)) {
    REQUIRE(av_new_packet(pkt.get(), static_cast<int>(p->data.size())) == 0);
    std::memcpy(pkt->data, p->data.data(), p->data.size());
    pkt->pts = p->pts;
    pkt->dts = p->dts;
    if (avcodec_send_packet(ctx.get(), pkt.get()) < 0) ++out.errors;
    av_packet_unref(pkt.get());
    receive();
  }
  REQUIRE(avcodec_send_packet(ctx.get(), nullptr) == 0);
  receive();
  return out;
}

}  // namespace livegate::testing
