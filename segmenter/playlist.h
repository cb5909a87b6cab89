// Renders an HLS media playlist (RFC 8216) from a list of segments; pure text, no I/O.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "segmenter/segment.h"

namespace livegate {

struct PlaylistParams {
  // Fixed for the life of the playlist (RFC 8216 6.2.1); the caller guarantees
  // target_duration_s >= rounded_duration(d) for every listed duration d (4.3.3.1).
  uint32_t target_duration_s = 0;
  uint64_t media_sequence = 0;          // seq of segments.front() (4.3.3.2)
  uint64_t discontinuity_sequence = 0;  // discontinuities already removed (4.3.3.3)
  std::span<const Segment> segments;    // URIs must not contain line breaks
  bool ended = false;                   // append EXT-X-ENDLIST (4.3.3.4)
  bool fmp4 = false;                    // CMAF segments, each with a map_uri: version 6, EXT-X-MAP
};

// Header, then per segment [DISCONTINUITY] [MAP] PROGRAM-DATE-TIME EXTINF URI, then [ENDLIST];
// "\n" line ends, numbers formatted independently of the C locale. With fmp4, an EXT-X-MAP comes before
// the first segment and wherever the map changes.
std::string render_playlist(const PlaylistParams& p);

// A duration as EXTINF prints it: milliseconds, rounded to nearest, halves away from zero
// (0.0335 s -> 34 ms). Negative and NaN give 0; values are capped at UINT32_MAX seconds.
int64_t extinf_ms(double seconds);

// The nearest integer (halves up: 2.5 -> 3) of the duration *as printed* in EXTINF, which is what a
// player compares with EXT-X-TARGETDURATION (RFC 8216 4.3.3.1). Rounding the printed value rather
// than `seconds` matters at the edge: 2.4996 prints as "2.500", which a player rounds to 3, not 2.
uint32_t rounded_duration(double seconds);

// ISO 8601 UTC with milliseconds, as EXT-X-PROGRAM-DATE-TIME wants (RFC 8216 4.3.2.6):
// 1795608510873 -> "2026-11-25T12:08:30.873Z". Times before 1970 are floored, not truncated.
std::string format_pdt(int64_t unix_ms);

}  // namespace livegate
