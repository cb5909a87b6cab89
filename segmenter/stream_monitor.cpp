// Per-stream counters, published as snapshots when something changes and once a second while live.
#include "segmenter/stream_monitor.h"

#include <chrono>

#include "common/clock.h"

namespace livegate {

StreamMonitor::Entry* StreamMonitor::find(const StreamName& name) {
  auto it = entries_.find(name.path());
  return it == entries_.end() ? nullptr : &it->second;
}

void StreamMonitor::publish(Entry& e) { store_.put(std::make_shared<const StreamSnapshot>(e.current)); }

void StreamMonitor::on_publish(const StreamName& name, const PublishInfo& info) {
  Entry e;
  e.current.name = name;
  e.current.live = true;
  e.current.publisher = info;
  e.rate_since = Clock::now();
  Entry& stored = entries_[name.path()] = std::move(e);  // a republish starts a fresh record
  publish(stored);
}

void StreamMonitor::on_metadata(const StreamName& name, const Metadata& metadata) {
  if (Entry* e = find(name)) {
    e->current.metadata = metadata;
    publish(*e);
  }
}

void StreamMonitor::on_video_config(const StreamName& name, const VideoConfig& config) {
  if (Entry* e = find(name)) {
    e->current.video = config;
    publish(*e);
  }
}

void StreamMonitor::on_audio_config(const StreamName& name, const AudioConfig& config) {
  if (Entry* e = find(name)) {
    e->current.audio = config;
    publish(*e);
  }
}

void StreamMonitor::on_access_unit(const StreamName& name, const AccessUnit& unit) {
  Entry* e = find(name);
  if (!e) return;
  StreamSnapshot& s = e->current;
  TrackStats& t = unit.track == Track::video ? s.video_stats : s.audio_stats;
  if (t.frames == 0) {
    t.first_dts = unit.dts;
  } else if (unit.dts < t.last_dts) {
    ++t.dts_backwards;
  }
  if (unit.pts < unit.dts) ++t.pts_before_dts;
  t.last_dts = unit.dts;
  ++t.frames;
  const uint64_t size = unit.data ? unit.data->size() : 0;
  t.bytes += size;
  e->rate_bytes += size;
  if (unit.track == Track::video) {
    if (unit.keyframe) {
      ++t.keyframes;
      if (e->last_keyframe_dts >= 0)
        s.keyframe_interval_s = double(unit.dts - e->last_keyframe_dts) / 90000.0;
      e->last_keyframe_dts = unit.dts;
    }
    if (t.frames > 1 && t.last_dts > t.first_dts) {
      s.measured_fps = double(t.frames - 1) * 90000.0 / double(t.last_dts - t.first_dts);
    }
  }
}

void StreamMonitor::on_unpublish(const StreamName& name) {
  Entry* e = find(name);
  if (!e) return;
  e->current.live = false;
  e->current.end_unix_ms = unix_ms_now();
  e->current.bitrate_kbps = 0;
  e->ended_at = Clock::now();
  publish(*e);
}

void StreamMonitor::tick(Clock::time_point now) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    Entry& e = it->second;
    if (!e.current.live) {
      if (now - e.ended_at >= retention_) {
        store_.remove(it->first);
        it = entries_.erase(it);
        continue;
      }
    } else {
      const double secs = std::chrono::duration<double>(now - e.rate_since).count();
      if (secs > 0) e.current.bitrate_kbps = double(e.rate_bytes) * 8.0 / 1000.0 / secs;
      e.rate_bytes = 0;
      e.rate_since = now;
      publish(e);
    }
    ++it;
  }
}

}  // namespace livegate
