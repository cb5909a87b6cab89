// The cut policy and segment bookkeeping for one stream.
#include "segmenter/hls_stream.h"

#include <algorithm>

#include "common/log.h"
#include "segmenter/cmaf_muxer.h"
#include "segmenter/playlist.h"
#include "segmenter/ts_muxer.h"

namespace livegate {
namespace {

constexpr Ticks90k kSecond = 90000;
// A keyframe this close below the target still ends the segment. Encoders' first frames often start a
// frame or two before the first keyframe's time (B-frame reordering; GStreamer clamps the first
// negative DTS to 0), so with a steady 2 s GOP the next keyframe comes 1.93 s into the first segment:
// judged "too early", the segment would run to 4 s and fix EXT-X-TARGETDURATION at 4.
constexpr Ticks90k kKeyframeToleranceDivisor = 10;
// Audio frames cut a segment with video between keyframes only this far past EXT-X-TARGETDURATION,
// which it may still be listed as (EXTINF rounds to the nearest second): audio runs a few milliseconds
// ahead of a keyframe due right at the target, and the keyframe must still be the one that cuts.
constexpr Ticks90k kDurationSlack = kSecond * 3 / 10;
// Audio leading video by more than this is not taken into account: a segment's audio may run this far
// past its video's end.
constexpr Ticks90k kMaxAudioLead = kSecond * 2;

}  // namespace

HlsStream::HlsStream(const HlsConfig& config, std::string subject, std::string uri_tag, WallClock clock)
    : config_(config),
      subject_(std::move(subject)),
      uri_tag_(std::move(uri_tag)),
      clock_(std::move(clock)),
      timeline_(TimelineConfig{.max_forward = Ticks90k{config.max_jump_ms} * 90}) {
  if (config.packaging_ts)
    outputs_.push_back(Output{Packaging::ts, SegmentWindow(config.window, config.grace), {}, {}, {}, {}, 0});
  if (config.packaging_cmaf || outputs_.empty())  // the config allows no empty list; CMAF if one is made
    outputs_.push_back(
        Output{Packaging::cmaf, SegmentWindow(config.window, config.grace), {}, {}, {}, {}, 0});
}

void HlsStream::start() {
  last_video_dts_.reset();
  last_audio_dts_.reset();
  audio_lead_ = 0;
  publish_first_dts_.reset();
  video_stalled_ = false;
  if (ended_ || interrupted_) {
    // Republish: same playlist, sequence numbers keep growing, a discontinuity at the join.
    ended_ = false;
    interrupted_ = false;
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

void HlsStream::watch_video(const AccessUnit& unit) {
  if (!publish_first_dts_) publish_first_dts_ = unit.dts;
  if (unit.track == Track::video) {
    last_video_dts_ = unit.dts;
    if (last_audio_dts_) audio_lead_ = std::clamp<Ticks90k>(*last_audio_dts_ - unit.dts, 0, kMaxAudioLead);
    if (unit.keyframe) video_stalled_ = false;
    return;
  }
  last_audio_dts_ = unit.dts;
  // Capture cards fail this way: video stops, audio goes on. Past the limit segments carry audio alone,
  // so the playlist keeps advancing and players keep playing sound.
  const Ticks90k last_video = last_video_dts_.value_or(*publish_first_dts_);
  if (video_ && !video_stalled_ && unit.dts - last_video >= Ticks90k{config_.video_stall_ms} * 90) {
    video_stalled_ = true;
  }
}

std::optional<CutReason> HlsStream::cut_before(const AccessUnit& unit, Tracks wanted) const {
  // With video, an audio frame running ahead of the video is as old as the video frame beside it: an
  // encoder whose audio leads by more than the slack below must still be cut at keyframes.
  const Ticks90k lead = unit.track == Track::audio && muxer_tracks_.video ? audio_lead_ : 0;
  const Ticks90k age = unit.dts - lead - segment_start_;
  const bool keyframe = unit.track == Track::video && unit.keyframe;
  const bool must_restart = pending_discontinuity_ || muxer_stale_;
  if (wanted != muxer_tracks_) {
    // Video stopped: audio-only from this audio frame on. Video came back: from its next keyframe.
    if (!wanted.video || keyframe) return CutReason::tracks;
  }
  const Ticks90k target = Ticks90k{config_.target_duration_s} * kSecond;
  if (muxer_tracks_.video) {
    // With video, segments start at keyframes so each one decodes on its own.
    if (keyframe && (age >= target - target / kKeyframeToleranceDivisor || must_restart))
      return CutReason::keyframe;
  } else if (unit.track == Track::audio && (age >= target || must_restart)) {
    return CutReason::keyframe;  // audio only: every audio frame is a cut point
  }
  // EXT-X-TARGETDURATION is fixed for the playlist's life (RFC 8216 6.2.1) and no segment may run past it
  // (4.3.3.1): keyframes further apart than that are cut between. Until it is fixed, the limit is the
  // longest a segment may be at all.
  const uint32_t limit_s = target_duration_ ? target_duration_ : config_.max_segment_duration_s;
  // With video the cut falls on a video frame; audio frames cut only if video does not come (slack).
  const bool video_frame = unit.track == Track::video;
  const Ticks90k limit =
      Ticks90k{limit_s} * kSecond + (muxer_tracks_.video && !video_frame ? kDurationSlack : 0);
  if (age >= limit) return CutReason::duration;
  if (pending_bytes() + (unit.data ? unit.data->size() : 0) > config_.max_segment_bytes) {
    return CutReason::bytes;
  }
  return std::nullopt;
}

bool HlsStream::can_open(const AccessUnit& unit, Tracks wanted) const {
  if (!(unit.track == Track::video ? wanted.video : wanted.audio)) return false;
  if (!wanted.video) return true;  // audio only: any frame starts a segment
  if (unit.track == Track::video && unit.keyframe) return true;
  // A segment cut between keyframes is continued by the same muxer from the next frame: the decoder has
  // the frames before it. Anything else (the first segment, new tracks or codecs) starts at a keyframe.
  return continuation_ && muxing_ && !muxer_stale_ && muxer_tracks_ == wanted;
}

void HlsStream::access_unit(const AccessUnit& in) {
  if (ended_ || interrupted_) return;
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
  watch_video(unit);

  const Tracks wanted{video_ && !video_stalled_, audio_.has_value()};
  if (open_) {
    if (const std::optional<CutReason> why = cut_before(unit, wanted)) cut(unit.dts, *why);
  }
  if (!open_) {
    if (!can_open(unit, wanted) || !open_segment(unit, wanted)) return;
  }
  // A track the muxer was not made with (video during an audio-only stretch) waits for the next segment.
  if (!(unit.track == Track::video ? muxer_tracks_.video : muxer_tracks_.audio)) return;
  const bool main_track = unit.track == (muxer_tracks_.video ? Track::video : Track::audio);
  if (main_track && part_full(unit) && close_part(unit.dts)) publish_snapshot(false);

  // A frame one muxer refuses and another takes (they check different things; ingest has validated it)
  // still counts as written: the segments stay one set.
  bool written = false;
  for (Output& o : outputs_) {
    if (Status s = o.muxer->write(unit); !s) {
      if (write_errors_++ % 1000 == 0)
        log_warn(subject_, s.error() + " (" + std::to_string(write_errors_) + " so far)");
    } else {
      written = true;
    }
  }
  if (!written) return;
  if (main_track) {
    if (!part_has_frame_) {
      // Audio frames decode on their own; video parts from a keyframe do (INDEPENDENT=YES).
      part_independent_ = unit.track == Track::audio || unit.keyframe;
      part_has_frame_ = true;
      part_step_ = 0;
    } else {
      part_step_ = std::max(part_step_, unit.dts - last_dts_);
    }
    if (unit.dts > last_dts_) last_step_ = unit.dts - last_dts_;
    last_dts_ = unit.dts;
  }
}

bool HlsStream::part_full(const AccessUnit& unit) const {
  if (!part_has_frame_) return false;
  // The frame lasts until the next one comes, which is not known yet: judged by the longest step in
  // this part, as RTMP's millisecond timestamps make 30 fps steps 33 and 34 ms.
  const Ticks90k step = std::max({part_step_, unit.dts - last_dts_, Ticks90k{1}});
  return unit.dts + step - part_start_ > Ticks90k{config_.part_target_ms} * 90;
}

std::string HlsStream::part_uri(uint64_t seq, uint32_t index) const {
  return uri_tag_ + "-" + std::to_string(seq) + "." + std::to_string(index) + ".m4s";
}

bool HlsStream::close_part(Ticks90k end_dts) {
  bool any = false;
  for (Output& o : outputs_) {
    if (o.kind != Packaging::cmaf) continue;
    auto bytes = std::make_shared<const std::vector<uint8_t>>(o.muxer->cut(end_dts));
    if (bytes->empty()) continue;
    Part part;
    part.seq = next_seq_;
    part.index = static_cast<uint32_t>(o.parts.size());
    part.duration_s = double(std::max<Ticks90k>(end_dts - part_start_, 1)) / kSecond;
    part.independent = part_independent_;
    part.uri = part_uri(part.seq, part.index);
    part.size = bytes->size();
    part.buffer = std::move(bytes);
    o.parts_bytes += part.size;
    o.parts.push_back(std::move(part));
    any = true;
  }
  part_start_ = end_dts;
  part_has_frame_ = false;
  return any;
}

bool HlsStream::make_muxers(Tracks wanted) {
  const std::optional<VideoConfig> video = wanted.video ? video_ : std::nullopt;
  const std::optional<AudioConfig> audio = wanted.audio ? audio_ : std::nullopt;
  for (Output& o : outputs_) {
    o.muxer.reset();
    o.map.reset();
    if (o.kind == Packaging::ts) {
      Result<std::unique_ptr<TsMuxer>> m = TsMuxer::create(video, audio);
      if (!m) {
        log_error(subject_, m.error());
        break;
      }
      o.muxer = std::move(m).value();
    } else {
      Result<std::unique_ptr<CmafMuxer>> m = CmafMuxer::create(video, audio);
      if (!m) {
        log_error(subject_, m.error());
        break;
      }
      // Named after the first segment that needs it: unique for the playlist's life, like segments.
      o.map_uri = uri_tag_ + "-" + std::to_string(next_seq_) + ".mp4";
      o.map = (*m)->init_segment();
      o.muxer = std::move(m).value();
    }
  }
  muxing_ = std::all_of(outputs_.begin(), outputs_.end(), [](const Output& o) { return o.muxer != nullptr; });
  if (!muxing_) {
    for (Output& o : outputs_) o.muxer.reset();
  }
  return muxing_;
}

size_t HlsStream::pending_bytes() const noexcept {
  size_t most = 0;
  for (const Output& o : outputs_)
    most = std::max(most, o.parts_bytes + (o.muxer ? o.muxer->pending_bytes() : 0));
  return most;
}

bool HlsStream::open_segment(const AccessUnit& unit, Tracks wanted) {
  const bool new_muxer = !muxing_ || muxer_stale_ || muxer_tracks_ != wanted;
  const bool discontinuity = pending_discontinuity_ || (new_muxer && muxing_);
  if (new_muxer) {
    if (muxing_ && muxer_tracks_.video && !wanted.video) {
      ++video_stalls_;
      log_warn(subject_, "video stopped while audio goes on: segments carry audio only until it returns");
    } else if (muxing_ && !muxer_tracks_.video && wanted.video && !muxer_stale_) {
      log_info(subject_, "video is back");
    }
    if (!make_muxers(wanted)) return false;
    muxer_stale_ = false;
    muxer_tracks_ = wanted;
  }
  if (anchor_dts_ < 0) {
    anchor_dts_ = unit.dts;
    anchor_wall_ms_ = clock_();
  }
  if (wanted.video && !(unit.track == Track::video && unit.keyframe)) ++without_keyframe_;
  open_ = true;
  continuation_ = false;
  segment_start_ = unit.dts;
  segment_discontinuity_ = discontinuity && next_seq_ > 0;
  segment_pdt_ = anchor_wall_ms_ + (unit.dts - anchor_dts_) / 90;
  last_dts_ = unit.dts;
  part_start_ = unit.dts;
  part_has_frame_ = false;
  pending_discontinuity_ = false;
  return true;
}

void HlsStream::cut(Ticks90k next_dts, CutReason why) {
  const uint32_t limit_s = target_duration_ ? target_duration_ : config_.max_segment_duration_s;
  const Ticks90k limit = Ticks90k{limit_s} * kSecond;
  Ticks90k end = next_dts;
  if (rounded_duration(double(end - segment_start_) / kSecond) > limit_s) {
    // The media paused: the segment ends after its last frame and the next one starts with a
    // discontinuity, so no segment is listed longer than EXT-X-TARGETDURATION.
    end = std::min(last_dts_ + std::max<Ticks90k>(last_step_, 1), segment_start_ + limit);
    if (why != CutReason::end) {
      ++pauses_;
      longest_pause_s_ = std::max(longest_pause_s_, double(next_dts - last_dts_) / kSecond);
      why = CutReason::pause;
      pending_discontinuity_ = true;
    }
  }
  if (why == CutReason::bytes) ++cut_for_bytes_;
  continuation_ = why == CutReason::duration || why == CutReason::bytes || why == CutReason::pause;
  close_segment(end);
}

void HlsStream::close_segment(Ticks90k end_dts) {
  open_ = false;
  close_part(end_dts);
  std::vector<std::vector<uint8_t>> bytes;
  std::vector<std::vector<Part>> parts;
  for (Output& o : outputs_) {
    parts.push_back(std::move(o.parts));
    o.parts.clear();
    o.parts_bytes = 0;
    if (o.kind == Packaging::ts) {
      bytes.push_back(o.muxer->cut(end_dts));
      continue;
    }
    // The segment is its parts joined.
    std::vector<uint8_t> joined;
    size_t size = 0;
    for (const Part& part : parts.back()) size += part.size;
    joined.reserve(size);
    for (const Part& part : parts.back())
      joined.insert(joined.end(), part.bytes().begin(), part.bytes().end());
    bytes.push_back(std::move(joined));
  }
  const double duration = double(std::max<Ticks90k>(end_dts - segment_start_, 1)) / kSecond;
  // Every output got the same frames; none has bytes only if no frame was written at all.
  if (std::any_of(bytes.begin(), bytes.end(), [](const auto& b) { return b.empty(); })) return;

  const uint32_t rounded = rounded_duration(duration);
  if (target_duration_ == 0) {
    // Fixed once, before the first segment is listed: the configured target, or the first segment's
    // length if keyframes come further apart (up to hls.max_segment_duration_s, where cuts fall
    // between keyframes).
    target_duration_ = std::clamp(rounded, config_.target_duration_s, config_.max_segment_duration_s);
    if (target_duration_ > config_.target_duration_s) {
      log_warn(subject_, "keyframes are " + std::to_string(rounded) + " s apart: segments are " +
                             std::to_string(target_duration_) +
                             " s; set the encoder's keyframe interval to " +
                             std::to_string(config_.target_duration_s) + " s");
    }
  }
  if (rounded > config_.target_duration_s) {
    ++long_gop_;
    longest_segment_s_ = std::max(longest_segment_s_, duration);
  }
  const uint64_t seq = next_seq_++;
  for (size_t i = 0; i < outputs_.size(); ++i) {
    Output& o = outputs_[i];
    Segment seg;
    seg.seq = seq;
    seg.duration_s = duration;
    seg.pdt_unix_ms = segment_pdt_;
    seg.discontinuity = segment_discontinuity_;
    seg.uri = uri_tag_ + "-" + std::to_string(seq) + (o.kind == Packaging::ts ? ".ts" : ".m4s");
    seg.bytes = std::make_shared<const std::vector<uint8_t>>(std::move(bytes[i]));
    seg.map_uri = o.map_uri;
    seg.map = o.map;
    // From now on the parts are ranges of the segment: their own buffers are freed.
    size_t offset = 0;
    for (Part& part : parts[i]) {
      part.buffer = seg.bytes;
      part.offset = offset;
      offset += part.size;
    }
    seg.parts = std::move(parts[i]);
    o.window.push(std::move(seg));
  }
  publish_snapshot();
}

void HlsStream::stop_input() {
  if (open_) cut(last_dts_ + std::max<Ticks90k>(last_step_, 1), CutReason::end);
  continuation_ = false;
  for (Output& o : outputs_) o.muxer.reset();
  muxing_ = false;
}

void HlsStream::interrupt() {
  if (ended_ || interrupted_) return;
  stop_input();
  interrupted_ = true;
  publish_snapshot();
}

void HlsStream::switch_input() {
  if (ended_) return;
  interrupt();
  start();
}

void HlsStream::end() {
  if (ended_) return;
  stop_input();
  ended_ = true;
  interrupted_ = false;
  publish_snapshot();
}

void HlsStream::publish_snapshot(bool segments) {
  auto snap = std::make_shared<HlsSnapshot>();
  const SegmentWindow& first = outputs_.front().window;  // every window holds the same sequence numbers
  snap->ended = ended_;
  snap->target_duration_s = target_duration_;
  snap->media_sequence = first.media_sequence();
  snap->listed = first.listed().size();
  snap->segments_made = next_seq_;
  snap->timestamp_jumps = timestamp_jumps_;
  snap->long_segments_gop = long_gop_;
  snap->longest_segment_s = longest_segment_s_;
  snap->segments_without_keyframe = without_keyframe_;
  snap->segments_cut_for_bytes = cut_for_bytes_;
  snap->pauses = pauses_;
  snap->longest_pause_s = longest_pause_s_;
  snap->video_stalls = video_stalls_;
  snap->video_stalled = !ended_ && video_stalled_;
  // A new part changes ll.m3u8 alone: the rest is what the last snapshot said.
  if (!segments && snapshot_) {
    snap->ts = snapshot_->ts;
    snap->cmaf.segments = snapshot_->cmaf.segments;
    snap->master = snapshot_->master;
  }
  for (const Output& o : outputs_) {
    const bool cmaf = o.kind == Packaging::cmaf;
    if (!segments && !cmaf) continue;
    HlsSnapshot::Playlist& out = cmaf ? snap->cmaf : snap->ts;
    if (segments) {
      const auto all = o.window.all();
      out.segments.assign(all.begin(), all.end());
    }
    LowLatencyParams ll;
    if (cmaf) {
      HlsSnapshot::LowLatency& out_ll = snap->ll;
      out_ll.part_target_ms = config_.part_target_ms;
      out_ll.open_seq = next_seq_;
      out_ll.open_parts = o.parts;
      out_ll.open_discontinuity = open_ && segment_discontinuity_;
      if (open_) {
        out_ll.open_map_uri = o.map_uri;
        out_ll.open_map = o.map;
      }
      // The next part is the open segment's next one, or the next segment's first: a segment closes
      // together with its last part, so the name is known in advance either way.
      if (!ended_)
        out_ll.preload_hint = part_uri(next_seq_, static_cast<uint32_t>(open_ ? o.parts.size() : 0));
      ll.part_target_ms = out_ll.part_target_ms;
      ll.open_seq = out_ll.open_seq;
      ll.open_parts = out_ll.open_parts;
      ll.open_discontinuity = out_ll.open_discontinuity;
      ll.open_map_uri = out_ll.open_map_uri;
      ll.preload_hint = out_ll.preload_hint;
    }
    if (target_duration_ > 0) {
      PlaylistParams p;
      p.target_duration_s = target_duration_;
      p.media_sequence = o.window.media_sequence();
      p.discontinuity_sequence = o.window.discontinuity_sequence();
      p.segments = o.window.listed();
      p.ended = ended_;
      p.fmp4 = cmaf;
      p.ll = cmaf ? &ll : nullptr;
      out.text = render_playlist(p);
      if (cmaf && !ended_ &&
          skippable_segments(p.segments, ll.open_parts,
                             low_latency_times(target_duration_, ll.part_target_ms).skip_until_s) > 0) {
        ll.delta = true;
        snap->ll.delta = render_playlist(p);
      }
    }
  }
  if (segments && target_duration_ > 0) {
    // One rendition for now: the CMAF playlist where there is one (what low-latency players want),
    // else the TS one. Measured over the segments listed now, so it follows the encoder's bit rate.
    const Output& main = outputs_.back();
    const Bandwidth bw = measure_bandwidth(main.window.listed());
    Variant v;
    v.uri = main.kind == Packaging::cmaf ? "ll.m3u8" : "index.m3u8";
    v.bandwidth = bw.peak;
    v.average_bandwidth = bw.average;
    v.codecs = codecs_string(video_, audio_);
    if (video_) {
      v.width = video_->width;
      v.height = video_->height;
      v.frame_rate = video_->frame_rate;
    }
    snap->master = render_multivariant(std::span<const Variant>(&v, 1));
  }
  snapshot_ = std::move(snap);
  ++version_;
}

size_t HlsStream::bytes_held() const noexcept {
  size_t n = 0;
  for (const Output& o : outputs_)
    n += o.window.bytes_held() + o.parts_bytes + (o.muxer ? o.muxer->pending_bytes() : 0);
  return n;
}

}  // namespace livegate
