// Small pieces both muxers need from FFmpeg: error text, extradata with its padding, a reused packet
// buffer, and FFmpeg's own log kept out of ours.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" {
#include <libavcodec/packet.h>
#include <libavformat/avformat.h>
}

#include "common/result.h"
#include "segmenter/ff_ptr.h"

namespace livegate {

// A muxer writing into memory: an output context for `format` whose bytes go to `write(opaque, ...)`
// through a custom IO context with a buffer of `io_size` bytes, and the packet it reuses. The caller
// keeps `io` alive longer than `ctx` (declare it first).
using WriteCallback = int (*)(void* opaque, uint8_t* buf, int size);
Status open_memory_output(const char* format, int io_size, void* opaque, WriteCallback write,
                          FormatContextPtr& ctx, AvioContextPtr& io, PacketPtr& pkt);

std::string av_error_text(int err);

// Copies `size` bytes into par->extradata, with the zeroed padding libavformat's bit readers need.
int set_extradata(AVCodecParameters* par, const uint8_t* data, size_t size);

// Room for `size` bytes (and zeroed padding) in `pkt`, reusing its buffer when libavformat has let go of
// it: one allocation per bigger-than-ever frame, not one per frame. nullptr when out of memory.
uint8_t* reuse_packet_buffer(AVPacket* pkt, size_t size);

// Once per process: libavformat's notices ("frame size not set", ...) are kept for log_level debug, and
// every line it does log goes through our logger (never written to stderr by the loop thread itself);
// failures still reach the log through the Status values the muxers return.
void quiet_ffmpeg_log();

}  // namespace livegate
