// Parsers for the HEVC decoder configuration an Enhanced RTMP publisher sends: the hvcC record and the
// sequence parameter set inside it.
#pragma once

#include <cstdint>

#include "common/byte_reader.h"
#include "common/media.h"
#include "common/result.h"

namespace livegate {

struct HevcSpsInfo {
  uint8_t chroma_format_idc = 1;
  uint32_t width = 0;  // displayed size: pic_width/height_in_luma_samples minus the conformance window
  uint32_t height = 0;
  uint8_t bit_depth_luma = 8;
  uint8_t bit_depth_chroma = 8;
};

// H.265 7.3.2.2.1: sps_nal is one whole NAL unit, its two header bytes (nal_unit_type 33) included,
// still carrying emulation prevention bytes. Read up to the bit depths, which is all we need (the frame
// rate comes from the hvcC); sizes are limited to 16384 x 16384 luma samples.
Result<HevcSpsInfo> parse_hevc_sps(Bytes sps_nal);

// ISO 14496-15 8.3.3.1 HEVCDecoderConfigurationRecord. Needs at least one SPS (the first gives the size
// and bit depth; the record's own general_* fields give profile, tier, level and the codec string
// "hvc1.<profile>.<compatibility>.<tier><level>.<constraints>", 14496-15 E.3). NAL unit arrays of other
// types (VPS, PPS, SEI) are kept as they are; nal_length_size must be 1, 2 or 4.
Result<VideoConfig> parse_hvcc(Bytes hvcc);

}  // namespace livegate
