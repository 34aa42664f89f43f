#include "storage/recovery.h"

#include <algorithm>
#include <chrono>
#include <mutex>
#include <thread>

#include "core/shard_hash.h"
#include "storage/data_dir.h"
#include "storage/log_format.h"
#include "storage/snapshot.h"
#include "storage/snapshot_set.h"
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

  // Bytes counted in the total that recovery will not read (WAL files wholly below the loaded
  // snapshot set): "% done" then reaches 100.
  void Skip(uint64_t bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    total_ -= std::min(total_, bytes);
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

// What loading one snapshot file of a set staged: its entries, in partitions of its own.
struct StagedFile {
  std::vector<std::unique_ptr<Partition>> partitions;  // one (same layout), else one per shard
  SnapshotStats stats;
  Status status;
};

// Loads every file of a complete snapshot set, one thread per file, routing each key to its
// shard under shard_count when the set has another count. Into fresh partitions first: if any
// file is found damaged, nothing of the set is kept, the damaged files are set aside
// (*.damaged) and false is returned.
bool LoadSnapshotSet(Env* env, const std::string& dir, const SnapshotSet& set, uint32_t shard_count,
                     const RecoveryOptions& o, RecoveryResult* r, Progress* progress) {
  const bool same_layout = set.shard_count == shard_count;
  std::vector<StagedFile> staged(set.files.size());
  {
    std::vector<std::thread> threads;
    for (size_t i = 0; i < set.files.size(); ++i) {
      threads.emplace_back([&, i] {
        StagedFile& sf = staged[i];
        const size_t n = same_layout ? 1 : shard_count;
        for (size_t p = 0; p < n; ++p) sf.partitions.push_back(std::make_unique<Partition>());
        SnapshotHeader header;
        uint64_t since_report = 0;
        sf.status = ReadSnapshot(
            env, set.files[i].path, &header,
            [&](std::string_view ns, std::string_view key, Entry e) {
              Partition* p = same_layout ? sf.partitions[0].get()
                                         : sf.partitions[ShardOf(key, shard_count)].get();
              p->Restore(ns, key, std::move(e), o.now_ms);
              if (++since_report == 10000) {
                progress->Add(0, since_report);
                since_report = 0;
              }
            },
            &sf.stats);
        progress->Add(sf.stats.bytes, since_report);
      });
    }
    for (auto& t : threads) t.join();
  }
  bool ok = true;
  for (size_t i = 0; i < set.files.size(); ++i) {
    if (staged[i].status.ok()) continue;
    ok = false;
    ++r->damaged_snapshots;
    const std::string& path = set.files[i].path;
    Status s = SetAsideDamagedSnapshot(env, dir, path);
    Warn(o, "snapshot " + path + " is damaged (" + staged[i].status.message() + "); " +
                (s.ok() ? "set aside as " + DamagedSnapshotPath(path)
                        : "setting it aside failed: " + s.message()) +
                "; falling back to the previous one");
  }
  if (!ok) return false;

  uint64_t max_version = 0;
  for (size_t i = 0; i < staged.size(); ++i) {
    r->snapshot_entries += staged[i].stats.entries;
    max_version = std::max(max_version, staged[i].stats.max_version);
    if (same_layout) {
      r->partitions[i] = std::move(staged[i].partitions[0]);
      r->partitions[i]->SeenVersion(staged[i].stats.max_version);
    }
  }
  if (!same_layout) {
    // Every key is in one file only; versions: every shard above every file's counter.
    for (uint32_t t = 0; t < shard_count; ++t) {
      Partition& dst = *r->partitions[t];
      for (StagedFile& sf : staged) {
        for (auto& [ns, table] : sf.partitions[t]->tables()) {
          for (size_t seg = 0; seg < table.segment_count(); ++seg) {
            // The staged partition goes right after: its entries are moved, not copied.
            for (Record* r : table.segment(seg)) {
              Entry e;
              r->TakeInto(&e);
              const KeyText key = r->key();
              dst.Restore(ns, key.view(), std::move(e), o.now_ms);
            }
          }
        }
        sf.partitions[t].reset();
      }
      dst.SeenVersion(max_version);
    }
  }
  return true;
}

// Loads the newest complete snapshot set that reads back whole (SNAPSHOT_FORMAT.md, "Recovery
// policy"). Returns its LSN, 0 when there is none.
uint64_t LoadNewestSnapshotSet(Env* env, const std::string& dir,
                               const std::vector<SnapshotSet>& sets, uint32_t shard_count,
                               const RecoveryOptions& o, RecoveryResult* r, Progress* progress) {
  for (const SnapshotSet& set : sets) {
    for (const SnapshotSet::Damaged& d : set.damaged) {
      ++r->damaged_snapshots;
      Status s = SetAsideDamagedSnapshot(env, dir, d.path);
      Warn(o, "snapshot " + d.path + " is damaged (" + d.why + "); " +
                  (s.ok() ? "set aside as " + DamagedSnapshotPath(d.path)
                          : "setting it aside failed: " + s.message()));
    }
    if (!set.complete()) {
      Warn(o, "snapshot set at LSN " + std::to_string(set.lsn) + " is not usable (" + set.problem +
                  "); falling back to the previous one");
      continue;
    }
    if (set.shard_count != shard_count && o.info) {
      o.info("snapshot set at LSN " + std::to_string(set.lsn) + " has " +
             std::to_string(set.shard_count) + " shards: its keys go to " +
             std::to_string(shard_count));
    }
    if (LoadSnapshotSet(env, dir, set, shard_count, o, r, progress)) {
      return set.lsn == 0 ? 1 : set.lsn;
    }
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
    if (i + 1 < wal.size() && wal[i + 1].first_lsn <= from_lsn) {
      if (report) {
        uint64_t size = 0;
        env->GetFileSize(wal[i].path, &size).IgnoreError();  // progress figures only
        progress->Skip(size);
      }
      continue;
    }
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
    // Mutations read since the last progress report: counted by the reporting pass only, all
    // of them (the other passes read the same records), so that the progress lines count WAL
    // entries as they count snapshot entries.
    uint64_t entries_unreported = 0;
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
        if (report) ++entries_unreported;
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
        progress->Add(report ? at - file_bytes_reported : 0, entries_unreported);
        file_bytes_reported = at;
        entries_unreported = 0;
      }
    }
    if (!reader.status().ok()) return reader.status();
    uint64_t size = 0;
    env->GetFileSize(wal[i].path, &size).IgnoreError();  // progress figures only
    progress->Add(report ? size - std::min(size, file_bytes_reported) : 0, entries_unreported);
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
    // A snapshot whose writing was interrupted: never complete, never used. Left there, it
    // is only space (the next start-up tries again).
    Status d = env->DeleteFile(t);
    if (!d.ok()) Warn(o, "deleting " + t + ": " + d.ToString());
  }

  // The snapshot sets, newest first (headers only), and what recovery will read.
  const std::vector<SnapshotSet> sets = GroupSnapshotSets(env, listing.snapshots);
  uint64_t total_bytes = 0;
  for (const auto& f : listing.wal) {
    uint64_t size = 0;
    env->GetFileSize(f.path, &size).IgnoreError();  // progress figures only
    total_bytes += size;
  }
  for (const SnapshotSet& set : sets) {
    if (!set.complete()) continue;
    for (const auto& f : set.files) {
      uint64_t size = 0;
      env->GetFileSize(f.path, &size).IgnoreError();  // progress figures only
      total_bytes += size;
    }
    break;  // normally the newest complete set is the one loaded
  }
  Progress progress(o, total_bytes);

  // 1. The newest complete snapshot set that reads back whole, one thread per file.
  const uint64_t from = LoadNewestSnapshotSet(env, dir, sets, n, o, r, &progress);

  // 2. The WAL from the set's position (all of it without a set). Versions make records
  //    already in the snapshot harmless.
  uint64_t max_lsn = from == 0 ? 0 : from - 1;
  for (const SnapshotFile& f : listing.snapshots) {
    // A snapshot not loaded still names a position the WAL had reached.
    max_lsn = std::max(max_lsn, f.start_lsn == 0 ? 0 : f.start_lsn - 1);
  }
  if (n > 1) {
    std::vector<std::thread> threads;
    std::vector<Status> statuses(n);
    std::vector<uint64_t> lsns(n, 0), records(n, 0), dropped(n, 0);
    // Every pass reads the same records: shard 0's reports the damage and the figures (once);
    // the others only apply.
    for (uint32_t i = 0; i < n; ++i) {
      threads.emplace_back([&, i] {
        statuses[i] = ReplayWal(env, listing.wal, from, n, o, r, i, &lsns[i], &records[i],
                                &dropped[i], &progress, i == 0, false);
      });
    }
    for (auto& t : threads) t.join();
    for (uint32_t i = 0; i < n; ++i) {
      if (!statuses[i].ok()) return statuses[i];
      max_lsn = std::max(max_lsn, lsns[i]);
    }
    r->wal_records = records[0];
    r->wal_bytes_dropped = dropped[0];
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
