// Persistence: the write-ahead log (group commit) and snapshot coordination, as a CAF actor,
// plus the snapshot writer actor. With --fsync always the WAL actor is detached (its fdatasyncs
// never hold a shard or an I/O loop); otherwise it only writes (to the page cache) and is
// scheduled like a shard: the I/O loop whose batch it logs runs it (server/io_loop.h).
//
// Shards encode the mutations of each batch (WalBuffer) and send them here in one message,
// with the batches whose replies wait for them: in every mode a reply goes out only once its
// records are written to the WAL file (write(2): they survive a crash of the process), and
// with --fsync always only once they are synced too. Every record that arrived meanwhile shares
// one write(2) and, with always, one fdatasync (group commit). With periodic a syncer actor of
// its own fdatasyncs the file every interval, so that the sync never holds up writing and
// acknowledging; with never the OS decides. Snapshots: every --snapshot-interval-s or
// --snapshot-every-writes, the WAL is rotated at LSN L and each shard writes its partition in
// slices, between its other messages (shard_actor.cc); once all are done, the snapshot set at
// L and the previous complete one are kept, older files and the WAL the kept sets do not need
// deleted (storage/snapshot_set.h).
#ifndef DATABRIDGE_ACTORS_PERSISTENCE_H_
#define DATABRIDGE_ACTORS_PERSISTENCE_H_

#include <array>
#include <atomic>
#include <caf/all.hpp>
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

using wal_atom = caf::atom_constant<caf::atom("wal")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using sync_atom = caf::atom_constant<caf::atom("sync")>;
using retry_atom = caf::atom_constant<caf::atom("retry")>;
using snapshot_atom = caf::atom_constant<caf::atom("snapshot")>;
using snapdone_atom = caf::atom_constant<caf::atom("snapdone")>;
using snaptick_atom = caf::atom_constant<caf::atom("snaptick")>;
using snapbegin_atom = caf::atom_constant<caf::atom("snapbegin")>;
using snapblock_atom = caf::atom_constant<caf::atom("snapblock")>;
using snapend_atom = caf::atom_constant<caf::atom("snapend")>;
using finish_atom = caf::atom_constant<caf::atom("finish")>;

// Spawns the persistence actor (detached with --fsync always). The WAL continues at next_lsn (after
// recovery) in a new file. shards are sent (snapshot_atom, L, writer, coordinator) to snapshot.
// (finish_atom) -> bool: flush, sync, snapshot every shard, and answer when done (SIGTERM).
caf::actor SpawnPersistence(caf::actor_system& system, PersistenceOptions options,
                            PersistenceState* state, std::vector<caf::actor> shards,
                            uint64_t next_lsn);

// Spawns the snapshot writer (detached): (snapbegin_atom, shard, header bytes) -> bool,
// (snapblock_atom, shard, bytes) -> bool, (snapend_atom, shard, footer bytes, lsn) -> bool:
// temporary file, then fsync and rename to its final name.
caf::actor SpawnSnapshotWriter(caf::actor_system& system, storage::Env* env, std::string dir);

// Spawns the WAL syncer (detached): (sync_atom, WalFileRef) -> std::string: SyncWritten of the
// file, answering "" once done (counted in state's fsync figures) or the error.
caf::actor SpawnWalSyncer(caf::actor_system& system, PersistenceState* state);

}  // namespace dbkv

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(dbkv::WalWritePtr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(dbkv::WalFileRef)

#endif  // DATABRIDGE_ACTORS_PERSISTENCE_H_
