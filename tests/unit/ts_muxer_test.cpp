// Unit tests for TsMuxer: frames from libavcodec's encoders, muxed into segments, demuxed and decoded back.
#include "segmenter/ts_muxer.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/log.h>
#include <libavutil/mathematics.h>
}

#include "media_fixture.h"
#include "segmenter/ff_ptr.h"

using namespace livegate;
using namespace livegate::testing;

namespace {

constexpr size_t kTs = 188;
constexpr unsigned kPmtPid = 0x1000;  // mpegtsenc's default mpegts_pmt_start_pid

struct Expected {
  std::vector<Ticks90k> video_pts, video_dts, audio_pts;
  bool first_video_key = false;
};

struct MuxRun {
  std::vector<Bytes> segments;
  std::vector<Expected> expected;
};

// Writes every unit, cutting before each unit `cut_before` picks (never the first).
MuxRun run(TsMuxer& muxer, const std::vector<AccessUnit>& units,
           const std::function<bool(const AccessUnit&, size_t)>& cut_before) {
  MuxRun r;
  r.expected.emplace_back();
  for (size_t i = 0; i < units.size(); ++i) {
    const AccessUnit& u = units[i];
    if (i > 0 && cut_before(u, i)) {
      r.segments.push_back(muxer.cut(kUnknownEnd));
      CHECK(muxer.pending_bytes() == 0);
      r.expected.emplace_back();
    }
    Expected& e = r.expected.back();
    if (u.track == Track::video) {
      if (e.video_pts.empty()) e.first_video_key = u.keyframe;
      e.video_pts.push_back(u.pts);
      e.video_dts.push_back(u.dts);
    } else {
      e.audio_pts.push_back(u.pts);
    }
    const size_t before = muxer.pending_bytes();
    const Status s = muxer.write(u);
    REQUIRE_MESSAGE(s.ok(), s.error());
    CHECK(muxer.pending_bytes() >= before);
  }
  r.segments.push_back(muxer.cut(kUnknownEnd));
  return r;
}

unsigned pid_of(const Bytes& ts, size_t packet) {
  return (ts[packet * kTs + 1] & 0x1Fu) << 8 | ts[packet * kTs + 2];
}

// Whole 188-byte packets, each with the sync byte, PAT then PMT first, no SDT.
void check_packets(const Bytes& ts) {
  REQUIRE(ts.size() >= 3 * kTs);
  REQUIRE(ts.size() % kTs == 0);
  size_t bad_sync = 0, sdt = 0;
  for (size_t k = 0; k < ts.size() / kTs; ++k) {
    if (ts[k * kTs] != 0x47) ++bad_sync;
    if (pid_of(ts, k) == 0x11) ++sdt;
  }
  CHECK(bad_sync == 0);
  CHECK(sdt == 0);
  CHECK(pid_of(ts, 0) == 0);
  CHECK(pid_of(ts, 1) == kPmtPid);
}

// Continuity counters run on from one segment to the next (ISO 13818-1 2.4.3.3): the segments,
// played back to back, are one clean transport stream.
size_t continuity_errors(const std::vector<Bytes>& segments) {
  std::map<unsigned, int> last;
  size_t errors = 0;
  for (const Bytes& ts : segments) {
    for (size_t k = 0; k < ts.size() / kTs; ++k) {
      const uint8_t* p = ts.data() + k * kTs;
      if ((p[3] & 0x10) == 0) continue;  // no payload: the counter does not move
      const unsigned pid = pid_of(ts, k);
      const int cc = p[3] & 0x0F;
      auto it = last.find(pid);
      if (it != last.end() && cc != ((it->second + 1) & 0x0F)) ++errors;
      last[pid] = cc;
    }
  }
  return errors;
}

// What FFmpeg's own ADTS muxer makes of raw AAC frames: the reference for our hand-written headers.
Bytes ffmpeg_adts(const AudioConfig& config, const std::vector<AccessUnit>& units) {
  AVFormatContext* raw = nullptr;
  REQUIRE(avformat_alloc_output_context2(&raw, nullptr, "adts", nullptr) >= 0);
  FormatContextPtr ctx(raw);
  AVStream* st = avformat_new_stream(ctx.get(), nullptr);
  REQUIRE(st != nullptr);
  st->time_base = AVRational{1, 90000};
  st->codecpar->codec_type = AVMEDIA_TYPE_AUDIO;
  st->codecpar->codec_id = AV_CODEC_ID_AAC;
  st->codecpar->sample_rate = static_cast<int>(config.sample_rate);
  av_channel_layout_default(&st->codecpar->ch_layout, config.channels);
  st->codecpar->extradata =
      static_cast<uint8_t*>(av_mallocz(config.record.size() + AV_INPUT_BUFFER_PADDING_SIZE));
  REQUIRE(st->codecpar->extradata != nullptr);
  std::memcpy(st->codecpar->extradata, config.record.data(), config.record.size());
  st->codecpar->extradata_size = static_cast<int>(config.record.size());
  REQUIRE(avio_open_dyn_buf(&ctx->pb) == 0);
  REQUIRE(avformat_write_header(ctx.get(), nullptr) >= 0);
  PacketPtr pkt(av_packet_alloc());
  for (const AccessUnit& u : units) {
    REQUIRE(av_new_packet(pkt.get(), static_cast<int>(u.data->size())) == 0);
    std::memcpy(pkt->data, u.data->data(), u.data->size());
    pkt->pts = pkt->dts = u.dts;
    REQUIRE(av_write_frame(ctx.get(), pkt.get()) >= 0);
    av_packet_unref(pkt.get());
  }
  REQUIRE(av_write_trailer(ctx.get()) >= 0);
  uint8_t* bytes = nullptr;
  const int size = avio_close_dyn_buf(ctx->pb, &bytes);
  ctx->pb = nullptr;
  Bytes out(bytes, bytes + size);
  av_free(bytes);
  return out;
}

// Every segment of `r` on its own: packets, tracks, complete frame lists with our timestamps, decodes.
void check_segments(const MuxRun& r, std::optional<AVCodecID> video, std::optional<AVCodecID> audio) {
  for (size_t n = 0; n < r.segments.size(); ++n) {
    CAPTURE(n);
    const Bytes& seg = r.segments[n];
    const Expected& e = r.expected[n];
    check_packets(seg);
    const Demuxed d = demux(seg, "mpegts");
    CHECK(d.streams.size() == size_t(video.has_value()) + size_t(audio.has_value()));
    if (video) {
      const int vi = d.find(AVMEDIA_TYPE_VIDEO);
      REQUIRE(vi >= 0);
      const DemuxedStream& vs = d.streams[size_t(vi)];
      CHECK(vs.codec == *video);
      CHECK(vs.width == 320);  // from the in-band SPS: the muxer writes no dimensions anywhere else
      CHECK(vs.height == 240);
      const auto packets = d.of(vi);
      REQUIRE(packets.size() == e.video_pts.size());
      CHECK(packets.front()->key);
      CHECK(e.first_video_key);
      std::vector<Ticks90k> pts, dts;
      for (const DemuxedPacket* p : packets) {
        pts.push_back(p->pts);
        dts.push_back(p->dts);
      }
      CHECK(pts == e.video_pts);  // first PTS included: no muxing delay added
      CHECK(dts == e.video_dts);
      const Decoded dec = decode(d, vi);
      CHECK(dec.errors == 0);
      CHECK(dec.frames == int(e.video_pts.size()));
      CHECK(dec.width == 320);
      CHECK(dec.height == 240);
    }
    if (audio) {
      const int ai = d.find(AVMEDIA_TYPE_AUDIO);
      REQUIRE(ai >= 0);
      CHECK(d.streams[size_t(ai)].codec == *audio);
      CHECK(d.streams[size_t(ai)].channels == 2);
      const auto packets = d.of(ai);
      // Every audio frame written before cut() is in this segment: the flush works.
      REQUIRE(packets.size() == e.audio_pts.size());
      std::vector<Ticks90k> pts;
      for (const DemuxedPacket* p : packets) pts.push_back(p->pts);
      CHECK(pts == e.audio_pts);
      const Decoded dec = decode(d, ai);
      CHECK(dec.errors == 0);
      CHECK(dec.frames >= int(e.audio_pts.size()) - 1);  // a decoder may hold back its priming frame
    }
  }
  CHECK(continuity_errors(r.segments) == 0);
}

}  // namespace

TEST_CASE("ts muxer: create needs a track and a usable configuration") {
  auto none = TsMuxer::create(std::nullopt, std::nullopt);
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().rfind("ts muxer: ", 0) == 0);

  VideoConfig no_sps;
  no_sps.codec = VideoCodec::h264;
  CHECK_FALSE(TsMuxer::create(no_sps, std::nullopt).ok());

  AudioConfig no_asc;
  no_asc.codec = AudioCodec::aac;
  no_asc.sample_rate = 48000;
  no_asc.channels = 2;
  CHECK_FALSE(TsMuxer::create(std::nullopt, no_asc).ok());

  // Object type 31 escape, then the config runs out: too odd for our ADTS writer, so it goes to
  // libavformat's, which refuses it when the header is written.
  AudioConfig bad_asc = no_asc;
  bad_asc.record = {0xFF};
  FfmpegErrors expected_errors(false);
  auto refused = TsMuxer::create(std::nullopt, bad_asc);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().rfind("ts muxer: create: write header: ", 0) == 0);
  CHECK(expected_errors.count() > 0);

  AudioConfig none_codec;
  CHECK_FALSE(TsMuxer::create(std::nullopt, none_codec).ok());
}

TEST_CASE("ts muxer: H.264 + AAC segments are self-contained, complete and keep our timestamps") {
  FfmpegErrors ffmpeg_errors;
  auto video = encode_h264(90);
  auto audio = encode_audio("aac", 48000, 3.0);
  REQUIRE(video);
  REQUIRE(audio);

  // First DTS 0 (the PCR sits at DTS, so this is the tightest start), and later in the clock.
  for (Ticks90k first_dts : {Ticks90k{0}, Ticks90k{10} * 90000}) {
    CAPTURE(first_dts);
    const auto units = interleave(video->units, audio->units, first_dts);
    auto muxer = TsMuxer::create(video->config, audio->config);
    REQUIRE_MESSAGE(muxer.ok(), muxer.error());
    const MuxRun r = run(**muxer, units, before_keyframe);
    REQUIRE(r.segments.size() == 3);
    for (const Expected& e : r.expected) CHECK(e.video_pts.size() == 30);
    check_segments(r, AV_CODEC_ID_H264, AV_CODEC_ID_AAC);
    CHECK(r.expected[0].video_dts.front() >= first_dts);
  }
  CHECK(ffmpeg_errors.count() == 0);
}

TEST_CASE("ts muxer: video frames become Annex B with an AUD, and SPS/PPS in front of keyframes") {
  FfmpegErrors ffmpeg_errors;
  for (uint8_t length_size : {uint8_t{4}, uint8_t{2}}) {
    CAPTURE(int(length_size));
    auto video = encode_h264(30, length_size);
    REQUIRE(video);
    auto units = interleave(video->units, {}, 0);
    // An AUD the encoder put in the frame is dropped, not doubled; other NAL units stay.
    Bytes with_aud = length_prefixed({{0x09, 0x10}}, length_size);
    with_aud.insert(with_aud.end(), units[1].data->begin(), units[1].data->end());
    units[1].data = std::make_shared<const Bytes>(std::move(with_aud));

    auto muxer = TsMuxer::create(video->config, std::nullopt);
    REQUIRE_MESSAGE(muxer.ok(), muxer.error());
    const MuxRun r = run(**muxer, units, [](const AccessUnit&, size_t) { return false; });
    REQUIRE(r.segments.size() == 1);
    check_segments(r, AV_CODEC_ID_H264, std::nullopt);

    const Demuxed d = demux(r.segments[0], "mpegts");
    const auto packets = d.of(d.find(AVMEDIA_TYPE_VIDEO));
    REQUIRE(packets.size() == units.size());
    Bytes key_prefix = {0, 0, 0, 1, 0x09, 0xF0, 0, 0, 0, 1};
    key_prefix.insert(key_prefix.end(), video->config.sps[0].begin(), video->config.sps[0].end());
    key_prefix.insert(key_prefix.end(), {0, 0, 0, 1});
    key_prefix.insert(key_prefix.end(), video->config.pps[0].begin(), video->config.pps[0].end());
    key_prefix.insert(key_prefix.end(), {0, 0, 0, 1});
    for (size_t i = 0; i < packets.size(); ++i) {
      CAPTURE(i);
      const Bytes& data = packets[i]->data;
      const auto nals = split_annexb(data.data(), data.size());
      size_t auds = 0, sps = 0;
      for (const Bytes& nal : nals) {
        auds += (nal[0] & 0x1F) == 9;
        sps += (nal[0] & 0x1F) == 7;
      }
      CHECK(auds == 1);
      if (units[i].keyframe) {
        REQUIRE(data.size() > key_prefix.size());
        CHECK(Bytes(data.begin(), data.begin() + long(key_prefix.size())) == key_prefix);
        CHECK(sps == 1);
      } else {
        CHECK(Bytes(data.begin(), data.begin() + 6) == Bytes{0, 0, 0, 1, 0x09, 0xF0});
        CHECK(sps == 0);
      }
      // Our bytes, once each length prefix becomes a start code.
      std::vector<Bytes> expected_nals = {{0x09, 0xF0}};
      if (units[i].keyframe) {
        expected_nals.push_back(video->config.sps[0]);
        expected_nals.push_back(video->config.pps[0]);
      }
      for (size_t pos = 0; pos < units[i].data->size();) {
        size_t len = 0;
        for (uint8_t b = 0; b < length_size; ++b) len = len << 8 | (*units[i].data)[pos + b];
        pos += length_size;
        if (((*units[i].data)[pos] & 0x1F) != 9) {
          expected_nals.emplace_back(units[i].data->begin() + long(pos),
                                     units[i].data->begin() + long(pos + len));
        }
        pos += len;
      }
      CHECK(nals == expected_nals);
    }
  }
  CHECK(ffmpeg_errors.count() == 0);
}

TEST_CASE("ts muxer: audio-only AAC, with ADTS headers equal to FFmpeg's own") {
  FfmpegErrors ffmpeg_errors;
  auto audio = encode_audio("aac", 44100, 3.0);
  REQUIRE(audio);
  const auto units = interleave({}, audio->units, 90000);
  auto muxer = TsMuxer::create(std::nullopt, audio->config);
  REQUIRE_MESSAGE(muxer.ok(), muxer.error());
  // Cut by count, as the Segmenter cuts audio-only streams by time.
  const MuxRun r = run(**muxer, units, [](const AccessUnit&, size_t i) { return i % 43 == 0; });
  REQUIRE(r.segments.size() == (units.size() + 42) / 43);
  check_segments(r, std::nullopt, AV_CODEC_ID_AAC);

  Bytes ours;
  for (const Bytes& seg : r.segments) {
    const Demuxed d = demux(seg, "mpegts");
    for (const DemuxedPacket* p : d.of(d.find(AVMEDIA_TYPE_AUDIO))) {
      ours.insert(ours.end(), p->data.begin(), p->data.end());
    }
  }
  CHECK(ours == ffmpeg_adts(audio->config, units));
  CHECK(ffmpeg_errors.count() == 0);
}

TEST_CASE("ts muxer: video-only segments") {
  FfmpegErrors ffmpeg_errors;
  auto video = encode_h264(60);
  REQUIRE(video);
  auto muxer = TsMuxer::create(video->config, std::nullopt);
  REQUIRE_MESSAGE(muxer.ok(), muxer.error());
  const MuxRun r = run(**muxer, interleave(video->units, {}, 0), before_keyframe);
  REQUIRE(r.segments.size() == 2);
  check_segments(r, AV_CODEC_ID_H264, std::nullopt);
  CHECK(ffmpeg_errors.count() == 0);
}

TEST_CASE("ts muxer: H.264 + MP3") {
  FfmpegErrors ffmpeg_errors;
  auto audio = encode_audio("libmp3lame", 44100, 2.0);
  if (!audio) {
    MESSAGE("libavcodec has no libmp3lame encoder: MP3 case skipped");
    return;
  }
  auto video = encode_h264(60);
  REQUIRE(video);
  auto muxer = TsMuxer::create(video->config, audio->config);
  REQUIRE_MESSAGE(muxer.ok(), muxer.error());
  const MuxRun r = run(**muxer, interleave(video->units, audio->units, 0), before_keyframe);
  REQUIRE(r.segments.size() == 2);
  check_segments(r, AV_CODEC_ID_H264, AV_CODEC_ID_MP3);
  CHECK(ffmpeg_errors.count() == 0);
}

TEST_CASE("ts muxer: bad access units are refused and the muxer carries on") {
  FfmpegErrors ffmpeg_errors;
  auto video = encode_h264(30);
  REQUIRE(video);
  auto created = TsMuxer::create(video->config, std::nullopt);
  REQUIRE(created.ok());
  TsMuxer& muxer = **created;
  const auto units = interleave(video->units, {}, 0);

  auto expect_error = [&](const AccessUnit& u, const char* words) {
    const Status s = muxer.write(u);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().rfind("ts muxer: ", 0) == 0);
    CHECK_MESSAGE(s.error().find(words) != std::string::npos, s.error());
  };
  expect_error(make_unit(Track::video, 0, 0, true, {0, 0, 0}), "truncated NAL unit length");
  expect_error(make_unit(Track::video, 0, 0, true, {0, 0, 0, 9, 0x65, 1}), "past the end");
  expect_error(make_unit(Track::video, 0, 0, true, length_prefixed({{0x09, 0xF0}}, 4)), "no NAL units");
  expect_error(make_unit(Track::audio, 0, 0, true, {1, 2, 3}), "no audio track");
  expect_error(make_unit(Track::video, 0, 0, true, {}), "empty access unit");
  AccessUnit no_data = units[0];
  no_data.data.reset();
  expect_error(no_data, "empty access unit");
  AccessUnit early_pts = units[0];
  early_pts.pts = early_pts.dts - 1;
  expect_error(early_pts, "timestamps");

  const MuxRun r = run(muxer, units, [](const AccessUnit&, size_t) { return false; });
  check_segments(r, AV_CODEC_ID_H264, std::nullopt);
  CHECK(ffmpeg_errors.count() == 0);
}

TEST_CASE("ts muxer: an equal DTS on a track is accepted") {
  FfmpegErrors ffmpeg_errors;
  auto audio = encode_audio("aac", 48000, 0.5);
  REQUIRE(audio);
  auto units = interleave({}, audio->units, 0);
  // RTMP time is in milliseconds: two frames can share one. libavformat alone would refuse the second.
  units[3].dts = units[3].pts = units[2].dts;
  auto muxer = TsMuxer::create(std::nullopt, audio->config);
  REQUIRE(muxer.ok());
  for (const AccessUnit& u : units) {
    const Status s = (*muxer)->write(u);
    REQUIRE_MESSAGE(s.ok(), s.error());
  }
  const Demuxed d = demux((*muxer)->cut(kUnknownEnd), "mpegts");
  const auto packets = d.of(d.find(AVMEDIA_TYPE_AUDIO));
  REQUIRE(packets.size() == units.size());
  CHECK(packets[3]->pts == units[2].dts + 1);  // one 90 kHz tick later
  CHECK(ffmpeg_errors.count() == 0);
}
