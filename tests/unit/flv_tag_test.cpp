// Unit tests for FLV audio/video tag body parsing and AVC length-prefixed access unit checks.
#include "ingest/flv_tag.h"

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

#include "test_bytes.h"

using namespace livegate;
using livegate::testing::hex;

namespace {

std::vector<uint8_t> concat(std::initializer_list<std::vector<uint8_t>> parts) {
  std::vector<uint8_t> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// First video tag body from `ffmpeg -f lavfi -i testsrc2=size=1280x720:rate=30 -c:v libx264 -profile:v
// main -bf 2 -g 60 -f flv`: keyframe + AVC, AVCPacketType 0, composition time 0, then the avcC.
constexpr std::string_view kMain720SequenceHeader =
    "1700000000014d401fffe10019674d401feca02802dd8088000003000800000301e078c18cb001000568ebe3cb20";

}  // namespace

TEST_CASE("flv tag: AVC sequence header from ffmpeg") {
  const auto body = hex(kMain720SequenceHeader);
  auto tag = parse_video_tag(body);
  REQUIRE(tag.ok());
  CHECK(tag->kind == VideoTag::Kind::avc_sequence_header);
  CHECK(tag->frame_type == 1);
  CHECK(tag->keyframe());
  CHECK(tag->codec_id == 7);
  CHECK(tag->fourcc == 0);
  CHECK(tag->composition_time == 0);
  REQUIRE(tag->data.size() == body.size() - 5);
  CHECK(tag->data.data() == body.data() + 5);  // a span into the input, not a copy
  CHECK(tag->data[0] == 1);                    // configurationVersion
  CHECK(describe_codec(*tag) == "AVC (codec id 7)");
}

TEST_CASE("flv tag: AVC keyframe, inter and disposable NALU tags") {
  // Headers as ffmpeg writes them for the stream above (keyframe with composition time 67 ms, a
  // P frame with 66 ms), followed by shortened NAL units with real NAL header bytes:
  // 06 SEI, 65 IDR slice (nal_ref_idc 3), 41 non-IDR slice, 01 non-reference slice.
  const auto nals_idr = hex("00000003 06 05 01  00000004 65 88 84 00");
  const auto key = concat({hex("17 01 000043"), nals_idr});
  auto k = parse_video_tag(key);
  REQUIRE(k.ok());
  CHECK(k->kind == VideoTag::Kind::avc_nalu);
  CHECK(k->frame_type == 1);
  CHECK(k->keyframe());
  CHECK(k->composition_time == 67);
  CHECK(std::vector<uint8_t>(k->data.begin(), k->data.end()) == nals_idr);
  CHECK(avc_has_idr(k->data, 4));

  const auto inter = concat({hex("27 01 000042"), hex("00000004 41 9a 21 6c")});
  auto p = parse_video_tag(inter);
  REQUIRE(p.ok());
  CHECK(p->kind == VideoTag::Kind::avc_nalu);
  CHECK(p->frame_type == 2);
  CHECK_FALSE(p->keyframe());
  CHECK(p->composition_time == 66);
  CHECK_FALSE(avc_has_idr(p->data, 4));

  auto b = parse_video_tag(concat({hex("37 01 000000"), hex("00000003 01 9e 41")}));
  REQUIRE(b.ok());
  CHECK(b->frame_type == 3);
  CHECK_FALSE(b->keyframe());

  // Generated keyframes are server-made seek points; the header says keyframe either way.
  auto g = parse_video_tag(concat({hex("47 01 000000"), nals_idr}));
  REQUIRE(g.ok());
  CHECK(g->frame_type == 4);
  CHECK(g->keyframe());
}

TEST_CASE("flv tag: AVC end of sequence") {
  // The last video tag ffmpeg writes into every FLV above.
  auto tag = parse_video_tag(hex("1702000000"));
  REQUIRE(tag.ok());
  CHECK(tag->kind == VideoTag::Kind::avc_end_of_sequence);
  CHECK(tag->data.empty());
}

TEST_CASE("flv tag: negative composition time") {
  auto tag = parse_video_tag(hex("27 01 fffff6 00000002 41 9a"));
  REQUIRE(tag.ok());
  CHECK(tag->composition_time == -10);
  auto min = parse_video_tag(hex("27 01 800000"));
  REQUIRE(min.ok());
  CHECK(min->composition_time == -8388608);
  auto max = parse_video_tag(hex("27 01 7fffff"));
  REQUIRE(max.ok());
  CHECK(max->composition_time == 8388607);
}

TEST_CASE("flv tag: command frames and other codecs are unsupported, not errors") {
  // Frame type 5 with AVC: a one-byte seek marker instead of an AVCPacketType.
  auto command = parse_video_tag(hex("57 00"));
  REQUIRE(command.ok());
  CHECK(command->kind == VideoTag::Kind::unsupported);
  CHECK(command->frame_type == 5);
  CHECK(command->codec_id == 7);

  auto h263 = parse_video_tag(hex("22 0000840012"));
  REQUIRE(h263.ok());
  CHECK(h263->kind == VideoTag::Kind::unsupported);
  CHECK(h263->codec_id == 2);
  CHECK(h263->frame_type == 2);
  CHECK(h263->data.size() == 5);
  CHECK(describe_codec(*h263) == "Sorenson H.263 (codec id 2)");

  auto vp6 = parse_video_tag(hex("14"));  // one byte is a whole (empty) tag for non-AVC codecs
  REQUIRE(vp6.ok());
  CHECK(vp6->kind == VideoTag::Kind::unsupported);
  CHECK(vp6->codec_id == 4);
  CHECK(vp6->data.empty());
  CHECK(describe_codec(*vp6) == "On2 VP6 (codec id 4)");

  auto hevc_legacy = parse_video_tag(hex("1c 00 000000 01"));
  REQUIRE(hevc_legacy.ok());
  CHECK(hevc_legacy->kind == VideoTag::Kind::unsupported);
  CHECK(hevc_legacy->codec_id == 12);
}

TEST_CASE("flv tag: Enhanced RTMP video is unsupported with its FourCC") {
  // IsExHeader 1, FrameType 1, PacketType 0 (SequenceStart), FourCC 'hvc1', then an hvcC.
  auto hevc = parse_video_tag(hex("90 68766331 01 02"));
  REQUIRE(hevc.ok());
  CHECK(hevc->kind == VideoTag::Kind::unsupported);
  CHECK(hevc->codec_id == 0);
  CHECK(hevc->frame_type == 1);
  CHECK(hevc->keyframe());
  CHECK(hevc->fourcc == 0x68766331);
  CHECK(hevc->data.size() == 2);
  CHECK(describe_codec(*hevc) == "Enhanced RTMP 'hvc1'");

  // FrameType 2, PacketType 1 (CodedFrames), 'av01'.
  auto av1 = parse_video_tag(hex("a1 61763031 aa"));
  REQUIRE(av1.ok());
  CHECK(av1->frame_type == 2);
  CHECK(av1->fourcc == 0x61763031);

  // A command frame carries a command byte, not a FourCC.
  auto command = parse_video_tag(hex("d0 00"));
  REQUIRE(command.ok());
  CHECK(command->kind == VideoTag::Kind::unsupported);
  CHECK(command->frame_type == 5);
  CHECK(command->fourcc == 0);

  // Too short for a FourCC: still reported, not an error.
  auto cut = parse_video_tag(hex("90 6876"));
  REQUIRE(cut.ok());
  CHECK(cut->kind == VideoTag::Kind::unsupported);
  CHECK(cut->fourcc == 0);
  CHECK(describe_codec(*cut) == "Enhanced RTMP");

  auto odd = parse_video_tag(hex("90 00000001"));
  REQUIRE(odd.ok());
  CHECK(describe_codec(*odd) == "Enhanced RTMP 0x00000001");
}

TEST_CASE("flv tag: malformed video payloads are errors") {
  CHECK_FALSE(parse_video_tag({}).ok());
  for (size_t n = 1; n < 5; ++n) {
    auto body = hex("17 01 000000");
    body.resize(n);
    CAPTURE(n);
    auto tag = parse_video_tag(body);
    CHECK_FALSE(tag.ok());
  }
  auto one = parse_video_tag(hex("27"));
  REQUIRE_FALSE(one.ok());
  CHECK(one.error() == "video tag: AVC header needs 5 bytes, got 1");
  auto unknown = parse_video_tag(hex("17 03 000000"));
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error() == "video tag: unknown AVCPacketType 3");
}

TEST_CASE("flv tag: AAC sequence header and raw frame from ffmpeg") {
  // First two audio tag bodies from `ffmpeg -f lavfi -i sine=sample_rate=48000 -ac 2 -c:a aac -f flv`.
  const auto header = hex("af00119056e500");
  auto seq = parse_audio_tag(header);
  REQUIRE(seq.ok());
  CHECK(seq->kind == AudioTag::Kind::aac_sequence_header);
  CHECK(seq->sound_format == 10);
  CHECK(seq->sound_rate == 3);
  CHECK(seq->sound_size == 1);
  CHECK(seq->sound_type == 1);
  CHECK(std::vector<uint8_t>(seq->data.begin(), seq->data.end()) == hex("119056e500"));
  CHECK(describe_codec(*seq) == "AAC (sound format 10)");

  const auto raw_body = hex("af01de02004c61766335392e");  // data spans into it: keep it alive
  auto raw = parse_audio_tag(raw_body);
  REQUIRE(raw.ok());
  CHECK(raw->kind == AudioTag::Kind::aac_raw);
  CHECK(raw->data.size() == 10);
  CHECK(raw->data[0] == 0xde);
}

TEST_CASE("flv tag: MP3 and other audio formats") {
  // libmp3lame at 44100 stereo: 0x2f = MP3, 44 kHz, 16-bit, stereo.
  const auto mp3_body = hex("2ffffb906400");
  auto mp3 = parse_audio_tag(mp3_body);
  REQUIRE(mp3.ok());
  CHECK(mp3->kind == AudioTag::Kind::mp3);
  CHECK(mp3->sound_format == 2);
  CHECK(mp3->sound_rate == 3);
  CHECK(mp3->sound_size == 1);
  CHECK(mp3->sound_type == 1);
  CHECK(mp3->data.size() == 5);
  CHECK(mp3->data[0] == 0xff);

  // libmp3lame at 22050 mono: 0x2a = MP3, 22 kHz, 16-bit, mono.
  auto mono = parse_audio_tag(hex("2afff340c4"));
  REQUIRE(mono.ok());
  CHECK(mono->sound_rate == 2);
  CHECK(mono->sound_type == 0);

  auto mp3_8k = parse_audio_tag(hex("e2ffe328c4"));
  REQUIRE(mp3_8k.ok());
  CHECK(mp3_8k->kind == AudioTag::Kind::mp3);
  CHECK(mp3_8k->sound_format == 14);

  // The tag itself is fine without frame bytes; parse_mp3_header rejects the empty data later.
  auto bare = parse_audio_tag(hex("2f"));
  REQUIRE(bare.ok());
  CHECK(bare->kind == AudioTag::Kind::mp3);
  CHECK(bare->data.empty());

  auto speex = parse_audio_tag(hex("b2 0102"));
  REQUIRE(speex.ok());
  CHECK(speex->kind == AudioTag::Kind::unsupported);
  CHECK(speex->sound_format == 11);
  CHECK(speex->data.size() == 2);
  CHECK(describe_codec(*speex) == "Speex (sound format 11)");

  auto pcm = parse_audio_tag(hex("3f"));
  REQUIRE(pcm.ok());
  CHECK(pcm->kind == AudioTag::Kind::unsupported);
  CHECK(describe_codec(*pcm) == "Linear PCM, little endian (sound format 3)");

  auto reserved = parse_audio_tag(hex("c0"));
  REQUIRE(reserved.ok());
  CHECK(describe_codec(*reserved) == "unknown (sound format 12)");
}

TEST_CASE("flv tag: malformed audio payloads are errors") {
  CHECK_FALSE(parse_audio_tag({}).ok());
  auto one = parse_audio_tag(hex("af"));
  REQUIRE_FALSE(one.ok());
  CHECK(one.error() == "audio tag: AAC header needs 2 bytes, got 1");
  auto unknown = parse_audio_tag(hex("af02 1190"));
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error() == "audio tag: unknown AACPacketType 2");
}

TEST_CASE("flv tag: validate_avc_nalus accepts exactly tiled units") {
  CHECK(validate_avc_nalus(hex("00000002 0988 00000003 65 88 84"), 4).ok());
  CHECK(validate_avc_nalus(hex("0002 0988 0003 658884"), 2).ok());
  CHECK(validate_avc_nalus(hex("02 0988 03 658884"), 1).ok());
  CHECK(validate_avc_nalus(hex("00000001 65"), 4).ok());

  CHECK(avc_has_idr(hex("00000002 0988 00000003 65 88 84"), 4));
  CHECK(avc_has_idr(hex("0002 0988 0003 258884"), 2));  // nal_ref_idc 1 is still IDR
  CHECK(avc_has_idr(hex("02 0988 03 658884"), 1));
  CHECK_FALSE(avc_has_idr(hex("00000002 0988 00000003 41 9a 21"), 4));
  // Only NAL headers count, not IDR-looking bytes inside another unit.
  CHECK_FALSE(avc_has_idr(hex("00000005 0605ff6501"), 4));
}

TEST_CASE("flv tag: validate_avc_nalus rejects malformed units") {
  auto past_end = validate_avc_nalus(hex("00000002 0988 00000010 65 88 84"), 4);
  REQUIRE_FALSE(past_end.ok());
  CHECK(past_end.error() == "NAL unit 1: length 16 exceeds the 3 bytes left");
  CHECK_FALSE(avc_has_idr(hex("00000002 0988 00000010 65 88 84"), 4));
  // An IDR before the damage does not make the access unit usable.
  CHECK_FALSE(avc_has_idr(hex("00000001 65 00000009 41"), 4));

  auto zero = validate_avc_nalus(hex("00000002 0988 00000000 00000001 65"), 4);
  REQUIRE_FALSE(zero.ok());
  CHECK(zero.error() == "NAL unit 1: zero length");
  CHECK_FALSE(avc_has_idr(hex("00000001 65 00000000"), 4));

  auto short_prefix = validate_avc_nalus(hex("00000001 65 0000"), 4);
  REQUIRE_FALSE(short_prefix.ok());
  CHECK(short_prefix.error() == "NAL unit 1: 2 trailing bytes cannot hold a 4-byte length");

  auto empty = validate_avc_nalus({}, 4);
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.error() == "empty access unit");
  CHECK_FALSE(avc_has_idr({}, 4));

  for (uint8_t size : {0, 3, 5, 8}) {
    CAPTURE(size);
    auto bad = validate_avc_nalus(hex("000001 65"), size);
    CHECK_FALSE(bad.ok());
    CHECK_FALSE(avc_has_idr(hex("000001 65"), size));
  }
  CHECK(validate_avc_nalus(hex("000001 65"), 3).error() == "NAL length size 3 is not 1, 2 or 4");

  // Every truncation of a good unit list is caught, except at the boundary between units.
  const auto good = hex("00000002 0988 00000003 65 88 84");
  for (size_t n = 1; n < good.size(); ++n) {
    if (n == 6) continue;
    CAPTURE(n);
    CHECK_FALSE(validate_avc_nalus(Bytes(good).first(n), 4).ok());
    CHECK_FALSE(avc_has_idr(Bytes(good).first(n), 4));
  }
}
