// Runs functions on the loop thread on behalf of other threads (uv_async), e.g. a worker's answer.
#pragma once

#include <uv.h>

#include <functional>
#include <mutex>
#include <vector>

#include "common/guard.h"
#include "common/uv_handle.h"

namespace livegate {

class LoopPoster {
 public:
  explicit LoopPoster(uv_loop_t* loop) {
    async_.init(uv_async_init, loop, this, [](uv_async_t* a) {
      if (auto* self = owner_of<LoopPoster>(a)) self->run();
    });
  }

  // Any thread. After close() the function is dropped: the loop is going away.
  void post(std::function<void()> fn) {
    std::lock_guard lock(mu_);
    if (!async_) return;
    queue_.push_back(std::move(fn));
    uv_async_send(async_.get());
  }

  // Loop thread, at shutdown: the async handle would otherwise keep the loop running.
  void close() {
    std::lock_guard lock(mu_);
    async_.close();
    queue_.clear();
  }

 private:
  void run() {
    std::vector<std::function<void()>> batch;
    {
      std::lock_guard lock(mu_);
      batch.swap(queue_);
    }
    for (auto& fn : batch) guard_callback("posted work", fn);
  }

  std::mutex mu_;
  std::vector<std::function<void()>> queue_;
  UvHandle<uv_async_t> async_;
};

}  // namespace livegate
