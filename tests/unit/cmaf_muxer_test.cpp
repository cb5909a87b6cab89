// Unit tests for CmafMuxer: frames from libavcodec's encoders, muxed into an init segment and fragments,
// walked box by box, demuxed (the init segment with all fragments, and with one alone) and decoded back,
// and compared with what TsMuxer makes of the same frames.
#include "segmenter/cmaf_muxer.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "media_fixture.h"
#include "segmenter/ts_muxer.h"

using namespace livegate;
using namespace livegate::testing;

namespace {

struct Box {
  std::string type;
  size_t offset = 0;  // of the box header
  size_t size = 0;    // the whole box
};

// The boxes at one level of ISO BMFF bytes [begin, end); nothing if a size runs past the end.
std::optional<std::vector<Box>> boxes(const Bytes& b, size_t begin, size_t end) {
  std::vector<Box> out;
  for (size_t at = begin; at < end;) {
    if (end - at < 8) return std::nullopt;
    const size_t size = size_t{b[at]} << 24 | size_t{b[at + 1]} << 16 | size_t{b[at + 2]} << 8 | b[at + 3];
    if (size < 8 || size > end - at) return std::nullopt;
    out.push_back(Box{std::string(reinterpret_cast<const char*>(&b[at + 4]), 4), at, size});
    at += size;
  }
  return out;
}

std::vector<std::string> types(const std::vector<Box>& bs) {
  std::vector<std::string> t;
  for (const Box& b : bs) t.push_back(b.type);
  return t;
}

uint64_t read_be(const Bytes& b, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = v << 8 | b[at + size_t(i)];
  return v;
}

// Per traf of a fragment (moof + mdat): track_ID, baseMediaDecodeTime and tfhd flags.
struct Traf {
  uint32_t track = 0;
  uint64_t base_decode_time = 0;
  uint32_t tfhd_flags = 0;
  int trun_version = -1;
};

std::vector<Traf> trafs(const Bytes& fragment) {
  const auto top = boxes(fragment, 0, fragment.size());
  REQUIRE(top);
  REQUIRE(types(*top) == std::vector<std::string>{"moof", "mdat"});
  const Box& moof = (*top)[0];
  const auto in_moof = boxes(fragment, moof.offset + 8, moof.offset + moof.size);
  REQUIRE(in_moof);
  std::vector<Traf> out;
  for (const Box& traf : *in_moof) {
    if (traf.type != "traf") continue;
    const auto in_traf = boxes(fragment, traf.offset + 8, traf.offset + traf.size);
    REQUIRE(in_traf);
    Traf t;
    for (const Box& b : *in_traf) {
      const size_t body = b.offset + 8;
      if (b.type == "tfhd") {
        t.tfhd_flags = static_cast<uint32_t>(read_be(fragment, body, 4) & 0xFFFFFF);
        t.track = static_cast<uint32_t>(read_be(fragment, body + 4, 4));
      } else if (b.type == "tfdt") {
        t.base_decode_time =
            fragment[body] == 1 ? read_be(fragment, body + 4, 8) : read_be(fragment, body + 4, 4);
      } else if (b.type == "trun") {
        t.trun_version = fragment[body];
      }
    }
    out.push_back(t);
  }
  return out;
}

struct Run {
  Bytes init;
  std::vector<Bytes> fragments;
  std::vector<std::vector<AccessUnit>> written;  // per fragment
};

// Writes every unit, cutting before each unit `cut_before` picks (never the first).
template <class CutBefore>
Run run(CmafMuxer& m, const std::vector<AccessUnit>& units, CutBefore cut_before) {
  Run r;
  r.init = *m.init_segment();
  r.written.emplace_back();
  for (size_t i = 0; i < units.size(); ++i) {
    if (i > 0 && cut_before(units[i], i)) {
      r.fragments.push_back(m.cut(units[i].dts));  // the rules cut before a frame of the main track
      CHECK(m.pending_bytes() == 0);
      r.written.emplace_back();
    }
    const size_t before = m.pending_bytes();
    const Status s = m.write(units[i]);
    REQUIRE_MESSAGE(s.ok(), s.error());
    CHECK(m.pending_bytes() > before);
    r.written.back().push_back(units[i]);
  }
  r.fragments.push_back(m.cut(kUnknownEnd));
  return r;
}

Bytes join(const Bytes& init, const std::vector<Bytes>& fragments) {
  Bytes all = init;
  for (const Bytes& f : fragments) all.insert(all.end(), f.begin(), f.end());
  return all;
}

std::vector<int64_t> pts_of(const std::vector<AccessUnit>& units, Track track) {
  std::vector<int64_t> out;
  for (const AccessUnit& u : units) {
    if (u.track == track) out.push_back(u.pts);
  }
  return out;
}

// Demuxed packet times of one stream, in 90 kHz.
std::vector<int64_t> demuxed_pts(const Demuxed& d, AVMediaType type, AVRational tb) {
  std::vector<int64_t> out;
  const int s = d.find(type);
  if (s < 0) return out;
  for (const DemuxedPacket* p : d.of(s)) out.push_back(av_rescale_q(p->pts, tb, AVRational{1, 90000}));
  return out;
}

// Times through an audio timescale come back within one of its ticks.
bool close_to(const std::vector<int64_t>& got, const std::vector<int64_t>& want, int64_t within) {
  if (got.size() != want.size()) return false;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::llabs(got[i] - want[i]) > within) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("cmaf muxer: create needs a track and a usable configuration") {
  auto none = CmafMuxer::create(std::nullopt, std::nullopt);
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().rfind("cmaf muxer: ", 0) == 0);
  VideoConfig no_avcc;
  no_avcc.codec = VideoCodec::h264;
  CHECK_FALSE(CmafMuxer::create(no_avcc, std::nullopt).ok());
  AudioConfig no_asc;
  no_asc.codec = AudioCodec::aac;
  no_asc.sample_rate = 48000;
  no_asc.channels = 2;
  CHECK_FALSE(CmafMuxer::create(std::nullopt, no_asc).ok());
  AudioConfig no_rate;
  no_rate.codec = AudioCodec::mp3;
  CHECK_FALSE(CmafMuxer::create(std::nullopt, no_rate).ok());
  CHECK_FALSE(CmafMuxer::create(std::nullopt, AudioConfig{}).ok());
}

TEST_CASE("cmaf muxer: an init segment, then one moof + mdat per cut, which demux and decode") {
  FfmpegErrors ffmpeg_errors;
  int expected_errors = 0;  // from probing parts that start between keyframes
  auto video = encode_h264(90);
  auto audio = encode_audio("aac", 48000, 3.0);
  REQUIRE(video);
  REQUIRE(audio);
  for (Ticks90k first_dts : {Ticks90k{0}, Ticks90k{10} * 90000}) {
    CAPTURE(first_dts);
    const auto units = interleave(video->units, audio->units, first_dts);
    auto created = CmafMuxer::create(video->config, audio->config);
    REQUIRE_MESSAGE(created.ok(), created.error());
    // Parts of at most 10 video frames, a new one at each keyframe: some start with a keyframe (every
    // 30 frames), the others do not.
    int since_cut = 0;
    const Run r = run(**created, units, [&](const AccessUnit& u, size_t) {
      if (u.track != Track::video) return false;
      const bool cut = since_cut > 0 && (u.keyframe || since_cut == 10);
      since_cut = cut ? 1 : since_cut + 1;
      return cut;
    });
    REQUIRE(r.fragments.size() == r.written.size());
    std::vector<size_t> independent_parts, other_parts;
    for (size_t k = 1; k < r.written.size(); ++k)
      (r.written[k].front().keyframe ? independent_parts : other_parts).push_back(k);
    REQUIRE(independent_parts.size() == 2);
    REQUIRE(other_parts.size() >= 4);

    // Init: ftyp + moov, no samples in it (no moof before the first cut).
    const auto init = boxes(r.init, 0, r.init.size());
    REQUIRE(init);
    CHECK(types(*init) == std::vector<std::string>{"ftyp", "moov"});
    const std::string ftyp(r.init.begin() + 8, r.init.begin() + long((*init)[0].size));
    CAPTURE(ftyp);
    CHECK(ftyp.find("iso6") != std::string::npos);  // the brand of default-base-is-moof fragments

    // Fragments: default-base-is-moof (tfhd flag 0x020000), positive composition offsets (trun v0).
    for (size_t k = 0; k < r.fragments.size(); ++k) {
      CAPTURE(k);
      for (const Traf& t : trafs(r.fragments[k])) {
        CHECK((t.tfhd_flags & 0x020000) != 0);
        CHECK(t.trun_version == 0);
      }
    }

    // All of it, as a player reads it from the start: every frame, with our presentation times.
    const Demuxed all = demux(join(r.init, r.fragments), "mp4");
    REQUIRE(all.streams.size() == 2);
    const int vi = all.find(AVMEDIA_TYPE_VIDEO);
    const int ai = all.find(AVMEDIA_TYPE_AUDIO);
    REQUIRE(vi >= 0);
    REQUIRE(ai >= 0);
    CHECK(all.streams[size_t(vi)].width == 320);
    CHECK(all.streams[size_t(vi)].height == 240);
    CHECK(all.streams[size_t(ai)].sample_rate == 48000);
    CHECK(all.streams[size_t(ai)].channels == 2);
    const AVRational vtb{1, 90000}, atb{1, 48000};
    CHECK(demuxed_pts(all, AVMEDIA_TYPE_VIDEO, vtb) == pts_of(units, Track::video));
    CHECK(close_to(demuxed_pts(all, AVMEDIA_TYPE_AUDIO, atb), pts_of(units, Track::audio), 2));
    const Decoded vdec = decode(all, vi, true);
    CHECK(vdec.errors == 0);
    CHECK(vdec.frames == 90);
    const Decoded adec = decode(all, ai, true);
    CHECK(adec.errors == 0);
    CHECK(adec.frames >= int(pts_of(units, Track::audio).size()) - 1);

    // One fragment alone behind the init segment, as a player that joins at that part: its frames at
    // their times (tfdt, moof-relative offsets). One that starts at a keyframe decodes cleanly; one that
    // does not makes the decoder complain (FFmpeg probes by decoding), which is why such a part is not
    // INDEPENDENT.
    for (size_t k : {independent_parts[0], other_parts[1]}) {
      CAPTURE(k);
      const bool independent = r.written[k].front().keyframe;
      const int errors_before = ffmpeg_errors.count();
      ffmpeg_errors.report(independent);
      const Demuxed one = demux(join(r.init, {r.fragments[k]}), "mp4");
      CHECK(demuxed_pts(one, AVMEDIA_TYPE_VIDEO, vtb) == pts_of(r.written[k], Track::video));
      CHECK(close_to(demuxed_pts(one, AVMEDIA_TYPE_AUDIO, atb), pts_of(r.written[k], Track::audio), 2));
      if (independent) {
        CHECK(decode(one, one.find(AVMEDIA_TYPE_VIDEO), true).errors == 0);
        CHECK(ffmpeg_errors.count() == errors_before);
      }
      ffmpeg_errors.report(true);
      expected_errors += ffmpeg_errors.count() - errors_before;
    }
  }
  CHECK(ffmpeg_errors.count() == expected_errors);
}

TEST_CASE("cmaf muxer: presents every frame when TS does, B-frames and AAC priming included") {
  FfmpegErrors ffmpeg_errors;
  auto video = encode_h264(60);
  auto audio = encode_audio("aac", 44100, 2.0);
  REQUIRE(video);
  REQUIRE(audio);
  const auto units = interleave(video->units, audio->units, 5 * 90000);
  auto cmaf = CmafMuxer::create(video->config, audio->config);
  auto ts = TsMuxer::create(video->config, audio->config);
  REQUIRE(cmaf.ok());
  REQUIRE(ts.ok());
  const Run r = run(**cmaf, units, before_keyframe);
  for (const AccessUnit& u : units) REQUIRE((*ts)->write(u).ok());
  const Demuxed from_ts = demux((*ts)->cut(kUnknownEnd), "mpegts");
  const Demuxed from_cmaf = demux(join(r.init, r.fragments), "mp4");
  const AVRational ts_tb{1, 90000};
  CHECK(demuxed_pts(from_cmaf, AVMEDIA_TYPE_VIDEO, AVRational{1, 90000}) ==
        demuxed_pts(from_ts, AVMEDIA_TYPE_VIDEO, ts_tb));
  // 44.1 kHz does not divide 90 kHz: within a tick of each.
  CHECK(close_to(demuxed_pts(from_cmaf, AVMEDIA_TYPE_AUDIO, AVRational{1, 44100}),
                 demuxed_pts(from_ts, AVMEDIA_TYPE_AUDIO, ts_tb), 3));
  // The first frames of both tracks keep their offset: video's first PTS is after its first DTS.
  CHECK(pts_of(units, Track::video).front() > units.front().dts);
  CHECK(ffmpeg_errors.count() == 0);
}

TEST_CASE("cmaf muxer: RTMP's millisecond clock: no complaint from libavformat, every time kept") {
  // FLV carries DTS and composition time in whole milliseconds, so the DTS steps of a steady stream
  // jitter by 1 ms (AAC at 48 kHz: 21, 21, 22 ms; 30 fps: 33, 33, 34 ms). A fragment's last frame must
  // not be given a duration that reaches past the next fragment's first DTS, nor one that falls short
  // of it: libavformat would start the next fragment where the duration ends, moving every frame in it
  // (and, past the next DTS, drop the first frame's PTS: a B-frame shown at the wrong time).
  FfmpegErrors ffmpeg_complaints(true, AV_LOG_WARNING);
  auto video = encode_h264(90);
  auto audio = encode_audio("aac", 48000, 3.0);
  REQUIRE(video);
  REQUIRE(audio);
  std::vector<AccessUnit> units = interleave(video->units, audio->units, 7 * 90000);
  const auto to_ms = [](Ticks90k t) { return (t + 45) / 90 * 90; };
  for (AccessUnit& u : units) {
    u.dts = to_ms(u.dts);
    u.pts = to_ms(u.pts);
  }
  auto created = CmafMuxer::create(video->config, audio->config);
  REQUIRE(created.ok());
  int since_cut = 0;  // parts of at most 4 video frames, as LL-HLS cuts them at 333 ms and below
  const Run r = run(**created, units, [&](const AccessUnit& u, size_t) {
    if (u.track != Track::video) return false;
    const bool cut = since_cut > 0 && (u.keyframe || since_cut == 4);
    since_cut = cut ? 1 : since_cut + 1;
    return cut;
  });
  REQUIRE(r.fragments.size() > 20);
  const Demuxed d = demux(join(r.init, r.fragments), "mp4");
  CHECK(demuxed_pts(d, AVMEDIA_TYPE_VIDEO, AVRational{1, 90000}) == pts_of(units, Track::video));
  CHECK(close_to(demuxed_pts(d, AVMEDIA_TYPE_AUDIO, AVRational{1, 48000}), pts_of(units, Track::audio), 2));
  CHECK(ffmpeg_complaints.count() == 0);
}

TEST_CASE("cmaf muxer: a new muxer carries on the timeline (republish, new configuration)") {
  FfmpegErrors ffmpeg_errors;
  auto video = encode_h264(30);
  REQUIRE(video);
  const Ticks90k later = Ticks90k{3600} * 90000;  // an hour into the stream
  const auto units = interleave(video->units, {}, later);
  auto created = CmafMuxer::create(video->config, std::nullopt);
  REQUIRE(created.ok());
  const Run r = run(**created, units, [](const AccessUnit&, size_t) { return false; });
  REQUIRE(r.fragments.size() == 1);
  const std::vector<Traf> t = trafs(r.fragments[0]);
  REQUIRE(t.size() == 1);
  // tfdt is the first frame's DTS as given: the timeline carries on, it does not restart at 0.
  CHECK(t[0].base_decode_time == uint64_t(units.front().dts));
  const Demuxed d = demux(join(r.init, r.fragments), "mp4");
  CHECK(demuxed_pts(d, AVMEDIA_TYPE_VIDEO, AVRational{1, 90000}) == pts_of(units, Track::video));
  CHECK(ffmpeg_errors.count() == 0);
}

TEST_CASE("cmaf muxer: audio only, AAC (ADTS taken off) and MP3") {
  FfmpegErrors ffmpeg_errors;
  SUBCASE("AAC, some frames with ADTS headers") {
    auto audio = encode_audio("aac", 48000, 1.0);
    REQUIRE(audio);
    std::vector<AccessUnit> units = interleave({}, audio->units, 0);
    // Every other frame behind a 7-byte ADTS header (protection absent), as some encoders send them.
    for (size_t i = 0; i < units.size(); i += 2) {
      Bytes framed{0xFF, 0xF1, 0x4C, 0x80, 0, 0, 0xFC};
      framed.insert(framed.end(), units[i].data->begin(), units[i].data->end());
      units[i].data = std::make_shared<const Bytes>(std::move(framed));
    }
    auto m = CmafMuxer::create(std::nullopt, audio->config);
    REQUIRE(m.ok());
    const Run r = run(**m, units, [](const AccessUnit&, size_t i) { return i % 15 == 0; });
    const Demuxed d = demux(join(r.init, r.fragments), "mp4");
    REQUIRE(d.streams.size() == 1);
    CHECK(d.streams[0].codec == AV_CODEC_ID_AAC);
    CHECK(close_to(demuxed_pts(d, AVMEDIA_TYPE_AUDIO, AVRational{1, 48000}), pts_of(units, Track::audio), 2));
    const Decoded dec = decode(d, 0, true);
    CHECK(dec.errors == 0);
  }
  SUBCASE("MP3") {
    auto audio = encode_audio("libmp3lame", 44100, 1.0);
    if (!audio) return;  // this FFmpeg has no libmp3lame
    const auto units = interleave({}, audio->units, 0);
    auto m = CmafMuxer::create(std::nullopt, audio->config);
    REQUIRE_MESSAGE(m.ok(), m.error());
    const Run r = run(**m, units, [](const AccessUnit&, size_t i) { return i % 10 == 0; });
    const Demuxed d = demux(join(r.init, r.fragments), "mp4");
    REQUIRE(d.streams.size() == 1);
    CHECK(d.streams[0].codec == AV_CODEC_ID_MP3);
    CHECK(d.packets.size() == units.size());
    CHECK(decode(d, 0, true).errors == 0);
  }
  CHECK(ffmpeg_errors.count() == 0);
}

TEST_CASE("cmaf muxer: bad access units are refused, an equal DTS is moved on, the muxer carries on") {
  FfmpegErrors ffmpeg_errors;
  auto video = encode_h264(30);
  REQUIRE(video);
  auto created = CmafMuxer::create(video->config, std::nullopt);
  REQUIRE(created.ok());
  CmafMuxer& m = **created;
  CHECK(m.cut(kUnknownEnd).empty());  // nothing written: no fragment
  auto expect_error = [&](const AccessUnit& u, const char* words) {
    const Status s = m.write(u);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().rfind("cmaf muxer: ", 0) == 0);
    CHECK_MESSAGE(s.error().find(words) != std::string::npos, s.error());
  };
  std::vector<AccessUnit> units = interleave(video->units, {}, 0);
  expect_error(make_unit(Track::audio, 0, 0, true, {1, 2, 3}), "no audio track");
  expect_error(make_unit(Track::video, 0, 0, true, {}), "empty access unit");
  AccessUnit early_pts = units[0];
  early_pts.pts = early_pts.dts - 1;
  expect_error(early_pts, "timestamps");
  // Two frames with the DTS of the one before (RTMP time is whole milliseconds).
  units[5].dts = units[4].dts;
  units[9].dts = units[8].dts;
  const Run r = run(m, units, before_keyframe);
  const Demuxed d = demux(join(r.init, r.fragments), "mp4");
  CHECK(d.packets.size() == units.size());
  CHECK(decode(d, 0, true).errors == 0);
  CHECK(ffmpeg_errors.count() == 0);
}

TEST_CASE("cmaf muxer: an AAC frame that is an ADTS header and nothing more is refused") {
  FfmpegErrors ffmpeg_errors;
  AudioConfig aac;
  aac.codec = AudioCodec::aac;
  aac.record = {0x11, 0x90};
  aac.object_type = 2;
  aac.sample_rate = 48000;
  aac.channels = 2;
  auto created = CmafMuxer::create(std::nullopt, aac);
  REQUIRE(created.ok());
  CmafMuxer& m = **created;
  for (const Bytes& frame : {Bytes{0xFF, 0xF1, 0x50, 0x80, 0x01},              // 7-byte header cut short
                             Bytes{0xFF, 0xF1, 0x50, 0x80, 0x01, 0x1F, 0xFC},  // the header alone
                             Bytes{0xFF, 0xF0, 0x50, 0x80, 0x01, 0x3F, 0xFC, 0, 0}}) {  // with CRC: 9 bytes
    CAPTURE(frame.size());
    const Status s = m.write(make_unit(Track::audio, 0, 0, true, frame));
    REQUIRE_FALSE(s.ok());
    CHECK(s.error() == "cmaf muxer: write audio frame: ADTS header without a frame");
  }
  CHECK(m.pending_bytes() == 0);
  // A frame behind a whole header goes in.
  CHECK(m.write(make_unit(Track::audio, 0, 0, true, {0xFF, 0xF1, 0x50, 0x80, 0x01, 0x1F, 0xFC, 0x21})).ok());
  CHECK(m.pending_bytes() == 1);
  CHECK(ffmpeg_errors.count() == 0);
}
