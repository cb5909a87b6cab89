// JSON views of stream snapshots for the API.
#pragma once

#include <nlohmann/json.hpp>

#include "segmenter/stream_store.h"

namespace livegate {

// `hls` may be null (no segment yet, or already expired).
nlohmann::json stream_json(const StreamSnapshot& s, const HlsSnapshot* hls);

}  // namespace livegate
