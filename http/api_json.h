// JSON views of stream snapshots for the API.
#pragma once

#include <nlohmann/json.hpp>

#include "segmenter/stream_store.h"

namespace livegate {

nlohmann::json stream_json(const StreamSnapshot& s);

}  // namespace livegate
