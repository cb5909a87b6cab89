// The cut policy and segment bookkeeping for one stream.
#include "segmenter/hls_stream.h"

#include <algorithm>

#include "common/log.h"
#include "segmenter/playlist.h"

namespace livegate {
namespace {

// A step this long between two frames inside a segment is a pause in the media, not a frame: a segment
// made long by it is blamed on the gap rather than on the keyframe interval.
constexpr double kGapSeconds = 1.0;

}  // namespace

HlsStream::HlsStream(const HlsConfig& config, std::string subject, std::string uri_tag, WallClock clock)
    : config_(config),
      subject_(std::move(subject)),
      uri_tag_(std::move(uri_tag)),
      clock_(std::move(clock)),
      timeline_(TimelineConfig{.max_forward = Ticks90k{config.max_jump_ms} * 90}),
      window_(config.window, config.grace) {}

void HlsStream::start() {
  if (ended_) {
    // Republish: same playlist, sequence numbers keep growing, a discontinuity at the join.
    ended_ = false;
    pending_discontinuity_ = true;
    muxer_stale_ = true;
    timeline_.rejoin();
    anchor_dts_ = -1;
    publish_snapshot();
  }
}

void HlsStream::video_config(const VideoConfig& config) {
  if (video_ && *video_ == config) return;
  if (video_) pending_discontinuity_ = true;  // new SPS or resolution: players must reset their decoder
  video_ = config;
  muxer_stale_ = true;
}

void HlsStream::audio_config(const AudioConfig& config) {
  if (audio_ && *audio_ == config) return;
  if (audio_) pending_discontinuity_ = true;
  audio_ = config;
  muxer_stale_ = true;
}

void HlsStream::access_unit(const AccessUnit& in) {
  if (ended_) return;
  if (in.track == Track::video ? !video_ : !audio_) return;  // the demuxer only passes configured tracks
  const Timeline::Mapped t = timeline_.map(in.track, in.dts, in.pts);
  if (t.jumped) {
    log_warn(subject_, "timestamp jump: continuing with a discontinuity");
    pending_discontinuity_ = true;
    ++timestamp_jumps_;
  }
  AccessUnit unit = in;
  unit.dts = t.dts;
  unit.pts = t.pts;

  // With video, segments start at keyframes so each one decodes on its own; audio-only is cut by time.
  const bool cut_point = video_ ? (unit.track == Track::video && unit.keyframe) : true;
  if (cut_point) {
    const Ticks90k target = Ticks90k{config_.target_duration_s} * 90000;
    const bool due = open_ && (unit.dts - segment_start_ >= target || pending_discontinuity_ || muxer_stale_);
    if (due) close_segment(unit.dts);
    if (!open_ && !open_segment(unit.dts)) return;
  }
  if (!open_) return;  // waiting for the first keyframe
  // A track that appeared since the muxer was made waits for the next segment's muxer.
  if (!(unit.track == Track::video ? muxer_video_ : muxer_audio_)) return;

  if (Status s = muxer_->write(unit); !s) {
    if (write_errors_++ % 1000 == 0)
      log_warn(subject_, s.error() + " (" + std::to_string(write_errors_) + " so far)");
    return;
  }
  if (unit.track == (video_ ? Track::video : Track::audio)) {
    if (unit.dts > last_dts_) {
      last_step_ = unit.dts - last_dts_;
      segment_max_step_ = std::max(segment_max_step_, last_step_);
    }
    last_dts_ = unit.dts;
  }
}

bool HlsStream::open_segment(Ticks90k dts) {
  const bool discontinuity = pending_discontinuity_ || (muxer_stale_ && muxer_ != nullptr);
  if (muxer_stale_ || !muxer_) {
    Result<std::unique_ptr<TsMuxer>> m = TsMuxer::create(video_, audio_);
    if (!m) {
      log_error(subject_, m.error());
      return false;
    }
    muxer_ = std::move(m).value();
    muxer_stale_ = false;
    muxer_video_ = video_.has_value();
    muxer_audio_ = audio_.has_value();
  }
  if (anchor_dts_ < 0) {
    anchor_dts_ = dts;
    anchor_wall_ms_ = clock_();
  }
  open_ = true;
  segment_start_ = dts;
  segment_discontinuity_ = discontinuity && next_seq_ > 0;
  segment_pdt_ = anchor_wall_ms_ + (dts - anchor_dts_) / 90;
  last_dts_ = dts;
  segment_max_step_ = 0;
  pending_discontinuity_ = false;
  return true;
}

void HlsStream::close_segment(Ticks90k end_dts) {
  open_ = false;
  std::vector<uint8_t> bytes = muxer_->cut();
  const double duration = double(std::max<Ticks90k>(end_dts - segment_start_, 1)) / 90000.0;
  if (bytes.empty()) return;

  const uint32_t rounded = rounded_duration(duration);
  if (rounded > config_.target_duration_s) {
    // The step into the keyframe that ends the segment counts too: encoders often resume with one.
    const double gap = double(std::max(segment_max_step_, end_dts - last_dts_)) / 90000.0;
    if (gap >= kGapSeconds) {
      ++long_gap_;
      longest_gap_s_ = std::max(longest_gap_s_, gap);
    } else {
      ++long_gop_;
    }
    longest_segment_s_ = std::max(longest_segment_s_, duration);
  }
  if (target_duration_ == 0) {
    target_duration_ = std::max(config_.target_duration_s, rounded);
  } else if (rounded > target_duration_) {
    // RFC 8216 4.3.3.1 fixes TARGETDURATION, but a segment can only end at a keyframe: an encoder
    // whose keyframes are further apart than that forces the choice. Playback wins; the operator
    // is told what to change.
    ++over_target_;
    log_warn(subject_, "segment of " + std::to_string(duration) + " s exceeds the target duration " +
                           std::to_string(target_duration_) + " s: set the encoder's keyframe interval to " +
                           std::to_string(config_.target_duration_s) + " s");
    target_duration_ = rounded;
  }
  Segment seg;
  seg.seq = next_seq_++;
  seg.duration_s = duration;
  seg.pdt_unix_ms = segment_pdt_;
  seg.discontinuity = segment_discontinuity_;
  seg.uri = uri_tag_ + "-" + std::to_string(seg.seq) + ".ts";
  seg.bytes = std::make_shared<const std::vector<uint8_t>>(std::move(bytes));
  window_.push(std::move(seg));
  publish_snapshot();
}

void HlsStream::end() {
  if (ended_) return;
  if (open_) close_segment(last_dts_ + std::max<Ticks90k>(last_step_, 1));
  ended_ = true;
  muxer_.reset();  // a republish may bring other codecs
  publish_snapshot();
}

void HlsStream::publish_snapshot() {
  auto snap = std::make_shared<HlsSnapshot>();
  const auto all = window_.all();
  snap->segments.assign(all.begin(), all.end());
  snap->ended = ended_;
  snap->target_duration_s = target_duration_;
  snap->media_sequence = window_.media_sequence();
  snap->listed = window_.listed().size();
  snap->segments_made = next_seq_;
  snap->timestamp_jumps = timestamp_jumps_;
  snap->long_segments_gop = long_gop_;
  snap->long_segments_gap = long_gap_;
  snap->longest_segment_s = longest_segment_s_;
  snap->longest_gap_s = longest_gap_s_;
  if (target_duration_ > 0) {
    PlaylistParams p;
    p.target_duration_s = target_duration_;
    p.media_sequence = window_.media_sequence();
    p.discontinuity_sequence = window_.discontinuity_sequence();
    p.segments = window_.listed();
    p.ended = ended_;
    snap->playlist = render_playlist(p);
  }
  snapshot_ = std::move(snap);
  ++version_;
}

size_t HlsStream::bytes_held() const noexcept {
  return window_.bytes_held() + (muxer_ ? muxer_->pending_bytes() : 0);
}

}  // namespace livegate
