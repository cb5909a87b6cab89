// Configuration: built-in defaults, overridden by a JSON file, then LIVEGATE_* environment variables, then
// flags.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/log.h"
#include "common/result.h"

namespace livegate {

// Limits and settings of the RTMP side. Every limit closes the offending connection, never more.
struct RtmpConfig {
  uint32_t max_connections = 1000;        // concurrent RTMP connections; more are closed at accept
  uint32_t max_connections_per_ip = 50;   // concurrent RTMP connections from one address
  uint32_t handshake_timeout_ms = 5000;   // from accept to a completed handshake
  uint32_t publish_timeout_ms = 10000;    // from the handshake to a publish command
  uint32_t idle_timeout_ms = 10000;       // a publisher that sends no media for this long is closed
  uint32_t max_message_size = 2 << 20;    // audio/video message bytes
  uint32_t max_command_size = 64 << 10;   // command/data message bytes (AMF)
  uint32_t max_chunk_size = 65536;        // largest Set Chunk Size accepted from a peer
  uint32_t max_chunk_streams = 64;        // chunk stream ids with state per connection
  uint32_t max_buffered_bytes = 4 << 20;  // incomplete messages held for one connection (more closes it);
                                          // unread answers to it (more pauses reading it)
  uint32_t amf_max_depth = 16;            // AMF0 object nesting
  uint32_t max_streams = 256;             // streams published at once
  uint32_t out_chunk_size = 4096;         // the chunk size we announce and send with
  uint32_t window_ack_size = 2500000;     // the acknowledgement window we ask of the peer
  uint32_t timestamp_wrap_tolerance_ms = 10000;  // a step back by 2^31 ms less at most this is a clock wrap
  std::vector<std::string> apps{"live"};         // application names accepted in connect
};

// HLS output: segment length, playlist window, and how long things stay servable.
struct HlsConfig {
  uint32_t target_duration_s = 2;  // cut at the first keyframe once a segment is this long
  uint32_t window = 6;             // segments listed in a live playlist
  uint32_t grace = 7;              // segments kept fetchable after leaving it (RFC 8216 6.2.2: window + 1)
  uint32_t retention_s = 60;       // an ended stream's playlist and segments stay this long
  uint32_t max_jump_ms =
      10000;                   // a timestamp step larger than this (or back more than 1 s) is a discontinuity
  std::string dir;             // also write playlists and segments under this folder ("" = memory only)
  uint32_t disk_queue = 1024;  // file writes waiting for the disk; more are dropped and logged
  uint32_t max_segment_duration_s = 10;   // keyframes further apart are cut between; caps TARGETDURATION
  uint32_t max_segment_bytes = 32 << 20;  // a segment is cut once it holds this much
  uint32_t video_stall_ms = 4000;         // video silent this long while audio goes on: audio-only segments
  uint32_t max_ended_streams = 256;       // ended streams held for retention_s; the oldest go first
  uint32_t max_ended_bytes = 512 << 20;   // segment bytes all ended streams may hold
  uint32_t reconnect_grace_ms = 10000;    // a publisher gone this long ends the playlist; 0: at once
  // hls.packaging, a list of "ts" and "cmaf": which packagings every stream gets (at least one).
  bool packaging_ts = true;    // index.m3u8 and MPEG-TS segments
  bool packaging_cmaf = true;  // ll.m3u8, init segments and fragmented MP4 (CMAF) segments
  // hls.ll.part_target_ms: CMAF segments are made of parts at most this long (EXT-X-PART-INF).
  uint32_t part_target_ms = 333;
};

struct HttpConfig {
  uint32_t threads = 2;                    // event loops serving HTTP, each on its own thread
  uint32_t max_connections = 20000;        // open HTTP connections; more are closed at accept
  uint32_t max_connections_per_ip = 1000;  // open HTTP connections from one address
  uint32_t backlog = 1024;                 // pending connections the kernel queues for us
  uint32_t keep_alive_timeout_s = 5;       // an idle keep-alive connection is closed after this
  uint32_t keep_alive_max_requests = 1000;
  uint32_t read_timeout_s = 5;       // a client that sends its request slower than this is cut off
  uint32_t write_timeout_s = 5;      // a client that reads slower than this is cut off
  uint32_t max_uri_bytes = 2048;     // longer request targets get 414
  uint32_t max_header_bytes = 8192;  // larger request headers in total get 431
  std::string www_dir;               // the player page's folder; "" finds it beside the binary
  uint32_t drain_ms = 3000;  // at shutdown, playlists end and HTTP serves on this long for the last segments
};

// The operators' side: publisher addresses and /metrics are served on the admin listener, or on the
// public one to a request bearing the token.
struct ApiConfig {
  std::string bind = "127.0.0.1";  // the admin listener's address
  uint16_t port = 8081;            // 0: no admin listener
  std::string token;               // "Authorization: Bearer TOKEN" on the public listener; "" = none
};

// Who may publish. No keys and no callback: anyone who reaches the RTMP port (logged at start).
struct AuthConfig {
  std::vector<std::string> keys;  // allowed stream keys
  std::string on_publish;         // nginx-rtmp compatible callback URL: a 2xx answer allows
  std::string on_publish_done;    // notified when an allowed publish ends
  uint32_t timeout_ms = 3000;     // no answer in time refuses
  uint32_t max_pending = 256;     // callbacks waiting; more are refused at once
};

// Primary and backup publishers on one key (`?backup=1`): when the stream's source is lost, and when it
// goes back to the primary.
struct FailoverConfig {
  uint32_t input_loss_ms = 1000;    // a publisher that sends no media this long is lost
  uint32_t return_after_ms = 5000;  // the primary healthy this long again takes the stream back ...
  bool prefer_primary = true;       // ... if this is set; otherwise the backup keeps it
};

struct Config {
  std::string bind = "0.0.0.0";
  uint16_t rtmp_port = 1935;
  uint16_t http_port = 8080;
  LogLevel log_level = LogLevel::info;
  LogFormat log_format = LogFormat::text;  // "json": one JSON object per line, for log collectors
  uint32_t log_queue_lines = 10000;        // lines waiting for stderr; more are dropped and counted
  RtmpConfig rtmp;
  HlsConfig hls;
  FailoverConfig failover;
  HttpConfig http;
  ApiConfig api;
  AuthConfig auth;
};

// Applies a JSON document's keys to `config`; an unknown key or a bad value is an error naming it.
Status apply_config_json(const std::string& json_text, Config& config);

struct CommandLine {
  Config config;
  bool help = false;
  bool version = false;
};

// Environment variables by name. Passed in as a value so tests never change the process environment.
using Environment = std::map<std::string, std::string>;

Environment process_environment();

// The variable that sets a config key: "LIVEGATE_" + the key upper-cased, dots as underscores
// ("hls.target_duration_s" -> "LIVEGATE_HLS_TARGET_DURATION_S").
std::string environment_name(const std::string& key);

// Every config key by its dotted path, sorted.
std::vector<std::string> config_keys();

// Applies each variable that names a config key (lists comma-separated); an invalid value is an error
// naming the variable. Other LIVEGATE_* variables are ignored: Kubernetes, for one, sets
// LIVEGATE_SERVICE_HOST, LIVEGATE_PORT and the like in every pod when a Service is called livegate.
Status apply_environment(const Environment& env, Config& config);

// Parses argv: loads --config first, then the environment, then applies the other flags over them.
Result<CommandLine> parse_command_line(int argc, const char* const* argv, const Environment& env);

// The same over the process environment.
Result<CommandLine> parse_command_line(int argc, const char* const* argv);

const char* usage_text() noexcept;

}  // namespace livegate
