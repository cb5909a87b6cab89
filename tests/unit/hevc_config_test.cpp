// Unit tests for the hvcC and HEVC SPS parsers: records from x265, built SPSs for the paths x265 does not
// take, and malformed bytes.
#include "ingest/hevc_config.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "bit_writer.h"
#include "test_bytes.h"

using namespace livegate;
using livegate::testing::BitWriter;
using livegate::testing::for_each_flipped_bit;
using livegate::testing::hex;
using livegate::testing::to_nal;

namespace {

// hvcC boxes of MP4 files written by ffmpeg 5.1 / libx265 3.5 (`ffmpeg -f lavfi -i testsrc2=size=WxH:rate=R
// -c:v libx265 -x265-params info=0 -tag:v hvc1 ... out.mp4`). Size, profile and level agree with
// ffprobe on the same files; the codec strings follow ISO 14496-15 E.3 by hand from the record's bytes.
struct RealHvcc {
  const char* name;
  const char* record;
  uint8_t profile, level, bit_depth, chroma_format;
  uint32_t width, height;
  const char* codecs;
};
const RealHvcc kReal[] = {
    {"Main 640x360 @30",
     "0101600000009000000000003ff000fcfdf8f800000f03a00001001840010c01ffff01600000030090000003000003003f9594"
     "09a10001002b42010101600000030090000003000003003fa005020171f2e595952930bc05a020000003002000000303c1a200"
     "0100064401c073c189",
     1, 63, 8, 1, 640, 360, "hvc1.1.6.L63.90"},
    {"Main 10 1280x720 @25 (-pix_fmt yuv420p10le)",
     "0102200000009000000000005df000fcfdfafa00000f03a00001001840010c01ffff02200000030090000003000003005d9594"
     "09a10001002b42010102200000030090000003000003005da00280802d136595952930bc05a02000000300200000030321a200"
     "0100064401c073c189",
     2, 93, 10, 1, 1280, 720, "hvc1.2.4.L93.90"},
    {"Main 4:2:2 (RExt) 1920x1080 @60 (-pix_fmt yuv422p)",
     "0104080000009d08000000007bf000fcfef8f800000f03a00001001740010c01ffff0408000003009d0800000300007b959409"
     "a10001002a4201010408000003009d0800000300007bb003c0801107c4e595952930bc05a020000003002000000781a2000100"
     "064401c073c189",
     4, 123, 8, 2, 1920, 1080, "hvc1.4.10.L123.9D.8"},
    {"Main 854x480 @30, 856 coded columns cropped",
     "0101600000009000000000005af000fcfdf8f800000f03a00001001840010c01ffff01600000030090000003000003005a9594"
     "09a10001002b42010101600000030090000003000003005aa006c201e1cde595952930bc05a020000003002000000303c1a200"
     "0100064401c073c189",
     1, 90, 8, 1, 854, 480, "hvc1.1.6.L90.90"},
};

const std::vector<uint8_t> kSps640 =
    hex("42010101600000030090000003000003003fa005020171f2e595952930bc05a020000003002000000303c1a2");

// The fields of H.265 7.3.2.2.1 that the parser reads; defaults are a 1920x1080 4:2:0 Main SPS.
struct SpsFields {
  unsigned max_sub_layers_minus1 = 0;
  bool sub_layer_profile = false, sub_layer_level = false;
  uint32_t sps_id = 0;
  uint32_t chroma_format_idc = 1;
  bool separate_colour_plane = false;
  uint32_t width = 1920, height = 1080;
  bool window = false;
  uint32_t left = 0, right = 0, top = 0, bottom = 0;
  uint32_t bit_depth_luma_minus8 = 0, bit_depth_chroma_minus8 = 0;
};

std::vector<uint8_t> build_sps(const SpsFields& f) {
  BitWriter w;
  w.u(4, 0);  // sps_video_parameter_set_id
  w.u(3, f.max_sub_layers_minus1);
  w.flag(true);  // sps_temporal_id_nesting_flag
  // profile_tier_level(): Main, compatible with Main and Main 10, progressive frame-only, level 4.
  w.u(2, 0);
  w.flag(false);
  w.u(5, 1);
  w.u(32, 0x60000000);
  w.u(4, 0x9);
  w.u(44, 0);
  w.u(8, 120);
  for (unsigned i = 0; i < f.max_sub_layers_minus1; ++i) {
    w.flag(f.sub_layer_profile);
    w.flag(f.sub_layer_level);
  }
  if (f.max_sub_layers_minus1 > 0) {
    for (unsigned i = f.max_sub_layers_minus1; i < 8; ++i) w.u(2, 0);
  }
  for (unsigned i = 0; i < f.max_sub_layers_minus1; ++i) {
    if (f.sub_layer_profile) {
      w.u(44, 0x12345);  // anything: skipped
      w.u(44, 0);
    }
    if (f.sub_layer_level) w.u(8, 90);
  }
  w.ue(f.sps_id);
  w.ue(f.chroma_format_idc);
  if (f.chroma_format_idc == 3) w.flag(f.separate_colour_plane);
  w.ue(f.width);
  w.ue(f.height);
  w.flag(f.window);
  if (f.window) {
    w.ue(f.left);
    w.ue(f.right);
    w.ue(f.top);
    w.ue(f.bottom);
  }
  w.ue(f.bit_depth_luma_minus8);
  w.ue(f.bit_depth_chroma_minus8);
  w.ue(4);  // log2_max_pic_order_cnt_lsb_minus4 and on: not read
  return to_nal({0x42, 0x01}, w.finish());
}

// An hvcC around the given general_* fields and NAL unit arrays.
std::vector<uint8_t> build_hvcc(uint8_t profile_byte, uint32_t compatibility,
                                std::vector<uint8_t> constraints, uint8_t level,
                                const std::vector<std::pair<uint8_t, std::vector<uint8_t>>>& nals,
                                uint8_t length_size_minus1 = 3) {
  std::vector<uint8_t> r{1,
                         profile_byte,
                         uint8_t(compatibility >> 24),
                         uint8_t(compatibility >> 16),
                         uint8_t(compatibility >> 8),
                         uint8_t(compatibility)};
  constraints.resize(6);
  r.insert(r.end(), constraints.begin(), constraints.end());
  r.push_back(level);
  for (uint8_t b : {0xF0, 0x00, 0xFC, 0xFD, 0xF8, 0xF8, 0x00, 0x00}) r.push_back(b);
  r.push_back(static_cast<uint8_t>(0x0C | length_size_minus1));
  r.push_back(static_cast<uint8_t>(nals.size()));
  for (const auto& [type, nal] : nals) {
    r.push_back(static_cast<uint8_t>(0x80 | type));
    r.push_back(0);
    r.push_back(1);
    r.push_back(static_cast<uint8_t>(nal.size() >> 8));
    r.push_back(static_cast<uint8_t>(nal.size()));
    r.insert(r.end(), nal.begin(), nal.end());
  }
  return r;
}

}  // namespace

TEST_CASE("hevc config: real hvcC records from x265") {
  for (const RealHvcc& real : kReal) {
    CAPTURE(real.name);
    const std::vector<uint8_t> bytes = hex(real.record);
    auto config = parse_hvcc(bytes);
    REQUIRE_MESSAGE(config.ok(), config.error());
    CHECK(config->codec == VideoCodec::hevc);
    CHECK(config->record == bytes);
    CHECK(config->nal_length_size == 4);
    CHECK(config->profile == real.profile);
    CHECK(config->level == real.level);
    CHECK(config->bit_depth == real.bit_depth);
    CHECK(config->chroma_format == real.chroma_format);
    CHECK(config->width == real.width);
    CHECK(config->height == real.height);
    CHECK(config->frame_rate == 0);  // FFmpeg writes avgFrameRate 0
    CHECK(config->codec_string == real.codecs);
    REQUIRE(config->vps.size() == 1);
    REQUIRE(config->sps.size() == 1);
    REQUIRE(config->pps.size() == 1);
    CHECK(((config->vps[0][0] >> 1) & 0x3F) == 32);
    CHECK(((config->sps[0][0] >> 1) & 0x3F) == 33);
    CHECK(((config->pps[0][0] >> 1) & 0x3F) == 34);
  }
}

TEST_CASE("hevc config: codec strings (ISO 14496-15 E.3)") {
  const auto codecs = [](uint8_t profile_byte, uint32_t compatibility, std::vector<uint8_t> constraints,
                         uint8_t level) {
    auto c =
        parse_hvcc(build_hvcc(profile_byte, compatibility, std::move(constraints), level, {{33, kSps640}}));
    REQUIRE_MESSAGE(c.ok(), c.error());
    return c->codec_string;
  };
  // The examples everyone uses: Main level 3.1 (progressive, frame only); Main 10 level 4.1.
  CHECK(codecs(0x01, 0x60000000, {0xB0}, 93) == "hvc1.1.6.L93.B0");
  CHECK(codecs(0x02, 0x20000000, {0xB0}, 123) == "hvc1.2.4.L123.B0");
  // High tier, a profile space, every constraint byte up to the last non-zero one.
  CHECK(codecs(0x21, 0x60000000, {0xB0, 0, 0, 0, 0x10}, 150) == "hvc1.1.6.H150.B0.0.0.0.10");
  CHECK(codecs(0x41, 0x40000000, {}, 60) == "hvc1.A1.2.L60");
  CHECK(codecs(0xC4, 0x08000000, {0x9D, 0x08}, 123) == "hvc1.C4.10.L123.9D.8");
}

TEST_CASE("hevc config: built SPSs: cropping follows the chroma format, sub-layers are read past") {
  const auto size = [](const SpsFields& f) {
    auto info = parse_hevc_sps(build_sps(f));
    REQUIRE_MESSAGE(info.ok(), info.error());
    return std::to_string(info->width) + "x" + std::to_string(info->height);
  };
  SpsFields f;
  CHECK(size(f) == "1920x1080");
  f.window = true;
  f.bottom = 4;  // 1088 coded rows, 4 chroma rows = 8 luma rows off in 4:2:0
  f.height = 1088;
  CHECK(size(f) == "1920x1080");
  f.right = 1;
  f.chroma_format_idc = 2;  // 4:2:2: two columns per unit, one row
  CHECK(size(f) == "1918x1084");
  f.chroma_format_idc = 3;  // 4:4:4: one each
  CHECK(size(f) == "1919x1084");
  f.separate_colour_plane = true;
  CHECK(size(f) == "1919x1084");
  f.chroma_format_idc = 0;  // monochrome
  CHECK(size(f) == "1919x1084");

  SpsFields layers;
  layers.max_sub_layers_minus1 = 3;
  layers.sub_layer_profile = true;
  layers.sub_layer_level = true;
  layers.width = 1280;
  layers.height = 720;
  CHECK(size(layers) == "1280x720");
  layers.sub_layer_profile = false;
  CHECK(size(layers) == "1280x720");

  SpsFields deep;
  deep.bit_depth_luma_minus8 = 4;
  deep.bit_depth_chroma_minus8 = 2;
  auto info = parse_hevc_sps(build_sps(deep));
  REQUIRE(info.ok());
  CHECK(info->bit_depth_luma == 12);
  CHECK(info->bit_depth_chroma == 10);
}

TEST_CASE("hevc config: SPS fields out of range are errors") {
  const auto fails = [](const SpsFields& f) { return !parse_hevc_sps(build_sps(f)).ok(); };
  SpsFields f;
  f.max_sub_layers_minus1 = 7;
  CHECK(fails(f));
  f = {};
  f.sps_id = 16;
  CHECK(fails(f));
  f = {};
  f.chroma_format_idc = 4;
  CHECK(fails(f));
  f = {};
  f.width = 16385;
  CHECK(fails(f));
  f.width = 16384;
  CHECK_FALSE(fails(f));
  f.height = 0;
  CHECK(fails(f));
  f = {};
  f.window = true;
  f.left = 480;
  f.right = 480;  // 2 x 960 columns: nothing left
  CHECK(fails(f));
  f = {};
  f.bit_depth_luma_minus8 = 9;
  CHECK(fails(f));
}

TEST_CASE("hevc config: malformed SPS NAL units are errors") {
  CHECK_FALSE(parse_hevc_sps({}).ok());
  CHECK_FALSE(parse_hevc_sps(hex("4201")).ok());
  std::vector<uint8_t> sps = kSps640;
  REQUIRE(parse_hevc_sps(sps).ok());
  sps[0] = 0x40;  // a VPS header
  CHECK_FALSE(parse_hevc_sps(sps).ok());
  sps[0] = 0xC2;  // forbidden_zero_bit
  CHECK_FALSE(parse_hevc_sps(sps).ok());
  // Cut anywhere before the bit depths: truncated.
  for (size_t n = 3; n < 16; ++n) {
    CAPTURE(n);
    CHECK_FALSE(parse_hevc_sps(std::vector<uint8_t>(kSps640.begin(), kSps640.begin() + long(n))).ok());
  }
}

TEST_CASE("hevc config: malformed hvcC records are errors") {
  const std::vector<uint8_t> good = hex(kReal[0].record);
  REQUIRE(parse_hvcc(good).ok());
  for (size_t n = 0; n < good.size(); ++n) {  // cut anywhere: truncated, or its SPS is
    CAPTURE(n);
    CHECK_FALSE(parse_hvcc(std::vector<uint8_t>(good.begin(), good.begin() + long(n))).ok());
  }
  auto bad = good;
  bad[0] = 0;
  CHECK(parse_hvcc(bad).error().find("configurationVersion 0") != std::string::npos);
  bad = good;
  bad[21] = (bad[21] & 0xFC) | 2;
  CHECK(parse_hvcc(bad).error().find("3-byte") != std::string::npos);

  CHECK(parse_hvcc(build_hvcc(1, 0x60000000, {}, 93, {})).error() == "hvcC: no SPS");
  CHECK(parse_hvcc(build_hvcc(1, 0x60000000, {}, 93, {{32, hex("40010c01")}})).error() == "hvcC: no SPS");
  // An SPS in the PPS array, a NAL unit shorter than its header.
  CHECK(parse_hvcc(build_hvcc(1, 0x60000000, {}, 93, {{34, kSps640}})).error().find("nal_unit_type 33") !=
        std::string::npos);
  CHECK_FALSE(parse_hvcc(build_hvcc(1, 0x60000000, {}, 93, {{33, hex("42")}})).ok());
  // A NAL unit length past the end.
  auto past = build_hvcc(1, 0x60000000, {}, 93, {{33, kSps640}});
  past[27] = 0xFF;
  CHECK(parse_hvcc(past).error().find("runs past the end") != std::string::npos);
  // numNalus larger than what follows.
  auto count = build_hvcc(1, 0x60000000, {}, 93, {{33, kSps640}});
  count[25] = 2;
  CHECK_FALSE(parse_hvcc(count).ok());
  // 1- and 2-byte NAL lengths are fine.
  for (uint8_t l : {0, 1}) {
    auto c = parse_hvcc(build_hvcc(1, 0x60000000, {}, 93, {{33, kSps640}}, l));
    REQUIRE(c.ok());
    CHECK(c->nal_length_size == l + 1);
  }
}

TEST_CASE("hevc config: flipped bits never crash the parsers") {
  // Not a check on results (many flips still parse); ASan/UBSan watch each damaged record.
  size_t parsed = 0, rejected = 0;
  for (const RealHvcc& real : kReal) {
    std::vector<uint8_t> bytes = hex(real.record);
    for_each_flipped_bit(bytes, [&](const std::vector<uint8_t>& damaged) {
      auto config = parse_hvcc(damaged);
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
