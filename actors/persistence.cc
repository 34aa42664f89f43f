#include "actors/persistence.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>

#include "actors/snapshot_writer.h"
#include "actors/wal_syncer.h"
#include "core/clock.h"
#include "storage/data_dir.h"
#include "storage/log_format.h"
#include "storage/snapshot_set.h"
#include "storage/wal.h"

namespace dbkv {
namespace {

using storage::JoinPath;

// Replies of write commands in a batch whose WAL records could not be persisted.
void FailWrites(ShardBatch* b, const std::string& why) {
  for (ShardOp& op : b->ops) {
    if (op.cmd->flags & kCmdWrite) {
      *op.reply = Reply::Error(Code::kIoError, "write not persisted: " + why);
    }
  }
}

// The LSN of an encoded WAL record (0 if it does not decode).
uint64_t RecordLsn(std::string_view record) {
  storage::WalRecordHeader h;
  return storage::DecodeWalHeader(&record, &h).ok() ? h.lsn : 0;
}

struct WalState;
using Self = persistence_actor::stateful_pointer<WalState>;
void DeleteDeadSegments(WalState& st);

// Dead cold segments holding more than this start a snapshot (which lets them be deleted).
constexpr uint64_t kDeadSegmentBytesForSnapshot = uint64_t{256} << 20;

struct WalState {
  static inline const char* name = "dbkv.persistence";
  PersistenceOptions options;
  PersistenceState* shared = nullptr;
  std::vector<shard_actor> shards;
  snapshot_writer_actor writer;
  wal_syncer_actor syncer;  // periodic: fdatasyncs the WAL off this actor's thread

  // Shared with the syncer while it syncs the file (WalFileRef).
  std::shared_ptr<storage::WritableFile> file;
  std::unique_ptr<storage::log::Writer> log;
  uint64_t file_first_lsn = 0;
  uint64_t file_generation = 0;  // one more for each file opened
  uint64_t next_lsn = 1;
  uint64_t written_lsn = 0;  // every record up to this one is written to the file (flushed)
  // Records appended since the last successful sync, with the batches waiting for the write
  // (and, with always, the sync) of theirs.
  std::vector<std::string> unsynced;
  std::vector<ShardBatch*> held;
  bool flush_scheduled = false;
  bool dirty = false;         // periodic: written since the last sync began
  bool sync_running = false;  // periodic: the syncer is at it
  bool sync_due = false;      // periodic: an interval ended while it was
  bool retry_scheduled = false;
  uint64_t writes_since_snapshot = 0;

  // Snapshots.
  bool snapshot_running = false;
  uint64_t snapshot_lsn = 0;
  size_t shards_done = 0;
  bool snapshot_ok = true;
  std::vector<caf::typed_response_promise<bool>> finish_waiters;
  bool finishing = false;
  // Tiering: the round number of the snapshot under way, and of the last complete ones.
  uint64_t snapshot_round = 0;
  std::vector<uint64_t> complete_rounds;

  // A new WAL file, named after the first LSN it will hold.
  Status OpenNewFile(uint64_t first_lsn) {
    const std::string path = JoinPath(options.dir, storage::WalFileName(first_lsn));
    std::unique_ptr<storage::WritableFile> f;
    Status s = options.env->NewWritableFile(path, &f);
    if (!s.ok()) return s;
    s = options.env->SyncDir(options.dir);
    if (!s.ok()) return s;
    file = std::move(f);
    log = std::make_unique<storage::log::Writer>(file.get());
    file_first_lsn = first_lsn;
    ++file_generation;
    spdlog::info("wal: writing {} (lsn {})", path, first_lsn);
    return Status::OK();
  }

  // Syncs and closes the current file (after a background sync of it, if one runs).
  Status CloseFile() {
    if (file == nullptr) return Status::OK();
    Status s = file->Sync();
    if (s.ok()) {
      // Every record appended so far is durable: none is left to write again on a failure.
      unsynced.clear();
      dirty = false;
      s = file->Close();
    }
    file.reset();
    log.reset();
    return s;
  }

  void SetFailed(const Status& s) {
    {
      std::lock_guard<std::mutex> lock(shared->mu);
      shared->failure = s.message();
    }
    if (!shared->failed.exchange(true)) {
      spdlog::error("wal: {}; refusing writes until the disk accepts them again", s.ToString());
    }
  }

  void ClearFailed() {
    if (shared->failed.exchange(false)) spdlog::info("wal: writing again");
  }

  // Writes (one write(2)) and, with always, syncs what is pending; then completes the held
  // batches: their records are in the file.
  void Flush() {
    flush_scheduled = false;
    Status s = shared->failed ? Status::IoError(shared->Failure()) : file->Flush();
    if (s.ok() && options.fsync == FsyncMode::kAlways && !unsynced.empty()) s = Sync();
    if (s.ok()) {
      written_lsn = next_lsn - 1;
      if (options.fsync == FsyncMode::kPeriodic) {
        // Kept until a sync covers them, to be written again if that fails.
        dirty = dirty || !unsynced.empty();
      } else {
        unsynced.clear();  // always: synced; never: written, and left to the OS
      }
      for (ShardBatch* b : held) b->completion->OnBatchDone(b);
      held.clear();
      // A failed rotation marks the WAL failed itself (SetFailed): nothing more to do here.
      if (file->Size() >= options.wal_file_bytes) Rotate().IgnoreError();
    } else {
      SetFailed(s);
      for (ShardBatch* b : held) {
        FailWrites(b, s.message());
        b->completion->OnBatchDone(b);
      }
      held.clear();
    }
  }

  // Flushes and syncs the current file on this thread (always; and rotation, shutdown).
  Status Sync() {
    const int64_t start = MonotonicNs();
    Status s = file->Sync();
    if (s.ok()) {
      shared->RecordSync(MonotonicNs() - start);
      written_lsn = next_lsn - 1;
      dirty = false;
      if (options.fsync == FsyncMode::kPeriodic) unsynced.clear();
    }
    return s;
  }

  // A sync of the file of generation `generation` that began once every record up to
  // `covered` was written has succeeded: those records are durable.
  void Synced(uint64_t generation, uint64_t covered) {
    if (generation != file_generation) return;  // closed (synced) or abandoned since
    size_t n = 0;
    while (n < unsynced.size() && RecordLsn(unsynced[n]) <= covered) ++n;
    unsynced.erase(unsynced.begin(), unsynced.begin() + static_cast<std::ptrdiff_t>(n));
  }

  // A new WAL file: the old one synced and closed first.
  Status Rotate() {
    Status s = CloseFile();
    if (s.ok()) s = OpenNewFile(next_lsn);
    if (!s.ok()) SetFailed(s);
    return s;
  }

  // After a failure: a fresh file, with every record not known to be durable written again
  // (replay skips whatever landed twice). Returns whether the WAL works again.
  bool Recover() {
    file.reset();  // the damaged file stays as it is; recovery skips its torn end
    log.reset();
    // Named after the first record it holds (unsynced records all come from the current
    // file: CloseFile clears them), so that every file's name is at most its first record's
    // LSN, a new file never takes the name of a file holding records that are still needed
    // (only, if nothing of the current file was synced, that file's own name), and a file's
    // records at or above the next file's name are all in the next file too (which is what
    // recovery and WAL cleanup rely on when they skip or delete a file).
    uint64_t first = next_lsn;
    if (!unsynced.empty()) {
      storage::WalRecordHeader h;
      std::string_view r = unsynced.front();
      if (storage::DecodeWalHeader(&r, &h).ok()) first = h.lsn;
    }
    Status s = OpenNewFile(first);
    for (const std::string& r : unsynced) {
      if (!s.ok()) break;
      s = log->AddRecord(r);
    }
    if (s.ok()) s = file->Sync();
    if (!s.ok()) {
      file.reset();
      log.reset();
      SetFailed(s);
      return false;
    }
    unsynced.clear();
    written_lsn = next_lsn - 1;
    dirty = false;
    ClearFailed();
    return true;
  }
};

// Once the snapshot set at lsn is complete: keeps it and the previous complete set, deletes
// older snapshot files and the WAL the kept sets do not need (storage/snapshot_set.h).
void PruneAfterSnapshot(const PersistenceOptions& options, uint64_t lsn) {
  storage::DirListing listing;
  Status s = storage::ListDataDir(options.env, options.dir, &listing);
  if (!s.ok()) {
    spdlog::error("snapshot: listing {}: {}; nothing deleted", options.dir, s.ToString());
    return;
  }
  const storage::SnapshotRetention plan = storage::PlanSnapshotRetention(
      listing, storage::GroupSnapshotSets(options.env, listing.snapshots), lsn);
  if (plan.kept.empty()) {
    spdlog::error("snapshot: the set at lsn {} in {} is not whole; nothing deleted", lsn,
                  options.dir);
    return;
  }
  // A file that could not be deleted is only space: the next snapshot's plan deletes it again.
  for (const std::string& path : plan.deletions) {
    Status d = options.env->DeleteFile(path);
    if (!d.ok()) spdlog::warn("snapshot: deleting {}: {}", path, d.ToString());
  }
  s = options.env->SyncDir(options.dir);
  if (!s.ok()) spdlog::warn("snapshot: syncing {}: {}", options.dir, s.ToString());
  if (plan.kept.size() > 1) {
    spdlog::info("snapshot: keeping the sets at lsn {} and {} and the WAL from lsn {}", lsn,
                 plan.kept[1], plan.wal_from);
  }
}

// While the WAL has failed, tries again every second (see WalState::Recover).
void ScheduleRetry(Self self) {
  WalState& st = self->state;
  if (!st.shared->failed || st.retry_scheduled) return;
  st.retry_scheduled = true;
  self->delayed_send(self, std::chrono::seconds(1), retry_atom::value);
}

// Cold segments without live records that no kept snapshot can reference: a segment that died
// during round d may be referenced by round d's snapshot (its walk may have passed a key still
// in it), never by a later round's. The two newest complete rounds are kept (the older in case
// the newer is damaged): once the older of them is later than d, the segment can go.
void DeleteDeadSegments(WalState& st) {
  TierSegments* segments = st.options.tier_segments;
  if (segments == nullptr) return;
  st.complete_rounds.push_back(st.snapshot_round);
  if (st.complete_rounds.size() > 2) st.complete_rounds.erase(st.complete_rounds.begin());
  if (st.complete_rounds.size() < 2) return;
  const std::vector<uint32_t> ids = segments->TakeDeletable(st.complete_rounds.front());
  for (uint32_t id : ids) {
    const std::string path = JoinPath(st.options.dir, storage::ColdSegmentFileName(id));
    Status s = st.options.env->DeleteFile(path);
    if (!s.ok()) spdlog::warn("tier: deleting {}: {}", path, s.message());
    segments->deleted_segments.fetch_add(1, std::memory_order_relaxed);
  }
  if (!ids.empty()) {
    // Unsynced, a deleted segment may come back after a crash: recovery ignores segments no
    // entry refers to, so that costs space only.
    Status s = st.options.env->SyncDir(st.options.dir);
    if (!s.ok()) spdlog::warn("tier: syncing {}: {}", st.options.dir, s.ToString());
    spdlog::info("tier: deleted {} cold segments without live values", ids.size());
  }
}

// Periodic: has the syncer fdatasync the current file, unless nothing was written since the
// last sync began. This actor goes on writing and acknowledging meanwhile; the records written
// before the sync began stay in `unsynced` until it succeeds. A failure is the WAL's failure
// (writes refused, then Recover), unless the file was replaced since: rotation syncs a file
// before closing it, and a failed sync makes every later one of that file fail too.
void SyncInBackground(Self self) {
  WalState& st = self->state;
  if (!st.dirty || st.shared->failed || st.file == nullptr) return;
  if (st.sync_running) {
    st.sync_due = true;  // again as soon as this one is done
    return;
  }
  st.sync_running = true;
  st.sync_due = false;
  st.dirty = false;
  const uint64_t generation = st.file_generation;
  const uint64_t covered = st.written_lsn;
  auto done = [self, generation, covered](const std::string& error) {
    WalState& st = self->state;
    st.sync_running = false;
    if (error.empty()) {
      st.Synced(generation, covered);
    } else if (generation == st.file_generation) {
      st.SetFailed(Status::IoError(error));
      ScheduleRetry(self);
    }
    if (st.sync_due) SyncInBackground(self);
  };
  self->request(st.syncer, caf::infinite, sync_atom::value, WalFileRef{st.file})
      .then(done, [done](caf::error& e) { done("WAL syncer: " + to_string(e)); });
}

persistence_actor::behavior_type WalBehavior(Self self, PersistenceOptions options,
                                             PersistenceState* shared,
                                             std::vector<shard_actor> shards, uint64_t next_lsn) {
  WalState& st = self->state;
  st.options = std::move(options);
  st.shared = shared;
  st.shards = std::move(shards);
  st.next_lsn = next_lsn;
  st.writer = SpawnSnapshotWriter(self->system(), st.options.env, st.options.dir);
  if (st.options.fsync == FsyncMode::kPeriodic) st.syncer = SpawnWalSyncer(self->system(), shared);
  Status s = st.OpenNewFile(st.next_lsn);
  if (!s.ok()) {
    st.SetFailed(s);
    ScheduleRetry(self);
  }
  if (st.options.fsync == FsyncMode::kPeriodic) {
    self->delayed_send(self, std::chrono::milliseconds(st.options.fsync_interval_ms),
                       sync_atom::value);
  }
  if (st.options.snapshot_interval_s > 0) {
    self->delayed_send(self, std::chrono::seconds(st.options.snapshot_interval_s),
                       snaptick_atom::value);
  }

  auto start_snapshot = [self]() {
    WalState& st = self->state;
    if (st.snapshot_running || st.shared->failed) return;
    // Everything before L is in the files being closed; every shard's snapshot starts after
    // it received this message, so it holds every write of a record below L.
    if (st.file != nullptr && !st.Rotate().ok()) return;
    st.snapshot_running = true;
    st.shared->snapshot_running = true;
    st.snapshot_lsn = st.next_lsn;
    if (st.options.tier_segments != nullptr) {
      st.snapshot_round = st.options.tier_segments->round.fetch_add(1) + 1;
    }
    st.shards_done = 0;
    st.snapshot_ok = true;
    st.writes_since_snapshot = 0;
    spdlog::info("snapshot: starting at lsn {} ({} shards)", st.snapshot_lsn, st.shards.size());
    const auto coordinator = caf::actor_cast<persistence_actor>(self);
    for (const shard_actor& shard : st.shards) {
      self->send(shard, snapshot_atom::value, st.snapshot_lsn, st.writer, coordinator);
    }
  };

  return {
      [self](wal_atom, WalWritePtr p) {
        WalState& st = self->state;
        std::unique_ptr<WalWrite> w(p.write);
        storage::WalRecordHeader h;
        h.lsn = st.next_lsn++;
        h.shard = w->shard;
        h.count = w->count;
        st.shared->next_lsn.store(st.next_lsn, std::memory_order_relaxed);
        std::string record = storage::EncodeWalRecord(h, w->mutations);
        Status s =
            st.shared->failed ? Status::IoError(st.shared->Failure()) : st.log->AddRecord(record);
        st.shared->wal_bytes.fetch_add(record.size(), std::memory_order_relaxed);
        st.shared->wal_records.fetch_add(1, std::memory_order_relaxed);
        st.writes_since_snapshot += w->count;
        st.unsynced.push_back(std::move(record));
        if (!s.ok()) st.SetFailed(s);
        for (ShardBatch* b : w->held) st.held.push_back(b);
        if (!st.flush_scheduled) {
          // Handled after every message already queued: they share this write and fsync.
          st.flush_scheduled = true;
          self->send(self, flush_atom::value);
        }
      },
      [self, start_snapshot](flush_atom) {
        WalState& st = self->state;
        st.Flush();
        const bool writes_due = st.options.snapshot_every_writes > 0 &&
                                st.writes_since_snapshot >= st.options.snapshot_every_writes;
        // Disk held by dead cold segments comes back after the next two snapshots.
        const bool dead_disk =
            st.options.tier_segments != nullptr &&
            st.options.tier_segments->dead_bytes() > kDeadSegmentBytesForSnapshot;
        if (writes_due || dead_disk) start_snapshot();
        ScheduleRetry(self);  // the write, the sync or a rotation may have failed
      },
      [self](sync_atom) {
        SyncInBackground(self);
        self->delayed_send(self, std::chrono::milliseconds(self->state.options.fsync_interval_ms),
                           sync_atom::value);
      },
      [self](retry_atom) {
        WalState& st = self->state;
        st.retry_scheduled = false;
        if (!st.shared->failed) return;
        if (!st.Recover()) ScheduleRetry(self);
      },
      [self, start_snapshot](snaptick_atom) {
        start_snapshot();
        ScheduleRetry(self);  // the rotation may have failed
        self->delayed_send(self, std::chrono::seconds(self->state.options.snapshot_interval_s),
                           snaptick_atom::value);
      },
      [self](snapdone_atom, uint32_t shard, uint64_t lsn, bool ok, const std::string& error) {
        WalState& st = self->state;
        if (lsn != st.snapshot_lsn) return;
        if (!ok) {
          st.snapshot_ok = false;
          spdlog::error("snapshot: shard {} failed: {}", shard, error);
        }
        if (++st.shards_done < st.shards.size()) return;
        st.snapshot_running = false;
        st.shared->snapshot_running = false;
        if (st.snapshot_ok) {
          PruneAfterSnapshot(st.options, lsn);
          DeleteDeadSegments(st);
          spdlog::info("snapshot: done at lsn {}", lsn);
          // Published last: whoever sees the new count (INFO, /metrics) also finds the older
          // files pruned and the log line written.
          st.shared->snapshots.fetch_add(1, std::memory_order_relaxed);
          st.shared->last_snapshot_lsn.store(lsn, std::memory_order_relaxed);
          st.shared->last_snapshot_ms.store(WallClockMs(), std::memory_order_relaxed);
        }
        for (auto& rp : st.finish_waiters) rp.deliver(st.snapshot_ok);
        st.finish_waiters.clear();
      },
      [self, start_snapshot](finish_atom) -> caf::result<bool> {
        WalState& st = self->state;
        st.finishing = true;
        if (st.flush_scheduled) st.Flush();
        if (st.file != nullptr && !st.shared->failed) {
          Status s = st.Sync();
          if (!s.ok()) st.SetFailed(s);
        }
        if (st.shared->failed) return false;
        auto rp = self->make_response_promise<bool>();
        st.finish_waiters.push_back(rp);
        if (!st.snapshot_running) start_snapshot();
        return rp;
      },
  };
}

}  // namespace

persistence_actor SpawnPersistence(caf::actor_system& system, PersistenceOptions options,
                                   PersistenceState* state, std::vector<shard_actor> shards,
                                   uint64_t next_lsn) {
  if (options.fsync == FsyncMode::kAlways) {
    // An fdatasync per group commit: on a thread of its own, so that it holds up only the
    // replies that wait for it.
    return system.spawn<caf::detached>(WalBehavior, std::move(options), state, std::move(shards),
                                       next_lsn);
  }
  // Only write(2)s (periodic syncs run on the syncer): scheduled like the shards, so that the
  // I/O loop that ran a shard's batch runs its WAL write too, and the replies leave in the same
  // pass (IoLoop).
  return system.spawn(WalBehavior, std::move(options), state, std::move(shards), next_lsn);
}

}  // namespace dbkv
