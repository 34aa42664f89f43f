// The files of a data directory (see storage/WAL_FORMAT.md and SNAPSHOT_FORMAT.md):
//   LOCK                                   held by the running server
//   wal-<first lsn, 20 digits>.log         write-ahead log segments
//   snapshot-<shard, 4 digits>-<start lsn, 20 digits>.snap
//   snapshot-<shard>.tmp                   a snapshot being written
//   snapshot-<shard>-<lsn>.snap.damaged    set aside by recovery (storage/snapshot_set.h): not
//                                          listed
#ifndef DATABRIDGE_STORAGE_DATA_DIR_H_
#define DATABRIDGE_STORAGE_DATA_DIR_H_

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "storage/env.h"

namespace dbkv::storage {

std::string WalFileName(uint64_t first_lsn);
std::string SnapshotFileName(uint32_t shard, uint64_t start_lsn);
std::string SnapshotTempName(uint32_t shard);
std::string JoinPath(const std::string& dir, const std::string& name);

struct WalFile {
  uint64_t first_lsn;
  std::string path;
};
struct SnapshotFile {
  uint32_t shard;
  uint64_t start_lsn;
  std::string path;
};

// What a directory holds, sorted: WAL files by first LSN; snapshots by shard, then newest
// first. Leftover temporary files are listed apart.
struct DirListing {
  std::vector<WalFile> wal;
  std::vector<SnapshotFile> snapshots;
  std::vector<std::string> temp;
};
Status ListDataDir(Env* env, const std::string& dir, DirListing* out);

}  // namespace dbkv::storage

#endif  // DATABRIDGE_STORAGE_DATA_DIR_H_
