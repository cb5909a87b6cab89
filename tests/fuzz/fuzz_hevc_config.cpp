// Fuzz target: parse_hvcc on an HEVCDecoderConfigurationRecord, and parse_hevc_sps on the same bytes as
// one SPS NAL unit (two header bytes included, emulation prevention bytes still in).
//
// Input: an hvcC record as an Enhanced RTMP SequenceStart for 'hvc1' carries it.
#include <cmath>

#include "fuzz_input.h"
#include "ingest/hevc_config.h"

using namespace livegate;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Bytes bytes(data, size);
  auto config = parse_hvcc(bytes);
  if (config) {
    FUZZ_CHECK(config->codec == VideoCodec::hevc);
    FUZZ_CHECK(config->width >= 1 && config->width <= 16384);
    FUZZ_CHECK(config->height >= 1 && config->height <= 16384);
    FUZZ_CHECK(!config->sps.empty());
    FUZZ_CHECK(config->nal_length_size == 1 || config->nal_length_size == 2 || config->nal_length_size == 4);
    FUZZ_CHECK(config->codec_string.rfind("hvc1.", 0) == 0);
    FUZZ_CHECK(std::isfinite(config->frame_rate) && config->frame_rate >= 0);
  } else {
    FUZZ_CHECK(!config.error().empty());
  }
  auto sps = parse_hevc_sps(bytes);
  if (sps) FUZZ_CHECK(sps->width >= 1 && sps->height >= 1 && sps->bit_depth_luma >= 8);
  return 0;
}
