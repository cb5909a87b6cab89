// Fuzz target: FLV video and audio tag bodies, and the codec configurations and frames inside them.
//
// Input: the payload of an RTMP video (9) or audio (8) message; every input is tried as both. The
// inner parsers also get the raw input, so they are reached without a valid tag header too.
#include <cmath>

#include "fuzz_input.h"
#include "ingest/audio_config.h"
#include "ingest/avc_config.h"
#include "ingest/flv_tag.h"

using namespace livegate;

namespace {

bool inside(Bytes part, Bytes whole) {
  if (part.empty()) return true;
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

void check_avcc(Bytes avcc) {
  auto config = parse_avcc(avcc);
  if (!config) {
    FUZZ_CHECK(!config.error().empty());
    return;
  }
  FUZZ_CHECK(config->codec == VideoCodec::h264);
  const uint8_t n = config->nal_length_size;
  FUZZ_CHECK(n == 1 || n == 2 || n == 4);
  FUZZ_CHECK(!config->sps.empty());
  FUZZ_CHECK(config->width >= 1 && config->width <= 16384 && config->height >= 1 && config->height <= 16384);
  FUZZ_CHECK(std::isfinite(config->frame_rate) && config->frame_rate >= 0);
  for (const auto& s : config->sps) FUZZ_CHECK(!s.empty());
}

void check_nalus(Bytes nalus) {
  for (uint8_t n : {1, 2, 4}) {
    const Status s = validate_avc_nalus(nalus, n);
    const bool idr = avc_has_idr(nalus, n);
    if (!s.ok()) {
      FUZZ_CHECK(!idr);
      FUZZ_CHECK(!s.error().empty());
    }
  }
  for (uint8_t n : {0, 3, 5}) {
    FUZZ_CHECK(!validate_avc_nalus(nalus, n).ok());
    FUZZ_CHECK(!avc_has_idr(nalus, n));
  }
}

void check_aac(Bytes asc) {
  auto config = parse_aac_config(asc);
  if (!config) {
    FUZZ_CHECK(!config.error().empty());
    return;
  }
  FUZZ_CHECK(config->codec == AudioCodec::aac);
  FUZZ_CHECK(config->record.size() == asc.size());
  FUZZ_CHECK(config->object_type != 0);
  FUZZ_CHECK(config->sample_rate > 0);
  FUZZ_CHECK(config->channels <= 8 && config->channels != 7);  // configuration 7 is 7.1
}

void check_mp3(Bytes frame) {
  auto info = parse_mp3_header(frame);
  if (!info) {
    FUZZ_CHECK(!info.error().empty());
    return;
  }
  FUZZ_CHECK(info->sample_rate >= 8000 && info->sample_rate <= 48000);
  FUZZ_CHECK(info->channels == 1 || info->channels == 2);
  FUZZ_CHECK(info->samples_per_frame == 384 || info->samples_per_frame == 576 ||
             info->samples_per_frame == 1152);
  FUZZ_CHECK(info->frame_size >= 4);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Bytes in(data, size);

  auto video = parse_video_tag(in);
  if (video) {
    FUZZ_CHECK(inside(video->data, in));
    FUZZ_CHECK(!describe_codec(*video).empty());
    switch (video->kind) {
      case VideoTag::Kind::avc_sequence_header: check_avcc(video->data); break;
      case VideoTag::Kind::avc_nalu: check_nalus(video->data); break;
      case VideoTag::Kind::avc_end_of_sequence:
      case VideoTag::Kind::unsupported: break;
    }
  } else {
    FUZZ_CHECK(!video.error().empty());
  }

  auto audio = parse_audio_tag(in);
  if (audio) {
    FUZZ_CHECK(inside(audio->data, in));
    FUZZ_CHECK(!describe_codec(*audio).empty());
    switch (audio->kind) {
      case AudioTag::Kind::aac_sequence_header: check_aac(audio->data); break;
      case AudioTag::Kind::mp3: check_mp3(audio->data); break;
      case AudioTag::Kind::aac_raw:
      case AudioTag::Kind::unsupported: break;
    }
  } else {
    FUZZ_CHECK(!audio.error().empty());
  }

  check_avcc(in);
  check_nalus(in);
  check_aac(in);
  check_mp3(in);
  return 0;
}
