// RAII owners for the FFmpeg objects the segmenter uses, so every exit path frees them.
#pragma once

#include <memory>

extern "C" {
#include <libavcodec/packet.h>
#include <libavformat/avformat.h>
#include <libavformat/avio.h>
#include <libavutil/mem.h>
}

namespace livegate {

struct AvFormatContextDeleter {
  // Muxer contexts only: a demuxer opened with avformat_open_input needs avformat_close_input instead.
  void operator()(AVFormatContext* ctx) const noexcept { avformat_free_context(ctx); }
};

struct AvioContextDeleter {
  void operator()(AVIOContext* io) const noexcept {
    if (io == nullptr) return;
    // libavformat may have replaced the buffer we handed it, so free the one it holds now, not ours.
    av_freep(&io->buffer);
    avio_context_free(&io);
  }
};

struct AvPacketDeleter {
  void operator()(AVPacket* pkt) const noexcept { av_packet_free(&pkt); }
};

using FormatContextPtr = std::unique_ptr<AVFormatContext, AvFormatContextDeleter>;
using AvioContextPtr = std::unique_ptr<AVIOContext, AvioContextDeleter>;
using PacketPtr = std::unique_ptr<AVPacket, AvPacketDeleter>;

}  // namespace livegate
