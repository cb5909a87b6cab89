// The events of a published stream, as ingest emits them and segmenter/observers consume them.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/media.h"

namespace livegate {

struct StreamName {
  std::string app;
  std::string key;
  std::string path() const { return app + "/" + key; }
  bool operator==(const StreamName&) const = default;
};

struct PublishInfo {
  uint64_t session_id = 0;    // unique per publish in this process
  std::string peer;           // "ip:port" of the publisher's socket, never a client-sent value
  std::string encoder;        // flashVer from connect, e.g. "FMLE/3.0 (compatible; Lavf59.27.100)"
  int64_t start_unix_ms = 0;  // wall clock at publish
};

// Stream metadata from @setDataFrame/onMetaData, flattened to printable values.
using Metadata = std::vector<std::pair<std::string, std::string>>;

// Callbacks run on the loop thread that owns the publisher; they must not block.
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  virtual void on_publish(const StreamName& name, const PublishInfo& info) = 0;
  virtual void on_metadata(const StreamName& name, const Metadata& metadata) = 0;
  virtual void on_video_config(const StreamName& name, const VideoConfig& config) = 0;
  virtual void on_audio_config(const StreamName& name, const AudioConfig& config) = 0;
  virtual void on_access_unit(const StreamName& name, const AccessUnit& unit) = 0;
  virtual void on_unpublish(const StreamName& name) = 0;
};

}  // namespace livegate
