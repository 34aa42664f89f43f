// What the data port (listener.cc) and the HTTP port (http_server.cc) do when accept fails
// (EMFILE, ENFILE, ENOBUFS...): the connection stays queued, so accepting again at once fails
// at once, in a busy loop that also logs every failure. They wait kAcceptRetryDelay before the
// next accept, and log the first failure, then at most one every kAcceptWarnEvery.
#ifndef DATABRIDGE_SERVER_ACCEPT_RETRY_H_
#define DATABRIDGE_SERVER_ACCEPT_RETRY_H_

#include <spdlog/spdlog.h>

#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstdint>
#include <optional>

namespace dbkv {

constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(100);
constexpr auto kAcceptWarnEvery = std::chrono::seconds(10);

class AcceptFailureLog {
 public:
  // what: the log line's start, e.g. "accept failed".
  explicit AcceptFailureLog(const char* what) : what_(what) {}

  void Failed(const boost::system::error_code& ec) {
    const auto now = std::chrono::steady_clock::now();
    if (last_ && now - *last_ < kAcceptWarnEvery) {
      ++unlogged_;
      return;
    }
    if (unlogged_ == 0) {
      spdlog::warn("{}: {} (retrying every {} ms)", what_, ec.message(), kAcceptRetryDelay.count());
    } else {
      spdlog::warn("{}: {} ({} more failures since the last warning)", what_, ec.message(),
                   unlogged_);
    }
    last_ = now;
    unlogged_ = 0;
  }

 private:
  const char* what_;
  std::optional<std::chrono::steady_clock::time_point> last_;
  uint64_t unlogged_ = 0;
};

}  // namespace dbkv

#endif  // DATABRIDGE_SERVER_ACCEPT_RETRY_H_
