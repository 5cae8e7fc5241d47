// Errors are values: every fallible call below the FUSE layer returns a Result
// carrying either a value or a POSIX errno plus a human-readable message.
#pragma once
#include <cerrno>
#include <string>
#include <utility>

namespace s3l {

struct Status {
  int err = 0;          // 0 = success, otherwise a positive errno value
  std::string msg;      // why, for logs and CLI messages (never contains secrets)
  bool ok() const { return err == 0; }
  static Status Ok() { return {}; }
  static Status Error(int e, std::string m) { return {e, std::move(m)}; }
};

template <class T>
struct Result {
  Status status;
  T value{};
  Result() = default;
  Result(T v) : value(std::move(v)) {}            // NOLINT: implicit on purpose
  Result(Status s) : status(std::move(s)) {}      // NOLINT
  bool ok() const { return status.ok(); }
  int err() const { return status.err; }
  const std::string& msg() const { return status.msg; }
  T& operator*() { return value; }
  const T& operator*() const { return value; }
  T* operator->() { return &value; }
  const T* operator->() const { return &value; }
};

}  // namespace s3l
