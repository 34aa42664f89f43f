// ShardMetrics: a shard's partition counters, published by the shard (relaxed atomics) after
// each message, read by metrics scrapes and INFO without a message to the shard.
#ifndef DATABRIDGE_ACTORS_SHARD_METRICS_H_
#define DATABRIDGE_ACTORS_SHARD_METRICS_H_

#include <atomic>
#include <cstdint>

#include "core/partition.h"

namespace dbkv {

struct ShardMetrics {
  std::atomic<uint64_t> keys{0};
  std::atomic<uint64_t> memory_bytes{0};
  std::atomic<uint64_t> expired_keys{0};
  std::atomic<uint64_t> evicted_keys{0};
  std::atomic<uint64_t> hits{0};
  std::atomic<uint64_t> misses{0};
  std::atomic<uint64_t> blocked{0};
  std::atomic<uint64_t> cold_keys{0};
  std::atomic<uint64_t> cold_bytes{0};

  void Publish(const PartitionStats& s, uint64_t blocked_now) {
    keys.store(s.keys, std::memory_order_relaxed);
    memory_bytes.store(s.memory_bytes, std::memory_order_relaxed);
    expired_keys.store(s.expired_keys, std::memory_order_relaxed);
    evicted_keys.store(s.evicted_keys, std::memory_order_relaxed);
    hits.store(s.hits, std::memory_order_relaxed);
    misses.store(s.misses, std::memory_order_relaxed);
    blocked.store(blocked_now, std::memory_order_relaxed);
    cold_keys.store(s.cold_keys, std::memory_order_relaxed);
    cold_bytes.store(s.cold_bytes, std::memory_order_relaxed);
  }
};

}  // namespace dbkv

#endif  // DATABRIDGE_ACTORS_SHARD_METRICS_H_
