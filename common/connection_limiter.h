// Connections open at once, in all and per peer address: admission at accept, and a slot that gives its
// place back when released or destroyed, so no path can leave a count (or an address entry) behind.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

namespace livegate {

class ConnectionLimiter {
 public:
  enum class Refusal { none, total, per_ip };

  // A place taken by one connection; empty when default-made or refused.
  class Slot {
   public:
    Slot() = default;
    Slot(Slot&& o) noexcept : limiter_(std::exchange(o.limiter_, nullptr)), ip_(std::move(o.ip_)) {}
    Slot& operator=(Slot&& o) noexcept {
      if (this != &o) {
        release();
        limiter_ = std::exchange(o.limiter_, nullptr);
        ip_ = std::move(o.ip_);
      }
      return *this;
    }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { release(); }
    explicit operator bool() const noexcept { return limiter_ != nullptr; }
    void release() noexcept {
      if (ConnectionLimiter* l = std::exchange(limiter_, nullptr)) l->give_back(ip_);
    }

   private:
    friend class ConnectionLimiter;
    Slot(ConnectionLimiter* limiter, std::string ip) : limiter_(limiter), ip_(std::move(ip)) {}
    ConnectionLimiter* limiter_ = nullptr;
    std::string ip_;
  };

  ConnectionLimiter(uint32_t max_total, uint32_t max_per_ip)
      : max_total_(max_total), max_per_ip_(max_per_ip) {}
  ConnectionLimiter(const ConnectionLimiter&) = delete;
  ConnectionLimiter& operator=(const ConnectionLimiter&) = delete;

  // Any thread. A slot, or an empty one with `refused` saying which limit was full.
  Slot acquire(const std::string& ip, Refusal& refused) {
    std::lock_guard lock(mu_);
    refused = Refusal::none;
    if (total_ >= max_total_) {
      refused = Refusal::total;
      return {};
    }
    const auto it = per_ip_.find(ip);
    if (it != per_ip_.end() && it->second >= max_per_ip_) {
      refused = Refusal::per_ip;
      return {};
    }
    ++total_;
    ++per_ip_[ip];
    return Slot(this, ip);
  }

  uint32_t total() const {
    std::lock_guard lock(mu_);
    return total_;
  }
  // Addresses with an open connection: the table never holds one with none.
  size_t addresses() const {
    std::lock_guard lock(mu_);
    return per_ip_.size();
  }

 private:
  void give_back(const std::string& ip) noexcept {
    std::lock_guard lock(mu_);
    --total_;
    if (auto it = per_ip_.find(ip); it != per_ip_.end() && --it->second == 0) per_ip_.erase(it);
  }

  const uint32_t max_total_;
  const uint32_t max_per_ip_;
  mutable std::mutex mu_;  // HTTP loops on several threads share one limiter; held for a map update only
  uint32_t total_ = 0;
  std::unordered_map<std::string, uint32_t> per_ip_;
};

}  // namespace livegate
