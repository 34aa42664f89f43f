#include "storage/snapshot_set.h"

#include <algorithm>
#include <functional>
#include <map>

#include "storage/snapshot.h"

namespace dbkv::storage {
namespace {

// Fills in shard_count, damaged and problem of a set whose files are known.
void Check(Env* env, SnapshotSet* set) {
  uint32_t count = 0;
  for (const SnapshotFile& f : set->files) {
    SnapshotHeader h;
    Status s = ReadSnapshotHeader(env, f.path, &h);
    if (!s.ok()) {
      set->damaged.push_back({f.path, s.message()});
      if (set->problem.empty()) set->problem = "the header of " + f.path + " does not read";
      continue;
    }
    std::string wrong;
    if (h.shard != f.shard) {
      wrong = "says shard " + std::to_string(h.shard);
    } else if (h.start_lsn != set->lsn) {
      wrong = "says LSN " + std::to_string(h.start_lsn);
    } else if (h.shard_count == 0 || h.shard >= h.shard_count) {
      wrong = "says shard " + std::to_string(h.shard) + " of " + std::to_string(h.shard_count);
    } else if (count != 0 && h.shard_count != count) {
      wrong = "says " + std::to_string(h.shard_count) + " shards, another file of the set " +
              std::to_string(count);
    }
    if (!wrong.empty()) {
      if (set->problem.empty()) set->problem = f.path + " " + wrong;
      continue;
    }
    count = h.shard_count;
  }
  if (!set->problem.empty()) return;
  // Headers agree; files are sorted by shard, one per shard number.
  if (set->files.size() != count) {
    set->problem = std::to_string(set->files.size()) + " of its " + std::to_string(count) +
                   " shards' files are there";
    return;
  }
  set->shard_count = count;
}

}  // namespace

std::vector<SnapshotSet> GroupSnapshotSets(Env* env, const std::vector<SnapshotFile>& snapshots) {
  std::map<uint64_t, SnapshotSet, std::greater<uint64_t>> by_lsn;
  for (const SnapshotFile& f : snapshots) {
    SnapshotSet& set = by_lsn[f.start_lsn];
    set.lsn = f.start_lsn;
    set.files.push_back(f);
  }
  std::vector<SnapshotSet> sets;
  for (auto& [lsn, set] : by_lsn) {
    std::sort(set.files.begin(), set.files.end(),
              [](const SnapshotFile& a, const SnapshotFile& b) { return a.shard < b.shard; });
    Check(env, &set);
    sets.push_back(std::move(set));
  }
  return sets;
}

std::string DamagedSnapshotPath(const std::string& path) { return path + ".damaged"; }

Status SetAsideDamagedSnapshot(Env* env, const std::string& dir, const std::string& path) {
  Status s = env->RenameFile(path, DamagedSnapshotPath(path));
  if (s.ok()) s = env->SyncDir(dir);
  return s;
}

SnapshotRetention PlanSnapshotRetention(const DirListing& listing,
                                        const std::vector<SnapshotSet>& sets, uint64_t newest_lsn) {
  SnapshotRetention r;
  const SnapshotSet* newest = nullptr;
  const SnapshotSet* previous = nullptr;
  for (const SnapshotSet& set : sets) {
    if (set.lsn == newest_lsn) newest = &set;
    if (set.lsn < newest_lsn && set.complete() && previous == nullptr) previous = &set;
  }
  if (newest == nullptr || !newest->complete()) return r;
  r.kept.push_back(newest_lsn);
  if (previous != nullptr) r.kept.push_back(previous->lsn);
  r.wal_from = r.kept.back();
  for (const SnapshotFile& f : listing.snapshots) {
    // (Nothing newer than the set just finished should exist; leave it alone if it does.)
    if (f.start_lsn < newest_lsn && (previous == nullptr || f.start_lsn != previous->lsn)) {
      r.deletions.push_back(f.path);
    }
  }
  for (size_t i = 0; i + 1 < listing.wal.size(); ++i) {
    // File i holds LSNs up to the next file's first (WAL_FORMAT.md, "Files").
    if (listing.wal[i + 1].first_lsn <= r.wal_from) r.deletions.push_back(listing.wal[i].path);
  }
  return r;
}

}  // namespace dbkv::storage
