// The few fields of an HLS media playlist (RFC 8216 section 4.3) a simulated player acts on.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace livegate::bench {

struct MediaPlaylist {
  double target_duration_s = 0;   // EXT-X-TARGETDURATION
  uint64_t media_sequence = 0;    // EXT-X-MEDIA-SEQUENCE: sequence number of uris.front()
  std::vector<std::string> uris;  // segment URIs in order, as written (relative or absolute)
  bool ended = false;             // EXT-X-ENDLIST
};

// Fails on text that does not start with #EXTM3U or lacks a positive EXT-X-TARGETDURATION.
Result<MediaPlaylist> parse_media_playlist(std::string_view text);

// What a low-latency player (RFC 8216bis 6.2.5) needs to block for the next part of an LL-HLS playlist.
struct LowLatencyPlaylist {
  double part_target_s = 0;  // EXT-X-PART-INF:PART-TARGET
  // The part after the newest one listed: _HLS_msn / _HLS_part of the next blocking reload.
  uint64_t next_msn = 0;
  uint64_t next_part = 0;
  std::string preload_hint;  // EXT-X-PRELOAD-HINT:TYPE=PART URI; empty when there is none
};

// Reads a full or delta (EXT-X-SKIP) playlist. Fails without #EXTM3U or a positive PART-TARGET.
Result<LowLatencyPlaylist> parse_low_latency_playlist(std::string_view text);

// The request path of `uri` as listed in the playlist at `playlist_path`: relative URIs resolve against
// the playlist's folder (RFC 3986 5.2, enough of it for HLS), absolute paths and http:// URLs keep their
// path.
std::string resolve_uri(std::string_view playlist_path, std::string_view uri);

}  // namespace livegate::bench
