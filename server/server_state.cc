// ServerState::Info: what INFO and /metrics report about the process (memory, connections,
// options, persistence and tiering counters).
#include "server/server_state.h"

#include "core/clock.h"
#include "core/version.h"
#include "server/allocator.h"

namespace dbkv {

ServerInfo ServerState::Info() const {
  ServerInfo info;
  info.counters.push_back({"rss_bytes", RssBytes()});
  info.counters.push_back({"allocated_bytes", AllocatedBytes()});
  info.version = kVersion;
  info.uptime_s = (WallClockMs() - start_ms) / 1000;
  info.connections = connections.load(std::memory_order_relaxed);
  info.shards = static_cast<uint32_t>(shards.size());
  info.workers = options.workers;
  info.io_threads = options.io_threads;
  info.data_dir = options.data_dir;
  info.max_memory = options.max_memory;
  if (tier_segments != nullptr) {
    const TierSegments& t = *tier_segments;
    info.counters.push_back({"disk_bytes", static_cast<int64_t>(t.disk_bytes())});
    info.counters.push_back({"cold_segments", static_cast<int64_t>(t.segment_count())});
    info.counters.push_back({"spilled_bytes", static_cast<int64_t>(t.spilled_bytes.load())});
    info.counters.push_back({"spilled_values", static_cast<int64_t>(t.spilled_values.load())});
    info.counters.push_back({"loaded_bytes", static_cast<int64_t>(t.loaded_bytes.load())});
    info.counters.push_back({"cold_reads", static_cast<int64_t>(t.cold_reads.load())});
    info.counters.push_back({"cold_read_errors", static_cast<int64_t>(t.cold_read_errors.load())});
    info.counters.push_back({"cold_sync_loads", static_cast<int64_t>(t.sync_loads.load())});
    info.counters.push_back({"promoted", static_cast<int64_t>(t.promoted.load())});
    info.counters.push_back({"compactions", static_cast<int64_t>(t.compactions.load())});
    info.counters.push_back({"compacted_bytes", static_cast<int64_t>(t.compacted_bytes.load())});
    info.counters.push_back({"deleted_segments", static_cast<int64_t>(t.deleted_segments.load())});
  }
  info.eviction = options.eviction;
  if (persistence != nullptr) {
    info.fsync = options.fsync;
    info.counters.insert(
        info.counters.begin(),
        {
            {"wal_bytes", static_cast<int64_t>(persistence->wal_bytes.load())},
            {"wal_records", static_cast<int64_t>(persistence->wal_records.load())},
            {"wal_fsyncs", static_cast<int64_t>(persistence->fsyncs.load())},
            {"wal_next_lsn", static_cast<int64_t>(persistence->next_lsn.load())},
            {"wal_failed", persistence->failed.load() ? 1 : 0},
            {"snapshots", static_cast<int64_t>(persistence->snapshots.load())},
            {"last_snapshot_lsn", static_cast<int64_t>(persistence->last_snapshot_lsn.load())},
            {"last_snapshot_ms", persistence->last_snapshot_ms.load()},
        });
  }
  return info;
}

}  // namespace dbkv
