// Parsing the parts of a media playlist a player needs.
#include "tests/bench/media_playlist.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>

namespace livegate::bench {
namespace {

// Calls `on_line` (returning Status) with each non-empty line after the #EXTM3U header, line endings
// (LF or CRLF) removed; its first failure ends the walk.
template <class OnLine>
Status each_line(std::string_view text, OnLine&& on_line) {
  if (text.empty()) return Error{"m3u8: empty"};
  bool first = true;
  while (!text.empty()) {
    const size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (first) {
      if (line != "#EXTM3U") return Error{"m3u8: does not start with #EXTM3U"};
      first = false;
    } else if (!line.empty()) {
      if (Status s = on_line(line); !s.ok()) return s;
    }
  }
  return {};
}

// The value of attribute `name` in an attribute list (RFC 8216 4.2), quotes removed; empty if absent.
std::string_view attribute(std::string_view list, std::string_view name) {
  size_t at = 0;
  while (at < list.size()) {
    const size_t eq = list.find('=', at);
    if (eq == std::string_view::npos) return {};
    size_t end = eq + 1;
    if (end < list.size() && list[end] == '"') {
      end = list.find('"', end + 1);
      if (end == std::string_view::npos) return {};
      ++end;
    } else {
      end = std::min(list.find(',', end), list.size());
    }
    std::string_view value = list.substr(eq + 1, end - eq - 1);
    if (list.substr(at, eq - at) == name) {
      if (value.size() >= 2 && value.front() == '"') value = value.substr(1, value.size() - 2);
      return value;
    }
    at = end + 1;  // past the comma
  }
  return {};
}

bool parse_u64(std::string_view v, uint64_t& out) {
  return !v.empty() && std::from_chars(v.data(), v.data() + v.size(), out).ec == std::errc{};
}

}  // namespace

Result<MediaPlaylist> parse_media_playlist(std::string_view text) {
  MediaPlaylist p;
  const Status read = each_line(text, [&p](std::string_view line) -> Status {
    if (line.starts_with("#EXT-X-TARGETDURATION:")) {
      // A decimal-integer (4.3.3.1); strtod also accepts what sloppy servers write.
      p.target_duration_s = std::strtod(std::string(line.substr(22)).c_str(), nullptr);
    } else if (line.starts_with("#EXT-X-MEDIA-SEQUENCE:")) {
      if (!parse_u64(line.substr(22), p.media_sequence)) return Error{"m3u8: bad EXT-X-MEDIA-SEQUENCE"};
    } else if (line == "#EXT-X-ENDLIST") {
      p.ended = true;
    } else if (line.front() != '#') {
      p.uris.emplace_back(line);
    }
    return {};
  });
  if (!read.ok()) return Error{read.error()};
  if (!(p.target_duration_s > 0)) return Error{"m3u8: no EXT-X-TARGETDURATION"};
  return p;
}

Result<LowLatencyPlaylist> parse_low_latency_playlist(std::string_view text) {
  LowLatencyPlaylist p;
  uint64_t sequence = 0, skipped = 0, segments = 0, trailing_parts = 0;
  const Status read = each_line(text, [&](std::string_view line) -> Status {
    if (line.starts_with("#EXT-X-MEDIA-SEQUENCE:")) {
      if (!parse_u64(line.substr(22), sequence)) return Error{"m3u8: bad EXT-X-MEDIA-SEQUENCE"};
    } else if (line.starts_with("#EXT-X-SKIP:")) {
      if (!parse_u64(attribute(line.substr(12), "SKIPPED-SEGMENTS"), skipped)) {
        return Error{"m3u8: bad EXT-X-SKIP"};
      }
    } else if (line.starts_with("#EXT-X-PART-INF:")) {
      p.part_target_s = std::strtod(std::string(attribute(line.substr(16), "PART-TARGET")).c_str(), nullptr);
    } else if (line.starts_with("#EXT-X-PART:")) {
      ++trailing_parts;
    } else if (line.starts_with("#EXT-X-PRELOAD-HINT:")) {
      const std::string_view attrs = line.substr(20);
      if (attribute(attrs, "TYPE") == "PART") p.preload_hint = std::string(attribute(attrs, "URI"));
    } else if (line.front() != '#') {
      ++segments;
      trailing_parts = 0;  // the parts listed so far belonged to this segment
    }
    return {};
  });
  if (!read.ok()) return Error{read.error()};
  if (!(p.part_target_s > 0)) return Error{"m3u8: no EXT-X-PART-INF:PART-TARGET"};
  p.next_msn = sequence + skipped + segments;
  p.next_part = trailing_parts;
  return p;
}

std::string resolve_uri(std::string_view playlist_path, std::string_view uri) {
  if (uri.starts_with("http://") || uri.starts_with("https://")) {
    const size_t slash = uri.find('/', uri.find("//") + 2);
    return slash == std::string_view::npos ? "/" : std::string(uri.substr(slash));
  }
  if (uri.starts_with("/")) return std::string(uri);
  const std::string_view path = playlist_path.substr(0, playlist_path.find('?'));
  return std::string(path.substr(0, path.rfind('/') + 1)) + std::string(uri);
}

}  // namespace livegate::bench
