// JSON views of stream snapshots for the API.
#pragma once

#include <nlohmann/json.hpp>

#include "segmenter/stream_store.h"

namespace livegate {

// `hls` may be null (no segment yet, or already expired). The publisher's address is only in the
// operators' view (`with_address`): the public API must not tell the world where encoders are.
nlohmann::json stream_json(const StreamSnapshot& s, const HlsSnapshot* hls, bool with_address);

}  // namespace livegate
