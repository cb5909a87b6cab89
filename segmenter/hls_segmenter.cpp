// Stream events to HlsStreams, and their snapshots to the store.
#include "segmenter/hls_segmenter.h"

#include <algorithm>
#include <cstdio>
#include <random>
#include <utility>

#include "common/clock.h"
#include "common/log.h"

namespace livegate {
namespace {

std::string random_tag() {
  std::random_device rd;
  const uint64_t v = (uint64_t{rd()} << 32 | rd()) ^ static_cast<uint64_t>(unix_ms_now());
  char buf[17];
  std::snprintf(buf, sizeof buf, "%08x", static_cast<uint32_t>(v ^ (v >> 32)));
  return buf;
}

constexpr const char* kCutsName = "livegate_hls_forced_cuts_total";
constexpr const char* kCutsHelp =
    "Segments not ended at a keyframe: none came by EXT-X-TARGETDURATION (duration), hls.max_segment_bytes "
    "was reached (bytes), or the media paused (pause).";
constexpr const char* kEvictedName = "livegate_hls_ended_streams_evicted_total";
constexpr const char* kEvictedHelp =
    "Ended streams freed before hls.retention_s because ended streams held more than a limit allows.";

}  // namespace

HlsSegmenter::HlsSegmenter(const HlsConfig& config, StreamStore& store, Metrics& metrics, DiskWriter* disk)
    : config_(config),
      store_(store),
      segments_total_(metrics.counter("livegate_hls_segments_total", "HLS segments produced.")),
      long_total_(metrics.counter("livegate_hls_long_segments_total",
                                  "Segments longer than hls.target_duration_s: keyframes too far apart.")),
      cut_duration_total_(metrics.counter(kCutsName, kCutsHelp, {{"reason", "duration"}})),
      cut_bytes_total_(metrics.counter(kCutsName, kCutsHelp, {{"reason", "bytes"}})),
      cut_pause_total_(metrics.counter(kCutsName, kCutsHelp, {{"reason", "pause"}})),
      video_stalls_total_(metrics.counter("livegate_hls_video_stalls_total",
                                          "Times a stream's video stopped while its audio went on "
                                          "(audio-only segments followed).")),
      evicted_count_total_(metrics.counter(kEvictedName, kEvictedHelp, {{"limit", "hls.max_ended_streams"}})),
      evicted_bytes_total_(metrics.counter(kEvictedName, kEvictedHelp, {{"limit", "hls.max_ended_bytes"}})),
      disk_(disk),
      instance_tag_(random_tag()) {}

HlsSegmenter::Streams::value_type* HlsSegmenter::find(const StreamName& name) {
  auto it = streams_.find(name);
  return it == streams_.end() ? nullptr : &*it;
}

void HlsSegmenter::sync(const std::string& path, Entry& e) {
  if (e.hls->version() == e.published_version) return;
  e.published_version = e.hls->version();
  std::shared_ptr<const HlsSnapshot> now = e.hls->snapshot();
  // The stream's own counts only grow, so what is new since the last snapshot is a difference.
  const HlsSnapshot* before = e.published.get();
  auto add = [before, &now](std::atomic<uint64_t>& total, uint64_t HlsSnapshot::*count) {
    total += (*now).*count - (before ? before->*count : 0);
  };
  add(segments_total_, &HlsSnapshot::segments_made);
  add(long_total_, &HlsSnapshot::long_segments_gop);
  add(cut_duration_total_, &HlsSnapshot::segments_without_keyframe);
  add(cut_bytes_total_, &HlsSnapshot::segments_cut_for_bytes);
  add(cut_pause_total_, &HlsSnapshot::pauses);
  add(video_stalls_total_, &HlsSnapshot::video_stalls);
  mirror(path, e.published.get(), now.get());
  e.published = now;
  store_.put_hls(path, std::move(now));
}

// Brings the on-disk copy from `before` to `after`, for each packaging: new segments (and CMAF init
// segments) first, then the playlist that lists them, then files that left the grace window. `after` ==
// nullptr removes the stream's folder.
void HlsSegmenter::mirror(const std::string& path, const HlsSnapshot* before, const HlsSnapshot* after) {
  if (!disk_) return;
  using Playlist = HlsSnapshot::Playlist;
  auto has = [](const Playlist* p, const std::string& uri) { return p && p->find(uri) != nullptr; };
  auto has_map = [](const Playlist* p, const std::string& uri) {
    return p && std::any_of(p->segments.begin(), p->segments.end(),
                            [&uri](const Segment& s) { return s.map_uri == uri; });
  };
  const std::pair<Playlist HlsSnapshot::*, const char*> kinds[] = {{&HlsSnapshot::ts, "/index.m3u8"},
                                                                   {&HlsSnapshot::cmaf, "/ll.m3u8"}};
  for (const auto& [member, name] : kinds) {
    const Playlist* b = before ? &(before->*member) : nullptr;
    const Playlist* a = after ? &(after->*member) : nullptr;
    if (a) {
      std::string last_map;  // segments of one muxer share its init segment: written once
      for (const Segment& seg : a->segments) {
        if (!seg.map_uri.empty() && seg.map_uri != last_map && !has_map(b, seg.map_uri))
          disk_->write(path + "/" + seg.map_uri, seg.map);
        last_map = seg.map_uri;
        if (!has(b, seg.uri)) disk_->write(path + "/" + seg.uri, seg.bytes);
      }
      if (!a->text.empty() && (!b || b->text != a->text)) disk_->write(path + name, a->text);
    }
    if (b) {
      std::string last_map;
      for (const Segment& seg : b->segments) {
        if (!has(a, seg.uri)) disk_->remove(path + "/" + seg.uri);
        if (!seg.map_uri.empty() && seg.map_uri != last_map && !has_map(a, seg.map_uri))
          disk_->remove(path + "/" + seg.map_uri);
        last_map = seg.map_uri;
      }
    }
    if (!after) disk_->remove(path + name);
  }
  if (!after) disk_->remove_dir(path);
}

void HlsSegmenter::on_publish(const StreamName& name, const PublishInfo&) {
  const std::string path = name.path();
  Entry& e = streams_[path];
  if (!e.hls) {
    // URIs: "<instance>x<playlist number>-<seq>.ts", unique across republish (seq grows) and restarts.
    const std::string tag = instance_tag_ + "x" + std::to_string(++playlists_made_);
    e.hls = std::make_unique<HlsStream>(config_, path, tag, unix_ms_now);
  }
  e.hls->start();
  sync(path, e);
}

void HlsSegmenter::on_video_config(const StreamName& name, const VideoConfig& config) {
  if (auto* s = find(name)) s->second.hls->video_config(config);
}

void HlsSegmenter::on_audio_config(const StreamName& name, const AudioConfig& config) {
  if (auto* s = find(name)) s->second.hls->audio_config(config);
}

void HlsSegmenter::on_access_unit(const StreamName& name, const AccessUnit& unit) {
  if (auto* s = find(name)) {
    s->second.hls->access_unit(unit);
    sync(s->first, s->second);
  }
}

void HlsSegmenter::on_switch(const StreamName& name, const PublishInfo&, const InputSwitch&) {
  if (auto* s = find(name)) {
    s->second.hls->switch_input();
    sync(s->first, s->second);
  }
}

void HlsSegmenter::on_interrupt(const StreamName& name, std::chrono::milliseconds) {
  if (auto* s = find(name)) {
    s->second.hls->interrupt();
    sync(s->first, s->second);
  }
}

void HlsSegmenter::on_unpublish(const StreamName& name) {
  if (auto* s = find(name)) {
    s->second.hls->end();
    s->second.ended_at = Clock::now();
    sync(s->first, s->second);
    evict_ended();
  }
}

HlsSegmenter::Streams::iterator HlsSegmenter::remove(Streams::iterator it) {
  store_.remove_hls(it->first);
  mirror(it->first, it->second.published.get(), nullptr);
  return streams_.erase(it);
}

void HlsSegmenter::tick(Clock::time_point now) {
  for (auto it = streams_.begin(); it != streams_.end();) {
    Entry& e = it->second;
    if (e.hls->ended() && now - e.ended_at >= std::chrono::seconds(config_.retention_s)) {
      it = remove(it);
    } else {
      ++it;
    }
  }
}

// Thousands of short publishes on distinct keys would otherwise keep every window for hls.retention_s.
void HlsSegmenter::evict_ended() {
  std::vector<std::pair<Clock::time_point, Streams::iterator>> ended;
  size_t bytes = 0;
  for (auto it = streams_.begin(); it != streams_.end(); ++it) {
    if (!it->second.hls->ended()) continue;
    ended.emplace_back(it->second.ended_at, it);
    bytes += it->second.hls->bytes_held();
  }
  if (ended.size() <= config_.max_ended_streams && bytes <= config_.max_ended_bytes) return;
  std::sort(ended.begin(), ended.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  size_t count = ended.size();
  for (auto& [at, it] : ended) {
    const bool over_count = count > config_.max_ended_streams;
    if (!over_count && bytes <= config_.max_ended_bytes) break;
    (over_count ? evicted_count_total_ : evicted_bytes_total_).fetch_add(1, std::memory_order_relaxed);
    log_info(it->first, std::string("ended stream freed early: limit ") +
                            (over_count ? "hls.max_ended_streams" : "hls.max_ended_bytes") + " reached");
    bytes -= it->second.hls->bytes_held();
    --count;
    remove(it);
  }
}

size_t HlsSegmenter::bytes_held() const noexcept {
  size_t n = 0;
  for (const auto& [path, e] : streams_) n += e.hls->bytes_held();
  return n;
}

}  // namespace livegate
