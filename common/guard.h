// The boundary between libuv's C callbacks (or a worker thread's loop) and our C++: no exception may
// unwind through C frames, which would end the process.
#pragma once

#include <exception>
#include <string>

#include "common/log.h"

namespace livegate {

// Runs `work`; an exception is logged as an internal error in `where` and goes no further. For callbacks
// that own nothing to close (timers, accept, posted work); a connection closes itself instead.
template <class F>
void guard_callback(const char* where, F&& work) noexcept {
  try {
    work();
  } catch (const std::exception& e) {
    log_error("main", std::string("internal error in ") + where + ": " + e.what());
  } catch (...) {
    log_error("main", std::string("internal error in ") + where);
  }
}

}  // namespace livegate
