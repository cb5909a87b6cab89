// The HLS side of every stream: receives stream events, runs one HlsStream per app/key, and
// publishes their playlists and segments to the StreamStore. Runs on the loop thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "common/config.h"
#include "common/metrics.h"
#include "common/stream_sink.h"
#include "segmenter/disk_writer.h"
#include "segmenter/hls_stream.h"
#include "segmenter/stream_store.h"

namespace livegate {

class HlsSegmenter final : public StreamSink {
 public:
  using Clock = std::chrono::steady_clock;

  // `disk` (optional) receives a copy of every playlist and segment, and their removals. `metrics`
  // counts the segments made.
  HlsSegmenter(const HlsConfig& config, StreamStore& store, Metrics& metrics, DiskWriter* disk = nullptr);

  void on_publish(const StreamName& name, const PublishInfo& info) override;
  void on_metadata(const StreamName&, const Metadata&) override {}
  void on_video_config(const StreamName& name, const VideoConfig& config) override;
  void on_audio_config(const StreamName& name, const AudioConfig& config) override;
  void on_access_unit(const StreamName& name, const AccessUnit& unit) override;
  void on_switch(const StreamName& name, const PublishInfo& input, const InputSwitch& what) override;
  void on_inputs(const StreamName&, const std::vector<InputStatus>&) override {}
  void on_interrupt(const StreamName& name, std::chrono::milliseconds grace) override;
  void on_unpublish(const StreamName& name) override;

  // Frees ended streams past their retention; call about once a second.
  void tick(Clock::time_point now);

  size_t streams() const noexcept { return streams_.size(); }
  size_t bytes_held() const noexcept;

 private:
  struct Entry {
    std::unique_ptr<HlsStream> hls;
    uint64_t published_version = 0;
    std::shared_ptr<const HlsSnapshot> published;
    Clock::time_point ended_at{};
  };
  using Streams = StreamPathMap<Entry>;
  Streams::value_type* find(const StreamName& name);  // the path and its entry
  void sync(const std::string& path, Entry& e);
  void mirror(const std::string& path, const HlsSnapshot* before, const HlsSnapshot* after);
  Streams::iterator remove(Streams::iterator it);
  // Ended streams beyond hls.max_ended_streams or hls.max_ended_bytes are freed, the oldest first.
  void evict_ended();

  const HlsConfig& config_;
  StreamStore& store_;
  std::atomic<uint64_t>& segments_total_;
  std::atomic<uint64_t>& long_total_;
  std::atomic<uint64_t>& cut_duration_total_;
  std::atomic<uint64_t>& cut_bytes_total_;
  std::atomic<uint64_t>& cut_pause_total_;
  std::atomic<uint64_t>& video_stalls_total_;
  std::atomic<uint64_t>& evicted_count_total_;
  std::atomic<uint64_t>& evicted_bytes_total_;
  DiskWriter* disk_;
  Streams streams_;
  std::string instance_tag_;  // differs between runs, so segment URIs never repeat across restarts
  uint64_t playlists_made_ = 0;
};

}  // namespace livegate
