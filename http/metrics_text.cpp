// Prometheus text exposition format 0.0.4.
#include "http/metrics_text.h"

namespace livegate {

std::string render_metrics(const Metrics& metrics, const StreamStore& store) {
  std::string out = metrics.render();
  const ServerStats st = store.stats();
  auto gauge = [&out](const char* name, const char* help, uint64_t value) {
    out.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out.append("# TYPE ").append(name).append(" gauge\n");
    out.append(name).append(" ").append(std::to_string(value)).append("\n");
  };
  gauge("livegate_rtmp_connections", "Open RTMP connections.", st.rtmp_connections);
  gauge("livegate_streams_live", "Streams being published.", st.streams_live);
  gauge("livegate_hls_streams", "Streams whose HLS output is held (live or ended, within retention).",
        st.hls_streams);
  gauge("livegate_hls_bytes_held", "Bytes of MPEG-TS segments held in memory.", st.hls_bytes_held);
  return out;
}

}  // namespace livegate
