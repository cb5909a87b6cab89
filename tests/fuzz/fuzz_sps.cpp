// Fuzz target: parse_sps on one H.264 SPS NAL unit (header byte included, emulation prevention bytes still
// in).
//
// Input: the NAL unit, as an avcC record carries it.
#include <cmath>

#include "fuzz_input.h"
#include "ingest/avc_config.h"

using namespace livegate;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Bytes nal(data, size);
  auto sps = parse_sps(nal);
  if (sps) {
    FUZZ_CHECK(sps->width >= 1 && sps->width <= 16384);
    FUZZ_CHECK(sps->height >= 1 && sps->height <= 16384);
    FUZZ_CHECK(std::isfinite(sps->frame_rate) && sps->frame_rate >= 0);
  } else {
    FUZZ_CHECK(!sps.error().empty());
  }
  const std::vector<uint8_t> rbsp = nal_to_rbsp(nal);
  FUZZ_CHECK(rbsp.size() <= size);
  return 0;
}
