#include "storage/recovery.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include "core/shard_hash.h"
#include "storage/data_dir.h"
#include "storage/log_format.h"
#include "storage/snapshot.h"
#include "storage/wal.h"

namespace dbkv::storage {
namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Progress shared by the loading threads.
class Progress {
 public:
  Progress(const RecoveryOptions& o, uint64_t total_bytes)
      : options_(o), total_(total_bytes), start_(Clock::now()), last_(start_) {}

  void Add(uint64_t bytes, uint64_t entries) {
    std::lock_guard<std::mutex> lock(mu_);
    bytes_ += bytes;
    entries_ += entries;
    if (Since(last_) < 1.0 || !options_.info) return;
    last_ = Clock::now();
    Report("recovering");
  }

  void Report(const char* what) {
    const double secs = std::max(Since(start_), 1e-6);
    char buf[200];
    std::snprintf(buf, sizeof(buf), "%s: %llu entries, %.1f MB read (%.1f MB/s), %.0f%% done", what,
                  static_cast<unsigned long long>(entries_), bytes_ / 1e6, bytes_ / 1e6 / secs,
                  total_ == 0 ? 100.0 : 100.0 * bytes_ / total_);
    options_.info(buf);
  }

  uint64_t bytes() const { return bytes_; }

 private:
  const RecoveryOptions& options_;
  std::mutex mu_;
  uint64_t total_;
  uint64_t bytes_ = 0;
  uint64_t entries_ = 0;
  Clock::time_point start_, last_;
};

// Shards load on threads of their own: the callback is called by one at a time.
void Warn(const RecoveryOptions& o, const std::string& msg) {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  if (o.warn) o.warn(msg);
}

// Loads one old shard's newest readable snapshot into the partitions (routing each key to its
// shard under the current count). Returns the snapshot's start LSN (0: none usable).
uint64_t LoadSnapshots(Env* env, const std::vector<SnapshotFile>& candidates, uint32_t shard_count,
                       const RecoveryOptions& o, RecoveryResult* r, std::mutex* route_mu,
                       bool same_layout, uint32_t shard, Progress* progress, uint32_t* damaged) {
  for (const SnapshotFile& f : candidates) {
    // Load into fresh partitions first, so that a snapshot found damaged half-way leaves
    // nothing behind.
    std::vector<std::unique_ptr<Partition>> staged;
    if (same_layout) {
      staged.push_back(std::make_unique<Partition>());
    } else {
      for (uint32_t i = 0; i < shard_count; ++i) staged.push_back(std::make_unique<Partition>());
    }
    SnapshotHeader header;
    SnapshotStats stats;
    uint64_t since_report = 0;
    uint64_t foreign = 0;
    Status s = ReadSnapshot(
        env, f.path, &header,
        [&](std::string_view ns, std::string_view key, Entry e) {
          // (The header is read before the first entry.) An older snapshot of this shard made
          // under another shard count holds keys that are other shards' now: leave them out.
          if (same_layout && header.shard_count != shard_count &&
              ShardOf(key, shard_count) != shard) {
            ++foreign;
            return;
          }
          Partition* p = same_layout ? staged[0].get() : staged[ShardOf(key, shard_count)].get();
          p->Restore(ns, key, std::move(e), o.now_ms);
          if (++since_report == 10000) {
            progress->Add(0, since_report);
            since_report = 0;
          }
        },
        &stats);
    progress->Add(stats.bytes, since_report);
    if (!s.ok()) {
      ++*damaged;
      Warn(o, "snapshot " + f.path + " is damaged (" + s.message() +
                  "); falling back to the previous one");
      continue;
    }
    if (same_layout && header.shard != shard) {
      Warn(o, "snapshot " + f.path + " says shard " + std::to_string(header.shard) + "; skipped");
      continue;
    }
    if (same_layout && header.shard_count != shard_count) {
      Warn(o, "snapshot " + f.path + " was written with " + std::to_string(header.shard_count) +
                  " shards: " + std::to_string(foreign) +
                  " keys of other shards left out; keys this shard took over from other shards "
                  "since come from the WAL alone");
    }
    // Merge what was staged.
    std::lock_guard<std::mutex> lock(*route_mu);
    r->snapshot_entries += stats.entries;
    if (same_layout) {
      r->partitions[shard] = std::move(staged[0]);
      r->partitions[shard]->SeenVersion(stats.max_version);
    } else {
      for (uint32_t i = 0; i < shard_count; ++i) {
        Partition& dst = *r->partitions[i];
        for (auto& [ns, table] : staged[i]->tables()) {
          for (size_t seg = 0; seg < table.segment_count(); ++seg) {
            for (auto& kv : table.segment(seg)) dst.Restore(ns, kv.first, kv.second, o.now_ms);
          }
        }
        dst.SeenVersion(stats.max_version);
      }
    }
    return header.start_lsn == 0 ? 1 : header.start_lsn;
  }
  return 0;
}

// Replays the WAL files into the partitions. With only_shard >= 0, applies only the mutations
// of that shard's keys (one thread per shard).
// report: this pass warns about damage and counts it in *dropped (one pass per recovery
// does, the one that reads the most); truncate_tail: this pass cuts off a torn tail of the last
// file.
Status ReplayWal(Env* env, const std::vector<WalFile>& wal, uint64_t from_lsn, uint32_t shard_count,
                 const RecoveryOptions& o, RecoveryResult* r, int64_t only_shard, uint64_t* max_lsn,
                 uint64_t* records, uint64_t* dropped, Progress* progress, bool report,
                 bool truncate_tail) {
  for (size_t i = 0; i < wal.size(); ++i) {
    // File i holds LSNs from its first up to the next file's first.
    if (i + 1 < wal.size() && wal[i + 1].first_lsn <= from_lsn) continue;
    std::unique_ptr<SequentialFile> f;
    Status s = env->NewSequentialFile(wal[i].path, &f);
    if (!s.ok()) return s;
    uint64_t last_damage_end = 0;
    bool damage_after_last_record = false;
    log::Reader reader(f.get(), [&](uint64_t bytes, uint64_t offset, const std::string& why) {
      damage_after_last_record = true;
      last_damage_end = offset + bytes;
      if (report) {
        *dropped += bytes;
        Warn(o, "WAL " + wal[i].path + ": " + why + " at offset " + std::to_string(offset) + ", " +
                    std::to_string(bytes) + " bytes skipped");
      }
    });
    std::string scratch;
    std::string_view record;
    uint64_t file_bytes_reported = 0;
    while (reader.ReadRecord(&record, &scratch)) {
      damage_after_last_record = false;
      WalRecordHeader h;
      std::string_view peek = record;
      if (!DecodeWalHeader(&peek, &h).ok()) {
        if (report)
          Warn(o, "WAL " + wal[i].path + ": undecodable record before offset " +
                      std::to_string(reader.last_record_end()));
        continue;
      }
      *max_lsn = std::max(*max_lsn, h.lsn);
      if (h.lsn < from_lsn) continue;
      ++*records;
      // Mutations go to the shard of their key under the current shard count (the WAL may
      // come from a server with another).
      Status ds = DecodeWalRecord(record, &h, [&](const Mutation& m) {
        const uint32_t target = ShardOf(m.key, shard_count);
        if (only_shard >= 0 && target != static_cast<uint32_t>(only_shard)) return;
        ApplyMutation(r->partitions[target].get(), m, o.now_ms,
                      o.load_cold ? &o.load_cold : nullptr);
      });
      if (!ds.ok() && report) {
        Warn(o, "WAL " + wal[i].path + ": record " + std::to_string(h.lsn) +
                    " skipped: " + ds.message());
      }
      const uint64_t at = reader.last_record_end();
      if (at - file_bytes_reported > (1 << 20)) {
        progress->Add(report ? at - file_bytes_reported : 0, 0);
        file_bytes_reported = at;
      }
    }
    if (!reader.status().ok()) return reader.status();
    uint64_t size = 0;
    env->GetFileSize(wal[i].path, &size);
    progress->Add(report ? size - std::min(size, file_bytes_reported) : 0, 0);
    const bool last_file = i + 1 == wal.size();
    if (truncate_tail && last_file && (reader.truncated_tail() || damage_after_last_record) &&
        reader.last_record_end() < size) {
      // A write torn by the crash (or damage with nothing valid after it): cut it off, so that
      // it is not mistaken for damage in the middle once newer files follow.
      Warn(o, "WAL " + wal[i].path + ": torn tail at offset " +
                  std::to_string(reader.last_record_end()) + " (" +
                  std::to_string(size - reader.last_record_end()) + " bytes) truncated");
      Status ts = env->TruncateFile(wal[i].path, reader.last_record_end());
      if (!ts.ok()) return ts;
    }
    (void)last_damage_end;
  }
  return Status::OK();
}

}  // namespace

Status Recover(Env* env, const std::string& dir, const RecoveryOptions& o, RecoveryResult* r) {
  const auto start = Clock::now();
  const uint32_t n = std::max<uint32_t>(1, o.shard_count);
  *r = RecoveryResult();
  for (uint32_t i = 0; i < n; ++i) r->partitions.push_back(std::make_unique<Partition>());

  DirListing listing;
  Status s = ListDataDir(env, dir, &listing);
  if (!s.ok()) return s;
  for (const std::string& t : listing.temp) {
    // A snapshot whose writing was interrupted: never complete, never used.
    env->DeleteFile(t);
  }

  // The snapshot layout: the shard count of the newest snapshot.
  uint64_t total_bytes = 0;
  for (const auto& f : listing.wal) {
    uint64_t size = 0;
    env->GetFileSize(f.path, &size);
    total_bytes += size;
  }
  std::map<uint32_t, std::vector<SnapshotFile>> by_shard;
  for (const auto& f : listing.snapshots) by_shard[f.shard].push_back(f);
  uint32_t old_count = 0;
  uint64_t newest = 0;
  for (const auto& f : listing.snapshots) {
    if (f.start_lsn < newest) continue;
    SnapshotHeader header;
    if (!ReadSnapshotHeader(env, f.path, &header).ok()) continue;
    newest = f.start_lsn;
    old_count = header.shard_count;
  }
  // Snapshots of shards beyond the newest layout's are obsolete. (If no header reads at all,
  // each shard still tries its own, to report them damaged.)
  for (auto& [shard, files] : by_shard) {
    if (shard >= (old_count > 0 ? old_count : n)) files.clear();
  }
  const bool same_layout = old_count == 0 || old_count == n;
  for (const auto& [shard, files] : by_shard) {
    for (const auto& f : files) {
      uint64_t size = 0;
      env->GetFileSize(f.path, &size);
      total_bytes += size;
    }
  }
  Progress progress(o, total_bytes);

  // 1. Snapshots, one thread per (old) shard.
  std::mutex route_mu;
  std::vector<uint64_t> start_lsn(std::max(old_count, n), 0);
  std::vector<uint32_t> damaged(start_lsn.size(), 0);
  {
    std::vector<std::thread> threads;
    for (const auto& [shard, files] : by_shard) {
      if (files.empty()) continue;
      threads.emplace_back([&, shard = shard, files = files] {
        start_lsn[shard] = LoadSnapshots(env, files, n, o, r, &route_mu, same_layout, shard,
                                         &progress, &damaged[shard]);
      });
    }
    for (auto& t : threads) t.join();
  }
  for (uint32_t d : damaged) r->damaged_snapshots += d;

  // 2. The WAL from the oldest snapshot position used (a shard without a snapshot needs it
  //    all). Versions make records already in a snapshot harmless.
  uint64_t from = UINT64_MAX;
  const uint32_t snapshot_shards = same_layout ? n : old_count;
  for (uint32_t i = 0; i < snapshot_shards; ++i) from = std::min(from, start_lsn[i]);
  if (from == UINT64_MAX) from = 0;
  uint64_t max_lsn = 0;
  for (uint64_t l : start_lsn) max_lsn = std::max(max_lsn, l == 0 ? 0 : l - 1);
  if (same_layout && n > 1) {
    std::vector<std::thread> threads;
    std::vector<Status> statuses(n);
    std::vector<uint64_t> lsns(n, 0), records(n, 0), dropped(n, 0);
    // The shard that replays from the oldest position reads every file any other reads: it
    // reports the damage (once); the others only apply.
    uint32_t reporter = 0;
    for (uint32_t i = 1; i < n; ++i) {
      if (start_lsn[i] < start_lsn[reporter]) reporter = i;
    }
    for (uint32_t i = 0; i < n; ++i) {
      threads.emplace_back([&, i] {
        statuses[i] =
            ReplayWal(env, listing.wal, std::max<uint64_t>(from, start_lsn[i]), n, o, r, i,
                      &lsns[i], &records[i], &dropped[i], &progress, i == reporter, false);
      });
    }
    for (auto& t : threads) t.join();
    for (uint32_t i = 0; i < n; ++i) {
      if (!statuses[i].ok()) return statuses[i];
      max_lsn = std::max(max_lsn, lsns[i]);
    }
    r->wal_records = records[reporter];  // every shard's pass reads a subset of its records
    r->wal_bytes_dropped = dropped[reporter];
    // One more pass over the last file only (applying nothing), to truncate a torn end.
    uint64_t ignored = 0, none = 0, d = 0;
    if (!listing.wal.empty()) {
      std::vector<WalFile> last = {listing.wal.back()};
      Status ts = ReplayWal(env, last, UINT64_MAX, n, o, r, -1, &ignored, &none, &d, &progress,
                            false, true);
      if (!ts.ok()) return ts;
      max_lsn = std::max(max_lsn, ignored);
    }
  } else {
    uint64_t records = 0, dropped = 0;
    s = ReplayWal(env, listing.wal, from, n, o, r, -1, &max_lsn, &records, &dropped, &progress,
                  true, true);
    if (!s.ok()) return s;
    r->wal_records = records;
    r->wal_bytes_dropped = dropped;
  }

  r->next_lsn = max_lsn + 1;
  // The new WAL file is named after next_lsn: always after the last file there is (even one
  // whose records were all lost), so that it never reuses a name and files stay in LSN order.
  if (!listing.wal.empty()) {
    r->next_lsn = std::max(r->next_lsn, listing.wal.back().first_lsn + 1);
  }
  for (const auto& p : r->partitions) r->keys += p->stats().keys;
  r->bytes_read = progress.bytes();
  r->seconds = Since(start);
  if (o.info) progress.Report("recovered");
  return Status::OK();
}

}  // namespace dbkv::storage
