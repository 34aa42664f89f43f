// Recovery at start-up: the newest complete snapshot set (every shard's file at one LSN,
// storage/snapshot_set.h) that reads back whole, an older one if not, with its keys routed to
// the current shard count; then every WAL record from the set's LSN on, applied where it is
// newer (versions make replay idempotent). Files load, and shards replay, in parallel.
// Corruption policy (storage/WAL_FORMAT.md, SNAPSHOT_FORMAT.md): a torn or damaged tail of the
// last WAL file is truncated and logged; damage elsewhere is logged with its offset and
// skipped; a snapshot file that fails its checksums is renamed to *.damaged and its set given
// up for the previous one; an incomplete set (a crash between two shards' renames) is ignored.
#ifndef DATABRIDGE_STORAGE_RECOVERY_H_
#define DATABRIDGE_STORAGE_RECOVERY_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/partition.h"
#include "core/status.h"
#include "storage/env.h"
#include "storage/wal.h"

namespace dbkv::storage {

struct RecoveryOptions {
  uint32_t shard_count = 1;
  int64_t now_ms = 0;  // what is expired by then is not loaded
  // Called with progress lines ("recovering: N entries, X MB read (Y MB/s), Z% done", at most
  // once a second; N counts snapshot entries and WAL mutations read), the final "recovered: ..."
  // line, and with every problem found.
  std::function<void(const std::string&)> info;
  std::function<void(const std::string&)> warn;
  // Loads cold values (tiered storage) that WAL records change in place; null: none exist.
  ColdLoader load_cold;
};

struct RecoveryResult {
  std::vector<std::unique_ptr<Partition>> partitions;  // one per shard
  uint64_t next_lsn = 1;                               // the first LSN the new WAL may use
  uint64_t keys = 0;                                   // live keys after recovery
  uint64_t snapshot_entries = 0;
  uint64_t wal_records = 0;  // records read from the WAL
  uint64_t bytes_read = 0;
  double seconds = 0;
  uint32_t damaged_snapshots = 0;  // snapshot files found damaged (and set aside)
  uint64_t wal_bytes_dropped = 0;  // damaged WAL bytes skipped or truncated
};

Status Recover(Env* env, const std::string& dir, const RecoveryOptions& options,
               RecoveryResult* result);

}  // namespace dbkv::storage

#endif  // DATABRIDGE_STORAGE_RECOVERY_H_
