// Small FFmpeg helpers shared by the muxers.
#include "segmenter/ff_util.h"

#include <climits>
#include <cstdarg>
#include <cstring>
#include <mutex>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>
}

#include "common/log.h"

namespace livegate {

std::string av_error_text(int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(err, buf, sizeof buf);
  return buf;
}

int set_extradata(AVCodecParameters* par, const uint8_t* data, size_t size) {
  auto* copy = static_cast<uint8_t*>(av_mallocz(size + AV_INPUT_BUFFER_PADDING_SIZE));
  if (copy == nullptr) return AVERROR(ENOMEM);
  if (size > 0) std::memcpy(copy, data, size);
  par->extradata = copy;
  par->extradata_size = static_cast<int>(size);
  return 0;
}

uint8_t* reuse_packet_buffer(AVPacket* pkt, size_t size) {
  constexpr size_t kPadding = AV_INPUT_BUFFER_PADDING_SIZE;
  if (size > static_cast<size_t>(INT_MAX) / 2 - kPadding) return nullptr;
  if (pkt->buf == nullptr || !av_buffer_is_writable(pkt->buf) || pkt->buf->size < size + kPadding) {
    av_packet_unref(pkt);
    // Headroom so a stream whose frames slowly grow does not reallocate on each new maximum.
    if (av_new_packet(pkt, static_cast<int>(size + size / 4)) < 0) return nullptr;
  }
  pkt->data = pkt->buf->data;
  pkt->size = static_cast<int>(size);
  std::memset(pkt->data + size, 0, kPadding);
  return pkt->data;
}

Status open_memory_output(const char* format, int io_size, void* opaque, WriteCallback write,
                          FormatContextPtr& ctx, AvioContextPtr& io, PacketPtr& pkt) {
  AVFormatContext* raw = nullptr;
  const int ret = avformat_alloc_output_context2(&raw, nullptr, format, nullptr);
  ctx.reset(raw);
  if (ret < 0) return wrap(std::string("allocate ") + format + " context", av_error_text(ret));
  pkt.reset(av_packet_alloc());
  if (!pkt) return Error{"allocate packet: out of memory"};
  auto* buffer = static_cast<uint8_t*>(av_malloc(static_cast<size_t>(io_size)));
  if (buffer == nullptr) return Error{"allocate IO buffer: out of memory"};
  io.reset(avio_alloc_context(buffer, io_size, 1, opaque, nullptr, write, nullptr));
  if (!io) {
    av_free(buffer);
    return Error{"allocate IO context: out of memory"};
  }
  ctx->pb = io.get();
  ctx->flags |= AVFMT_FLAG_CUSTOM_IO;
  return {};
}

namespace {

// FFmpeg's own callback writes to stderr on the calling thread, the loop thread here: a stderr that
// stops draining would stop the loop. Through our logger the line is queued (or dropped and counted).
void log_ffmpeg_line(void* avcl, int level, const char* fmt, va_list args) {
  if (level > av_log_get_level()) return;
  char line[1024];
  int print_prefix = 1;
  av_log_format_line2(avcl, level, fmt, args, line, sizeof line, &print_prefix);
  std::string_view text(line);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  if (!text.empty()) log_line(level <= AV_LOG_ERROR ? LogLevel::error : LogLevel::debug, "ffmpeg", text);
}

}  // namespace

void quiet_ffmpeg_log() {
  static std::once_flag once;
  std::call_once(once, [] {
    av_log_set_level(log_enabled(LogLevel::debug) ? AV_LOG_WARNING : AV_LOG_ERROR);
    av_log_set_callback(&log_ffmpeg_line);
  });
}

}  // namespace livegate
