// The /metrics page: the process-wide series plus the gauges derived from the stream store.
#pragma once

#include <string>

#include "common/metrics.h"
#include "segmenter/stream_store.h"

namespace livegate {

std::string render_metrics(const Metrics& metrics, const StreamStore& store);

}  // namespace livegate
