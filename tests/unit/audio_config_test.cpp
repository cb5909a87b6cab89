// Unit tests for the AAC AudioSpecificConfig and MPEG audio frame header parsers.
#include "ingest/audio_config.h"

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

#include "test_bytes.h"

using namespace livegate;
using livegate::testing::hex;

namespace {

AudioConfig must_parse_aac(std::string_view asc_hex) {
  auto config = parse_aac_config(hex(asc_hex));
  REQUIRE_MESSAGE(config.ok(), config.error());
  return *config;
}

Mp3FrameInfo must_parse_mp3(std::string_view header_hex) {
  auto info = parse_mp3_header(hex(header_hex));
  REQUIRE_MESSAGE(info.ok(), info.error());
  return *info;
}

}  // namespace

TEST_CASE("audio config: AAC-LC configs from ffmpeg") {
  // `ffmpeg -f lavfi -i sine=frequency=1000:sample_rate=48000 -ac 2 -c:a aac -f flv`: the ASC is
  // 00010 0011 0010 000 (LC, 48000, stereo), then ffmpeg's 56 e5 00 sync extension (0x2b7: no SBR).
  auto stereo = must_parse_aac("119056e500");
  CHECK(stereo.codec == AudioCodec::aac);
  CHECK(stereo.object_type == 2);
  CHECK(stereo.sample_rate == 48000);
  CHECK(stereo.channels == 2);
  CHECK(stereo.record == hex("119056e500"));
  CHECK(stereo.codec_string == "mp4a.40.2");

  // The same at sample_rate=44100 with -ac 1.
  auto mono = must_parse_aac("120856e500");
  CHECK(mono.object_type == 2);
  CHECK(mono.sample_rate == 44100);
  CHECK(mono.channels == 1);

  auto plain = must_parse_aac("1190");
  CHECK(plain.sample_rate == 48000);
  CHECK(plain.record == hex("1190"));
}

TEST_CASE("audio config: HE-AAC explicit signalling keeps the object type, reports the core") {
  // 00101 0111 0010 0100 00010 000: SBR, core 22050, stereo, output 44100, core AOT 2 (LC).
  auto he = must_parse_aac("2b920800");
  CHECK(he.object_type == 5);
  CHECK(he.codec_string == "mp4a.40.5");
  CHECK(he.sample_rate == 22050);
  CHECK(he.channels == 2);

  // 11101 0110 0001 0011 00010 000: PS, core 24000 mono, output 48000 (stereo after PS).
  auto v2 = must_parse_aac("eb098800");
  CHECK(v2.object_type == 29);
  CHECK(v2.sample_rate == 24000);
  CHECK(v2.channels == 1);

  // The extension's own explicit rate and ER BSAC's extensionChannelConfiguration are read past.
  CHECK(must_parse_aac("2c0f803e800800").sample_rate == 16000);
  CHECK(must_parse_aac("2b925880").object_type == 5);

  // 13 bits are not enough once SBR is signalled.
  CHECK_FALSE(parse_aac_config(hex("2b92")).ok());
  auto reserved = parse_aac_config(hex("2c0e8800"));  // extensionSamplingFrequencyIndex 13
  REQUIRE_FALSE(reserved.ok());
  CHECK(reserved.error() == "ASC: extension: samplingFrequencyIndex 13 is reserved");
  CHECK_FALSE(parse_aac_config(hex("2c098000")).ok());  // extension audioObjectType 0
  CHECK_FALSE(parse_aac_config(hex("2c09fc")).ok());    // escaped extension type cut short
}

TEST_CASE("audio config: escaped audio object type") {
  // 11111 001010 0011 0010: 31 escapes to 32 + 10 = 42 (USAC), 48000, stereo.
  auto usac = must_parse_aac("f94640");
  CHECK(usac.object_type == 42);
  CHECK(usac.sample_rate == 48000);
  CHECK(usac.channels == 2);

  // 31 + 63 = 95, the largest escaped type.
  CHECK(must_parse_aac("ffe640").object_type == 95);

  CHECK_FALSE(parse_aac_config(hex("f9")).ok());
  CHECK_FALSE(parse_aac_config(hex("f946")).ok());  // 19 bits needed, 16 given
}

TEST_CASE("audio config: sampling frequency indices") {
  const uint32_t rates[13] = {96000, 88200, 64000, 48000, 44100, 32000, 24000,
                              22050, 16000, 12000, 11025, 8000,  7350};
  for (uint8_t index = 0; index < 13; ++index) {
    CAPTURE(index);
    // 00010 iiii 0010 000
    const std::vector<uint8_t> asc{static_cast<uint8_t>(0x10 | index >> 1),
                                   static_cast<uint8_t>((index & 1) << 7 | 0x10)};
    auto config = parse_aac_config(asc);
    REQUIRE(config.ok());
    CHECK(config->sample_rate == rates[index]);
  }

  auto i13 = parse_aac_config(hex("1690"));
  REQUIRE_FALSE(i13.ok());
  CHECK(i13.error() == "ASC: samplingFrequencyIndex 13 is reserved");
  auto i14 = parse_aac_config(hex("1710"));
  REQUIRE_FALSE(i14.ok());
  CHECK(i14.error() == "ASC: samplingFrequencyIndex 14 is reserved");

  // 15: an explicit 24-bit rate follows. 00010 1111 <44100 in 24 bits> 0010 000
  auto explicit_rate = must_parse_aac("1780562210");
  CHECK(explicit_rate.sample_rate == 44100);
  CHECK(explicit_rate.channels == 2);

  auto missing = parse_aac_config(hex("1790"));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error() == "ASC: truncated explicit samplingFrequency");
  CHECK_FALSE(parse_aac_config(hex("178056")).ok());
  CHECK_FALSE(parse_aac_config(hex("17805622")).ok());    // one bit short of the rate
  CHECK_FALSE(parse_aac_config(hex("1780000010")).ok());  // explicit rate 0
}

TEST_CASE("audio config: channel configurations") {
  // 00010 0100 cccc 000: LC, 44100, channelConfiguration c.
  const uint8_t expected[8] = {0, 1, 2, 3, 4, 5, 6, 8};  // 0: in a PCE (not parsed); 7: 7.1
  for (uint8_t c = 0; c < 16; ++c) {
    CAPTURE(c);
    const std::vector<uint8_t> asc{0x12, static_cast<uint8_t>(c << 3)};
    auto config = parse_aac_config(asc);
    if (c < 8) {
      REQUIRE(config.ok());
      CHECK(config->channels == expected[c]);
    } else {
      REQUIRE_FALSE(config.ok());
      CHECK(config.error() == "ASC: channelConfiguration " + std::to_string(c) + " is not supported");
    }
  }
}

TEST_CASE("audio config: malformed AudioSpecificConfig") {
  auto empty = parse_aac_config({});
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.error() == "ASC: truncated audioObjectType (0 bytes)");
  CHECK_FALSE(parse_aac_config(hex("11")).ok());
  CHECK_FALSE(parse_aac_config(hex("12")).ok());
  auto null_object = parse_aac_config(hex("0190"));
  REQUIRE_FALSE(null_object.ok());
  CHECK(null_object.error() == "ASC: audioObjectType 0 (null object)");
}

TEST_CASE("audio config: MP3 headers from libmp3lame") {
  // 44100 stereo, 128 kbit/s: ff fb 90 64 = MPEG-1 layer III, no CRC, bitrate index 9, joint stereo.
  auto mpeg1 = must_parse_mp3("fffb9064");
  CHECK(mpeg1.sample_rate == 44100);
  CHECK(mpeg1.channels == 2);
  CHECK(mpeg1.samples_per_frame == 1152);
  CHECK(mpeg1.frame_size == 417);  // 144 * 128000 / 44100, as in the FLV tags (418 with the tag byte)
  CHECK(must_parse_mp3("fffb9264").frame_size == 418);  // padding bit

  // 22050 mono, 32 kbit/s: MPEG-2 layer III halves the frame to 576 samples.
  auto mpeg2 = must_parse_mp3("fff340c4");
  CHECK(mpeg2.sample_rate == 22050);
  CHECK(mpeg2.channels == 1);
  CHECK(mpeg2.samples_per_frame == 576);
  CHECK(mpeg2.frame_size == 104);

  // 8000 mono, 16 kbit/s raw .mp3 from libmp3lame: MPEG-2.5 (version bits 00).
  auto mpeg25 = must_parse_mp3("ffe328c4");
  CHECK(mpeg25.sample_rate == 8000);
  CHECK(mpeg25.channels == 1);
  CHECK(mpeg25.samples_per_frame == 576);
  CHECK(mpeg25.frame_size == 144);
}

TEST_CASE("audio config: MPEG audio layers I and II") {
  // ffmpeg's mp2 encoder, 48000 stereo 128 kbit/s with CRC: 384-byte frames in the .mp2 file.
  auto l2 = must_parse_mp3("fffd84c4");
  CHECK(l2.sample_rate == 48000);
  CHECK(l2.samples_per_frame == 1152);
  CHECK(l2.frame_size == 384);
  // 32000 mono 64 kbit/s: 288-byte frames.
  auto l2b = must_parse_mp3("fffd48c4");
  CHECK(l2b.sample_rate == 32000);
  CHECK(l2b.frame_size == 288);

  // MPEG-2 layer II, 160 kbit/s at 22050: 144 * 160000 / 22050.
  auto l2_lsf = must_parse_mp3("fff5e000");
  CHECK(l2_lsf.samples_per_frame == 1152);
  CHECK(l2_lsf.frame_size == 1044);

  // Layer I counts 4-byte slots: MPEG-1 384 kbit/s at 44100 is 104 slots, 105 with padding.
  auto l1 = must_parse_mp3("ffffc000");
  CHECK(l1.samples_per_frame == 384);
  CHECK(l1.frame_size == 416);
  CHECK(must_parse_mp3("ffffc200").frame_size == 420);
  // MPEG-2 layer I, 256 kbit/s at 24000: 128 slots.
  CHECK(must_parse_mp3("fff7e400").frame_size == 512);
}

TEST_CASE("audio config: malformed MPEG audio headers") {
  auto empty = parse_mp3_header({});
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.error() == "MP3: header needs 4 bytes, got 0");
  CHECK_FALSE(parse_mp3_header(hex("fffb90")).ok());

  CHECK(parse_mp3_header(hex("fefb9064")).error() == "MP3: no frame sync");
  CHECK(parse_mp3_header(hex("ff1b9064")).error() == "MP3: no frame sync");
  CHECK(parse_mp3_header(hex("00000000")).error() == "MP3: no frame sync");
  CHECK(parse_mp3_header(hex("49443304")).error() == "MP3: no frame sync");  // an ID3v2 tag
  CHECK(parse_mp3_header(hex("ffeb9064")).error() == "MP3: reserved version");
  CHECK(parse_mp3_header(hex("fff99064")).error() == "MP3: reserved layer");
  CHECK(parse_mp3_header(hex("fffb0064")).error() == "MP3: free-format bitrate is not supported");
  CHECK(parse_mp3_header(hex("fffbf064")).error() == "MP3: bad bitrate index 15");
  CHECK(parse_mp3_header(hex("fffb9c64")).error() == "MP3: reserved sampling frequency");
}
