// Errors as values. The server never throws: every fallible operation returns a Status or a
// StatusOr<T>, and one table (status.cc) maps each code to its wire code and error text.
#ifndef DATABRIDGE_CORE_STATUS_H_
#define DATABRIDGE_CORE_STATUS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace dbkv {

// The numeric values are part of the wire protocol (protocol/PROTOCOL.md, "Error codes"):
// never renumber, only append.
enum class Code : uint8_t {
  kOk = 0,
  kInvalidArgument = 1,  // syntax, arity, bad option, value not representable
  kUnknownCommand = 2,   // no command of that name or opcode is registered
  kWrongType = 3,        // operation against a key holding the wrong kind of value
  kOverflow = 4,         // numeric result out of range (int64, Decimal digits)
  kProtocol = 5,         // malformed frame or payload
  kFrameTooLarge = 6,    // frame longer than --max-frame-bytes
  kAuth = 7,             // not authenticated, or wrong password
  kOutOfMemory = 8,      // write refused by --max-memory with noeviction
  kIoError = 9,          // disk write or read failed
  kTimeout = 10,         // a deadline passed
  kBusy = 11,            // server shutting down, or a limit was reached
  kCorruption = 12,      // checksum or format error in a file
  kInternal = 13,        // a bug: should never be seen
  kNotOwner = 14,        // lock operation by a token that does not hold the lock
  kNotFound = 15,        // the key (or file) does not exist where it must
  kCrossShard = 16,      // a command's keys must be on one shard and are not
};

// Short upper-case name of a code, used as the first word of error texts ("WRONGTYPE ...").
std::string_view CodeName(Code code);

// [[nodiscard]]: a Status (or StatusOr) that is returned must be looked at, or dropped on
// purpose with IgnoreError().
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status OK() { return Status(); }
  static Status InvalidArgument(std::string msg) {
    return {Code::kInvalidArgument, std::move(msg)};
  }
  static Status WrongType() {
    return {Code::kWrongType, "Operation against a key holding the wrong kind of value"};
  }
  static Status Overflow(std::string msg) { return {Code::kOverflow, std::move(msg)}; }
  static Status Protocol(std::string msg) { return {Code::kProtocol, std::move(msg)}; }
  static Status IoError(std::string msg) { return {Code::kIoError, std::move(msg)}; }
  static Status Corruption(std::string msg) { return {Code::kCorruption, std::move(msg)}; }
  static Status NotFound(std::string msg) { return {Code::kNotFound, std::move(msg)}; }
  static Status Internal(std::string msg) { return {Code::kInternal, std::move(msg)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // "WRONGTYPE Operation against ..." — the text a client shows.
  std::string ToString() const;

  // Drops the status on purpose (the class is [[nodiscard]]): where a failure changes nothing
  // for the caller, say why at the call.
  void IgnoreError() const {}

  bool operator==(const Status& o) const { return code_ == o.code_ && message_ == o.message_; }

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

// A value or the Status explaining why there is none. Accessing value() of a failed StatusOr
// is a bug (checked in debug builds).
template <class T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(T value) : value_(std::move(value)) {}          // NOLINT: implicit by design
  StatusOr(Status status) : status_(std::move(status)) {}  // NOLINT: implicit by design

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace dbkv

#endif  // DATABRIDGE_CORE_STATUS_H_
