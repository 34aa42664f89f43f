// Snapshot sets: the snapshot files of every shard at one LSN, the unit that recovery loads and
// that retention keeps or deletes (storage/SNAPSHOT_FORMAT.md, "Snapshot sets"). A set is
// complete once every shard's file has been renamed into place; a crash between two shards'
// renames leaves an incomplete one, which is never loaded. Damaged files are set aside under
// another name, so that a set holding one is incomplete from then on.
#ifndef DATABRIDGE_STORAGE_SNAPSHOT_SET_H_
#define DATABRIDGE_STORAGE_SNAPSHOT_SET_H_

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "storage/data_dir.h"
#include "storage/env.h"

namespace dbkv::storage {

struct SnapshotSet {
  uint64_t lsn = 0;
  // Every file at lsn, by shard (as DirListing sorts them).
  std::vector<SnapshotFile> files;
  // Complete: C, the shard count every header names. 0 otherwise.
  uint32_t shard_count = 0;
  // Files whose header does not read, and why: damaged.
  struct Damaged {
    std::string path;
    std::string why;
  };
  std::vector<Damaged> damaged;
  // Why the set is not complete; empty when it is: every header reads and names lsn, the shard
  // of its file name and one shard count C, and there is a file for each shard 0 to C - 1.
  std::string problem;

  bool complete() const { return problem.empty(); }
};

// The sets of a directory's snapshot files (DirListing::snapshots), newest first. Reads each
// file's header (44 bytes), nothing more: a set found complete may still fail its checksums.
std::vector<SnapshotSet> GroupSnapshotSets(Env* env, const std::vector<SnapshotFile>& snapshots);

// A damaged snapshot file is set aside as "<name>.damaged": not a snapshot name, so never
// listed, loaded, counted as kept or deleted by the server (an operator removes it).
std::string DamagedSnapshotPath(const std::string& path);
// Renames path to DamagedSnapshotPath(path) and syncs dir.
Status SetAsideDamagedSnapshot(Env* env, const std::string& dir, const std::string& path);

// What to keep once the set at newest_lsn is complete: that set, the newest complete set
// before it (whatever its shard count: the fallback if the newest is ever found damaged) and
// the WAL from the older kept set's LSN. Everything else goes: snapshot files of other LSNs
// (older sets, incomplete sets) and WAL files wholly below that LSN.
struct SnapshotRetention {
  std::vector<uint64_t> kept;          // newest_lsn, then the previous complete set's LSN if any
  uint64_t wal_from = 0;               // WAL records from this LSN on are kept
  std::vector<std::string> deletions;  // paths, snapshots first, then WAL files
};
// sets: GroupSnapshotSets of listing. If the set at newest_lsn is not complete (its files are
// not all there), nothing is deleted.
SnapshotRetention PlanSnapshotRetention(const DirListing& listing,
                                        const std::vector<SnapshotSet>& sets, uint64_t newest_lsn);

}  // namespace dbkv::storage

#endif  // DATABRIDGE_STORAGE_SNAPSHOT_SET_H_
