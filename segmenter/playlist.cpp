// Renders HLS media and multivariant playlists (RFC 8216); pure text, no I/O.
#include "segmenter/playlist.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>

namespace livegate {

namespace {

void append_uint(std::string& out, uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;  // 24 chars hold any uint64_t
  out.append(buf, end);
}

// "<seconds>.<3 digits>" from integer milliseconds: no floating-point formatting, so neither the
// locale's decimal separator nor printf's binary-rounding of values like 0.0335 can leak in.
void append_ms_as_seconds(std::string& out, int64_t ms) {
  append_uint(out, static_cast<uint64_t>(ms / 1000));
  const auto frac = static_cast<int>(ms % 1000);  // ms >= 0, see extinf_ms
  out += '.';
  out += static_cast<char>('0' + frac / 100);
  out += static_cast<char>('0' + frac / 10 % 10);
  out += static_cast<char>('0' + frac % 10);
}

}  // namespace

std::string render_multivariant(std::span<const Variant> variants) {
  std::string out = "#EXTM3U\n";
  for (const Variant& v : variants) {
    out += "#EXT-X-STREAM-INF:BANDWIDTH=";
    append_uint(out, v.bandwidth);
    out += ",AVERAGE-BANDWIDTH=";
    append_uint(out, v.average_bandwidth);
    if (!v.codecs.empty()) {
      out += ",CODECS=\"";
      out += v.codecs;
      out += '"';
    }
    if (v.width > 0 && v.height > 0) {
      out += ",RESOLUTION=";
      append_uint(out, v.width);
      out += 'x';
      append_uint(out, v.height);
    }
    if (v.frame_rate > 0 && v.frame_rate < 1000) {
      out += ",FRAME-RATE=";
      append_ms_as_seconds(out, std::llround(v.frame_rate * 1000));  // three decimals, like EXTINF
    }
    out += '\n';
    out += v.uri;
    out += '\n';
  }
  return out;
}

std::string codecs_string(const std::optional<VideoConfig>& video, const std::optional<AudioConfig>& audio) {
  std::string out = video ? video->codec_string : std::string();
  if (audio && !audio->codec_string.empty()) {
    if (!out.empty()) out += ',';
    out += audio->codec_string;
  }
  return out;
}

Bandwidth measure_bandwidth(std::span<const Segment> segments) {
  Bandwidth b;
  uint64_t bytes = 0;
  double seconds = 0;
  for (const Segment& s : segments) {
    if (!s.bytes || !(s.duration_s > 0)) continue;
    bytes += s.bytes->size();
    seconds += s.duration_s;
    b.peak = std::max(b.peak, static_cast<uint64_t>(std::ceil(double(s.bytes->size()) * 8 / s.duration_s)));
  }
  if (seconds > 0) b.average = static_cast<uint64_t>(std::ceil(double(bytes) * 8 / seconds));
  return b;
}

int64_t extinf_ms(double seconds) {
  if (!(seconds > 0)) return 0;  // also catches NaN, which llround would turn into garbage
  constexpr double kMaxSeconds = std::numeric_limits<uint32_t>::max();
  if (seconds > kMaxSeconds) seconds = kMaxSeconds;
  return std::llround(seconds * 1000.0);
}

uint32_t rounded_duration(double seconds) { return static_cast<uint32_t>((extinf_ms(seconds) + 500) / 1000); }

std::string format_pdt(int64_t unix_ms) {
  using namespace std::chrono;
  const sys_time<milliseconds> t{milliseconds{unix_ms}};
  const sys_days day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss hms{t - day};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()), static_cast<int>(hms.subseconds().count()));
  return buf;
}

LowLatencyTimes low_latency_times(uint32_t target_duration_s, uint32_t part_target_ms) {
  const double target = target_duration_s;
  return {3.0 * part_target_ms / 1000.0, 3 * target, 6 * target, 3 * target};
}

size_t skippable_segments(std::span<const Segment> segments, std::span<const Part> open_parts,
                          double skip_until_s) {
  double from_end = 0;  // from the start of segment i to the end of the playlist
  for (const Part& part : open_parts) from_end += part.duration_s;
  for (size_t i = segments.size(); i-- > 0;) {
    from_end += segments[i].duration_s;
    if (from_end >= skip_until_s) return i + 1 == segments.size() ? i : i + 1;
  }
  return 0;
}

namespace {

void append_part(std::string& out, const Part& part) {
  out += "#EXT-X-PART:DURATION=";
  append_ms_as_seconds(out, extinf_ms(part.duration_s));
  out += ",URI=\"";
  out += part.uri;
  out += part.independent ? "\",INDEPENDENT=YES\n" : "\"\n";
}

}  // namespace

std::string render_playlist(const PlaylistParams& p) {
  const LowLatencyParams* ll = p.fmp4 ? p.ll : nullptr;
  std::string out;
  out.reserve(128 + p.segments.size() * (ll ? 512 : 96));
  std::span<const Segment> segments = p.segments;
  size_t skipped = 0;
  LowLatencyTimes times{};
  if (ll) {
    times = low_latency_times(p.target_duration_s, ll->part_target_ms);
    if (ll->delta && !p.ended) skipped = skippable_segments(segments, ll->open_parts, times.skip_until_s);
  }
  // Version 3 is the lowest that allows decimal EXTINF durations; EXT-X-MAP in a media playlist that
  // is not I-frames only needs 6 (RFC 8216 7), EXT-X-SKIP 9 (RFC 8216bis 8). The LL-HLS tags need none.
  out += "#EXTM3U\n#EXT-X-VERSION:";
  out += skipped > 0 ? "9" : p.fmp4 ? "6" : "3";
  out += "\n#EXT-X-TARGETDURATION:";
  append_uint(out, p.target_duration_s);
  if (ll) {
    out += "\n#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=";
    append_ms_as_seconds(out, extinf_ms(times.skip_until_s));
    out += ",PART-HOLD-BACK=";
    append_ms_as_seconds(out, extinf_ms(times.part_hold_back_s));
    out += ",HOLD-BACK=";
    append_ms_as_seconds(out, extinf_ms(times.hold_back_s));
    out += "\n#EXT-X-PART-INF:PART-TARGET=";
    append_ms_as_seconds(out, ll->part_target_ms);
  }
  out += "\n#EXT-X-MEDIA-SEQUENCE:";
  append_uint(out, p.media_sequence);
  // Always written, even 0: the tag is optional while it is 0 (RFC 8216 4.3.3.3), but stating it
  // keeps every playlist self-describing and the golden texts one shape.
  out += "\n#EXT-X-DISCONTINUITY-SEQUENCE:";
  append_uint(out, p.discontinuity_sequence);
  out += '\n';
  if (skipped > 0) {
    // The skipped segments' tags go with them; EXT-X-MAP and the date are repeated below.
    out += "#EXT-X-SKIP:SKIPPED-SEGMENTS=";
    append_uint(out, skipped);
    out += '\n';
  }
  // Parts are listed for segments that end this close to the live edge (RFC 8216bis 6.2.2: at least the
  // last three target durations); older segments are listed whole.
  double to_edge = 0;
  size_t parts_from = segments.size();
  if (ll) {
    for (const Part& part : ll->open_parts) to_edge += part.duration_s;
    while (parts_from > 0 && to_edge < times.parts_listed_s) to_edge += segments[--parts_from].duration_s;
  }
  const std::string* map = nullptr;
  for (size_t i = skipped; i < segments.size(); ++i) {
    const Segment& s = segments[i];
    // Also on the first listed segment: it still marks a timestamp break against what a player
    // fetched from the previous playlist.
    if (s.discontinuity) out += "#EXT-X-DISCONTINUITY\n";
    // An EXT-X-MAP applies to every segment after it until the next one (RFC 8216 4.3.2.5); the first
    // listed segment needs one even if the map is older than the playlist.
    if (!s.map_uri.empty() && (map == nullptr || *map != s.map_uri)) {
      out += "#EXT-X-MAP:URI=\"";
      out += s.map_uri;
      out += "\"\n";
      map = &s.map_uri;
    }
    // On every segment, not just the first, so players resync wall-clock after each discontinuity
    // (RFC 8216 4.3.2.6) and DVR-style UIs never extrapolate across a gap.
    out += "#EXT-X-PROGRAM-DATE-TIME:";
    out += format_pdt(s.pdt_unix_ms);
    out += '\n';
    if (i >= parts_from) {
      for (const Part& part : s.parts) append_part(out, part);
    }
    out += "#EXTINF:";
    append_ms_as_seconds(out, extinf_ms(s.duration_s));
    out += ",\n";
    out += s.uri;
    out += '\n';
  }
  if (ll) {
    if (!ll->open_parts.empty()) {
      // The open segment's parts are its media: a player needs its discontinuity and map before them.
      if (ll->open_discontinuity) out += "#EXT-X-DISCONTINUITY\n";
      if (!ll->open_map_uri.empty() && (map == nullptr || *map != ll->open_map_uri)) {
        out += "#EXT-X-MAP:URI=\"";
        out += ll->open_map_uri;
        out += "\"\n";
      }
    }
    for (const Part& part : ll->open_parts) append_part(out, part);
    if (!p.ended && !ll->preload_hint.empty()) {
      out += "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"";
      out += ll->preload_hint;
      out += "\"\n";
    }
    for (const RenditionReport& r : ll->reports) {
      out += "#EXT-X-RENDITION-REPORT:URI=\"";
      out += r.uri;
      out += "\",LAST-MSN=";
      append_uint(out, r.last_msn);
      out += ",LAST-PART=";
      append_uint(out, r.last_part);
      out += '\n';
    }
  }
  if (p.ended) out += "#EXT-X-ENDLIST\n";
  return out;
}

}  // namespace livegate
