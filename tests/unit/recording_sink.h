// A StreamSink that records what it is told, for tests.
#pragma once

#include <string>
#include <vector>

#include "common/stream_sink.h"

namespace livegate::testing {

struct RecordingSink final : StreamSink {
  std::vector<std::string> events;
  std::vector<AccessUnit> units;
  std::vector<InputStatus> last_inputs;
  void on_publish(const StreamName& n, const PublishInfo&) override {
    events.push_back("publish " + n.path());
  }
  void on_metadata(const StreamName&, const Metadata& m) override {
    events.push_back("metadata " + std::to_string(m.size()));
  }
  void on_video_config(const StreamName&, const VideoConfig& c) override {
    events.push_back("video " + std::to_string(c.width) + "x" + std::to_string(c.height));
  }
  void on_audio_config(const StreamName&, const AudioConfig& c) override {
    events.push_back("audio " + std::to_string(c.sample_rate));
  }
  void on_access_unit(const StreamName&, const AccessUnit& u) override { units.push_back(u); }
  void on_switch(const StreamName& n, const PublishInfo& i, const InputSwitch& w) override {
    events.push_back("switch " + n.path() + " to " + to_string(w.to) + " " + i.peer + " (" + w.cause + ")");
  }
  void on_inputs(const StreamName&, const std::vector<InputStatus>& inputs) override { last_inputs = inputs; }
  void on_interrupt(const StreamName& n, std::chrono::milliseconds grace) override {
    events.push_back("interrupt " + n.path() + " " + std::to_string(grace.count()));
  }
  void on_unpublish(const StreamName& n) override { events.push_back("unpublish " + n.path()); }
};

}  // namespace livegate::testing
