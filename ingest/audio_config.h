// Parsers for RTMP audio configuration: the AAC AudioSpecificConfig and MPEG audio frame headers.
#pragma once

#include <cstdint>

#include "common/byte_reader.h"
#include "common/media.h"
#include "common/result.h"

namespace livegate {

// ISO 14496-3 1.6.2.1 AudioSpecificConfig. Fills codec = aac, asc (a copy), object_type,
// sample_rate and channels.
//
// sample_rate and channels describe the AAC core, which is what an ADTS header (and so the
// MPEG-TS muxer) carries. For HE-AAC (object type 5) and HE-AAC v2 (29) with explicit signalling,
// object_type stays 5 or 29 so the playlist can say mp4a.40.5 / mp4a.40.29, while the rate is the
// core rate (half the output rate) and, for v2, channels is the mono core; ADTS writes such
// streams as LC (profile 1) and the decoder finds SBR/PS implicitly.
//
// channels is 0 for channelConfiguration 0 (layout in a program_config_element, not parsed);
// configurations 8..15 are an error because ADTS has only 3 bits for them. Sampling frequency
// index 13 and 14 are reserved (error); 15 takes an explicit 24-bit rate.
Result<AudioConfig> parse_aac_config(Bytes asc);

struct Mp3FrameInfo {
  uint32_t sample_rate = 0;
  uint8_t channels = 0;
  uint32_t frame_size = 0;  // bytes, header and padding included
  uint32_t samples_per_frame = 0;
};

// MPEG-1/2/2.5 Layer I/II/III frame header (ISO 11172-3 2.4.1.3, ISO 13818-3 2.4.2.3), first four
// bytes of frame. Free-format (bitrate index 0) is rejected: its frame size cannot be known from
// the header alone.
Result<Mp3FrameInfo> parse_mp3_header(Bytes frame);

}  // namespace livegate
