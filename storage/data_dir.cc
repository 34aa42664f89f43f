#include "storage/data_dir.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>

namespace dbkv::storage {

std::string WalFileName(uint64_t first_lsn) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "wal-%020" PRIu64 ".log", first_lsn);
  return buf;
}

std::string SnapshotFileName(uint32_t shard, uint64_t start_lsn) {
  char buf[80];
  std::snprintf(buf, sizeof(buf), "snapshot-%04u-%020" PRIu64 ".snap", shard, start_lsn);
  return buf;
}

std::string SnapshotTempName(uint32_t shard) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "snapshot-%04u.tmp", shard);
  return buf;
}

std::string JoinPath(const std::string& dir, const std::string& name) {
  if (dir.empty() || dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

Status ListDataDir(Env* env, const std::string& dir, DirListing* out) {
  std::vector<std::string> names;
  Status s = env->GetChildren(dir, &names);
  if (!s.ok()) return s;
  *out = DirListing();
  for (const std::string& n : names) {
    uint64_t lsn;
    unsigned shard;
    char tail[8];
    if (std::sscanf(n.c_str(), "wal-%20" SCNu64 ".lo%1s", &lsn, tail) == 2 &&
        n == WalFileName(lsn)) {
      out->wal.push_back({lsn, JoinPath(dir, n)});
    } else if (std::sscanf(n.c_str(), "snapshot-%4u-%20" SCNu64 ".sna%1s", &shard, &lsn, tail) ==
                   3 &&
               n == SnapshotFileName(shard, lsn)) {
      out->snapshots.push_back({shard, lsn, JoinPath(dir, n)});
    } else if (n.size() > 4 && n.compare(n.size() - 4, 4, ".tmp") == 0) {
      out->temp.push_back(JoinPath(dir, n));
    }
  }
  std::sort(out->wal.begin(), out->wal.end(),
            [](const WalFile& a, const WalFile& b) { return a.first_lsn < b.first_lsn; });
  std::sort(out->snapshots.begin(), out->snapshots.end(),
            [](const SnapshotFile& a, const SnapshotFile& b) {
              return a.shard != b.shard ? a.shard < b.shard : a.start_lsn > b.start_lsn;
            });
  return Status::OK();
}

}  // namespace dbkv::storage
