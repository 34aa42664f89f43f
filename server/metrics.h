// Metrics: counters kept where the work happens, read only when Prometheus scrapes.
//
// Nothing here takes a lock on the request path: each I/O loop counts its commands in its own
// CommandMetrics (relaxed atomics written by that loop's thread alone), each shard publishes its
// partition counters into its ShardMetrics at the end of every message, and a scrape sums them.
// A scrape never walks the data and never messages a shard.
#ifndef DATABRIDGE_SERVER_METRICS_H_
#define DATABRIDGE_SERVER_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "actors/shard_metrics.h"
#include "core/partition.h"
#include "core/status.h"

namespace dbkv {

struct ServerState;

// Command latency buckets (seconds), as in Prometheus' defaults but finer at the low end.
constexpr std::array<double, 16> kLatencyBuckets = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                                    0.005,   0.01,   0.025,   0.05,   0.1,   0.25,
                                                    0.5,     1,      2.5,     10};
constexpr size_t kStatusCodes = 32;

// One I/O loop's command counters: per command, per status code, and a latency histogram.
class CommandMetrics {
 public:
  // commands: the registry's size; index `commands` counts unknown commands.
  explicit CommandMetrics(size_t commands);

  // Loop thread only.
  void Record(uint32_t command, Code code, int64_t duration_ns);

  size_t commands() const { return per_command_.size(); }
  uint64_t count(uint32_t command, uint32_t code) const {
    return per_command_[command].by_code[code].load(std::memory_order_relaxed);
  }
  uint64_t bucket(uint32_t command, size_t b) const {
    return per_command_[command].buckets[b].load(std::memory_order_relaxed);
  }
  uint64_t sum_ns(uint32_t command) const {
    return per_command_[command].sum_ns.load(std::memory_order_relaxed);
  }

 private:
  struct PerCommand {
    std::array<std::atomic<uint64_t>, kStatusCodes> by_code{};
    std::array<std::atomic<uint64_t>, kLatencyBuckets.size() + 1> buckets{};  // last: +Inf
    std::atomic<uint64_t> sum_ns{0};
  };
  std::vector<PerCommand> per_command_;
};

// The Prometheus text exposition of everything the server counts.
std::string RenderMetrics(const ServerState& state);

}  // namespace dbkv

#endif  // DATABRIDGE_SERVER_METRICS_H_
