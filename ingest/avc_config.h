// Parsers for the H.264 decoder configuration an RTMP publisher sends: the avcC record and the SPS inside it.
#pragma once

#include <cstdint>
#include <vector>

#include "common/byte_reader.h"
#include "common/media.h"
#include "common/result.h"

namespace livegate {

struct SpsInfo {
  uint8_t profile_idc = 0;
  uint8_t constraint_flags = 0;  // constraint_set0..5 flags and the 2 reserved bits, as one byte
  uint8_t level_idc = 0;
  uint32_t width = 0;  // displayed size: coded macroblocks minus the frame cropping
  uint32_t height = 0;
  double frame_rate = 0;  // time_scale / (2 * num_units_in_tick); 0 if no VUI timing
};

// sps_nal is one whole NAL unit, header byte (nal_unit_type 7) included, still carrying emulation
// prevention bytes. Every syntax element up to rbsp_trailing_bits is read, so a truncated SPS is an
// error; sizes are limited to 16384 x 16384 coded pixels.
Result<SpsInfo> parse_sps(Bytes sps_nal);

// ISO 14496-15 5.2.4.1 AVCDecoderConfigurationRecord. Needs at least one SPS (the first one gives
// profile, level, size and frame rate); zero PPS is accepted because a stream may carry them in-band.
// nal_length_size must be 1, 2 or 4.
Result<VideoConfig> parse_avcc(Bytes avcc);

// NAL unit payload to RBSP (H.264 7.4.1): drops each emulation_prevention_three_byte, the 03 in 00 00 03.
std::vector<uint8_t> nal_to_rbsp(Bytes nal_payload);

}  // namespace livegate
