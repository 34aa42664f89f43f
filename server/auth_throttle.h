// AuthThrottle: wrong passwords counted per client address, across its connections.
//
// Each wrong password is answered late (Connection holds its replies): 250 ms, doubling with
// every failure in a row from the same address, up to 4 s. Counting per address rather than per
// connection means reconnecting does not reset the delay, so guessing stays slow for a client
// that opens a new connection per guess. A right password from the address clears its count;
// so does a minute without failures. Only the failing connection waits: other clients, and
// other connections from the same address, are served as usual.
//
// Thread-safe (every I/O loop shares one). The table is bounded: past max_sources addresses,
// the one whose last failure is oldest is forgotten.
#ifndef DATABRIDGE_SERVER_AUTH_THROTTLE_H_
#define DATABRIDGE_SERVER_AUTH_THROTTLE_H_

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace dbkv {

class AuthThrottle {
 public:
  static constexpr int64_t kFirstDelayMs = 250;
  static constexpr int64_t kMaxDelayMs = 4000;
  // A failure this long after the address's previous one starts a new count.
  static constexpr int64_t kForgetAfterMs = 60000;

  explicit AuthThrottle(size_t max_sources = 10000) : max_sources_(max_sources) {}

  // A wrong password from source at now_ms: how long to hold the answer (ms), and the number
  // of failures in a row from that source, this one included.
  struct Penalty {
    int64_t delay_ms = 0;
    int failures = 0;
  };
  Penalty OnFailure(const std::string& source, int64_t now_ms);
  // The right password from source: its count starts over.
  void OnSuccess(const std::string& source);

  size_t sources() const;

 private:
  struct Record {
    int failures = 0;
    int64_t last_ms = 0;
  };

  const size_t max_sources_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Record> records_;
};

}  // namespace dbkv

#endif  // DATABRIDGE_SERVER_AUTH_THROTTLE_H_
