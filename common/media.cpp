// Names for media enums, for logs and the API.
#include "common/media.h"

namespace livegate {

const char* to_string(VideoCodec c) noexcept {
  switch (c) {
    case VideoCodec::h264: return "h264";
    case VideoCodec::hevc: return "hevc";
    case VideoCodec::av1: return "av1";
    case VideoCodec::vp9: return "vp9";
    case VideoCodec::none: break;
  }
  return "none";
}

const char* to_string(AudioCodec c) noexcept {
  switch (c) {
    case AudioCodec::aac: return "aac";
    case AudioCodec::mp3: return "mp3";
    case AudioCodec::opus: return "opus";
    case AudioCodec::none: break;
  }
  return "none";
}

std::string profile_name(uint8_t profile_idc) {
  switch (profile_idc) {
    case 66: return "Baseline";
    case 77: return "Main";
    case 88: return "Extended";
    case 100: return "High";
    case 110: return "High 10";
    case 122: return "High 4:2:2";
    case 244: return "High 4:4:4";
    default: return "profile " + std::to_string(profile_idc);
  }
}

}  // namespace livegate
