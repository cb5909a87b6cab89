// Fuzz target: a Timeline fed (track, dts, pts) from a publisher that jitters, jumps, wraps and republishes.
//
// Input: u8 config (n % 4, see kConfigs), then 8-byte records: u8 flags (bit 0 audio, else video;
// bit 1 rejoin() before this frame; bits 2-4 a signed 32-bit-wrap epoch), u32 RTMP timestamp in ms,
// s24 composition time in ms. dts = (epoch * 2^32 + ms) * 90, pts = dts + cts * 90, which spans
// every value the timestamp extender and FLV tags can produce.
#include <algorithm>
#include <array>
#include <optional>

#include "fuzz_input.h"
#include "segmenter/timeline.h"

using namespace livegate;

namespace {

constexpr std::array<TimelineConfig, 4> kConfigs = {{
    {},                                                                  // what livegate runs with
    {.origin = 0, .max_backward = 1, .max_forward = 90, .join_gap = 0},  // every step is a jump
    {.origin = 90000, .max_backward = 90000LL * 3600, .max_forward = 90000LL * 3600, .join_gap = 1},
    {.origin = 1LL << 33, .max_backward = 0, .max_forward = 0, .join_gap = 3000},
}};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(data, size);
  Timeline timeline(kConfigs[in.u8() % kConfigs.size()]);

  std::array<std::optional<Ticks90k>, 2> last{};
  std::array<std::optional<Ticks90k>, 2> floor{};  // after rejoin(): output must pass the old edge
  std::optional<Ticks90k> max_out;
  bool first = true;
  while (in.remaining() > 0) {
    const uint8_t flags = in.u8();
    const uint32_t ms = in.u32();
    const uint32_t cts_raw = in.u24();
    const int32_t cts =
        (cts_raw & 0x800000u) ? static_cast<int32_t>(cts_raw | 0xFF000000u) : static_cast<int32_t>(cts_raw);
    const auto track = (flags & 1) ? Track::audio : Track::video;
    const size_t t = static_cast<size_t>(track);
    const int64_t epoch = static_cast<int8_t>(static_cast<uint8_t>((flags >> 2 & 7) << 5)) >> 5;  // -4 .. 3

    if (flags & 2) {
      timeline.rejoin();
      if (max_out) floor = {max_out, max_out};
    }
    const Ticks90k dts = (epoch * (int64_t{1} << 32) + ms) * 90;
    const Ticks90k pts = dts + int64_t{cts} * 90;
    const Timeline::Mapped m = timeline.map(track, dts, pts);

    FUZZ_CHECK(m.dts >= 0);
    FUZZ_CHECK(m.pts >= m.dts);
    if (last[t]) FUZZ_CHECK(m.dts > *last[t]);  // strictly increasing per track
    if (floor[t]) FUZZ_CHECK(m.dts > *floor[t]);
    if (first) FUZZ_CHECK(!m.jumped);
    first = false;
    last[t] = m.dts;
    floor[t].reset();
    max_out = max_out ? std::max(*max_out, m.dts) : m.dts;
    FUZZ_CHECK(timeline.last_dts() == max_out);
  }
  return 0;
}
