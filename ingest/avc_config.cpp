// Parsers for the avcC record (ISO 14496-15 5.2.4.1) and the H.264 sequence parameter set (H.264 7.3.2.1.1).
#include "ingest/avc_config.h"

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <string>

#include "ingest/bit_reader.h"

namespace livegate {

namespace {

constexpr uint8_t kNalSps = 7;
constexpr uint8_t kNalPps = 8;
constexpr uint32_t kMaxDimension = 16384;

Error sps_error(const std::string& why) { return Error{"SPS: " + why}; }

// Profiles whose SPS carries chroma_format_idc, bit depths and scaling matrices: the list in the
// `if( profile_idc == 100 || ...` of H.264 7.3.2.1.1.
bool has_chroma_info(uint8_t profile_idc) {
  static constexpr uint8_t kProfiles[] = {100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135};
  return std::ranges::find(kProfiles, profile_idc) != std::end(kProfiles);
}

// H.264 7.3.2.1.1.1 scaling_list(). The values only matter to a decoder, but the list is
// variable-length, so it must be walked to reach the fields behind it. delta_scale is limited to
// -128..127 (7.4.2.1.1); a list ends early once nextScale hits 0 (use the default matrix).
bool skip_scaling_list(BitReader& br, int size) {
  int last_scale = 8;
  int next_scale = 8;
  for (int j = 0; j < size; ++j) {
    if (next_scale != 0) {
      const int32_t delta_scale = br.se();
      if (br.failed() || delta_scale < -128 || delta_scale > 127) return false;
      next_scale = (last_scale + delta_scale + 256) % 256;
    }
    last_scale = next_scale == 0 ? last_scale : next_scale;
  }
  return true;
}

// E.1.2 hrd_parameters(): read only to get past it.
bool skip_hrd(BitReader& br) {
  const uint32_t cpb_cnt_minus1 = br.ue();
  if (br.failed() || cpb_cnt_minus1 > 31) return false;
  br.bits(4);  // bit_rate_scale
  br.bits(4);  // cpb_size_scale
  for (uint32_t i = 0; i <= cpb_cnt_minus1 && !br.failed(); ++i) {
    br.ue();    // bit_rate_value_minus1
    br.ue();    // cpb_size_value_minus1
    br.flag();  // cbr_flag
  }
  br.bits(5);  // initial_cpb_removal_delay_length_minus1
  br.bits(5);  // cpb_removal_delay_length_minus1
  br.bits(5);  // dpb_output_delay_length_minus1
  br.bits(5);  // time_offset_length
  return !br.failed();
}

// E.1.1 vui_parameters(). Only the timing info is kept; the rest is walked so the SPS can be checked
// through to its rbsp_trailing_bits.
Result<double> parse_vui(BitReader& br) {
  constexpr uint8_t kExtendedSar = 255;
  if (br.flag()) {                                // aspect_ratio_info_present_flag
    if (br.bits(8) == kExtendedSar) br.bits(32);  // sar_width u(16), sar_height u(16)
  }
  if (br.flag()) br.flag();      // overscan_info_present_flag -> overscan_appropriate_flag
  if (br.flag()) {               // video_signal_type_present_flag
    br.bits(3);                  // video_format
    br.flag();                   // video_full_range_flag
    if (br.flag()) br.bits(24);  // colour_description_present_flag -> primaries, transfer, matrix
  }
  if (br.flag()) {  // chroma_loc_info_present_flag
    if (br.ue() > 5 || br.ue() > 5) return sps_error("chroma_sample_loc_type out of range");
  }
  double frame_rate = 0;
  if (br.flag()) {  // timing_info_present_flag
    const uint32_t num_units_in_tick = br.bits(32);
    const uint32_t time_scale = br.bits(32);
    br.flag();  // fixed_frame_rate_flag
    // Encoders count a frame as two clock ticks, one per field (E.2.1, DeltaTfiDivisor), so x264
    // writes num_units_in_tick 1 / time_scale 60 for 30 fps, progressive or not.
    // Both values "shall be greater than 0"; a zero means no usable rate rather than a bad stream.
    if (num_units_in_tick > 0 && time_scale > 0) frame_rate = time_scale / (2.0 * num_units_in_tick);
  }
  const bool nal_hrd = br.flag();
  if (nal_hrd && !skip_hrd(br)) return sps_error("bad NAL HRD parameters");
  const bool vcl_hrd = br.flag();
  if (vcl_hrd && !skip_hrd(br)) return sps_error("bad VCL HRD parameters");
  if (nal_hrd || vcl_hrd) br.flag();      // low_delay_hrd_flag
  br.flag();                              // pic_struct_present_flag
  if (br.flag()) {                        // bitstream_restriction_flag
    br.flag();                            // motion_vectors_over_pic_boundaries_flag
    for (int i = 0; i < 6; ++i) br.ue();  // max_bytes_per_pic_denom .. max_dec_frame_buffering
  }
  if (br.failed()) return sps_error("truncated VUI");
  return frame_rate;
}

}  // namespace

std::vector<uint8_t> nal_to_rbsp(Bytes nal_payload) {
  // H.264 7.4.1: an encoder inserts 03 after any 00 00 that would be followed by 00..03, so that
  // no start code appears inside a NAL unit. Every 03 preceded by two zeros is such a byte.
  std::vector<uint8_t> rbsp;
  rbsp.reserve(nal_payload.size());
  int zeros = 0;
  for (uint8_t b : nal_payload) {
    if (zeros >= 2 && b == 0x03) {
      zeros = 0;
      continue;
    }
    zeros = b == 0 ? zeros + 1 : 0;
    rbsp.push_back(b);
  }
  return rbsp;
}

Result<SpsInfo> parse_sps(Bytes sps_nal) {
  // H.264 7.3.1 NAL header:  forbidden_zero_bit:1  nal_ref_idc:2  nal_unit_type:5
  if (sps_nal.empty()) return sps_error("empty NAL unit");
  if (sps_nal[0] & 0x80) return sps_error("forbidden_zero_bit is set");
  if ((sps_nal[0] & 0x1F) != kNalSps) {
    return sps_error("nal_unit_type " + std::to_string(sps_nal[0] & 0x1F) + " is not 7");
  }
  const std::vector<uint8_t> rbsp = nal_to_rbsp(sps_nal.subspan(1));
  BitReader br(rbsp);

  // H.264 7.3.2.1.1 seq_parameter_set_data():
  //   profile_idc u(8) | constraint_set0..5_flag, reserved_zero_2bits u(8) | level_idc u(8)
  //   seq_parameter_set_id ue(v) | [chroma info if high profile] | log2_max_frame_num_minus4 ue(v) | ...
  SpsInfo info;
  info.profile_idc = static_cast<uint8_t>(br.bits(8));
  info.constraint_flags = static_cast<uint8_t>(br.bits(8));
  info.level_idc = static_cast<uint8_t>(br.bits(8));
  if (br.ue() > 31) return sps_error("seq_parameter_set_id out of range");

  uint32_t chroma_format_idc = 1;  // 4:2:0 is implied when the profile does not say
  bool separate_colour_plane = false;
  if (has_chroma_info(info.profile_idc)) {
    chroma_format_idc = br.ue();
    if (chroma_format_idc > 3) return sps_error("chroma_format_idc out of range");
    if (chroma_format_idc == 3) separate_colour_plane = br.flag();
    if (br.ue() > 6 || br.ue() > 6) return sps_error("bit depth out of range");
    br.flag();        // qpprime_y_zero_transform_bypass_flag
    if (br.flag()) {  // seq_scaling_matrix_present_flag
      // Six 4x4 lists, then two 8x8 lists (six with 4:4:4, one per colour component and kind).
      const int lists = chroma_format_idc != 3 ? 8 : 12;
      for (int i = 0; i < lists; ++i) {
        if (br.flag() && !skip_scaling_list(br, i < 6 ? 16 : 64)) return sps_error("bad scaling list");
      }
    }
  }

  if (br.ue() > 12) return sps_error("log2_max_frame_num_minus4 out of range");
  const uint32_t pic_order_cnt_type = br.ue();
  if (pic_order_cnt_type > 2) return sps_error("pic_order_cnt_type out of range");
  if (pic_order_cnt_type == 0) {
    if (br.ue() > 12) return sps_error("log2_max_pic_order_cnt_lsb_minus4 out of range");
  } else if (pic_order_cnt_type == 1) {
    br.flag();  // delta_pic_order_always_zero_flag
    br.se();    // offset_for_non_ref_pic
    br.se();    // offset_for_top_to_bottom_field
    const uint32_t cycle = br.ue();
    if (cycle > 255) return sps_error("num_ref_frames_in_pic_order_cnt_cycle out of range");
    for (uint32_t i = 0; i < cycle && !br.failed(); ++i) br.se();  // offset_for_ref_frame[i]
  }
  br.ue();    // max_num_ref_frames
  br.flag();  // gaps_in_frame_num_value_allowed_flag
  const uint64_t width_mbs = uint64_t{br.ue()} + 1;
  const uint64_t height_map_units = uint64_t{br.ue()} + 1;
  const bool frame_mbs_only = br.flag();
  if (!frame_mbs_only) br.flag();  // mb_adaptive_frame_field_flag
  br.flag();                       // direct_8x8_inference_flag
  uint64_t crop_left = 0, crop_right = 0, crop_top = 0, crop_bottom = 0;
  if (br.flag()) {  // frame_cropping_flag
    crop_left = br.ue();
    crop_right = br.ue();
    crop_top = br.ue();
    crop_bottom = br.ue();
  }
  if (br.failed()) return sps_error("truncated");

  // 7.4.2.1.1: without frame_mbs_only a map unit is a field macroblock pair, two rows of macroblocks.
  const uint64_t coded_width = width_mbs * 16;
  const uint64_t coded_height = height_map_units * 16 * (frame_mbs_only ? 1 : 2);
  if (coded_width > kMaxDimension || coded_height > kMaxDimension) {
    return sps_error("coded size " + std::to_string(coded_width) + "x" + std::to_string(coded_height) +
                     " exceeds " + std::to_string(kMaxDimension));
  }
  // Crop offsets count chroma samples (times two rows for field coding): CropUnitX/Y from
  // 7.4.2.1.1 (7-19..7-22), with SubWidthC/SubHeightC from table 6-1.
  const uint32_t chroma_array_type = separate_colour_plane ? 0 : chroma_format_idc;
  const uint64_t sub_width_c = chroma_array_type == 1 || chroma_array_type == 2 ? 2 : 1;
  const uint64_t sub_height_c = chroma_array_type == 1 ? 2 : 1;
  const uint64_t crop_unit_x = chroma_array_type == 0 ? 1 : sub_width_c;
  const uint64_t crop_unit_y = (chroma_array_type == 0 ? 1 : sub_height_c) * (frame_mbs_only ? 1 : 2);
  // The ue(v) values are below 2^32 and the units at most 4, so these sums cannot overflow 64 bits.
  const uint64_t crop_x = crop_unit_x * (crop_left + crop_right);
  const uint64_t crop_y = crop_unit_y * (crop_top + crop_bottom);
  if (crop_x >= coded_width || crop_y >= coded_height) return sps_error("cropping leaves no picture");
  info.width = static_cast<uint32_t>(coded_width - crop_x);
  info.height = static_cast<uint32_t>(coded_height - crop_y);

  if (br.flag()) {  // vui_parameters_present_flag
    Result<double> rate = parse_vui(br);
    if (!rate) return Error{rate.error()};
    info.frame_rate = *rate;
  }
  // rbsp_trailing_bits(): the stop bit must be there, or the SPS was cut short. Bits after it are
  // not checked; a stray trailing byte is harmless to us and not worth refusing a stream over.
  if (!br.flag() || br.failed()) return sps_error("truncated (no rbsp_stop_one_bit)");
  return info;
}

Result<VideoConfig> parse_avcc(Bytes avcc) {
  // ISO 14496-15 5.2.4.1.1 AVCDecoderConfigurationRecord:
  //   byte 0  configurationVersion = 1
  //   byte 1  AVCProfileIndication      byte 2  profile_compatibility      byte 3  AVCLevelIndication
  //   byte 4  reserved '111111':6  lengthSizeMinusOne:2
  //   byte 5  reserved '111':3     numOfSequenceParameterSets:5
  //           numOfSequenceParameterSets x { sequenceParameterSetLength u16 | SPS NAL unit }
  //           numOfPictureParameterSets u8
  //           numOfPictureParameterSets  x { pictureParameterSetLength u16  | PPS NAL unit }
  //           [high profiles: chroma_format, bit depths, SPS extensions; often omitted, ignored]
  // The reserved bits are not checked: some encoders write them as zeros.
  ByteReader in(avcc);
  const uint8_t version = in.u8();
  in.skip(3);  // profile, compatibility, level: the SPS says the same with more authority
  const uint8_t length_size = (in.u8() & 0x03) + 1;
  const uint8_t num_sps = in.u8() & 0x1F;
  if (in.failed()) return Error{"avcC: truncated header (" + std::to_string(avcc.size()) + " bytes)"};
  if (version != 1) return Error{"avcC: configurationVersion " + std::to_string(version) + " is not 1"};
  // 14496-15 allows only 0, 1 and 3 here; 2 would mean 3-byte lengths, which no muxer writes.
  if (length_size == 3) return Error{"avcC: lengthSizeMinusOne 2 (3-byte NAL lengths) is not supported"};
  if (num_sps == 0) return Error{"avcC: no SPS"};

  VideoConfig config;
  config.codec = VideoCodec::h264;
  config.record.assign(avcc.begin(), avcc.end());
  config.nal_length_size = length_size;

  auto read_sets = [&](size_t count, uint8_t nal_type, const char* name,
                       std::vector<std::vector<uint8_t>>& out) -> Status {
    for (size_t i = 0; i < count; ++i) {
      const std::string which = std::string(name) + " " + std::to_string(i);
      const uint16_t length = in.u16();
      if (in.failed()) return Error{"avcC: truncated before " + which + " length"};
      Bytes nal = in.bytes(length);
      if (in.failed()) {
        return Error{"avcC: " + which + " length " + std::to_string(length) + " exceeds the data"};
      }
      if (nal.empty()) return Error{"avcC: " + which + " is empty"};
      if ((nal[0] & 0x1F) != nal_type) {
        return Error{"avcC: " + which + " has nal_unit_type " + std::to_string(nal[0] & 0x1F)};
      }
      out.emplace_back(nal.begin(), nal.end());
    }
    return Status{};
  };
  if (Status s = read_sets(num_sps, kNalSps, "SPS", config.sps); !s) return Error{s.error()};
  const uint8_t num_pps = in.u8();
  if (in.failed()) return Error{"avcC: truncated before numOfPictureParameterSets"};
  if (Status s = read_sets(num_pps, kNalPps, "PPS", config.pps); !s) return Error{s.error()};

  Result<SpsInfo> sps = parse_sps(config.sps.front());
  if (!sps) return wrap("avcC", sps.error());
  config.profile = sps->profile_idc;
  config.level = sps->level_idc;
  config.width = sps->width;
  config.height = sps->height;
  config.frame_rate = sps->frame_rate;
  // RFC 6381 3.3: "avc1." and the SPS's profile_idc, constraint flags and level_idc in hex.
  char codec[16];
  std::snprintf(codec, sizeof codec, "avc1.%02x%02x%02x", sps->profile_idc, sps->constraint_flags,
                sps->level_idc);
  config.codec_string = codec;
  return config;
}

}  // namespace livegate
