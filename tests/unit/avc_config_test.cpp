// Unit tests for the avcC and SPS parsers and the Exp-Golomb bit reader under them.
#include "ingest/avc_config.h"

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "bit_writer.h"
#include "ingest/bit_reader.h"
#include "test_bytes.h"

using namespace livegate;
using livegate::testing::BitWriter;
using livegate::testing::for_each_flipped_bit;
using livegate::testing::hex;
using livegate::testing::to_nal;

namespace {

// avcC records from the first video tag of FLV files written by ffmpeg 5.1 / libx264 164
// (`ffmpeg -f lavfi -i testsrc2=size=WxH:rate=R -c:v libx264 ... -f flv`), the 5-byte tag header
// dropped. Expected values agree with ffprobe on the same files.
struct RealAvcc {
  const char* name;
  const char* record;
  uint8_t profile, constraint_flags, level;
  uint32_t width, height;
  double frame_rate;
};
const RealAvcc kReal[] = {
    {"main 1280x720 @30 (-profile:v main -bf 2 -g 60)",
     "014d401fffe10019674d401feca02802dd8088000003000800000301e078c18cb001000568ebe3cb20", 77, 0x40, 31, 1280,
     720, 30},
    {"high 1920x1080 @30, 1088 coded rows cropped (-profile:v high)",
     "01640028ffe1001b67640028acd940780227e5c044000003000400000300f03c60c65801000668ebe3cb22c0fdf8f800", 100,
     0, 40, 1920, 1080, 30},
    {"constrained baseline 320x240 @30 (-profile:v baseline)",
     "0142c00dffe100186742c00dd90141fb0110000003001000000303c0f142a48001000568cb83cb20", 66, 0xc0, 13, 320,
     240, 30},
    {"main 854x480 @30, 864 coded columns cropped",
     "014d401fffe10018674d401feca06c1ef3780880000003008000001e078c18cb01000568ebe3cb20", 77, 0x40, 31, 854,
     480, 30},
    {"high interlaced 1920x1080 @25, field pairs (-flags +ildct+ilme -x264-params interlaced=1)",
     "01640028ffe1001a67640028acd94078044fde0220000003002000000643e2c5b2c001000668fba3cb22c0fdf8f800", 100, 0,
     40, 1920, 1080, 25},
    {"high 4:4:4 852x478 @24, crop unit 1 (-pix_fmt yuv444p -profile:v high444)",
     "01f4001effe1001b67f4001e919b281b07bc6de022000003000200000300601e2c5b2c01000668ebe3c44844fff8f800", 244,
     0, 30, 852, 478, 24},
    {"high 4:2:2 852x478 @24 (-pix_fmt yuv422p -profile:v high422)",
     "017a001effe1001a677a001ebcd940d83de7bc0440000003004000000c03c58b658001000668ebe3cb22c0fef8f800", 122, 0,
     30, 852, 478, 24},
    {"high 10 640x360 @30000/1001 (-pix_fmt yuv420p10le)",
     "016e001effe10019676e001ea6cd940a02ff97011000003e90000ea600f162d96001000668ebe3cb22c0fdfafa00", 110, 0,
     30, 640, 360, 30000.0 / 1001},
    {"high 640x360 @30, VUI with Extended_SAR 7:5, colour description, chroma location, full range",
     "0164001effe100236764001eacd940a02ff97ff00070005b5010101b70000003001000000303c0f162d96001000668ebe3cb22c"
     "0"
     "fdf8f800",
     100, 0, 30, 640, 360, 30},
    {"high 640x360 @30 with NAL HRD parameters (-x264-params nal-hrd=cbr)",
     "0164001effe100256764001eacd940a02ff970110000030001000003003c606000f424001e84e6c30078b16cb001000568ebecb"
     "2"
     "2cfdf8f800",
     100, 0, 30, 640, 360, 30},
    {"high 16x16 @30, a single macroblock",
     "0164000affe100176764000aacd95ec044000003000400000300f03c48965801000668ebe3cb22c0fdf8f800", 100, 0, 10,
     16, 16, 30},
};

VideoConfig must_parse(std::string_view avcc_hex) {
  auto config = parse_avcc(hex(avcc_hex));
  REQUIRE_MESSAGE(config.ok(), config.error());
  return *config;
}

// The fields of H.264 7.3.2.1.1 / E.1.1 that a test may want to vary; defaults are a 1920x1080
// 4:2:0 High profile SPS with 25 fps timing.
struct SpsFields {
  uint8_t profile_idc = 100, constraint_flags = 0, level_idc = 40;
  uint32_t sps_id = 0;
  uint32_t chroma_format_idc = 1;
  bool separate_colour_plane = false;
  uint32_t bit_depth_luma_minus8 = 0, bit_depth_chroma_minus8 = 0;
  bool scaling_matrix = false;
  std::vector<std::vector<int>> scaling_lists;  // delta_scale values per list; empty = list absent
  uint32_t log2_max_frame_num_minus4 = 0;
  uint32_t poc_type = 0;
  uint32_t log2_max_poc_lsb_minus4 = 2;
  std::vector<int> poc_cycle;  // offset_for_ref_frame[] for poc_type 1
  uint32_t max_num_ref_frames = 4;
  uint64_t width_mbs_minus1 = 119, height_map_units_minus1 = 67;
  bool frame_mbs_only = true;
  bool cropping = true;
  std::array<uint64_t, 4> crop{0, 0, 0, 4};  // left, right, top, bottom
  bool vui = true;
  int aspect_ratio_idc = -1;  // -1: aspect_ratio_info_present_flag 0
  uint16_t sar_width = 0, sar_height = 0;
  bool video_signal = false;
  bool chroma_loc = false;
  uint32_t chroma_loc_top = 0;
  bool timing = true;
  uint32_t num_units_in_tick = 1, time_scale = 50;
  bool nal_hrd = false;
  uint32_t cpb_cnt_minus1 = 0;
  bool bitstream_restriction = true;
};

std::vector<uint8_t> build_sps(const SpsFields& f) {
  BitWriter w;
  w.u(8, f.profile_idc);
  w.u(8, f.constraint_flags);
  w.u(8, f.level_idc);
  w.ue(f.sps_id);
  if (f.profile_idc == 100 || f.profile_idc == 110 || f.profile_idc == 122 || f.profile_idc == 244) {
    w.ue(f.chroma_format_idc);
    if (f.chroma_format_idc == 3) w.flag(f.separate_colour_plane);
    w.ue(f.bit_depth_luma_minus8);
    w.ue(f.bit_depth_chroma_minus8);
    w.flag(false);  // qpprime_y_zero_transform_bypass_flag
    w.flag(f.scaling_matrix);
    if (f.scaling_matrix) {
      const size_t lists = f.chroma_format_idc != 3 ? 8 : 12;
      for (size_t i = 0; i < lists; ++i) {
        const bool present = i < f.scaling_lists.size() && !f.scaling_lists[i].empty();
        w.flag(present);
        if (present) {
          for (int d : f.scaling_lists[i]) w.se(d);
        }
      }
    }
  }
  w.ue(f.log2_max_frame_num_minus4);
  w.ue(f.poc_type);
  if (f.poc_type == 0) {
    w.ue(f.log2_max_poc_lsb_minus4);
  } else if (f.poc_type == 1) {
    w.flag(false);  // delta_pic_order_always_zero_flag
    w.se(-1);       // offset_for_non_ref_pic
    w.se(2);        // offset_for_top_to_bottom_field
    w.ue(f.poc_cycle.size());
    for (int o : f.poc_cycle) w.se(o);
  }
  w.ue(f.max_num_ref_frames);
  w.flag(false);  // gaps_in_frame_num_value_allowed_flag
  w.ue(f.width_mbs_minus1);
  w.ue(f.height_map_units_minus1);
  w.flag(f.frame_mbs_only);
  if (!f.frame_mbs_only) w.flag(true);  // mb_adaptive_frame_field_flag
  w.flag(true);                         // direct_8x8_inference_flag
  w.flag(f.cropping);
  if (f.cropping) {
    for (uint64_t c : f.crop) w.ue(c);
  }
  w.flag(f.vui);
  if (f.vui) {
    w.flag(f.aspect_ratio_idc >= 0);
    if (f.aspect_ratio_idc >= 0) {
      w.u(8, static_cast<uint64_t>(f.aspect_ratio_idc));
      if (f.aspect_ratio_idc == 255) {
        w.u(16, f.sar_width);
        w.u(16, f.sar_height);
      }
    }
    w.flag(true);  // overscan_info_present_flag
    w.flag(false);
    w.flag(f.video_signal);
    if (f.video_signal) {
      w.u(3, 5);          // video_format: unspecified
      w.flag(false);      // video_full_range_flag
      w.flag(true);       // colour_description_present_flag
      w.u(24, 0x010101);  // BT.709 primaries, transfer, matrix
    }
    w.flag(f.chroma_loc);
    if (f.chroma_loc) {
      w.ue(f.chroma_loc_top);
      w.ue(0);
    }
    w.flag(f.timing);
    if (f.timing) {
      w.u(32, f.num_units_in_tick);
      w.u(32, f.time_scale);
      w.flag(true);  // fixed_frame_rate_flag
    }
    w.flag(f.nal_hrd);
    if (f.nal_hrd) {
      w.ue(f.cpb_cnt_minus1);
      w.u(4, 0);
      w.u(4, 2);
      for (uint32_t i = 0; i <= f.cpb_cnt_minus1; ++i) {
        w.ue(62499);   // bit_rate_value_minus1
        w.ue(124999);  // cpb_size_value_minus1
        w.flag(true);
      }
      w.u(20, 0xBDEF7);  // four 5-bit lengths
    }
    w.flag(false);                 // vcl_hrd_parameters_present_flag
    if (f.nal_hrd) w.flag(false);  // low_delay_hrd_flag
    w.flag(false);                 // pic_struct_present_flag
    w.flag(f.bitstream_restriction);
    if (f.bitstream_restriction) {
      w.flag(true);
      for (uint32_t v : {0u, 0u, 16u, 16u, 2u, 4u}) w.ue(v);
    }
  }
  return to_nal({0x67}, w.finish());
}

Result<SpsInfo> sps_of(const SpsFields& f) { return parse_sps(build_sps(f)); }

}  // namespace

TEST_CASE("avc config: bit reader fixed-width and Exp-Golomb codes") {
  // 1 | 010 | 011 | 00100 | 00101 | 0001000 -> ue 0, 1, 2, 3, 4, 7 (H.264 table 9-2)
  const auto ue_bits = hex("a6 42 88 00");
  BitReader br(ue_bits);
  CHECK(br.ue() == 0);
  CHECK(br.ue() == 1);
  CHECK(br.ue() == 2);
  CHECK(br.ue() == 3);
  CHECK(br.ue() == 4);
  CHECK(br.ue() == 7);
  CHECK_FALSE(br.failed());
  CHECK(br.bits_left() == 8);

  // se: codeNum 1, 2, 3, 4 -> 1, -1, 2, -2
  const auto se_bits = hex("4c 85");  // 010 011 00100 00101
  BitReader sr(se_bits);
  CHECK(sr.se() == 1);
  CHECK(sr.se() == -1);
  CHECK(sr.se() == 2);
  CHECK(sr.se() == -2);
  CHECK_FALSE(sr.failed());

  const auto word = hex("deadbeef 80");
  BitReader wr(word);
  CHECK(wr.bits(4) == 0xd);
  CHECK(wr.bits(32) == 0xeadbeef8);
  CHECK(wr.bits(0) == 0);
  CHECK(wr.bits(4) == 0);
  CHECK_FALSE(wr.failed());
  CHECK(wr.bits(1) == 0);  // past the end: fails and stays failed
  CHECK(wr.failed());
  CHECK(wr.bits_left() == 0);
  CHECK(wr.flag() == false);
}

TEST_CASE("avc config: bit reader limits ue(v) to 31 leading zeros") {
  // 31 zeros, a one, 31 ones: the largest 32-bit codeNum, 2^32 - 2.
  const auto max = hex("00000001 ffffffff");
  BitReader br(max);
  CHECK(br.ue() == 0xFFFFFFFEu);
  CHECK_FALSE(br.failed());
  // Its se(v) mapping is -(2^31 - 1); the next codeNum down maps to +(2^31 - 1).
  BitReader sr(max);
  CHECK(sr.se() == -2147483647);

  const auto zeros32 = hex("00000000 ffffffff");
  BitReader z(zeros32);
  CHECK(z.ue() == 0);
  CHECK(z.failed());

  const auto zeros40 = hex("0000000000 ffffffffff");
  BitReader z40(zeros40);
  z40.ue();
  CHECK(z40.failed());

  const auto all_zero = std::vector<uint8_t>(4096, 0);  // no hang, just a failure
  BitReader az(all_zero);
  az.ue();
  CHECK(az.failed());

  const auto cut = hex("00 ff");  // 8 zeros, a one, only 7 of the 8 info bits
  BitReader c(cut);
  c.ue();
  CHECK(c.failed());
  CHECK_FALSE(BitReader({}).failed());
}

TEST_CASE("avc config: real avcC records from x264") {
  for (const auto& real : kReal) {
    CAPTURE(real.name);
    const auto bytes = hex(real.record);
    auto config = parse_avcc(bytes);
    REQUIRE_MESSAGE(config.ok(), config.error());
    CHECK(config->codec == VideoCodec::h264);
    CHECK(config->record == bytes);
    CHECK(config->nal_length_size == 4);
    CHECK(config->profile == real.profile);
    CHECK(config->level == real.level);
    CHECK(config->width == real.width);
    CHECK(config->height == real.height);
    CHECK(config->frame_rate == doctest::Approx(real.frame_rate));
    char codecs[16];  // RFC 6381 3.3, as ffprobe's profile, constraints and level say
    std::snprintf(codecs, sizeof codecs, "avc1.%02x%02x%02x", real.profile, real.constraint_flags,
                  real.level);
    CHECK(config->codec_string == codecs);
    REQUIRE(config->sps.size() == 1);
    REQUIRE(config->pps.size() == 1);
    CHECK((config->sps[0][0] & 0x1F) == 7);
    CHECK((config->pps[0][0] & 0x1F) == 8);

    auto sps = parse_sps(config->sps[0]);
    REQUIRE(sps.ok());
    CHECK(sps->profile_idc == real.profile);
    CHECK(sps->constraint_flags == real.constraint_flags);
    CHECK(sps->level_idc == real.level);
  }
}

TEST_CASE("avc config: avcC parameter sets") {
  const VideoConfig config = must_parse(kReal[0].record);
  CHECK(config.sps[0] == hex("674d401feca02802dd8088000003000800000301e078c18cb0"));
  CHECK(config.pps[0] == hex("68ebe3cb20"));
}

TEST_CASE("avc config: avcC with several parameter sets, 1- and 2-byte lengths, no PPS") {
  const std::string sps = "674d401feca02802dd8088000003000800000301e078c18cb0";  // 25 bytes
  // lengthSizeMinusOne 1, two SPSs, two PPSs
  auto two = parse_avcc(hex("014d401f fd e2 0019" + sps + "0019" + sps + "02 0005 68ebe3cb20 0002 6801"));
  REQUIRE_MESSAGE(two.ok(), two.error());
  CHECK(two->nal_length_size == 2);
  CHECK(two->sps.size() == 2);
  CHECK(two->pps.size() == 2);
  CHECK(two->pps[1] == hex("6801"));
  CHECK(two->width == 1280);

  // lengthSizeMinusOne 0; PPS may travel in-band instead; reserved bits written as zeros.
  auto one = parse_avcc(hex("014d401f 00 01 0019" + sps + "00"));
  REQUIRE_MESSAGE(one.ok(), one.error());
  CHECK(one->nal_length_size == 1);
  CHECK(one->pps.empty());

  // Bytes after the PPS list (the high profile extension, or anything else) are not our concern.
  auto trailing = parse_avcc(hex(std::string(kReal[0].record) + "fdf8f800"));
  REQUIRE(trailing.ok());
  CHECK(trailing->height == 720);
}

TEST_CASE("avc config: malformed avcC records are errors") {
  CHECK_FALSE(parse_avcc({}).ok());

  for (const auto& real : kReal) {
    CAPTURE(real.name);
    const auto bytes = hex(real.record);
    // x264's high profile records end in 4 optional extension bytes; cutting those is still valid.
    const size_t need = bytes.size() - (real.profile >= 100 ? 4 : 0);
    for (size_t n = 0; n < need; ++n) {
      CAPTURE(n);
      CHECK_FALSE(parse_avcc(Bytes(bytes).first(n)).ok());
    }
  }

  auto version = parse_avcc(hex("004d401fffe10019674d401f"));
  REQUIRE_FALSE(version.ok());
  CHECK(version.error() == "avcC: configurationVersion 0 is not 1");

  auto length3 = parse_avcc(hex("014d401ffee10005674d401fec0100026801"));
  REQUIRE_FALSE(length3.ok());
  CHECK(length3.error() == "avcC: lengthSizeMinusOne 2 (3-byte NAL lengths) is not supported");

  auto no_sps = parse_avcc(hex("014d401fffe0 01 0002 6801"));
  REQUIRE_FALSE(no_sps.ok());
  CHECK(no_sps.error() == "avcC: no SPS");

  auto claims_31 = parse_avcc(hex("014d401fffff"));
  REQUIRE_FALSE(claims_31.ok());
  CHECK(claims_31.error() == "avcC: truncated before SPS 0 length");

  auto huge = parse_avcc(hex("014d401fffe1 ffff 674d401feca02802dd80"));
  REQUIRE_FALSE(huge.ok());
  CHECK(huge.error() == "avcC: SPS 0 length 65535 exceeds the data");

  auto empty_sps = parse_avcc(hex("014d401fffe1 0000 01 0002 6801"));
  REQUIRE_FALSE(empty_sps.ok());
  CHECK(empty_sps.error() == "avcC: SPS 0 is empty");

  auto wrong_type = parse_avcc(hex("014d401fffe1 0002 6801 01 0002 6801"));
  REQUIRE_FALSE(wrong_type.ok());
  CHECK(wrong_type.error() == "avcC: SPS 0 has nal_unit_type 8");

  const std::string sps = "0019674d401feca02802dd8088000003000800000301e078c18cb0";
  auto pps_type = parse_avcc(hex("014d401fffe1" + sps + "01 0002 6742"));
  REQUIRE_FALSE(pps_type.ok());
  CHECK(pps_type.error() == "avcC: PPS 0 has nal_unit_type 7");

  auto empty_pps = parse_avcc(hex("014d401fffe1" + sps + "01 0000"));
  REQUIRE_FALSE(empty_pps.ok());
  CHECK(empty_pps.error() == "avcC: PPS 0 is empty");

  auto bad_sps = parse_avcc(hex("014d401fffe1 0004 674d401f 01 0002 6801"));
  REQUIRE_FALSE(bad_sps.ok());
  CHECK(bad_sps.error().starts_with("avcC: SPS: "));
}

TEST_CASE("avc config: nal_to_rbsp strips emulation prevention bytes") {
  CHECK(nal_to_rbsp(hex("000003 01")) == hex("0000 01"));
  CHECK(nal_to_rbsp(hex("000003 000003 00")) == hex("0000 0000 00"));
  CHECK(nal_to_rbsp(hex("000003 0003")) == hex("0000 0003"));  // the zero count restarts after a 03
  CHECK(nal_to_rbsp(hex("0003 03")) == hex("0003 03"));        // one zero is not enough
  CHECK(nal_to_rbsp(hex("11 000003")) == hex("11 0000"));      // cabac_zero_word style tail
  CHECK(nal_to_rbsp({}).empty());
  // The real 720p SPS has two of them: 0x88 00 00 03 00 08 00 00 03 01.
  const auto sps = hex("4d401feca02802dd8088000003000800000301e078c18cb0");
  CHECK(nal_to_rbsp(sps).size() == sps.size() - 2);
}

TEST_CASE("avc config: built SPS round-trips the defaults") {
  auto sps = sps_of({});
  REQUIRE_MESSAGE(sps.ok(), sps.error());
  CHECK(sps->profile_idc == 100);
  CHECK(sps->level_idc == 40);
  CHECK(sps->width == 1920);
  CHECK(sps->height == 1080);
  CHECK(sps->frame_rate == 25);
}

TEST_CASE("avc config: SPS scaling matrices are walked, not misread") {
  SpsFields f;
  f.scaling_matrix = true;
  // List 0: 16 deltas. List 1: a delta that makes nextScale 0 on the first coefficient, which
  // means "use the default list" and ends it. List 6 (8x8 intra): 64 deltas. List 3: ends after
  // three coefficients (8 -> 12 -> 16 -> 0) and repeats 16 for the rest.
  std::vector<int> sixteen(16, 1);
  std::vector<int> sixty_four(64, 2);  // 8, 10, ... 134: never 0, so all 64 are read
  f.scaling_lists = {sixteen, {-8}, {}, {4, 4, -16}, {}, {}, sixty_four, {}};
  auto sps = sps_of(f);
  REQUIRE_MESSAGE(sps.ok(), sps.error());
  CHECK(sps->width == 1920);
  CHECK(sps->height == 1080);
  CHECK(sps->frame_rate == 25);

  // 4:4:4 has twelve lists; the last four are 8x8 chroma.
  SpsFields yuv444 = f;
  yuv444.profile_idc = 244;
  yuv444.chroma_format_idc = 3;
  yuv444.crop = {0, 0, 0, 8};  // CropUnitY is 1 without chroma subsampling
  yuv444.scaling_lists.resize(12);
  yuv444.scaling_lists[11] = sixty_four;
  sps = sps_of(yuv444);
  REQUIRE_MESSAGE(sps.ok(), sps.error());
  CHECK(sps->profile_idc == 244);
  CHECK(sps->height == 1080);

  SpsFields big_delta = f;
  big_delta.scaling_lists = {{128}};
  CHECK_FALSE(sps_of(big_delta).ok());
  big_delta.scaling_lists = {{-129}};
  CHECK_FALSE(sps_of(big_delta).ok());
  big_delta.scaling_lists = {{127, -128}};
  big_delta.scaling_lists[0].resize(16, 0);
  CHECK(sps_of(big_delta).ok());
}

TEST_CASE("avc config: SPS picture order count types") {
  SpsFields f;
  f.poc_type = 1;
  f.poc_cycle = {2, -3, 7};
  auto one = sps_of(f);
  REQUIRE_MESSAGE(one.ok(), one.error());
  CHECK(one->height == 1080);

  f.poc_cycle.assign(255, 1);
  CHECK(sps_of(f).ok());
  f.poc_cycle.assign(256, 1);
  CHECK_FALSE(sps_of(f).ok());

  SpsFields two;
  two.poc_type = 2;
  auto t = sps_of(two);
  REQUIRE(t.ok());
  CHECK(t->width == 1920);

  SpsFields three;
  three.poc_type = 3;
  CHECK_FALSE(sps_of(three).ok());
}

TEST_CASE("avc config: SPS cropping units follow chroma format and field coding") {
  SpsFields f;
  f.profile_idc = 244;
  f.chroma_format_idc = 3;
  f.crop = {1, 2, 3, 4};  // 4:4:4: one luma sample per unit
  auto s = sps_of(f);
  REQUIRE(s.ok());
  CHECK(s->width == 1920 - 3);
  CHECK(s->height == 1088 - 7);

  f.separate_colour_plane = true;  // ChromaArrayType 0: also unit 1
  s = sps_of(f);
  REQUIRE(s.ok());
  CHECK(s->width == 1920 - 3);

  f.separate_colour_plane = false;
  f.frame_mbs_only = false;  // field pairs: a map unit is two macroblock rows, CropUnitY doubles
  f.height_map_units_minus1 = 33;
  s = sps_of(f);
  REQUIRE(s.ok());
  CHECK(s->height == 1088 - 14);

  SpsFields y422;
  y422.profile_idc = 122;
  y422.chroma_format_idc = 2;
  y422.crop = {1, 1, 1, 1};  // 4:2:2: 2 across, 1 down
  s = sps_of(y422);
  REQUIRE(s.ok());
  CHECK(s->width == 1920 - 4);
  CHECK(s->height == 1088 - 2);

  SpsFields mono;
  mono.chroma_format_idc = 0;  // 4:0:0 has no chroma: unit 1
  mono.crop = {0, 0, 0, 8};
  s = sps_of(mono);
  REQUIRE(s.ok());
  CHECK(s->height == 1080);

  SpsFields main_profile;  // profiles without chroma_format_idc imply 4:2:0
  main_profile.profile_idc = 77;
  s = sps_of(main_profile);
  REQUIRE(s.ok());
  CHECK(s->height == 1080);

  SpsFields none;
  none.cropping = false;
  s = sps_of(none);
  REQUIRE(s.ok());
  CHECK(s->height == 1088);

  SpsFields all;
  all.crop = {0, 0, 0, 544};  // crops away every row
  CHECK_FALSE(sps_of(all).ok());
  all.crop = {0, 0, 0, 0xFFFFFFFE};  // the largest ue(v): no overflow into a small size
  CHECK_FALSE(sps_of(all).ok());
  all.crop = {0xFFFFFFFE, 0xFFFFFFFE, 0, 0};
  CHECK_FALSE(sps_of(all).ok());
}

TEST_CASE("avc config: SPS sizes are limited to 16384") {
  SpsFields f;
  f.cropping = false;
  f.width_mbs_minus1 = 1023;
  f.height_map_units_minus1 = 1023;
  auto s = sps_of(f);
  REQUIRE(s.ok());
  CHECK(s->width == 16384);
  CHECK(s->height == 16384);

  f.width_mbs_minus1 = 1024;
  CHECK_FALSE(sps_of(f).ok());
  f.width_mbs_minus1 = 0xFFFFFFFE;  // + 1 would wrap a 32-bit counter to 0
  CHECK_FALSE(sps_of(f).ok());

  SpsFields field;
  field.cropping = false;
  field.frame_mbs_only = false;
  field.height_map_units_minus1 = 512;  // 513 pairs of rows: 16416
  CHECK_FALSE(sps_of(field).ok());
}

TEST_CASE("avc config: SPS VUI fields and frame rate") {
  SpsFields f;
  f.aspect_ratio_idc = 255;  // Extended_SAR: two u(16) follow
  f.sar_width = 0xFFFF;
  f.sar_height = 3;
  f.video_signal = true;
  f.chroma_loc = true;
  f.chroma_loc_top = 5;
  f.nal_hrd = true;
  f.cpb_cnt_minus1 = 2;
  f.num_units_in_tick = 1001;
  f.time_scale = 120000;
  auto s = sps_of(f);
  REQUIRE_MESSAGE(s.ok(), s.error());
  CHECK(s->frame_rate == doctest::Approx(59.94).epsilon(0.0001));
  CHECK(s->height == 1080);

  f.aspect_ratio_idc = 1;  // square pixels, no explicit SAR
  s = sps_of(f);
  REQUIRE(s.ok());
  CHECK(s->frame_rate == doctest::Approx(59.94).epsilon(0.0001));

  SpsFields zero_tick;
  zero_tick.num_units_in_tick = 0;
  s = sps_of(zero_tick);
  REQUIRE(s.ok());
  CHECK(s->frame_rate == 0);
  zero_tick.num_units_in_tick = 1;
  zero_tick.time_scale = 0;
  s = sps_of(zero_tick);
  REQUIRE(s.ok());
  CHECK(s->frame_rate == 0);

  SpsFields no_timing;
  no_timing.timing = false;
  s = sps_of(no_timing);
  REQUIRE(s.ok());
  CHECK(s->frame_rate == 0);

  SpsFields no_vui;
  no_vui.vui = false;
  s = sps_of(no_vui);
  REQUIRE(s.ok());
  CHECK(s->frame_rate == 0);
  CHECK(s->width == 1920);

  SpsFields bad_loc;
  bad_loc.chroma_loc = true;
  bad_loc.chroma_loc_top = 6;
  CHECK_FALSE(sps_of(bad_loc).ok());

  SpsFields bad_hrd;
  bad_hrd.nal_hrd = true;
  bad_hrd.cpb_cnt_minus1 = 32;
  CHECK_FALSE(sps_of(bad_hrd).ok());
}

TEST_CASE("avc config: SPS fields out of range are errors") {
  SpsFields f;
  f.chroma_format_idc = 4;
  CHECK_FALSE(sps_of(f).ok());
  f = {};
  f.bit_depth_luma_minus8 = 7;
  CHECK_FALSE(sps_of(f).ok());
  f = {};
  f.bit_depth_chroma_minus8 = 7;
  CHECK_FALSE(sps_of(f).ok());
  f = {};
  f.sps_id = 32;
  CHECK_FALSE(sps_of(f).ok());
  f = {};
  f.log2_max_frame_num_minus4 = 13;
  CHECK_FALSE(sps_of(f).ok());
  f = {};
  f.log2_max_poc_lsb_minus4 = 13;
  CHECK_FALSE(sps_of(f).ok());
  f = {};
  f.log2_max_poc_lsb_minus4 = 12;
  CHECK(sps_of(f).ok());
}

TEST_CASE("avc config: malformed SPS NAL units are errors") {
  auto empty = parse_sps({});
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.error() == "SPS: empty NAL unit");

  CHECK(parse_sps(hex("67")).error() == "SPS: truncated");
  CHECK(parse_sps(hex("68ebe3cb20")).error() == "SPS: nal_unit_type 8 is not 7");
  CHECK(parse_sps(hex("e74d401feca02802dd80")).error() == "SPS: forbidden_zero_bit is set");

  // seq_parameter_set_id as ue(v) with 40 leading zeros.
  CHECK_FALSE(parse_sps(hex("6742c01e 0000000000 ffffffff")).ok());
  // An SPS that is all zeros after the header: fails fast, no long scan.
  auto zeros = std::vector<uint8_t>(70000, 0);
  zeros[0] = 0x67;
  CHECK_FALSE(parse_sps(zeros).ok());

  // Every prefix of every real SPS, and of built ones that reach the rarer fields.
  std::vector<std::vector<uint8_t>> all;
  for (const auto& real : kReal) all.push_back(must_parse(real.record).sps[0]);
  SpsFields rare;
  rare.scaling_matrix = true;
  rare.scaling_lists = {std::vector<int>(16, 1), {}, {}, {}, {}, {}, std::vector<int>(64, 1)};
  rare.poc_type = 1;
  rare.poc_cycle = {1, 2};
  rare.aspect_ratio_idc = 255;
  rare.sar_width = 4;
  rare.sar_height = 3;
  rare.video_signal = true;
  rare.chroma_loc = true;
  rare.nal_hrd = true;
  all.push_back(build_sps(rare));
  for (const auto& sps : all) {
    REQUIRE(parse_sps(sps).ok());
    for (size_t n = 0; n < sps.size(); ++n) {
      CAPTURE(n);
      CHECK_FALSE(parse_sps(Bytes(sps).first(n)).ok());
    }
  }

  // Dropping the stop bit is caught even when all the fields are there.
  auto no_stop = hex("674d401feca02802dd8088000003000800000301e078c18cb0");
  no_stop.back() = 0xb0 & 0xE0;  // ...1011 0000 -> ...1010 0000: the last one bit was the stop bit
  CHECK_FALSE(parse_sps(no_stop).ok());
}

TEST_CASE("avc config: flipped bits never crash the parsers") {
  // Not a check on results (many flips still parse); ASan/UBSan watch for out-of-bounds reads,
  // overflow and hangs on each damaged record.
  size_t parsed = 0, rejected = 0;
  for (const auto& real : kReal) {
    auto bytes = hex(real.record);
    for_each_flipped_bit(bytes, [&](const std::vector<uint8_t>& damaged) {
      auto config = parse_avcc(damaged);
      ++(config.ok() ? parsed : rejected);
      if (config.ok()) {
        CHECK(config->width > 0);
        CHECK(config->width <= 16384);
        CHECK(config->height > 0);
        CHECK(config->height <= 16384);
      }
    });
  }
  CHECK(parsed > 0);
  CHECK(rejected > 0);
}
