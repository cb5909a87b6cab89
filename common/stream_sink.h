// The events of a published stream, as ingest emits them and segmenter/observers consume them.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
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

// Hash and equality between "app/key" paths and StreamNames, so a map keyed by path is searched with a
// StreamName without building the path: the segmenter and the monitor look a stream up per frame.
struct StreamPathHash {
  using is_transparent = void;
  size_t operator()(std::string_view path) const noexcept { return mix(kSeed, path); }
  size_t operator()(const StreamName& n) const noexcept { return mix(mix(mix(kSeed, n.app), "/"), n.key); }

 private:
  static constexpr uint64_t kSeed = 14695981039346656037ull;  // FNV-1a, fed piece by piece
  static uint64_t mix(uint64_t h, std::string_view s) noexcept {
    for (const char c : s) h = (h ^ static_cast<uint8_t>(c)) * 1099511628211ull;
    return h;
  }
};
struct StreamPathEqual {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const noexcept { return a == b; }
  bool operator()(std::string_view path, const StreamName& n) const noexcept { return (*this)(n, path); }
  bool operator()(const StreamName& n, std::string_view path) const noexcept {
    return path.size() == n.app.size() + 1 + n.key.size() && path.starts_with(n.app) &&
           path[n.app.size()] == '/' && path.ends_with(n.key);
  }
};
template <class T>
using StreamPathMap = std::unordered_map<std::string, T, StreamPathHash, StreamPathEqual>;

struct PublishInfo {
  uint64_t session_id = 0;    // unique per publish in this process
  std::string peer;           // "ip:port" of the publisher's socket, never a client-sent value
  std::string encoder;        // flashVer from connect, e.g. "FMLE/3.0 (compatible; Lavf59.27.100)"
  int64_t start_unix_ms = 0;  // wall clock at publish
};

// A key has a primary publisher and optionally a backup (`?backup=1`); one of them feeds the stream.
enum class InputRole : uint8_t { primary, backup };
inline const char* to_string(InputRole r) noexcept { return r == InputRole::primary ? "primary" : "backup"; }

// One publisher of a key, as the registry sees it.
struct InputStatus {
  InputRole role = InputRole::primary;
  PublishInfo info;
  bool active = false;   // its media feeds the stream
  bool healthy = false;  // it sent media within failover.input_loss_ms
  uint32_t width = 0;    // from its video configuration; 0 = none yet
  uint32_t height = 0;
};

// The stream's media source changed from one publisher of the key to the other.
struct InputSwitch {
  int64_t unix_ms = 0;
  InputRole from = InputRole::primary;
  InputRole to = InputRole::backup;
  std::string cause;  // e.g. "primary disconnected"
};

// Stream metadata from @setDataFrame/onMetaData, flattened to printable values.
using Metadata = std::vector<std::pair<std::string, std::string>>;

// Callbacks run on the loop thread that owns the publisher; they must not block.
//
// A stream's life: on_publish, its media, then either on_unpublish (the stream ends) or on_interrupt (the
// publisher went away; the stream waits for one to come back within `grace`). After on_interrupt comes
// either on_publish (a publisher continues the same stream: same playlist, with a discontinuity) or
// on_unpublish. While live, on_switch says the media now comes from the key's other publisher (failover):
// the same stream continues with a discontinuity, and that publisher's configuration and media follow.
// on_inputs tells the state of a key's publishers whenever it changes (one comes, goes, switches, or
// its health changes).
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  virtual void on_publish(const StreamName& name, const PublishInfo& info) = 0;
  virtual void on_metadata(const StreamName& name, const Metadata& metadata) = 0;
  virtual void on_video_config(const StreamName& name, const VideoConfig& config) = 0;
  virtual void on_audio_config(const StreamName& name, const AudioConfig& config) = 0;
  virtual void on_access_unit(const StreamName& name, const AccessUnit& unit) = 0;
  virtual void on_switch(const StreamName& name, const PublishInfo& input, const InputSwitch& what) = 0;
  virtual void on_inputs(const StreamName& name, const std::vector<InputStatus>& inputs) = 0;
  virtual void on_interrupt(const StreamName& name, std::chrono::milliseconds grace) = 0;
  virtual void on_unpublish(const StreamName& name) = 0;
};

}  // namespace livegate
