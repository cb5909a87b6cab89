// FLV tag bodies to CodecConfig + AccessUnit, with timestamps extended and converted to 90 kHz.
#include "ingest/media_demuxer.h"

#include "common/log.h"
#include "ingest/audio_config.h"
#include "ingest/avc_config.h"
#include "ingest/flv_tag.h"

namespace livegate {
namespace {

std::shared_ptr<const std::vector<uint8_t>> copy_bytes(Bytes b) {
  return std::make_shared<const std::vector<uint8_t>>(b.begin(), b.end());
}

}  // namespace

void MediaDemuxer::drop(const std::string& why) {
  ++dropped_;
  if (why != last_drop_reason_) {  // one line per kind of problem, not one per frame
    log_warn(name_.path(), "dropping frame: " + why);
    last_drop_reason_ = why;
  }
}

MsTime MediaDemuxer::extend(TimestampExtender& clock, RtmpMs ts, const char* track) {
  const uint64_t wraps = clock.wraps();
  const MsTime t = clock.extend(ts);
  if (clock.wraps() != wraps) {
    log_info(name_.path(), std::string(track) + " timestamps wrapped around (at " + std::to_string(ts) +
                               " ms on the wire): the timeline continues");
  }
  return t;
}

Status MediaDemuxer::on_video(RtmpMs ts, Bytes payload) {
  Result<VideoTag> tag = parse_video_tag(payload);
  if (!tag) return wrap("video tag", tag.error());
  switch (tag->kind) {
    case VideoTag::Kind::avc_sequence_header: {
      Result<VideoConfig> config = parse_avcc(tag->data);
      if (!config) {
        drop("bad AVC sequence header: " + config.error());
        return {};
      }
      // Encoders resend the same header every GOP; only a real change is news downstream.
      if (video_ && *video_ == *config) return {};
      video_ = std::move(config).value();
      log_info(name_.path(), "video: h264 " + profile_name(video_->profile) + " " +
                                 std::to_string(video_->width) + "x" + std::to_string(video_->height));
      sink_.on_video_config(name_, *video_);
      return {};
    }
    case VideoTag::Kind::avc_nalu: {
      if (!video_) {
        drop("video before its AVC sequence header");
        return {};
      }
      if (Status s = validate_avc_nalus(tag->data, video_->nal_length_size); !s) {
        drop(s.error());
        return {};
      }
      const MsTime dts = extend(video_clock_, ts, "video");
      AccessUnit unit;
      unit.track = Track::video;
      unit.dts = ms_to_90k(dts);
      unit.pts = ms_to_90k(dts + tag->composition_time);
      unit.keyframe = tag->keyframe();
      unit.data = copy_bytes(tag->data);
      sink_.on_access_unit(name_, unit);
      return {};
    }
    case VideoTag::Kind::avc_end_of_sequence: return {};
    case VideoTag::Kind::unsupported:
      drop(describe_codec(*tag) + " is not supported (only H.264)");
      return {};
  }
  return {};
}

Status MediaDemuxer::on_audio(RtmpMs ts, Bytes payload) {
  Result<AudioTag> tag = parse_audio_tag(payload);
  if (!tag) return wrap("audio tag", tag.error());
  switch (tag->kind) {
    case AudioTag::Kind::aac_sequence_header: {
      Result<AudioConfig> config = parse_aac_config(tag->data);
      if (!config) {
        drop("bad AAC sequence header: " + config.error());
        return {};
      }
      if (audio_ && *audio_ == *config) return {};
      audio_ = std::move(config).value();
      log_info(name_.path(), "audio: aac " + std::to_string(audio_->sample_rate) + " Hz, " +
                                 std::to_string(audio_->channels) + " channels");
      sink_.on_audio_config(name_, *audio_);
      return {};
    }
    case AudioTag::Kind::mp3: {
      Result<Mp3FrameInfo> info = parse_mp3_header(tag->data);
      if (!info) {
        drop("bad MP3 frame: " + info.error());
        return {};
      }
      AudioConfig config;
      config.codec = AudioCodec::mp3;
      config.sample_rate = info->sample_rate;
      config.channels = info->channels;
      config.codec_string = "mp4a.40.34";  // MPEG-1/2 Layer III in MP4 (ISO 14496-3 1.5.1.2)
      if (!audio_ || !(*audio_ == config)) {
        audio_ = config;
        log_info(name_.path(), "audio: mp3 " + std::to_string(config.sample_rate) + " Hz, " +
                                   std::to_string(config.channels) + " channels");
        sink_.on_audio_config(name_, *audio_);
      }
      break;
    }
    case AudioTag::Kind::aac_raw:
      if (!audio_ || audio_->codec != AudioCodec::aac) {
        drop("AAC before its sequence header");
        return {};
      }
      break;
    case AudioTag::Kind::unsupported:
      drop(describe_codec(*tag) + " is not supported (only AAC and MP3)");
      return {};
  }
  if (tag->data.empty()) return {};
  AccessUnit unit;
  unit.track = Track::audio;
  unit.dts = unit.pts = ms_to_90k(extend(audio_clock_, ts, "audio"));
  unit.keyframe = true;
  unit.data = copy_bytes(tag->data);
  sink_.on_access_unit(name_, unit);
  return {};
}

}  // namespace livegate
