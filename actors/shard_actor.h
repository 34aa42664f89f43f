// The shard actor: owns one Partition and runs every command on its keys, one batch per
// message. It is the only code that touches its partition, so the data needs no lock.
//
// With persistence, the mutations of each batch go to the persistence actor in one message
// (WalBuffer), and the batch's replies go with them: released once the records are written to
// the WAL file (with --fsync always, once they are synced). A snapshot walks the partition segment
// by segment, one block per message, so the shard keeps serving while it runs (the walk tolerates
// writes in between: replay of the WAL from the snapshot's LSN, gated by versions, brings every key
// up to date).
#ifndef DATABRIDGE_ACTORS_SHARD_ACTOR_H_
#define DATABRIDGE_ACTORS_SHARD_ACTOR_H_

#include <caf/all.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "actors/command_runner.h"
#include "actors/messages.h"
#include "actors/persistence_types.h"
#include "actors/shard_batch.h"
#include "actors/shard_metrics.h"
#include "actors/tier.h"
#include "actors/tier_io.h"
#include "actors/wal_buffer.h"
#include "core/partition.h"
#include "plugins/api/contexts.h"
#include "storage/snapshot.h"

namespace dbkv {

// How often a shard looks for expired keys to reclaim, and how many keys one slice (one
// message) may look at: slices are short so that requests run between them.
constexpr int kHousekeepIntervalMs = 100;
constexpr size_t kExpiryVisitsPerSlice = 2048;

// The memory a shard may use, and what it does at the limit.
struct ShardLimits {
  uint64_t max_memory = 0;  // this shard's share of --max-memory; 0: no limit
  EvictionPolicy eviction = EvictionPolicy::kNoEviction;
};

// Tiered storage for a shard (with a data dir and a memory limit): where its cold segments
// are, the server-wide segment table, and the tuning.
struct ShardTiering {
  std::string dir;  // empty: no tiering
  storage::Env* env = nullptr;
  TierSegments* segments = nullptr;
  TierOptions options;
};

struct ShardState {
  static inline const char* name = "dbkv.shard";
  uint32_t id = 0;
  uint32_t count = 1;
  std::unique_ptr<Partition> partition;
  std::unique_ptr<CommandRunner> runner;  // and the waiters (blocked commands) it owns
  int64_t timer_at_ms = 0;                // the earliest timer message in flight, or 0
  ShardLimits limits;
  bool housekeep_more = false;  // a continuation slice is queued
  // Tiered storage (null when off): the tier, its I/O actors, and a reader for the rare load
  // the shard must do itself.
  std::unique_ptr<Tier> tier;
  std::unique_ptr<TierIo> tier_io;
  std::unique_ptr<TierReaderFiles> sync_reader;
  tier_writer_actor tier_writer;
  tier_reader_actor tier_reader;

  ShardMetrics* metrics = nullptr;  // published after each message, if set
  // Persistence (null / empty when memory only).
  PersistenceState* persistence = nullptr;
  persistence_actor wal;
  WalBuffer wal_buffer;
  // Batches (and answered blocked ops) to hand back once this message is done.
  std::vector<ShardBatch*> deliveries;

  // The snapshot being written.
  struct Walk {
    bool active = false;
    uint64_t lsn = 0;
    snapshot_writer_actor writer;
    persistence_actor coordinator;
    std::vector<std::string> namespaces;
    size_t ns = 0;
    size_t segment = 0;
    uint64_t entries = 0;
    uint64_t max_version = 0;
    uint64_t blocks = 0;
  } walk;
};

// Runs every op of a batch against partition, in order, writing each reply; ops that block
// are parked in runner's waiters and removed from the batch. While persistence has failed
// (p->failed), write commands are refused with IOERR. Past limits->max_memory, writes first evict
// by policy, and are refused with OOM when nothing can be evicted (kCmdAllowOom writes still run).
// Exposed for tests and benchmarks that drive a shard without an actor system.
void RunBatch(Partition& partition, CommandRunner& runner, ShardBatch& batch,
              const PersistenceState* p = nullptr, const ShardLimits* limits = nullptr,
              Tier* tier = nullptr);
// One op of RunBatch, after the tier let it run: true if the waiters took it (it blocked).
bool RunOp(Partition& partition, CommandRunner& runner, ShardOp& op, BatchCompletion* completion,
           const PersistenceState* p, const ShardLimits* limits, const Tier* tier, int64_t now_ms);
// The same without blocking support (a blocking command gets an error).
void RunBatch(Partition& partition, uint32_t shard_id, uint32_t shard_count, ShardBatch& batch);

// partition: what recovery loaded (null: empty). persistence: null for memory only.
shard_actor SpawnShard(caf::actor_system& system, uint32_t id, uint32_t count,
                       std::unique_ptr<Partition> partition = nullptr,
                       PersistenceState* persistence = nullptr, ShardMetrics* metrics = nullptr,
                       ShardLimits limits = ShardLimits(), ShardTiering tiering = ShardTiering());

}  // namespace dbkv

#endif  // DATABRIDGE_ACTORS_SHARD_ACTOR_H_
