// RAII ownership of a libuv handle: the uv struct lives on the heap, its data pointer names the owner,
// and closing clears that pointer and lets the close callback free the struct, so a callback that
// arrives after the owner is gone finds nullptr instead of freed memory.
#pragma once

#include <uv.h>

#include <memory>
#include <utility>

namespace livegate {

template <class T>
class UvHandle {
 public:
  UvHandle() = default;
  UvHandle(const UvHandle&) = delete;
  UvHandle& operator=(const UvHandle&) = delete;
  UvHandle(UvHandle&& o) noexcept : h_(std::move(o.h_)) {}
  UvHandle& operator=(UvHandle&& o) noexcept {
    if (this != &o) {
      close();
      h_ = std::move(o.h_);
    }
    return *this;
  }
  ~UvHandle() { close(); }

  // Initialises a fresh handle with `init(loop, T*, args...)` (uv_tcp_init, uv_timer_init, ...);
  // `owner` becomes handle->data. Returns the libuv status.
  template <class Init, class... Args>
  int init(Init init_fn, uv_loop_t* loop, void* owner, Args&&... args) {
    close();
    auto h = std::make_unique<T>();
    const int rc = init_fn(loop, h.get(), std::forward<Args>(args)...);
    if (rc != 0) return rc;  // libuv leaves a handle whose init failed unregistered
    h_ = std::move(h);
    handle()->data = owner;
    return 0;
  }

  T* get() const noexcept { return h_.get(); }
  uv_handle_t* handle() const noexcept { return reinterpret_cast<uv_handle_t*>(h_.get()); }
  uv_stream_t* stream() const noexcept { return reinterpret_cast<uv_stream_t*>(h_.get()); }
  explicit operator bool() const noexcept { return h_ != nullptr; }

  void close() noexcept {
    if (!h_) return;
    uv_handle_t* raw = reinterpret_cast<uv_handle_t*>(h_.release());
    raw->data = nullptr;
    uv_close(raw, [](uv_handle_t* h) { std::unique_ptr<T>(reinterpret_cast<T*>(h)); });
  }

 private:
  std::unique_ptr<T> h_;
};

// The owner behind a handle, or nullptr once the owner has closed it.
template <class Owner, class H>
Owner* owner_of(H* h) noexcept {
  return static_cast<Owner*>(reinterpret_cast<uv_handle_t*>(h)->data);
}

}  // namespace livegate
