// Fuzz target: segments pushed through a SegmentWindow and rendered with render_playlist after every step.
//
// Input: a 4-byte header (u8 window % 12, u8 grace % 12, u8 target duration 1 + n % 15, u8 first seq
// << 40), then 6-byte records, one segment each: u8 flags, u32 value, s8 PDT jitter in ms.
// flags: bit 0 discontinuity; bit 1 clear() first; bit 2 push with a wrong seq (must be refused);
// bit 3 render with ENDLIST; bits 4-5 how value becomes the duration (0 microseconds, 1 float bits,
// 2 just around a half second, 3 milliseconds); bits 6-7 the PDT (0 previous + duration + jitter,
// 1 previous + jitter seconds, 2 value as signed Unix seconds, 3 a fixed time).
// Durations that break the caller's promise (rounded duration <= target duration) are clamped to
// the target, as the segmenter does by cutting in time.
#include <algorithm>
#include <bit>
#include <charconv>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_input.h"
#include "segmenter/playlist.h"
#include "segmenter/segment_window.h"

using namespace livegate;

namespace {

constexpr int64_t kMinPdt = -62135596800000;  // 0001-01-01T00:00:00.000Z
constexpr int64_t kMaxPdt = 253402300799999;  // 9999-12-31T23:59:59.999Z
constexpr int64_t kBasePdt = 1700000000000;

// Howard Hinnant's days_from_civil: proleptic Gregorian date to days since 1970-01-01.
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool digits(std::string_view s, size_t pos, size_t n, int64_t& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

// "YYYY-MM-DDTHH:MM:SS.mmmZ" back to Unix milliseconds; false on any deviation from that shape.
bool parse_pdt(std::string_view s, int64_t& ms) {
  int64_t y, mo, d, h, mi, se, f;
  if (s.size() != 24 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
      s[19] != '.' || s[23] != 'Z')
    return false;
  if (!digits(s, 0, 4, y) || !digits(s, 5, 2, mo) || !digits(s, 8, 2, d) || !digits(s, 11, 2, h) ||
      !digits(s, 14, 2, mi) || !digits(s, 17, 2, se) || !digits(s, 20, 3, f))
    return false;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59) return false;
  ms =
      ((days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 24 + h) * 60 + mi) * 60000 +
      se * 1000 + f;
  return true;
}

uint64_t number_after(std::string_view line, std::string_view prefix) {
  FUZZ_CHECK(line.substr(0, prefix.size()) == prefix);
  const std::string_view n = line.substr(prefix.size());
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(n.data(), n.data() + n.size(), v);
  FUZZ_CHECK(ec == std::errc() && end == n.data() + n.size());
  return v;
}

struct Previous {
  bool any = false;
  uint64_t media_sequence = 0;
  uint64_t discontinuity_sequence = 0;
};

void check_render(const SegmentWindow& window, size_t window_size, uint32_t target, bool ended,
                  Previous& prev) {
  const std::span<const Segment> listed = window.listed();
  FUZZ_CHECK(listed.size() <= window_size);
  for (size_t i = 0; i < listed.size(); ++i) FUZZ_CHECK(listed[i].seq == window.media_sequence() + i);
  for (const Segment& s : window.all()) FUZZ_CHECK(window.find(s.uri) == &s);

  PlaylistParams params;
  params.target_duration_s = target;
  params.media_sequence = window.media_sequence();
  params.discontinuity_sequence = window.discontinuity_sequence();
  params.segments = listed;
  params.ended = ended;
  const std::string text = render_playlist(params);

  FUZZ_CHECK(text.starts_with("#EXTM3U\n"));
  FUZZ_CHECK(text.ends_with("\n"));
  FUZZ_CHECK(text.find('\r') == std::string::npos);

  std::vector<std::string_view> lines;
  for (size_t from = 0; from < text.size();) {
    const size_t nl = text.find('\n', from);
    lines.emplace_back(text.data() + from, nl - from);
    from = nl + 1;
  }
  FUZZ_CHECK(lines.size() >= 5);
  FUZZ_CHECK(lines[1] == "#EXT-X-VERSION:3");
  FUZZ_CHECK(number_after(lines[2], "#EXT-X-TARGETDURATION:") == target);
  const uint64_t media_sequence = number_after(lines[3], "#EXT-X-MEDIA-SEQUENCE:");
  const uint64_t discontinuity_sequence = number_after(lines[4], "#EXT-X-DISCONTINUITY-SEQUENCE:");
  FUZZ_CHECK(media_sequence == window.media_sequence());
  FUZZ_CHECK(discontinuity_sequence == window.discontinuity_sequence());
  if (prev.any) {
    // Over successive renders a playlist only moves forward (RFC 8216 6.2.1, 4.3.3.3).
    FUZZ_CHECK(media_sequence >= prev.media_sequence);
    FUZZ_CHECK(discontinuity_sequence >= prev.discontinuity_sequence);
  }
  prev = {true, media_sequence, discontinuity_sequence};

  size_t i = 5;
  for (const Segment& s : listed) {
    if (s.discontinuity) FUZZ_CHECK(i < lines.size() && lines[i++] == "#EXT-X-DISCONTINUITY");
    FUZZ_CHECK(i + 3 <= lines.size());  // PROGRAM-DATE-TIME, EXTINF, URI
    constexpr std::string_view kPdt = "#EXT-X-PROGRAM-DATE-TIME:";
    FUZZ_CHECK(lines[i].starts_with(kPdt));
    int64_t pdt = 0;
    FUZZ_CHECK(parse_pdt(lines[i].substr(kPdt.size()), pdt));
    FUZZ_CHECK(pdt == s.pdt_unix_ms);
    ++i;
    // "#EXTINF:<digits>.<3 digits>,"
    constexpr std::string_view kExtinf = "#EXTINF:";
    const std::string_view extinf = lines[i++];
    FUZZ_CHECK(extinf.starts_with(kExtinf) && extinf.ends_with(","));
    const std::string_view number = extinf.substr(kExtinf.size(), extinf.size() - kExtinf.size() - 1);
    const size_t dot = number.find('.');
    FUZZ_CHECK(dot != std::string_view::npos && dot >= 1 && number.size() - dot - 1 == 3);
    int64_t whole = 0, frac = 0;
    FUZZ_CHECK(digits(number, 0, dot, whole) && digits(number, dot + 1, 3, frac));
    const int64_t ms = whole * 1000 + frac;
    FUZZ_CHECK(ms == extinf_ms(s.duration_s));
    // What a player compares with the target duration: the printed value, rounded half up.
    FUZZ_CHECK((ms + 500) / 1000 <= int64_t{target});
    FUZZ_CHECK(lines[i++] == s.uri);
  }
  if (ended) FUZZ_CHECK(i < lines.size() && lines[i++] == "#EXT-X-ENDLIST");
  FUZZ_CHECK(i == lines.size());
}

double duration_of(uint8_t mode, uint32_t v) {
  switch (mode) {
    case 0: return v / 1e6;
    case 1: return static_cast<double>(std::bit_cast<float>(v));
    case 2: return (v % 16) + 0.499 + (v >> 4) % 20 * 0.0001;  // 0.4990 .. 0.5009 past a whole second
    default: return v / 1e3;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(data, size);
  const size_t window_arg = in.u8() % 12;
  const size_t grace = in.u8() % 12;
  const uint32_t target = 1 + in.u8() % 15;
  uint64_t next_seq = uint64_t{in.u8()} << 40;
  const size_t window_size = window_arg < 1 ? 1 : window_arg;

  SegmentWindow window(window_arg, grace);
  Previous prev;
  bool started = false;
  int64_t pdt = kBasePdt;
  while (in.remaining() > 0) {
    const uint8_t flags = in.u8();
    const uint32_t value = in.u32();
    const auto jitter = static_cast<int8_t>(in.u8());

    if (flags & 2) {
      const uint64_t ms_before = window.media_sequence();
      window.clear();
      FUZZ_CHECK(window.size() == 0 && window.listed().empty());
      FUZZ_CHECK(window.media_sequence() >= ms_before);
    }
    double d = duration_of(flags >> 4 & 3, value);
    if (rounded_duration(d) > target) d = target;
    switch (flags >> 6) {
      case 0: pdt += extinf_ms(d) + jitter; break;
      case 1: pdt += int64_t{jitter} * 1000; break;
      case 2: pdt = int64_t{static_cast<int32_t>(value)} * 1000; break;
      default: pdt = kBasePdt; break;
    }
    pdt = std::clamp(pdt, kMinPdt, kMaxPdt);

    Segment s;
    s.duration_s = d;
    s.pdt_unix_ms = pdt;
    s.discontinuity = (flags & 1) != 0;
    const bool wrong = started && (flags & 4);
    s.seq = next_seq;
    if (wrong)
      s.seq = value % 5 == 0 && next_seq > 0 ? next_seq - 1 : next_seq + 1 + value % 3;  // repeat or skip
    s.uri = "s" + std::to_string(s.seq) + (wrong ? "-wrong" : "") + ".ts";
    s.bytes = std::make_shared<const std::vector<uint8_t>>(value % 7);

    const size_t size_before = window.size();
    const uint64_t ms_before = window.media_sequence();
    const bool pushed = window.push(std::move(s));
    if (wrong) {
      FUZZ_CHECK(!pushed);
      FUZZ_CHECK(window.size() == size_before && window.media_sequence() == ms_before);
    } else {
      FUZZ_CHECK(pushed);
      started = true;
      ++next_seq;
    }
    FUZZ_CHECK(window.size() <= window_size + grace);
    size_t bytes = 0;
    for (const Segment& seg : window.all()) bytes += seg.bytes->size();
    FUZZ_CHECK(window.bytes_held() == bytes);

    check_render(window, window_size, target, (flags & 8) != 0, prev);
  }
  return 0;
}
