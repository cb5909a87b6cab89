// The LL-HLS delivery directives a player adds to a playlist URL (RFC 8216bis 6.2.5): _HLS_msn,
// _HLS_part, _HLS_skip. Pure: a query string in, the directives or a reason for 400 out.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace livegate {

struct HlsDirectives {
  std::optional<uint64_t> msn;   // block until this media sequence number is complete...
  std::optional<uint32_t> part;  // ...or until this part of it is published
  bool skip = false;             // _HLS_skip=YES or v2: a delta update
};

// Other parameters (a CDN's ?token=, cache busters) are ignored, as are unknown _HLS_skip values. A
// number that is not decimal digits, too large, or given twice, and _HLS_part without _HLS_msn, are
// errors (400).
Result<HlsDirectives> parse_hls_directives(std::string_view query);

}  // namespace livegate
