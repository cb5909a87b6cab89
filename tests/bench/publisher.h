// One RTMP publishing connection of the load generator: handshake, connect/createStream/publish, then
// the shared FLV tags paced in real time and looped with continuous timestamps.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/uv_handle.h"
#include "ingest/amf0.h"
#include "ingest/chunk_reader.h"
#include "ingest/chunk_writer.h"
#include "ingest/handshake.h"
#include "tests/bench/chunked_batch.h"
#include "tests/bench/flv_file.h"
#include "tests/bench/keyframe_log.h"

namespace livegate::bench {

struct PublishTarget {
  sockaddr_storage addr{};
  std::string app;
  std::string tc_url;  // rtmp://host:port/app
};

struct PublisherOptions {
  uint32_t chunk_size = 65536;         // our Set Chunk Size: big, so most frames are one chunk
  size_t max_queue_bytes = 256 * 1024;  // bytes waiting in libuv's queue before we stop adding tags
  uint64_t setup_timeout_ms = 15000;    // connect to Publish.Start
  uint64_t measure_after_ms = 0;        // lag and queue figures count only after this (ramp-up excluded)
  double late_ms = 500;                 // a stream whose lag exceeded this did not keep real time
};

// What one publisher did, for the report.
struct PublisherStats {
  std::string state;  // "waiting", "connecting", "setup", "streaming", "failed"
  std::string error;
  uint64_t tags = 0, bytes = 0, keyframes = 0, writes = 0;
  uint32_t loops = 0;
  double max_lag_ms = 0;         // how late the next due tag was when the queue held us back
  size_t max_queue_bytes = 0;    // libuv write queue after a tick
  double publish_start_wall_ms = 0;
  bool kept_real_time = false;
};

class Publisher {
 public:
  Publisher(uv_loop_t* loop, int index, std::string key, const PublishTarget& target, const FlvFile& file,
            Bytes set_data_frame, const PublisherOptions& options, KeyframeLog& log);
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;

  void connect(uint64_t now_ns);
  // Sends every tag that is due by now, in one write; enforces the setup timeout.
  void tick(uint64_t now_ns, uint64_t since_start_ns);
  void stop();  // closes the connection (pending write callbacks still arrive, so keep *this alive)

  bool started() const noexcept { return state_ != State::waiting; }
  bool streaming() const noexcept { return state_ == State::streaming; }
  bool failed() const noexcept { return state_ == State::failed; }
  PublisherStats stats() const;

 private:
  enum class State { waiting, connecting, setup, streaming, failed };

  // A write in flight: the uv request, its chunk batch and the iovecs pointing into it.
  struct WriteReq {
    uv_write_t req{};
    ChunkedBatch batch;
    std::vector<uv_buf_t> bufs;
    Publisher* owner = nullptr;
  };

  static void on_connect(uv_connect_t* req, int status);
  static void on_read(uv_stream_t* s, ssize_t n, const uv_buf_t* buf);
  static void on_write(uv_write_t* req, int status);

  void on_bytes(Bytes in);
  Status on_message(RtmpMessage&& msg);
  Status on_command(const std::vector<amf0::Value>& v);
  void send_command(uint32_t stream_id, std::initializer_list<amf0::Value> values);
  void send_copy(Bytes bytes);
  WriteReq* take_req();
  void submit(WriteReq* w);
  void fail(std::string reason);

  // Passed by argument.
  uv_loop_t* loop_;
  const int index_;
  const std::string key_;
  const PublishTarget& target_;
  const FlvFile& file_;
  const Bytes set_data_frame_;
  const PublisherOptions& options_;
  KeyframeLog& log_;

  // Allocated by this.
  UvHandle<uv_tcp_t> tcp_;
  uv_connect_t connect_req_{};
  ClientHandshake handshake_{false};
  ChunkReader reader_;
  ChunkWriter writer_;
  std::vector<std::unique_ptr<WriteReq>> reqs_;  // every request ever made; `free_` lists idle ones
  std::vector<WriteReq*> free_;
  std::vector<uint8_t> scratch_;

  State state_ = State::waiting;
  std::string error_;
  uint64_t connect_ns_ = 0;
  uint64_t t0_ns_ = 0;  // Publish.Start: media time 0 is due then
  uint32_t stream_id_ = 0;
  size_t pos_ = 0;       // next tag in file_
  uint32_t pass_ = 0;    // times the file has been sent whole
  uint64_t keyframe_index_ = 0;
  std::vector<std::pair<uint64_t, uint64_t>> batch_keyframes_;  // (index, media ts) in the batch
  PublisherStats stats_;
};

}  // namespace livegate::bench
