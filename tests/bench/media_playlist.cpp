// Parsing the parts of a media playlist a player needs.
#include "tests/bench/media_playlist.h"

#include <charconv>
#include <cstdlib>

namespace livegate::bench {

Result<MediaPlaylist> parse_media_playlist(std::string_view text) {
  MediaPlaylist p;
  bool first = true;
  while (!text.empty()) {
    const size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (first) {
      if (line != "#EXTM3U") return Error{"m3u8: does not start with #EXTM3U"};
      first = false;
      continue;
    }
    if (line.empty()) continue;
    if (line.starts_with("#EXT-X-TARGETDURATION:")) {
      // A decimal-integer (4.3.3.1); strtod also accepts what sloppy servers write.
      p.target_duration_s = std::strtod(std::string(line.substr(22)).c_str(), nullptr);
    } else if (line.starts_with("#EXT-X-MEDIA-SEQUENCE:")) {
      const std::string_view v = line.substr(22);
      if (std::from_chars(v.data(), v.data() + v.size(), p.media_sequence).ec != std::errc{}) {
        return Error{"m3u8: bad EXT-X-MEDIA-SEQUENCE"};
      }
    } else if (line == "#EXT-X-ENDLIST") {
      p.ended = true;
    } else if (line.front() != '#') {
      p.uris.emplace_back(line);
    }
  }
  if (first) return Error{"m3u8: empty"};
  if (!(p.target_duration_s > 0)) return Error{"m3u8: no EXT-X-TARGETDURATION"};
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
