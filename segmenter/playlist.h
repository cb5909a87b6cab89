// Renders HLS media playlists (RFC 8216) from a list of segments, and multivariant playlists; pure
// text, no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "common/media.h"
#include "segmenter/segment.h"

namespace livegate {

// Where another rendition's playlist stands, for EXT-X-RENDITION-REPORT.
struct RenditionReport {
  std::string uri;  // its media playlist, relative
  uint64_t last_msn = 0;
  uint32_t last_part = 0;
};

// What a Low-Latency HLS playlist (RFC 8216bis 4.4.3.7, 4.4.3.8, 4.4.4.9, 4.4.5.3) adds.
struct LowLatencyParams {
  uint32_t part_target_ms = 333;     // EXT-X-PART-INF; every part but a paused one is at most this long
  uint64_t open_seq = 0;             // the segment being written, which `open_parts` belong to
  std::span<const Part> open_parts;  // already published parts of the segment being written
  // What the segment being written starts with, stated before its first part as before a segment.
  bool open_discontinuity = false;
  std::string open_map_uri;
  std::string preload_hint;  // the next part's URI (EXT-X-PRELOAD-HINT); empty for none
  bool delta = false;        // a delta update: segments past the skip boundary become EXT-X-SKIP
  std::span<const RenditionReport> reports;
};

struct PlaylistParams {
  // Fixed for the life of the playlist (RFC 8216 6.2.1); the caller guarantees
  // target_duration_s >= rounded_duration(d) for every listed duration d (4.3.3.1).
  uint32_t target_duration_s = 0;
  uint64_t media_sequence = 0;           // seq of segments.front() (4.3.3.2)
  uint64_t discontinuity_sequence = 0;   // discontinuities already removed (4.3.3.3)
  std::span<const Segment> segments;     // URIs must not contain line breaks
  bool ended = false;                    // append EXT-X-ENDLIST (4.3.3.4)
  bool fmp4 = false;                     // CMAF segments, each with a map_uri: version 6, EXT-X-MAP
  const LowLatencyParams* ll = nullptr;  // with fmp4: a Low-Latency HLS playlist
};

// LL-HLS figures derived from the targets, as the playlist states them and the server enforces them.
struct LowLatencyTimes {
  double part_hold_back_s;  // 3 x PART-TARGET (RFC 8216bis 4.4.3.8 SHOULD)
  double hold_back_s;       // 3 x TARGETDURATION
  double skip_until_s;      // CAN-SKIP-UNTIL: 6 x TARGETDURATION, the least 4.4.3.8 allows
  double parts_listed_s;    // parts are listed for segments ending this close to the live edge: 3 x target
};
LowLatencyTimes low_latency_times(uint32_t target_duration_s, uint32_t part_target_ms);

// How many listed segments a delta update replaces with EXT-X-SKIP: those that start at least
// CAN-SKIP-UNTIL before the end of the playlist (its last segment and the open parts).
size_t skippable_segments(std::span<const Segment> segments, std::span<const Part> open_parts,
                          double skip_until_s);

// Header, then per segment [DISCONTINUITY] [MAP] PROGRAM-DATE-TIME EXTINF URI, then [ENDLIST];
// "\n" line ends, numbers formatted independently of the C locale. With fmp4, an EXT-X-MAP comes before
// the first segment and wherever the map changes. With ll: EXT-X-SERVER-CONTROL and EXT-X-PART-INF in
// the header, EXT-X-PART lines before the segments near the live edge (and for the open segment after
// the last one), then EXT-X-PRELOAD-HINT and the rendition reports; a delta update starts with
// EXT-X-SKIP and is version 9.
std::string render_playlist(const PlaylistParams& p);

// One rendition of a stream as a multivariant playlist lists it (RFC 8216 4.3.4.2).
struct Variant {
  std::string uri;                 // its media playlist, relative
  uint64_t bandwidth = 0;          // peak segment bit rate, bits/s
  uint64_t average_bandwidth = 0;  // over the listed segments, bits/s
  std::string codecs;              // RFC 6381, see codecs_string; omitted when empty
  uint32_t width = 0, height = 0;  // RESOLUTION, omitted when 0
  double frame_rate = 0;           // FRAME-RATE with three decimals, omitted when 0
};

// "#EXTM3U", then an EXT-X-STREAM-INF line and the URI per variant.
std::string render_multivariant(std::span<const Variant> variants);

// The CODECS attribute for what a stream's segments carry (RFC 6381 3.3): each track's codec_string, as
// its parser in ingest made it from the configuration record, video first. Empty when there is nothing
// to say.
std::string codecs_string(const std::optional<VideoConfig>& video, const std::optional<AudioConfig>& audio);

// Bit rates of segments for EXT-X-STREAM-INF: the highest of any one segment, and over all of them.
struct Bandwidth {
  uint64_t peak = 0;
  uint64_t average = 0;
};
Bandwidth measure_bandwidth(std::span<const Segment> segments);

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
