// Time sources. Expiry times are wall-clock milliseconds since the Unix epoch.
#ifndef DATABRIDGE_CORE_CLOCK_H_
#define DATABRIDGE_CORE_CLOCK_H_

#include <cstdint>
#include <ctime>

namespace dbkv {

inline int64_t WallClockMs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

inline int64_t MonotonicNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace dbkv

#endif  // DATABRIDGE_CORE_CLOCK_H_
