// The RTMP server-side session: what a publisher says (connect, createStream, publish, media) and
// what it expects back, in the order FFmpeg, librtmp (OBS) and GStreamer's rtmp2 wait for it.
#include "ingest/session.h"

#include <algorithm>
#include <cstdio>

#include "common/byte_writer.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/utf8.h"

namespace livegate {
namespace {

// Chunk stream ids we send on (RTMP 1.0 5.3.1.1: 2 is reserved for protocol control).
constexpr uint32_t kControlCsid = 2;
constexpr uint32_t kCommandCsid = 3;
constexpr uint32_t kStatusCsid = 5;

// User Control event types (RTMP 1.0 7.1.7).
constexpr uint16_t kStreamBegin = 0;
constexpr uint16_t kPingRequest = 6;
constexpr uint16_t kPingResponse = 7;

bool valid_key(std::string_view key) {
  if (key.empty() || key.size() > 128 || key.front() == '.') return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

// "live?x=1" or "live/" (some encoders send either) -> "live".
std::string clean_app(std::string_view app) {
  app = app.substr(0, app.find('?'));
  while (!app.empty() && app.back() == '/') app.remove_suffix(1);
  return std::string(app);
}

std::string printable(const amf0::Value& v) {
  switch (v.type) {
    case amf0::Value::Type::string: return v.string;
    case amf0::Value::Type::boolean: return v.boolean ? "true" : "false";
    case amf0::Value::Type::number: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.10g", v.number);
      return buf;
    }
    default: return amf0::to_debug_string(v);
  }
}

}  // namespace

bool take_backup_flag(std::string& query) {
  bool backup = false;
  std::string rest;
  size_t start = 0;
  while (start <= query.size()) {
    const size_t amp = std::min(query.find('&', start), query.size());
    const std::string_view arg = std::string_view(query).substr(start, amp - start);
    if (arg == "backup" || arg.starts_with("backup=")) {
      const std::string_view value = arg.substr(std::min<size_t>(arg.size(), 7));
      backup = value == "1" || value == "true";
    } else if (!arg.empty()) {
      if (!rest.empty()) rest += '&';
      rest += arg;
    }
    start = amp + 1;
  }
  query = std::move(rest);
  return backup;
}

Session::Session(const RtmpConfig& config, StreamRegistry& registry, PublishAuthorizer* authorizer,
                 std::string peer, std::string peer_ip, uint64_t id)
    : config_(config),
      registry_(registry),
      authorizer_(authorizer),
      peer_(std::move(peer)),
      peer_ip_(std::move(peer_ip)),
      id_(id),
      subject_("rtmp#" + std::to_string(id) + " " + peer_),
      handshake_(static_cast<uint32_t>(unix_ms_now())),
      chunks_(ChunkLimits{config.max_message_size, config.max_chunk_size, config.max_chunk_streams}) {
  amf_limits_.max_depth = config.amf_max_depth;
  amf_limits_.max_string = config.max_command_size;
}

Session::~Session() { end_publish("connection closed"); }

Status Session::feed(Bytes in) {
  if (state_ == State::handshake) {
    Result<size_t> used = handshake_.feed(in, out_);
    if (!used) return Error{used.error()};
    in = in.subspan(*used);
    if (!handshake_.done()) return {};
    state_ = State::connecting;
    log_debug(subject_, handshake_.used_digest() ? "handshake done (digest)" : "handshake done (simple)");
  }
  in_feed_ = true;
  Status s = chunks_.feed(in, [this](RtmpMessage&& m) { return on_message(std::move(m)); });
  in_feed_ = false;
  maybe_acknowledge();
  return s;
}

Status Session::on_message(RtmpMessage&& msg) {
  const Bytes payload(msg.payload);
  switch (msg.type) {
    case msg_type::set_chunk_size:  // already applied by the chunk reader
    case msg_type::abort:
    case msg_type::ack:
    case msg_type::set_peer_bandwidth: return {};
    case msg_type::window_ack_size: {
      ByteReader r(payload);
      const uint32_t window = r.u32();
      if (r.failed()) return Error{"rtmp: truncated Window Acknowledgement Size"};
      peer_window_ = window;
      return {};
    }
    case msg_type::user_control: return on_user_control(msg);
    case msg_type::audio:
    case msg_type::video: return on_media(msg.type, msg.timestamp, payload);
    case msg_type::aggregate: return on_aggregate(msg);
    case msg_type::command_amf0:
    case msg_type::command_amf3:
    case msg_type::data_amf0:
    case msg_type::data_amf3: {
      if (msg.payload.size() > config_.max_command_size) {
        return Error{"limit max_command_size: " + std::to_string(msg.payload.size()) + " byte command"};
      }
      Bytes amf = payload;
      // AMF3 command/data messages start with a format byte; FMS-style clients then send AMF0
      // (RTMP 1.0 7.1.1).
      if (msg.type == msg_type::command_amf3 || msg.type == msg_type::data_amf3) {
        if (amf.empty()) return {};
        amf = amf.subspan(1);
      }
      if (msg.type == msg_type::command_amf0 || msg.type == msg_type::command_amf3)
        return on_command(msg, amf);
      return on_data(amf);
    }
    default: log_debug(subject_, "ignoring message type " + std::to_string(msg.type)); return {};
  }
}

Status Session::on_user_control(const RtmpMessage& msg) {
  ByteReader r(msg.payload);
  const uint16_t event = r.u16();
  const uint32_t value = r.u32();
  if (r.failed()) return {};  // some events carry other layouts; nothing we need
  if (event == kPingRequest) send_user_control(kPingResponse, value);
  return {};
}

Status Session::on_command(const RtmpMessage& msg, Bytes amf) {
  Result<std::vector<amf0::Value>> values = amf0::decode_all(amf, amf_limits_);
  if (!values) return wrap("rtmp command", values.error());
  const std::vector<amf0::Value>& v = *values;
  if (v.empty() || v[0].type != amf0::Value::Type::string) return Error{"rtmp: command without a name"};
  const std::string& name = v[0].string;
  const double txn = v.size() > 1 && v[1].type == amf0::Value::Type::number ? v[1].number : 0;
  log_debug(subject_, "command " + name);

  if (name == "connect") return handle_connect(txn, v.size() > 2 ? &v[2] : nullptr);
  if (state_ == State::connecting) return Error{"rtmp: command \"" + name + "\" before connect"};

  if (name == "createStream") {
    if (streams_.size() >= 8) return Error{"rtmp: too many createStream calls"};
    const uint32_t id = next_stream_id_++;
    streams_.push_back(id);
    send_command(0, {amf0::Value::String("_result"), amf0::Value::Number(txn), amf0::Value::Null(),
                     amf0::Value::Number(id)});
    return {};
  }
  if (name == "releaseStream" || name == "_checkbw") {
    send_command(0, {amf0::Value::String("_result"), amf0::Value::Number(txn), amf0::Value::Null(),
                     amf0::Value::Undefined()});
    return {};
  }
  if (name == "FCPublish") {
    const std::string key = v.size() > 3 && v[3].is_string() ? v[3].string : "";
    send_command(0, {amf0::Value::String("onFCPublish"), amf0::Value::Number(0), amf0::Value::Null(),
                     amf0::Value::Object({{"code", amf0::Value::String("NetStream.Publish.Start")},
                                          {"description", amf0::Value::String(key)}})});
    return {};
  }
  if (name == "publish") return handle_publish(msg, v);
  if (name == "FCUnpublish") {
    end_publish("FCUnpublish");
    return {};
  }
  if (name == "deleteStream" || name == "closeStream") {
    const uint32_t id = name == "deleteStream" && v.size() > 3 && v[3].is_number()
                            ? static_cast<uint32_t>(v[3].number)
                            : msg.stream_id;
    if (publication_ && (id == publish_stream_id_ || name == "closeStream")) {
      send_status(publish_stream_id_, "status", "NetStream.Unpublish.Success", publication_.name().key);
      end_publish(name.c_str());
    }
    std::erase(streams_, id);
    return {};
  }
  if (name == "_result" || name == "_error" || name == "onStatus") return {};  // replies to our calls

  send_command(0,
               {amf0::Value::String("_error"), amf0::Value::Number(txn), amf0::Value::Null(),
                amf0::Value::Object({{"level", amf0::Value::String("error")},
                                     {"code", amf0::Value::String("NetConnection.Call.Failed")},
                                     {"description", amf0::Value::String("unsupported command " + name)}})});
  return {};
}

Status Session::handle_connect(double txn, const amf0::Value* command_object) {
  if (state_ != State::connecting) return Error{"rtmp: second connect on one connection"};
  if (command_object == nullptr || command_object->type != amf0::Value::Type::object) {
    return Error{"rtmp: connect without a command object"};
  }
  app_ = clean_app(command_object->get_string("app").value_or(""));
  // Client strings that reach the API, the logs and the publish callback: made valid UTF-8 here, once.
  encoder_ = valid_utf8(command_object->get_string("flashVer").value_or(""));
  tc_url_ = valid_utf8(command_object->get_string("tcUrl").value_or(""));
  if (std::find(config_.apps.begin(), config_.apps.end(), app_) == config_.apps.end()) {
    send_command(
        0, {amf0::Value::String("_error"), amf0::Value::Number(txn), amf0::Value::Null(),
            amf0::Value::Object({{"level", amf0::Value::String("error")},
                                 {"code", amf0::Value::String("NetConnection.Connect.Rejected")},
                                 {"description", amf0::Value::String("unknown application " + app_)}})});
    closing_ = true;
    refusal_ = "bad_app";
    log_warn(subject_, "connect refused: unknown application \"" + app_ + "\"");
    return {};
  }
  // The order librtmp and FFmpeg expect (RTMP 1.0 7.2.1.1): window, bandwidth, chunk size, then _result.
  send_control(msg_type::window_ack_size, config_.window_ack_size);
  std::vector<uint8_t> bw;
  ByteWriter(bw).u32(config_.window_ack_size);
  bw.push_back(2);  // limit type dynamic
  send(kControlCsid, msg_type::set_peer_bandwidth, 0, bw);
  send_control(msg_type::set_chunk_size, config_.out_chunk_size);
  writer_.set_chunk_size(config_.out_chunk_size);

  const double encoding = command_object->get_number("objectEncoding").value_or(0);
  send_command(0, {amf0::Value::String("_result"), amf0::Value::Number(txn),
                   amf0::Value::Object({{"fmsVer", amf0::Value::String("FMS/3,5,7,7009")},
                                        {"capabilities", amf0::Value::Number(31)},
                                        {"mode", amf0::Value::Number(1)}}),
                   amf0::Value::Object({{"level", amf0::Value::String("status")},
                                        {"code", amf0::Value::String("NetConnection.Connect.Success")},
                                        {"description", amf0::Value::String("Connection succeeded.")},
                                        {"objectEncoding", amf0::Value::Number(encoding)}})});
  // Flash-era clients wait for the bandwidth check to finish before they publish.
  send_command(0, {amf0::Value::String("onBWDone"), amf0::Value::Number(0), amf0::Value::Null()});
  state_ = State::connected;
  log_info(subject_, "connected to app \"" + app_ + "\" (" + encoder_ + ")");
  return {};
}

Status Session::handle_publish(const RtmpMessage& msg, const std::vector<amf0::Value>& args) {
  if (std::find(streams_.begin(), streams_.end(), msg.stream_id) == streams_.end()) {
    return Error{"rtmp: publish on stream " + std::to_string(msg.stream_id) + " that was not created"};
  }
  if (publication_ || state_ == State::authorizing) return Error{"rtmp: second publish on one connection"};
  const std::string full = args.size() > 3 && args[3].is_string() ? args[3].string : "";
  const size_t q = full.find('?');
  PublishRequest request{
      {app_, full.substr(0, q)}, q == std::string::npos ? "" : full.substr(q + 1), peer_ip_, tc_url_};
  request.backup = take_backup_flag(request.query);
  if (!valid_key(request.name.key)) {
    refuse_publish(msg.stream_id, "invalid stream key", "invalid stream key", "bad_key");
    return {};
  }
  if (!authorizer_) {
    finish_publish(msg.stream_id, request, {});
    return {};
  }
  state_ = State::authorizing;
  const uint32_t stream_id = msg.stream_id;
  authorizer_->authorize(request,
                         [weak = std::weak_ptr<Session*>(alive_), stream_id, request](Status decision) {
                           const auto alive = weak.lock();
                           if (!alive) return;  // the publisher left while we were asking
                           Session& self = **alive;
                           self.finish_publish(stream_id, request, decision);
                           // An answer inside feed() leaves with feed()'s output; a later one must be sent by
                           // itself.
                           if (!self.in_feed_ && self.output_ready_) self.output_ready_();
                         });
  return {};
}

void Session::refuse_publish(uint32_t stream_id, const std::string& what, const std::string& why,
                             std::string reason) {
  send_status(stream_id, "error", "NetStream.Publish.BadName", why);
  closing_ = true;
  refusal_ = std::move(reason);
  log_warn(subject_, "publish of " + what + " refused: " + why);
}

void Session::finish_publish(uint32_t stream_id, const PublishRequest& request, const Status& decision) {
  state_ = State::connected;
  const std::string path = request.name.path();
  if (!decision) {
    // The authorizers' errors (common/publish_auth.h, http/on_publish_hook.cpp) say whether an answer
    // came: "publish callback failed"/"queue is full" mean none did (timeout, unreachable, overload).
    const std::string& why = decision.error();
    const bool no_answer =
        why.rfind("publish callback failed", 0) == 0 || why.find("queue is full") != std::string::npos;
    return refuse_publish(stream_id, path, why, no_answer ? "auth_unavailable" : "auth_refused");
  }
  PublishInfo info{id_, peer_, encoder_, unix_ms_now()};
  Result<Publication> pub =
      registry_.publish(request.name, info, request.backup ? InputRole::backup : InputRole::primary);
  if (!pub) {
    refusal_limit_ = std::string(limit_named_in(pub.error()));
    return refuse_publish(stream_id, path, pub.error(),
                          refusal_limit_.empty() ? "stream_busy" : refusal_limit_);
  }
  publication_ = std::move(pub).value();
  publish_request_ = request;
  publish_stream_id_ = stream_id;
  demuxer_ =
      std::make_unique<MediaDemuxer>(request.name, publication_.sink(), config_.timestamp_wrap_tolerance_ms);
  state_ = State::publishing;
  send_user_control(kStreamBegin, stream_id);
  send_status(stream_id, "status", "NetStream.Publish.Start", path + " is now published");
  log_info(subject_, std::string("publishing ") + path + (request.backup ? " as its backup" : ""));
}

void Session::end_publish(const char* why) {
  if (!publication_) return;
  log_info(subject_, "stopped publishing " + publication_.name().path() + " (" + why + ")");
  demuxer_.reset();
  publication_.end();
  state_ = State::connected;
  if (authorizer_) authorizer_->publish_done(publish_request_);
}

Status Session::on_data(Bytes amf) {
  if (!demuxer_) return {};  // metadata before publish: nothing to attach it to
  Result<std::vector<amf0::Value>> values = amf0::decode_all(amf, amf_limits_);
  if (!values) return wrap("rtmp data", values.error());
  const std::vector<amf0::Value>& v = *values;
  size_t i = 0;
  if (i < v.size() && v[i].is_string() && v[i].string == "@setDataFrame") ++i;
  if (i + 1 >= v.size() || !v[i].is_string() || v[i].string != "onMetaData") return {};
  const amf0::Value& obj = v[i + 1];
  if (obj.type != amf0::Value::Type::object && obj.type != amf0::Value::Type::ecma_array) return {};
  Metadata metadata;
  for (const amf0::Property& p : obj.properties) {
    metadata.emplace_back(valid_utf8(p.key), valid_utf8(printable(p.value)));
  }
  publication_.sink().on_metadata(publication_.name(), metadata);
  return {};
}

Status Session::on_media(uint8_t type, RtmpMs ts, Bytes payload) {
  if (state_ == State::authorizing) return {};  // a client that did not wait for Publish.Start
  if (!demuxer_) return Error{"rtmp: media before publish"};
  ++media_messages_;
  if (payload.empty()) return {};
  return type == msg_type::video ? demuxer_->on_video(ts, payload) : demuxer_->on_audio(ts, payload);
}

// Aggregate messages (RTMP 1.0 7.1.6) hold FLV tags back to back:
//   type(1) size(3) timestamp(3) timestamp_ext(1) stream_id(3) | body(size) | back_pointer(4)
// Sub-tag timestamps are relative to the first one; the message timestamp is the base.
Status Session::on_aggregate(const RtmpMessage& msg) {
  ByteReader r(msg.payload);
  bool first = true;
  RtmpMs first_ts = 0;
  while (!r.empty()) {
    const uint8_t type = r.u8();
    const uint32_t size = r.u24();
    const RtmpMs ts = r.u24() | static_cast<RtmpMs>(r.u8()) << 24;
    r.skip(3);
    const Bytes body = r.bytes(size);
    r.skip(4);
    if (r.failed()) return Error{"rtmp: malformed aggregate message"};
    if (first) first_ts = ts, first = false;
    if (type == msg_type::audio || type == msg_type::video) {
      if (Status s = on_media(type, msg.timestamp + (ts - first_ts), body); !s) return s;
    }
  }
  return {};
}

void Session::send(uint32_t csid, uint8_t type, uint32_t stream_id, Bytes payload) {
  writer_.write(csid, type, stream_id, 0, payload, out_);
}

void Session::send_control(uint8_t type, uint32_t value) {
  std::vector<uint8_t> p;
  ByteWriter(p).u32(value);
  send(kControlCsid, type, 0, p);
}

void Session::send_user_control(uint16_t event, uint32_t value) {
  std::vector<uint8_t> p;
  ByteWriter w(p);
  w.u16(event);
  w.u32(value);
  send(kControlCsid, msg_type::user_control, 0, p);
}

void Session::send_command(uint32_t stream_id, std::initializer_list<amf0::Value> values) {
  const std::vector<uint8_t> p = amf0::encode_all(values);
  send(kCommandCsid, msg_type::command_amf0, stream_id, p);
}

void Session::send_status(uint32_t stream_id, const char* level, const char* code,
                          const std::string& description) {
  const std::vector<uint8_t> p =
      amf0::encode_all({amf0::Value::String("onStatus"), amf0::Value::Number(0), amf0::Value::Null(),
                        amf0::Value::Object({{"level", amf0::Value::String(level)},
                                             {"code", amf0::Value::String(code)},
                                             {"description", amf0::Value::String(description)}})});
  send(kStatusCsid, msg_type::command_amf0, stream_id, p);
}

// RTMP 1.0 5.4.3: after receiving a window's worth of bytes, tell the peer how many we have.
void Session::maybe_acknowledge() {
  if (peer_window_ == 0) return;
  const uint64_t read = chunks_.bytes_read();
  if (read - acked_bytes_ < peer_window_) return;
  acked_bytes_ = read;
  send_control(msg_type::ack, static_cast<uint32_t>(read));
}

}  // namespace livegate
