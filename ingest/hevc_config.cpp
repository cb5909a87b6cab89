// Parsers for the hvcC record (ISO 14496-15 8.3.3.1) and the HEVC sequence parameter set (H.265 7.3.2.2).
#include "ingest/hevc_config.h"

#include <cstdio>
#include <string>
#include <vector>

#include "ingest/avc_config.h"
#include "ingest/bit_reader.h"

namespace livegate {

namespace {

constexpr uint8_t kNalVps = 32;
constexpr uint8_t kNalSps = 33;
constexpr uint8_t kNalPps = 34;
constexpr uint32_t kMaxDimension = 16384;
constexpr unsigned kMaxSubLayers = 7;

Error sps_error(const std::string& why) { return Error{"HEVC SPS: " + why}; }
Error hvcc_error(const std::string& why) { return Error{"hvcC: " + why}; }

uint8_t nal_type(Bytes nal) noexcept { return (nal[0] >> 1) & 0x3F; }

// H.265 7.3.3 profile_tier_level(1, max_sub_layers_minus1): the general part is 88 bits of profile,
// tier and flags and 8 of level; each sub-layer may repeat either.
void skip_profile_tier_level(BitReader& br, unsigned max_sub_layers_minus1) {
  br.skip(88 + 8);
  bool profile_present[kMaxSubLayers] = {};
  bool level_present[kMaxSubLayers] = {};
  for (unsigned i = 0; i < max_sub_layers_minus1; ++i) {
    profile_present[i] = br.flag();
    level_present[i] = br.flag();
  }
  if (max_sub_layers_minus1 > 0) br.skip(2 * (8 - max_sub_layers_minus1));  // reserved_zero_2bits
  for (unsigned i = 0; i < max_sub_layers_minus1; ++i) {
    if (profile_present[i]) br.skip(88);
    if (level_present[i]) br.skip(8);
  }
}

std::string hex(uint32_t v) {
  char buf[12];
  std::snprintf(buf, sizeof buf, "%X", v);
  return buf;
}

// ISO 14496-15 E.3: hvc1.[A-C]<profile_idc>.<compatibility flags, bit-reversed, hex>.<L|H><level_idc>
// then each constraint byte in hex, trailing zero bytes left out.
std::string hevc_codec_string(uint8_t profile_space, bool high_tier, uint8_t profile_idc,
                              uint32_t compatibility, Bytes constraints, uint8_t level_idc) {
  std::string s = "hvc1.";
  if (profile_space > 0) s += static_cast<char>('A' + profile_space - 1);
  s += std::to_string(profile_idc);
  uint32_t reversed = 0;
  for (unsigned i = 0; i < 32; ++i) {
    if (compatibility >> i & 1u) reversed |= 1u << (31 - i);
  }
  s += '.' + hex(reversed) + '.' + (high_tier ? 'H' : 'L') + std::to_string(level_idc);
  size_t used = constraints.size();
  while (used > 0 && constraints[used - 1] == 0) --used;
  for (size_t i = 0; i < used; ++i) s += '.' + hex(constraints[i]);
  return s;
}

}  // namespace

Result<HevcSpsInfo> parse_hevc_sps(Bytes sps_nal) {
  if (sps_nal.size() < 3) return sps_error("too short (" + std::to_string(sps_nal.size()) + " bytes)");
  if (sps_nal[0] & 0x80) return sps_error("forbidden_zero_bit is set");
  if (nal_type(sps_nal) != kNalSps) return sps_error("nal_unit_type " + std::to_string(nal_type(sps_nal)));
  const std::vector<uint8_t> rbsp = nal_to_rbsp(sps_nal.subspan(2));
  BitReader br(rbsp);
  br.bits(4);  // sps_video_parameter_set_id
  const unsigned max_sub_layers_minus1 = br.bits(3);
  br.flag();  // sps_temporal_id_nesting_flag
  if (max_sub_layers_minus1 >= kMaxSubLayers) return sps_error("sps_max_sub_layers_minus1 is 7");
  skip_profile_tier_level(br, max_sub_layers_minus1);
  if (br.ue() > 15) return sps_error("sps_seq_parameter_set_id out of range");
  HevcSpsInfo info;
  const uint32_t chroma = br.ue();
  if (chroma > 3) return sps_error("chroma_format_idc out of range");
  info.chroma_format_idc = static_cast<uint8_t>(chroma);
  const bool separate_planes = chroma == 3 && br.flag();
  const uint32_t coded_width = br.ue();
  const uint32_t coded_height = br.ue();
  uint64_t crop_left = 0, crop_right = 0, crop_top = 0, crop_bottom = 0;
  if (br.flag()) {  // conformance_window_flag
    crop_left = br.ue();
    crop_right = br.ue();
    crop_top = br.ue();
    crop_bottom = br.ue();
  }
  const uint32_t depth_luma = br.ue();
  const uint32_t depth_chroma = br.ue();
  if (br.failed()) return sps_error("truncated");
  if (coded_width == 0 || coded_height == 0 || coded_width > kMaxDimension || coded_height > kMaxDimension)
    return sps_error("size " + std::to_string(coded_width) + "x" + std::to_string(coded_height) +
                     " out of range");
  // Table 6-1: the window is counted in chroma samples.
  const uint64_t unit_x = (chroma == 1 || chroma == 2) && !separate_planes ? 2 : 1;
  const uint64_t unit_y = chroma == 1 && !separate_planes ? 2 : 1;
  const uint64_t crop_x = unit_x * (crop_left + crop_right);
  const uint64_t crop_y = unit_y * (crop_top + crop_bottom);
  if (crop_x >= coded_width || crop_y >= coded_height)
    return sps_error("conformance window leaves no picture");
  if (depth_luma > 8 || depth_chroma > 8) return sps_error("bit depth above 16");
  info.width = static_cast<uint32_t>(coded_width - crop_x);
  info.height = static_cast<uint32_t>(coded_height - crop_y);
  info.bit_depth_luma = static_cast<uint8_t>(depth_luma + 8);
  info.bit_depth_chroma = static_cast<uint8_t>(depth_chroma + 8);
  return info;
}

Result<VideoConfig> parse_hvcc(Bytes hvcc) {
  // ISO 14496-15 8.3.3.1.2 HEVCDecoderConfigurationRecord:
  //   byte 0      configurationVersion = 1
  //   byte 1      general_profile_space:2 general_tier_flag:1 general_profile_idc:5
  //   bytes 2-5   general_profile_compatibility_flags
  //   bytes 6-11  general_constraint_indicator_flags
  //   byte 12     general_level_idc
  //   bytes 13-18 min_spatial_segmentation_idc, parallelismType, chromaFormat, bit depths (the SPS's say)
  //   bytes 19-20 avgFrameRate (frames per 256 s, 0 = unspecified)
  //   byte 21     constantFrameRate:2 numTemporalLayers:3 temporalIdNested:1 lengthSizeMinusOne:2
  //   byte 22     numOfArrays, then each: array_completeness:1 reserved:1 NAL_unit_type:6,
  //               numNalus u16, numNalus x { nalUnitLength u16 | NAL unit }
  ByteReader in(hvcc);
  const uint8_t version = in.u8();
  const uint8_t profile_byte = in.u8();
  const uint32_t compatibility = in.u32();
  const Bytes constraints = in.bytes(6);
  const uint8_t level = in.u8();
  in.skip(6);
  const uint16_t avg_frame_rate = in.u16();
  const uint8_t length_size = (in.u8() & 0x03) + 1;
  const uint8_t arrays = in.u8();
  if (in.failed()) return hvcc_error("truncated header (" + std::to_string(hvcc.size()) + " bytes)");
  if (version != 1) return hvcc_error("configurationVersion " + std::to_string(version) + " is not 1");
  if (length_size == 3) return hvcc_error("lengthSizeMinusOne 2 (3-byte NAL lengths) is not supported");

  VideoConfig config;
  config.codec = VideoCodec::hevc;
  config.record.assign(hvcc.begin(), hvcc.end());
  config.nal_length_size = length_size;
  for (unsigned a = 0; a < arrays; ++a) {
    const uint8_t type = in.u8() & 0x3F;
    const uint16_t count = in.u16();
    if (in.failed()) return hvcc_error("truncated before array " + std::to_string(a));
    for (unsigned i = 0; i < count; ++i) {
      const std::string which = "array " + std::to_string(a) + " NAL unit " + std::to_string(i);
      const uint16_t length = in.u16();
      const Bytes nal = in.bytes(length);
      if (in.failed()) return hvcc_error(which + " runs past the end");
      if (nal.size() < 2) return hvcc_error(which + " is shorter than its header");
      if (nal_type(nal) != type) {
        return hvcc_error(which + " has nal_unit_type " + std::to_string(nal_type(nal)) + " in an array of " +
                          std::to_string(type));
      }
      if (type == kNalVps) config.vps.emplace_back(nal.begin(), nal.end());
      if (type == kNalSps) config.sps.emplace_back(nal.begin(), nal.end());
      if (type == kNalPps) config.pps.emplace_back(nal.begin(), nal.end());
    }
  }
  if (config.sps.empty()) return hvcc_error("no SPS");

  Result<HevcSpsInfo> sps = parse_hevc_sps(config.sps.front());
  if (!sps) return wrap("hvcC", sps.error());
  config.profile = profile_byte & 0x1F;
  config.level = level;
  config.width = sps->width;
  config.height = sps->height;
  config.bit_depth = sps->bit_depth_luma;
  config.chroma_format = sps->chroma_format_idc;
  config.frame_rate = avg_frame_rate / 256.0;
  config.codec_string = hevc_codec_string(profile_byte >> 6, profile_byte & 0x20, config.profile,
                                          compatibility, constraints, level);
  return config;
}

}  // namespace livegate
