// One simulated LL-HLS viewer.
#include "tests/bench/ll_player.h"

#include "tests/bench/media_playlist.h"

namespace livegate::bench {
namespace {

constexpr uint64_t kRetryDelayNs = 200'000'000;  // after a failed reload, as hls.js backs off

double ms_between(uint64_t from_ns, uint64_t to_ns) { return static_cast<double>(to_ns - from_ns) / 1e6; }

}  // namespace

LowLatencyPlayer::LowLatencyPlayer(uv_loop_t* loop, const sockaddr_storage& addr, const std::string& host,
                                   std::string playlist_path, uint64_t timeout_ms, LowLatencyTotals& totals)
    : playlist_path_(std::move(playlist_path)),
      totals_(totals),
      playlists_(loop, addr, host, timeout_ms),
      parts_(loop, addr, host, timeout_ms) {}

void LowLatencyPlayer::start(uint64_t now_ns) {
  started_ = true;
  start_ns_ = now_ns;
  reload();
}

void LowLatencyPlayer::reload() {
  if (stopped_ || playlists_.busy()) return;
  const std::string path = playlist_path_ + blocking_query_;
  playlists_.get(path, true, [this](const Fetcher::Answer& a) { on_playlist(a); });
}

void LowLatencyPlayer::on_playlist(const Fetcher::Answer& a) {
  if (stopped_) return;
  if (a.status != 200) {
    totals_.error(a.status ? "playlist HTTP " + std::to_string(a.status) : "playlist " + a.error);
    blocking_query_.clear();  // start over from the playlist as it is
    retry_ns_ = uv_hrtime() + kRetryDelayNs;
    return;
  }
  if (totals_.measuring && !blocking_query_.empty())
    totals_.playlist_ms.push_back(ms_between(a.sent_ns, a.done_ns));
  answered_ = true;
  auto p = parse_low_latency_playlist(*a.body);
  if (!p) {
    totals_.error(p.error());
    retry_ns_ = uv_hrtime() + kRetryDelayNs;
    return;
  }
  // Parts come from the hint: a viewer that joins takes the next part, as hls.js at the live edge does
  // once it has buffered; the ones listed before it are what the player already has.
  if (!p->preload_hint.empty()) {
    const std::string part = resolve_uri(playlist_path_, p->preload_hint);
    if (asked_.insert(part).second) wanted_.push_back(part);
  }
  blocking_query_ = "?_HLS_msn=" + std::to_string(p->next_msn) +
                    "&_HLS_part=" + std::to_string(p->next_part) + "&_HLS_skip=YES";
  fetch_parts();
  reload();
}

void LowLatencyPlayer::fetch_parts() {
  if (stopped_ || parts_.busy() || wanted_.empty()) return;
  const std::string path = wanted_.front();
  wanted_.pop_front();
  parts_.get(path, false, [this, path](const Fetcher::Answer& a) {
    if (stopped_) return;
    if (a.status != 200) {
      totals_.error(a.status ? "part HTTP " + std::to_string(a.status) : "part " + a.error);
    } else {
      if (!got_part_) {
        got_part_ = true;
        totals_.first_part_ms.push_back(ms_between(start_ns_, a.done_ns));
      }
      if (totals_.measuring) {
        totals_.part_ms.push_back(ms_between(a.sent_ns, a.done_ns));
        totals_.part_arrivals[path].push_back(a.done_ns);
        totals_.part_bytes += a.body_bytes;
      }
    }
    fetch_parts();
  });
}

void LowLatencyPlayer::tick(uint64_t now_ns) {
  if (!started_ || stopped_) return;
  playlists_.tick(now_ns);
  parts_.tick(now_ns);
  if (!playlists_.busy() && now_ns >= retry_ns_) reload();
}

void LowLatencyPlayer::stop() {
  stopped_ = true;
  playlists_.close();
  parts_.close();
}

}  // namespace livegate::bench
