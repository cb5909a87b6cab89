// Watches each stream's events and keeps its snapshot in the StreamStore up to date: codecs,
// metadata, frame counts, timestamp checks and rates. Runs on the loop thread.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "common/stream_sink.h"
#include "segmenter/stream_store.h"

namespace livegate {

class StreamMonitor final : public StreamSink {
 public:
  using Clock = std::chrono::steady_clock;

  // Ended streams stay listed for `retention` (their playlists stay servable as long).
  StreamMonitor(StreamStore& store, std::chrono::milliseconds retention)
      : store_(store), retention_(retention) {}

  void on_publish(const StreamName& name, const PublishInfo& info) override;
  void on_metadata(const StreamName& name, const Metadata& metadata) override;
  void on_video_config(const StreamName& name, const VideoConfig& config) override;
  void on_audio_config(const StreamName& name, const AudioConfig& config) override;
  void on_access_unit(const StreamName& name, const AccessUnit& unit) override;
  void on_unpublish(const StreamName& name) override;

  // Refreshes rates and forgets ended streams past their retention; call about once a second.
  void tick(Clock::time_point now);

 private:
  struct Entry {
    StreamSnapshot current;
    Clock::time_point ended_at{};
    Clock::time_point rate_since{};
    uint64_t rate_bytes = 0;
    Ticks90k last_keyframe_dts = -1;
  };
  void publish(Entry& e);
  Entry* find(const StreamName& name);

  StreamStore& store_;
  std::chrono::milliseconds retention_;
  std::map<std::string, Entry> entries_;
};

}  // namespace livegate
