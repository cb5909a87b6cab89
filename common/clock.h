// Wall-clock time as Unix milliseconds, for program date times, logs and the API.
#pragma once

#include <chrono>
#include <cstdint>

namespace livegate {

inline int64_t unix_ms_now() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace livegate
