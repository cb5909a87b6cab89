// Parsers for the AAC AudioSpecificConfig (ISO 14496-3 1.6.2.1) and MP3 headers (ISO 11172-3, 13818-3).
#include "ingest/audio_config.h"

#include <string>

#include "ingest/bit_reader.h"

namespace livegate {

namespace {

constexpr uint8_t kAotEscape = 31;
constexpr uint8_t kAotSbr = 5;
constexpr uint8_t kAotPs = 29;
constexpr uint8_t kAotErBsac = 22;
constexpr uint32_t kExplicitRateIndex = 15;

// ISO 14496-3 1.6.2.1 GetAudioObjectType(): 5 bits, where 31 escapes to 32 + the next 6 bits.
uint8_t read_object_type(BitReader& br) {
  uint32_t aot = br.bits(5);
  if (aot == kAotEscape) aot = 32 + br.bits(6);
  return static_cast<uint8_t>(aot);
}

// ISO 14496-3 table 1.16 samplingFrequencyIndex; 13 and 14 are reserved, 15 means an explicit
// 24-bit samplingFrequency follows.
Result<uint32_t> read_sample_rate(BitReader& br) {
  static constexpr uint32_t kRates[13] = {96000, 88200, 64000, 48000, 44100, 32000, 24000,
                                          22050, 16000, 12000, 11025, 8000,  7350};
  const uint32_t index = br.bits(4);
  if (br.failed()) return Error{"truncated before samplingFrequencyIndex"};
  if (index < 13) return kRates[index];
  if (index != kExplicitRateIndex) {
    return Error{"samplingFrequencyIndex " + std::to_string(index) + " is reserved"};
  }
  const uint32_t rate = br.bits(24);
  if (br.failed()) return Error{"truncated explicit samplingFrequency"};
  if (rate == 0) return Error{"explicit samplingFrequency is 0"};
  return rate;
}

}  // namespace

Result<AudioConfig> parse_aac_config(Bytes asc) {
  // ISO 14496-3 1.6.2.1 AudioSpecificConfig(), the part every object type shares:
  //   audioObjectType 5 [+6]  samplingFrequencyIndex 4 [+24]  channelConfiguration 4
  //   if audioObjectType is 5 or 29 (explicit SBR / PS signalling):
  //     extensionSamplingFrequencyIndex 4 [+24]  audioObjectType 5 [+6]  [channels 4 if that is 22]
  //   then an object-type specific config (GASpecificConfig for AAC), not needed here.
  BitReader br(asc);
  AudioConfig config;
  config.codec = AudioCodec::aac;
  config.record.assign(asc.begin(), asc.end());

  config.object_type = read_object_type(br);
  if (br.failed()) return Error{"ASC: truncated audioObjectType (" + std::to_string(asc.size()) + " bytes)"};
  if (config.object_type == 0) return Error{"ASC: audioObjectType 0 (null object)"};
  Result<uint32_t> rate = read_sample_rate(br);
  if (!rate) return wrap("ASC", rate.error());
  config.sample_rate = *rate;

  const uint32_t channel_config = br.bits(4);
  if (br.failed()) return Error{"ASC: truncated before channelConfiguration"};
  // Table 1.19: 1..6 are that many channels, 7 is 7.1. 8 and up (reserved, or layouts such as 22.2
  // from later editions) do not fit ADTS's 3-bit field, so the stream cannot be muxed as is.
  if (channel_config >= 8) {
    return Error{"ASC: channelConfiguration " + std::to_string(channel_config) + " is not supported"};
  }
  config.channels = static_cast<uint8_t>(channel_config == 7 ? 8 : channel_config);

  if (config.object_type == kAotSbr || config.object_type == kAotPs) {
    Result<uint32_t> ext_rate = read_sample_rate(br);  // the output rate, which ADTS cannot carry
    if (!ext_rate) return wrap("ASC: extension", ext_rate.error());
    const uint8_t core = read_object_type(br);
    if (core == kAotErBsac) br.bits(4);  // extensionChannelConfiguration
    if (br.failed()) return Error{"ASC: truncated extension"};
    if (core == 0) return Error{"ASC: extension audioObjectType 0 (null object)"};
  }
  config.codec_string = "mp4a.40." + std::to_string(config.object_type);  // RFC 6381 3.3
  return config;
}

Result<Mp3FrameInfo> parse_mp3_header(Bytes frame) {
  // ISO 11172-3 2.4.1.3 / ISO 13818-3 2.4.2.3 header(), 32 bits:
  //   AAAAAAAA AAABBCCD EEEEFFGH IIJJKLMM
  //   A syncword (11 ones; the 12th bit is the version's high bit, 0 for the MPEG 2.5 extension)
  //   B version: 00 MPEG-2.5, 01 reserved, 10 MPEG-2, 11 MPEG-1   C layer: 01 III, 10 II, 11 I, 00 reserved
  //   D protection_bit  E bitrate_index  F sampling_frequency  G padding_bit  H private_bit
  //   I mode (11 = single channel)  J mode_extension  K copyright  L original  M emphasis
  ByteReader in(frame);
  const uint32_t h = in.u32();
  if (in.failed()) return Error{"MP3: header needs 4 bytes, got " + std::to_string(frame.size())};
  if ((h >> 21) != 0x7FF) return Error{"MP3: no frame sync"};
  const uint32_t version = (h >> 19) & 3;
  const uint32_t layer_bits = (h >> 17) & 3;
  const uint32_t bitrate_index = (h >> 12) & 0xF;
  const uint32_t rate_index = (h >> 10) & 3;
  const uint32_t padding = (h >> 9) & 1;
  const uint32_t mode = (h >> 6) & 3;
  if (version == 1) return Error{"MP3: reserved version"};
  if (layer_bits == 0) return Error{"MP3: reserved layer"};
  if (bitrate_index == 0) return Error{"MP3: free-format bitrate is not supported"};
  if (bitrate_index == 15) return Error{"MP3: bad bitrate index 15"};
  if (rate_index == 3) return Error{"MP3: reserved sampling frequency"};

  const bool mpeg1 = version == 3;
  const int layer = 4 - static_cast<int>(layer_bits);  // 1, 2 or 3

  // kbps, ISO 11172-3 2.4.2.3 and ISO 13818-3 2.4.2.3 (MPEG-2.5 uses the MPEG-2 tables).
  static constexpr uint16_t kBitrates[5][15] = {
      {0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448},  // MPEG-1 layer I
      {0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384},     // MPEG-1 layer II
      {0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320},      // MPEG-1 layer III
      {0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256},     // MPEG-2/2.5 layer I
      {0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160},          // MPEG-2/2.5 layer II, III
  };
  static constexpr uint32_t kRates[3][3] = {
      {44100, 48000, 32000},  // MPEG-1
      {22050, 24000, 16000},  // MPEG-2
      {11025, 12000, 8000},   // MPEG-2.5
  };
  const int table = mpeg1 ? layer - 1 : (layer == 1 ? 3 : 4);
  const uint32_t bitrate = kBitrates[table][bitrate_index] * 1000u;
  const int rate_row = mpeg1 ? 0 : (version == 2 ? 1 : 2);

  Mp3FrameInfo info;
  info.sample_rate = kRates[rate_row][rate_index];
  info.channels = mode == 3 ? 1 : 2;
  // Samples per frame: 384 for layer I, 1152 for layer II and MPEG-1 layer III; the lower-rate
  // extensions halve layer III to 576 (ISO 13818-3 2.4.3.1).
  info.samples_per_frame = layer == 1 ? 384 : (layer == 3 && !mpeg1 ? 576 : 1152);
  // Frame length: bytes = samples/8 * bitrate / rate (+ one slot of padding); layer I counts in
  // 4-byte slots, so its padding is 4 bytes and its division truncates in slots first.
  if (layer == 1) {
    info.frame_size = (12 * bitrate / info.sample_rate + padding) * 4;
  } else {
    info.frame_size = info.samples_per_frame / 8 * bitrate / info.sample_rate + padding;
  }
  return info;
}

}  // namespace livegate
