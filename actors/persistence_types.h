// What the persistence actors, the shards and INFO share: the options, the shared counters and
// failure flag, and the WAL messages' payloads (actors/messages.h has the messages).
#ifndef DATABRIDGE_ACTORS_PERSISTENCE_TYPES_H_
#define DATABRIDGE_ACTORS_PERSISTENCE_TYPES_H_

#include <array>
#include <atomic>
#include <caf/allowed_unsafe_message_type.hpp>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "actors/shard_batch.h"
#include "actors/tier_io.h"
#include "storage/env.h"

namespace dbkv {

enum class FsyncMode { kAlways, kPeriodic, kNever };

struct PersistenceOptions {
  std::string dir;
  FsyncMode fsync = FsyncMode::kPeriodic;
  uint32_t fsync_interval_ms = 100;
  uint64_t wal_file_bytes = uint64_t{64} << 20;  // rotate past this
  uint32_t snapshot_interval_s = 3600;           // 0: no timed snapshots
  uint64_t snapshot_every_writes = 1000000;      // 0: no count-triggered snapshots
  storage::Env* env = nullptr;
  // Tiered storage's segment table, or null: dead cold segments are deleted once no kept
  // snapshot can reference them, and many of them prompt a snapshot.
  TierSegments* tier_segments = nullptr;
};

// fsync latency buckets (seconds).
constexpr std::array<double, 12> kFsyncBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                  0.01,   0.025,   0.05,   0.1,   0.25,   1};

// What shards, the persistence actor and INFO share.
struct PersistenceState {
  FsyncMode mode = FsyncMode::kPeriodic;
  // Set while the WAL cannot be written (disk full, I/O error): shards refuse writes.
  std::atomic<bool> failed{false};
  std::mutex mu;
  std::string failure;  // why, while failed (guarded by mu)

  std::atomic<uint64_t> next_lsn{1};
  std::atomic<uint64_t> wal_bytes{0};  // written since start
  std::atomic<uint64_t> wal_records{0};
  std::atomic<uint64_t> fsyncs{0};
  std::atomic<uint64_t> fsync_us_total{0};
  std::array<std::atomic<uint64_t>, kFsyncBuckets.size() + 1> fsync_buckets{};  // last: +Inf
  std::atomic<uint64_t> snapshots{0};
  std::atomic<uint64_t> last_snapshot_lsn{0};
  std::atomic<int64_t> last_snapshot_ms{0};
  std::atomic<bool> snapshot_running{false};

  std::string Failure() {
    std::lock_guard<std::mutex> lock(mu);
    return failure;
  }

  // Counts one successful fdatasync that took ns (any thread).
  void RecordSync(int64_t ns) {
    fsyncs.fetch_add(1, std::memory_order_relaxed);
    fsync_us_total.fetch_add(static_cast<uint64_t>(ns / 1000), std::memory_order_relaxed);
    size_t b = 0;
    while (b < kFsyncBuckets.size() && static_cast<double>(ns) * 1e-9 > kFsyncBuckets[b]) ++b;
    fsync_buckets[b].fetch_add(1, std::memory_order_relaxed);
  }
};

// A WAL file handed to the syncer: shared, so that it stays open while the syncer uses it,
// whatever the persistence actor does with it meanwhile.
struct WalFileRef {
  std::shared_ptr<storage::WritableFile> file;
};

// One shard batch's WAL mutations, and the batches whose replies wait for them.
struct WalWrite {
  uint32_t shard = 0;
  uint32_t count = 0;
  std::string mutations;
  std::vector<ShardBatch*> held;
};
struct WalWritePtr {
  WalWrite* write = nullptr;
};

}  // namespace dbkv

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(dbkv::WalWritePtr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(dbkv::WalFileRef)

#endif  // DATABRIDGE_ACTORS_PERSISTENCE_TYPES_H_
