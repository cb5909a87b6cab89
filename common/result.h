// Errors as values: a Result<T> holds either a T or the reason it could not be produced.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace livegate {

struct Error {
  std::string reason;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit on purpose, `return value;`
  Result(Error error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const std::string& error() const { return std::get<1>(v_).reason; }

 private:
  std::variant<T, Error> v_;
};

// A status without a value: `Status{}` is success, `Status{Error{"why"}}` a failure.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : failed_(true), reason_(std::move(error.reason)) {}  // NOLINT
  bool ok() const noexcept { return !failed_; }
  explicit operator bool() const noexcept { return ok(); }
  const std::string& error() const noexcept { return reason_; }

 private:
  bool failed_ = false;
  std::string reason_;
};

// Adds context as an error travels up: wrap("avcC", e) -> "avcC: <reason>".
inline Error wrap(std::string_view context, const std::string& reason) {
  return Error{std::string(context) + ": " + reason};
}

}  // namespace livegate
