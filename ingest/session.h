// One RTMP connection's protocol state, sans-IO: bytes in, bytes out, publish events to the registry.
// Handshake -> chunk stream -> messages -> commands (connect, createStream, publish, ...) and media.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/publish_auth.h"
#include "common/result.h"
#include "ingest/amf0.h"
#include "ingest/chunk_reader.h"
#include "ingest/chunk_writer.h"
#include "ingest/handshake.h"
#include "ingest/media_demuxer.h"
#include "ingest/stream_registry.h"

namespace livegate {

class Session {
 public:
  enum class State { handshake, connecting, connected, authorizing, publishing };

  // `authorizer` may be null (anyone may publish). `peer_ip` is the socket's address, for auth.
  Session(const RtmpConfig& config, StreamRegistry& registry, PublishAuthorizer* authorizer, std::string peer,
          std::string peer_ip, uint64_t id);
  ~Session();

  // Feeds bytes read from the socket; replies are appended to output(). A failed status means the
  // connection must be closed; its reason says why (the caller logs it).
  Status feed(Bytes in);

  // The connection is gone: its publication ends now (the destructor would end it too, later).
  // A publish decision still on its way then finds nobody to call.
  void close() {
    alive_.reset();
    end_publish("connection closed");
  }

  // Bytes waiting to be written; the caller sends and clears them.
  std::vector<uint8_t>& output() noexcept { return out_; }
  // Called when output appears outside feed(), i.e. when an asynchronous publish decision arrives.
  void set_output_ready(std::function<void()> callback) { output_ready_ = std::move(callback); }

  State state() const noexcept { return state_; }
  // The session asked to be closed once its output is flushed (e.g. a refused publish).
  bool closing() const noexcept { return closing_; }
  // Audio/video messages received so far, for the idle timeout.
  uint64_t media_messages() const noexcept { return media_messages_; }
  size_t buffered_bytes() const noexcept { return chunks_.buffered_bytes(); }
  const std::string& subject() const noexcept { return subject_; }
  // Why the session refused its peer, as a metrics label (bad_app, bad_key, auth_refused,
  // auth_unavailable, stream_busy, max_streams), and the config key of the limit that refused it, if
  // one did; both empty if nothing was refused.
  const std::string& refusal() const noexcept { return refusal_; }
  const std::string& refused_by_limit() const noexcept { return refusal_limit_; }

 private:
  Status on_message(RtmpMessage&& msg);
  Status on_command(const RtmpMessage& msg, Bytes amf);
  Status on_data(Bytes amf);
  Status on_user_control(const RtmpMessage& msg);
  Status on_aggregate(const RtmpMessage& msg);
  Status on_media(uint8_t type, RtmpMs ts, Bytes payload);

  Status handle_connect(double txn, const amf0::Value* command_object);
  Status handle_publish(const RtmpMessage& msg, const std::vector<amf0::Value>& args);
  void finish_publish(uint32_t stream_id, const PublishRequest& request, const Status& decision);
  void refuse_publish(uint32_t stream_id, const std::string& what, const std::string& why,
                      std::string reason);
  void end_publish(const char* why);

  void send(uint32_t csid, uint8_t type, uint32_t stream_id, Bytes payload);
  void send_control(uint8_t type, uint32_t value);
  void send_user_control(uint16_t event, uint32_t value);
  void send_command(uint32_t stream_id, std::initializer_list<amf0::Value> values);
  void send_status(uint32_t stream_id, const char* level, const char* code, const std::string& description);
  void maybe_acknowledge();

  const RtmpConfig& config_;
  StreamRegistry& registry_;
  PublishAuthorizer* authorizer_;
  std::string peer_;
  std::string peer_ip_;
  uint64_t id_;
  std::string subject_;
  amf0::Limits amf_limits_;

  State state_ = State::handshake;
  Handshake handshake_;
  ChunkReader chunks_;
  ChunkWriter writer_;
  std::vector<uint8_t> out_;
  bool closing_ = false;
  std::string refusal_;
  std::string refusal_limit_;
  bool in_feed_ = false;  // an authorizer that answers at once needs no output_ready_ call

  std::string app_;
  std::string encoder_;
  std::string tc_url_;
  uint32_t next_stream_id_ = 1;
  std::vector<uint32_t> streams_;  // created by createStream
  uint32_t publish_stream_id_ = 0;
  Publication publication_;
  PublishRequest publish_request_;  // what the authorizer allowed, for publish_done
  std::function<void()> output_ready_;
  // Expires with the session, so a publish decision that arrives later finds nobody to call.
  std::shared_ptr<Session*> alive_ = std::make_shared<Session*>(this);
  std::unique_ptr<MediaDemuxer> demuxer_;
  uint64_t media_messages_ = 0;

  uint32_t peer_window_ = 0;  // the peer's Window Acknowledgement Size; 0 = it asked for none
  uint64_t acked_bytes_ = 0;
};

// Takes every `backup` argument out of a publish URL's query string (`a=1&backup=1&b=2` becomes `a=1&b=2`);
// true if the last one said 1 or true.
bool take_backup_flag(std::string& query);

}  // namespace livegate
