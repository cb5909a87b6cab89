// Pointer swaps under a short lock; readers keep their snapshot alive as long as they need it.
#include "segmenter/stream_store.h"

namespace livegate {

void StreamStore::put(std::shared_ptr<const StreamSnapshot> snapshot) {
  const std::string path = snapshot->name.path();
  std::lock_guard lock(mu_);
  streams_[path].swap(snapshot);
}

void StreamStore::remove(const std::string& path) {
  std::shared_ptr<const StreamSnapshot> old;  // freed outside the lock
  std::lock_guard lock(mu_);
  if (auto it = streams_.find(path); it != streams_.end()) {
    old = std::move(it->second);
    streams_.erase(it);
  }
}

void StreamStore::put_hls(const std::string& path, std::shared_ptr<const HlsSnapshot> hls) {
  {
    std::lock_guard lock(mu_);
    hls_[path].swap(hls);  // the old snapshot, now in `hls`, is freed after the lock is released
  }
  notify();
}

void StreamStore::remove_hls(const std::string& path) {
  std::shared_ptr<const HlsSnapshot> old;
  {
    std::lock_guard lock(mu_);
    if (auto it = hls_.find(path); it != hls_.end()) {
      old = std::move(it->second);
      hls_.erase(it);
    }
  }
  notify();
}

uint64_t StreamStore::watch(Watcher watcher) const {
  std::lock_guard lock(watch_mu_);
  watchers_.emplace(++next_watcher_, std::move(watcher));
  return next_watcher_;
}

void StreamStore::unwatch(uint64_t id) const {
  std::lock_guard lock(watch_mu_);
  watchers_.erase(id);
}

void StreamStore::notify() const {
  std::lock_guard lock(watch_mu_);
  for (const auto& [id, watcher] : watchers_) watcher();
}

const Part* HlsSnapshot::find_part(std::string_view uri) const {
  for (const Part& p : ll.open_parts) {
    if (p.uri == uri) return &p;
  }
  // Newest first: a player asks for the parts near the live edge.
  for (auto s = cmaf.segments.rbegin(); s != cmaf.segments.rend(); ++s) {
    for (const Part& p : s->parts) {
      if (p.uri == uri) return &p;
    }
  }
  return nullptr;
}

bool HlsSnapshot::has(uint64_t msn, std::optional<uint32_t> part) const noexcept {
  const std::optional<uint64_t> last = last_msn();
  if (!part) return last && msn <= *last;
  if (last && msn <= *last) {
    if (msn < cmaf.segments.front().seq) return true;  // long gone: the playlist is newer
    const Segment& s = cmaf.segments[msn - cmaf.segments.front().seq];
    if (*part < s.parts.size()) return true;
    return has(msn + 1, 0);  // past its last part: the next segment's first
  }
  return msn == ll.open_seq && *part < ll.open_parts.size();
}

std::shared_ptr<const HlsSnapshot> StreamStore::get_hls(const std::string& path) const {
  std::lock_guard lock(mu_);
  auto it = hls_.find(path);
  return it == hls_.end() ? nullptr : it->second;
}

std::shared_ptr<const StreamSnapshot> StreamStore::get(const std::string& path) const {
  std::lock_guard lock(mu_);
  auto it = streams_.find(path);
  return it == streams_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<const StreamSnapshot>> StreamStore::list() const {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<const StreamSnapshot>> out;
  out.reserve(streams_.size());
  for (const auto& [path, s] : streams_) out.push_back(s);
  return out;
}

void StreamStore::set_stats(const ServerStats& stats) {
  std::lock_guard lock(mu_);
  stats_ = stats;
}

ServerStats StreamStore::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace livegate
