// One RTMP publishing connection of the load generator.
#include "tests/bench/publisher.h"

#include <algorithm>
#include <ctime>

#include "common/byte_writer.h"

namespace livegate::bench {
namespace {

constexpr uint32_t kControlCsid = 2, kCommandCsid = 3, kAudioCsid = 4, kDataCsid = 5, kVideoCsid = 6;
constexpr uint16_t kPingRequest = 6, kPingResponse = 7;  // user control events (RTMP 1.0 section 6.2)
constexpr double kTxnConnect = 1, kTxnCreateStream = 4, kTxnPublish = 5;

double wall_ms() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

// One read buffer for every connection: the loop is single-threaded and each read is consumed
// before the next callback, so 500 connections need not hold 500 buffers.
char g_read_buffer[1 << 16];

}  // namespace

Publisher::Publisher(uv_loop_t* loop, int index, std::string key, const PublishTarget& target,
                     const FlvFile& file, Bytes set_data_frame, const PublisherOptions& options,
                     KeyframeLog& log)
    : loop_(loop),
      index_(index),
      key_(std::move(key)),
      target_(target),
      file_(file),
      set_data_frame_(set_data_frame),
      options_(options),
      log_(log) {}

void Publisher::connect(uint64_t now_ns) {
  connect_ns_ = now_ns;
  state_ = State::connecting;
  if (int rc = tcp_.init(uv_tcp_init, loop_, this); rc != 0) return fail(std::string("tcp init: ") + uv_strerror(rc));
  uv_tcp_nodelay(tcp_.get(), 1);
  connect_req_.data = this;
  const int rc = uv_tcp_connect(&connect_req_, tcp_.get(), reinterpret_cast<const sockaddr*>(&target_.addr),
                                &Publisher::on_connect);
  if (rc != 0) fail(std::string("connect: ") + uv_strerror(rc));
}

void Publisher::on_connect(uv_connect_t* req, int status) {
  auto* self = static_cast<Publisher*>(req->data);
  if (self->state_ != State::connecting) return;  // stopped or failed meanwhile
  if (status != 0) return self->fail(std::string("connect: ") + uv_strerror(status));
  self->state_ = State::setup;
  uv_read_start(
      self->tcp_.stream(),
      [](uv_handle_t*, size_t, uv_buf_t* buf) { *buf = uv_buf_init(g_read_buffer, sizeof g_read_buffer); },
      &Publisher::on_read);
  const std::vector<uint8_t> c0c1 = self->handshake_.start();
  self->send_copy(c0c1);
}

void Publisher::on_read(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
  auto* self = owner_of<Publisher>(s);
  if (self == nullptr || n == 0) return;
  if (n < 0) return self->fail(n == UV_EOF ? "closed by the server" : std::string("read: ") + uv_strerror(int(n)));
  self->on_bytes(Bytes(reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(n)));
}

void Publisher::on_bytes(Bytes in) {
  if (!handshake_.done()) {
    scratch_.clear();
    auto used = handshake_.feed(in, scratch_);
    if (!used) return fail(used.error());
    if (!scratch_.empty()) send_copy(scratch_);
    in = in.subspan(*used);
    if (!handshake_.done()) return;
    // Announce our chunk size before the first command, so every later message uses it.
    std::vector<uint8_t> out;
    std::vector<uint8_t> size;
    ByteWriter(size).u32(options_.chunk_size);
    writer_.write(kControlCsid, msg_type::set_chunk_size, 0, 0, size, out);
    writer_.set_chunk_size(options_.chunk_size);
    send_copy(out);
    send_command(0, {amf0::Value::String("connect"), amf0::Value::Number(kTxnConnect),
                     amf0::Value::Object({{"app", amf0::Value::String(target_.app)},
                                          {"type", amf0::Value::String("nonprivate")},
                                          {"flashVer", amf0::Value::String("FMLE/3.0 (livegate-loadgen)")},
                                          {"tcUrl", amf0::Value::String(target_.tc_url)}})});
  }
  if (in.empty()) return;
  Status s = reader_.feed(in, [this](RtmpMessage&& m) { return on_message(std::move(m)); });
  if (!s) fail(s.error());
}

Status Publisher::on_message(RtmpMessage&& msg) {
  if (msg.type == msg_type::user_control && msg.payload.size() >= 6) {
    // | event u16 | value u32 |: answer pings, as nginx-rtmp drops a publisher that does not.
    ByteReader r(msg.payload);
    if (r.u16() == kPingRequest) {
      std::vector<uint8_t> p, out;
      ByteWriter w(p);
      w.u16(kPingResponse);
      w.u32(r.u32());
      writer_.write(kControlCsid, msg_type::user_control, 0, 0, p, out);
      send_copy(out);
    }
    return {};
  }
  if (msg.type != msg_type::command_amf0) return {};
  auto values = amf0::decode_all(msg.payload);
  if (!values) return Error{"bad command from the server: " + values.error()};
  return on_command(*values);
}

Status Publisher::on_command(const std::vector<amf0::Value>& v) {
  if (v.size() < 2 || !v[0].is_string()) return {};
  const std::string& name = v[0].string;
  const double txn = v[1].is_number() ? v[1].number : 0;
  if (name == "_error") {
    const amf0::Value* info = v.size() > 3 ? &v[3] : nullptr;
    return Error{"server refused (txn " + std::to_string(int(txn)) +
                 "): " + std::string(info ? info->get_string("code").value_or("") : "")};
  }
  if (name == "_result" && txn == kTxnConnect) {
    send_command(0, {amf0::Value::String("releaseStream"), amf0::Value::Number(2), amf0::Value::Null(),
                     amf0::Value::String(key_)});
    send_command(0, {amf0::Value::String("FCPublish"), amf0::Value::Number(3), amf0::Value::Null(),
                     amf0::Value::String(key_)});
    send_command(0, {amf0::Value::String("createStream"), amf0::Value::Number(kTxnCreateStream),
                     amf0::Value::Null()});
    return {};
  }
  if (name == "_result" && txn == kTxnCreateStream) {
    if (v.size() < 4 || !v[3].is_number()) return Error{"createStream result without a stream id"};
    stream_id_ = static_cast<uint32_t>(v[3].number);
    send_command(stream_id_, {amf0::Value::String("publish"), amf0::Value::Number(kTxnPublish),
                              amf0::Value::Null(), amf0::Value::String(key_), amf0::Value::String("live")});
    return {};
  }
  if (name == "onStatus" && v.size() > 3) {
    const std::string code(v[3].get_string("code").value_or(""));
    if (code == "NetStream.Publish.Start" && state_ == State::setup) {
      state_ = State::streaming;
      t0_ns_ = uv_hrtime();
      stats_.publish_start_wall_ms = wall_ms();
      return {};
    }
    if (v[3].get_string("level").value_or("") == "error") return Error{"publish refused: " + code};
  }
  return {};
}

void Publisher::send_command(uint32_t stream_id, std::initializer_list<amf0::Value> values) {
  std::vector<uint8_t> out;
  writer_.write(kCommandCsid, msg_type::command_amf0, stream_id, 0, amf0::encode_all(values), out);
  send_copy(out);
}

void Publisher::send_copy(Bytes bytes) {
  WriteReq* w = take_req();
  w->batch.add_copy(bytes);
  submit(w);
}

Publisher::WriteReq* Publisher::take_req() {
  if (free_.empty()) {
    reqs_.push_back(std::make_unique<WriteReq>());
    reqs_.back()->owner = this;
    reqs_.back()->req.data = reqs_.back().get();
    free_.push_back(reqs_.back().get());
  }
  WriteReq* w = free_.back();
  free_.pop_back();
  w->batch.clear();
  return w;
}

void Publisher::submit(WriteReq* w) {
  w->bufs.clear();
  for (const ChunkedBatch::Piece& p : w->batch.pieces()) {
    w->bufs.push_back(uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(p.data)),
                                  static_cast<unsigned>(p.size)));
  }
  if (!tcp_ || state_ == State::failed) {
    free_.push_back(w);
    return;
  }
  const int rc = uv_write(&w->req, tcp_.stream(), w->bufs.data(), static_cast<unsigned>(w->bufs.size()),
                          &Publisher::on_write);
  if (rc != 0) {
    free_.push_back(w);
    fail(std::string("write: ") + uv_strerror(rc));
    return;
  }
  ++stats_.writes;
}

void Publisher::on_write(uv_write_t* req, int status) {
  auto* w = static_cast<WriteReq*>(req->data);
  Publisher* self = w->owner;
  self->free_.push_back(w);
  if (status != 0 && status != UV_ECANCELED) self->fail(std::string("write: ") + uv_strerror(status));
}

void Publisher::tick(uint64_t now_ns, uint64_t since_start_ns) {
  if (state_ == State::connecting || state_ == State::setup) {
    if (now_ns - connect_ns_ > options_.setup_timeout_ms * 1'000'000) fail("no Publish.Start in time");
    return;
  }
  if (state_ != State::streaming) return;
  const bool measuring = since_start_ns >= options_.measure_after_ms * 1'000'000;
  const double rel_ms = static_cast<double>(now_ns - t0_ns_) / 1e6;
  const size_t queued = uv_stream_get_write_queue_size(tcp_.stream());
  if (measuring) stats_.max_queue_bytes = std::max(stats_.max_queue_bytes, queued);

  WriteReq* w = nullptr;
  batch_keyframes_.clear();
  double lag = 0;
  for (;;) {
    const FlvTag& t = file_.tags[pos_];
    // Codec configuration and metadata go once, as an encoder sends them; the loop repeats media only.
    const bool skip = pass_ > 0 && (t.sequence_header || t.type == msg_type::data_amf0);
    const uint64_t media_ts = uint64_t(t.ts) + uint64_t(pass_) * file_.duration_ms;
    if (!skip) {
      if (static_cast<double>(media_ts) > rel_ms) break;
      if (queued + (w ? w->batch.size() : 0) >= options_.max_queue_bytes) {
        lag = rel_ms - static_cast<double>(media_ts);
        break;
      }
      if (w == nullptr) w = take_req();
      const bool data = t.type == msg_type::data_amf0;
      const uint32_t csid = data ? kDataCsid : t.type == msg_type::audio ? kAudioCsid : kVideoCsid;
      // The media's RTMP timestamp wraps at 2^32 ms like any encoder's.
      w->batch.add_message(csid, t.type, stream_id_, static_cast<RtmpMs>(media_ts),
                           data ? set_data_frame_ : t.payload, options_.chunk_size);
      ++stats_.tags;
      stats_.bytes += t.payload.size();
      if (t.keyframe) batch_keyframes_.emplace_back(keyframe_index_++, media_ts);
    }
    if (++pos_ == file_.tags.size()) {
      pos_ = 0;
      ++pass_;
      stats_.loops = pass_;
    }
  }
  if (measuring) stats_.max_lag_ms = std::max(stats_.max_lag_ms, lag);
  if (w == nullptr) return;
  submit(w);
  // After uv_write: with an empty queue libuv has already written to the socket by now.
  const double wall = wall_ms();
  for (const auto& [index, ts] : batch_keyframes_) log_.record(index_, index, ts, wall);
  stats_.keyframes = keyframe_index_;
}

void Publisher::fail(std::string reason) {
  if (state_ == State::failed) return;
  state_ = State::failed;
  error_ = std::move(reason);
  tcp_.close();
}

void Publisher::stop() {
  tcp_.close();
}

PublisherStats Publisher::stats() const {
  PublisherStats s = stats_;
  switch (state_) {
    case State::waiting: s.state = "waiting"; break;
    case State::connecting: s.state = "connecting"; break;
    case State::setup: s.state = "setup"; break;
    case State::streaming: s.state = "streaming"; break;
    case State::failed: s.state = "failed"; break;
  }
  s.error = error_;
  s.kept_real_time = state_ == State::streaming && s.max_lag_ms <= options_.late_ms;
  return s;
}

}  // namespace livegate::bench
