#include "actors/shard_actor.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <string>

#include "actors/tier_actors.h"
#include "core/clock.h"

namespace dbkv {

namespace {

// Whether a write may run under the memory limit: past it, evicts by policy (down to 99% of
// the limit, so that not every write evicts) as long as eviction frees something.
bool MemoryAllowsWrite(Partition& partition, CommandRunner& runner, const ShardLimits& limits,
                       const Tier* tier, int64_t now_ms) {
  const uint64_t memory = partition.stats().memory_bytes;
  if (memory <= limits.max_memory) return true;
  // With tiered storage, spilling (after this message) frees memory while there are values to
  // move: writes go on, up to a quarter past the limit.
  if (tier != nullptr && tier->can_spill() && memory <= limits.max_memory + limits.max_memory / 4)
    return true;
  if (limits.eviction == EvictionPolicy::kNoEviction) return false;
  const uint64_t target = limits.max_memory - limits.max_memory / 100;
  for (int round = 0; round < 64 && partition.stats().memory_bytes > target; ++round) {
    const size_t freed = partition.Evict(
        limits.eviction, partition.stats().memory_bytes - target, now_ms, 2 * KeyTable::kSegmentMax,
        [&runner](std::string_view ns, std::string_view key, uint64_t version) {
          // A removal like any other: logged, and seen by blocked commands.
          runner.OnWrite(ns, key, nullptr, version, nullptr);
        });
    if (freed == 0) break;
  }
  return partition.stats().memory_bytes <= limits.max_memory;
}

Reply OutOfMemory(const Partition& partition, const ShardLimits& limits, const Tier* tier) {
  return Reply::Error(
      Code::kOutOfMemory,
      "command not allowed when used memory > --max-memory (this shard holds " +
          std::to_string(partition.stats().memory_bytes) + " bytes of its " +
          std::to_string(limits.max_memory) + "; " +
          (tier != nullptr && tier->can_spill()
               ? "moving values to disk cannot keep up with the writes"
           : tier != nullptr ? "keys alone fill it, and the eviction policy cannot free any"
                             : "the eviction policy cannot free any") +
          ")");
}

}  // namespace

bool RunOp(Partition& partition, CommandRunner& runner, ShardOp& op, BatchCompletion* completion,
           const PersistenceState* p, const ShardLimits* limits, const Tier* tier, int64_t now_ms) {
  if ((op.cmd->flags & kCmdWrite) && p != nullptr && p->failed.load(std::memory_order_relaxed)) {
    *op.reply =
        Reply::Error(Code::kIoError, "writes are refused: the write-ahead log cannot be written (" +
                                         const_cast<PersistenceState*>(p)->Failure() + ")");
    return false;
  }
  if (limits != nullptr && limits->max_memory != 0 &&
      (op.cmd->flags & (kCmdWrite | kCmdAllowOom)) == kCmdWrite &&
      !MemoryAllowsWrite(partition, runner, *limits, tier, now_ms)) {
    *op.reply = OutOfMemory(partition, *limits, tier);
    Waiters& waiters = runner.waiters();
    if (waiters.has_written()) waiters.ProcessWrites(now_ms);
    return false;
  }
  const bool parked = runner.Run(op, completion, now_ms);
  Waiters& waiters = runner.waiters();
  // Blocked commands waiting on what this op wrote go before the next op (as in Redis, a
  // push is handed to a waiting BLPOP before anyone else can pop it).
  if (waiters.has_written()) waiters.ProcessWrites(now_ms);
  return parked;
}

void RunBatch(Partition& partition, CommandRunner& runner, ShardBatch& batch,
              const PersistenceState* p, const ShardLimits* limits, Tier* tier) {
  const int64_t now_ms = WallClockMs();
  size_t kept = 0;
  for (size_t i = 0; i < batch.ops.size(); ++i) {
    ShardOp& op = batch.ops[i];
    // Waiting for a cold value to load (or behind its connection's op that does).
    if (tier != nullptr && tier->Park(op, batch.completion)) continue;
    if (!RunOp(partition, runner, op, batch.completion, p, limits, tier, now_ms)) {
      batch.ops[kept++] = op;
    }
  }
  batch.ops.resize(kept);
}

void RunBatch(Partition& partition, uint32_t shard_id, uint32_t shard_count, ShardBatch& batch) {
  ShardContext ctx(&partition, shard_id, shard_count);
  const int64_t now_ms = WallClockMs();
  for (ShardOp& op : batch.ops) {
    ctx.Reset(op.ns, now_ms);
    *op.reply = CallHandler(*op.cmd, ctx, &partition, op.args);
    if (op.reply->blocked) *op.reply = Reply::Error(Code::kInternal, "blocking not supported");
  }
}

namespace {

using Self = shard_actor::stateful_pointer<ShardState>;

// The tier's requests, as messages to the shard's writer and reader.
class ActorTierIo final : public TierIo {
 public:
  ActorTierIo(Self self, tier_writer_actor writer, tier_reader_actor reader)
      : self_(self), writer_(std::move(writer)), reader_(std::move(reader)) {}
  void Append(TierAppend* a) override {
    self_->send(writer_, tier_append_atom::value, TierAppendPtr{a});
  }
  void Read(TierRead* r) override { self_->send(reader_, tier_read_atom::value, TierReadPtr{r}); }
  void Scan(TierScan* s) override { self_->send(reader_, tier_scan_atom::value, TierScanPtr{s}); }

 private:
  Self self_;
  tier_writer_actor writer_;
  tier_reader_actor reader_;
};

// Makes sure a timer message arrives by the waiters' next deadline.
void ScheduleTimer(Self self) {
  ShardState& st = self->state;
  const int64_t next = st.runner->waiters().next_timer();
  if (next == 0) return;
  if (st.timer_at_ms != 0 && st.timer_at_ms <= next) return;
  st.timer_at_ms = next;
  const int64_t delay = std::max<int64_t>(0, next - WallClockMs());
  self->delayed_send(self, std::chrono::milliseconds(delay), timer_atom::value);
}

// At the end of every message: the WAL records of what it changed go to the persistence actor;
// finished batches go back to their I/O loops. When the message changed anything, its batches
// (reads too: they may have seen the change) go with the records, and the persistence actor
// hands them back once the records are written to the WAL file (with --fsync always, synced).
void AfterWork(Self self) {
  ShardState& st = self->state;
  if (st.tier != nullptr) st.tier->AfterWork(WallClockMs());
  if (st.wal && !st.wal_buffer.empty()) {
    auto* w = new WalWrite();
    w->shard = st.id;
    w->mutations = st.wal_buffer.Take(&w->count);
    w->held.swap(st.deliveries);
    self->send(st.wal, wal_atom::value, WalWritePtr{w});
  }
  // Counters first: a client that got its reply sees them.
  if (st.metrics != nullptr)
    st.metrics->Publish(st.partition->stats(), st.runner->waiters().size());
  for (ShardBatch* b : st.deliveries) b->completion->OnBatchDone(b);
  st.deliveries.clear();
  if (st.runner->waiters().size() != 0) ScheduleTimer(self);
}

// -- Snapshots.

constexpr size_t kBlockTargetBytes = 512 * 1024;

void FinishWalk(Self self, bool ok, const std::string& error) {
  ShardState& st = self->state;
  ShardState::Walk& w = st.walk;
  for (const std::string& ns : w.namespaces) {
    auto it = st.partition->tables().find(ns);
    if (it != st.partition->tables().end()) it->second.Thaw();
  }
  self->send(w.coordinator, snapdone_atom::value, st.id, w.lsn, ok, error);
  w = ShardState::Walk();
}

// Serializes the next block (whole segments, about kBlockTargetBytes), sends it to the writer
// and continues when the writer has it.
void WalkStep(Self self) {
  ShardState& st = self->state;
  ShardState::Walk& w = st.walk;
  storage::SnapshotBlockBuilder block;
  const int64_t now = WallClockMs();
  while (w.ns < w.namespaces.size() && block.bytes() < kBlockTargetBytes) {
    auto it = st.partition->tables().find(w.namespaces[w.ns]);
    if (it == st.partition->tables().end() || w.segment >= it->second.segment_count()) {
      ++w.ns;
      w.segment = 0;
      continue;
    }
    for (const Record* r : it->second.segment(w.segment)) {
      if (r->IsExpired(now)) continue;
      block.Add(w.namespaces[w.ns], *r);
      w.max_version = std::max<uint64_t>(w.max_version, r->version());
    }
    ++w.segment;
  }
  if (!block.empty()) {
    w.entries += block.entries();
    ++w.blocks;
    self->request(w.writer, caf::infinite, snapblock_atom::value, st.id, block.Finish())
        .then(
            [self](bool ok) {
              if (!ok) return FinishWalk(self, false, "writing a block failed");
              WalkStep(self);
            },
            [self](caf::error& e) { FinishWalk(self, false, to_string(e)); });
    return;
  }
  // Done: the footer, then fsync and rename by the writer. Cold entries reference records
  // in the current cold segment: those go to disk first.
  auto finish = [self] {
    ShardState& st = self->state;
    ShardState::Walk& w = st.walk;
    const std::string footer = storage::EncodeSnapshotFooter(
        w.entries, std::max(w.max_version, st.partition->last_version()), w.blocks);
    self->request(w.writer, caf::infinite, snapend_atom::value, st.id, footer, w.lsn)
        .then(
            [self](bool ok) {
              FinishWalk(self, ok, ok ? "" : "finishing the snapshot file failed");
            },
            [self](caf::error& e) { FinishWalk(self, false, to_string(e)); });
  };
  if (!st.tier_writer) return finish();
  self->request(st.tier_writer, caf::infinite, tier_sync_atom::value)
      .then(
          [self, finish](bool ok) {
            if (!ok) return FinishWalk(self, false, "syncing the cold segments failed");
            finish();
          },
          [self](caf::error& e) { FinishWalk(self, false, to_string(e)); });
}

void StartWalk(Self self, uint64_t lsn, snapshot_writer_actor writer,
               persistence_actor coordinator) {
  ShardState& st = self->state;
  if (st.walk.active) {
    self->send(coordinator, snapdone_atom::value, st.id, lsn, false,
               std::string("a snapshot is already running"));
    return;
  }
  ShardState::Walk& w = st.walk;
  w.active = true;
  w.lsn = lsn;
  w.writer = std::move(writer);
  w.coordinator = std::move(coordinator);
  for (auto& [ns, table] : st.partition->tables()) {
    w.namespaces.push_back(ns);
    table.Freeze();  // no segment splits until the walk is done
  }
  storage::SnapshotHeader h;
  h.shard = st.id;
  h.shard_count = st.count;
  h.start_lsn = lsn;
  h.created_ms = WallClockMs();
  self->request(w.writer, caf::infinite, snapbegin_atom::value, st.id,
                storage::EncodeSnapshotHeader(h))
      .then(
          [self](bool ok) {
            if (!ok) return FinishWalk(self, false, "creating the snapshot file failed");
            WalkStep(self);
          },
          [self](caf::error& e) { FinishWalk(self, false, to_string(e)); });
}

shard_actor::behavior_type ShardBehavior(Self self, uint32_t id, uint32_t count,
                                         const std::shared_ptr<std::unique_ptr<Partition>>& loaded,
                                         PersistenceState* persistence, ShardMetrics* metrics,
                                         ShardLimits limits, const ShardTiering& tiering) {
  ShardState& st = self->state;
  st.limits = limits;
  self->delayed_send(self, std::chrono::milliseconds(kHousekeepIntervalMs), housekeep_atom::value,
                     true);
  st.metrics = metrics;
  st.id = id;
  st.count = count;
  st.partition = *loaded != nullptr ? std::move(*loaded) : std::make_unique<Partition>();
  st.persistence = persistence;
  st.runner = std::make_unique<CommandRunner>(st.partition.get(), id, count);
  st.runner->waiters().set_deliver([self](ShardBatch* b) { self->state.deliveries.push_back(b); });
  if (!tiering.dir.empty()) {
    st.tier_writer = SpawnTierWriter(self->system(), tiering.env, tiering.dir);
    st.tier_reader = SpawnTierReader(self->system(), tiering.env, tiering.dir);
    // The I/O actors go with the shard.
    self->attach_functor([w = st.tier_writer, r = st.tier_reader](const caf::error&) {
      caf::anon_send_exit(w, caf::exit_reason::user_shutdown);
      caf::anon_send_exit(r, caf::exit_reason::user_shutdown);
    });
    st.sync_reader = std::make_unique<TierReaderFiles>(tiering.env, tiering.dir);
    st.tier_io = std::make_unique<ActorTierIo>(self, st.tier_writer, st.tier_reader);
    TierOptions to = tiering.options;
    to.shard = id;
    to.max_memory = limits.max_memory;
    // Segments of a quarter of the shard's memory (1 to 64 MiB): small memory, small
    // segments, so that compaction has sealed segments to work on.
    to.segment_bytes =
        std::clamp<uint64_t>(limits.max_memory / 4, uint64_t{1} << 20, to.segment_bytes);
    st.tier = std::make_unique<Tier>(
        to, tiering.segments, st.partition.get(), st.tier_io.get(), st.sync_reader.get(),
        [self](ShardOp& op, BatchCompletion* completion) {
          ShardState& st = self->state;
          return RunOp(*st.partition, *st.runner, op, completion, st.persistence, &st.limits,
                       st.tier.get(), WallClockMs());
        },
        [self](ShardBatch* b) { self->state.deliveries.push_back(b); });
    st.runner->set_cold_resolver(st.tier.get());
  }
  return {
      [self](run_atom, BatchPtr p) {
        ShardState& st = self->state;
        RunBatch(*st.partition, *st.runner, *p.batch, st.persistence, &st.limits, st.tier.get());
        st.deliveries.push_back(p.batch);
        AfterWork(self);
      },
      [self](timer_atom) {
        ShardState& st = self->state;
        const int64_t now = WallClockMs();
        if (st.timer_at_ms <= now) st.timer_at_ms = 0;
        st.runner->waiters().ProcessTimers(now);
        AfterWork(self);
        ScheduleTimer(self);
      },
      [self](cancel_atom, uint64_t conn_id, uint64_t seq) {
        ShardState& st = self->state;
        st.runner->waiters().Cancel(conn_id, seq);
        if (seq == 0 && st.tier != nullptr) st.tier->Cancel(conn_id);
        AfterWork(self);
        ScheduleTimer(self);
      },
      [self](attach_atom, persistence_actor wal) {
        ShardState& st = self->state;
        st.wal = std::move(wal);
        st.runner->set_write_listener(&st.wal_buffer);
      },
      [self](snapshot_atom, uint64_t lsn, snapshot_writer_actor writer,
             persistence_actor coordinator) {
        StartWalk(self, lsn, std::move(writer), std::move(coordinator));
      },
      [](health_atom) { return true; },
      [self](tier_appended_atom, TierAppendPtr a) {
        ShardState& st = self->state;
        if (st.tier != nullptr) st.tier->OnAppended(a.p, WallClockMs());
        AfterWork(self);
      },
      [self](tier_loaded_atom, TierReadPtr r) {
        ShardState& st = self->state;
        if (st.tier != nullptr) st.tier->OnLoaded(r.p);
        AfterWork(self);
      },
      [self](tier_scanned_atom, TierScanPtr s) {
        ShardState& st = self->state;
        if (st.tier != nullptr) st.tier->OnScanned(s.p);
        AfterWork(self);
      },
      [self](housekeep_atom, bool tick) {
        ShardState& st = self->state;
        if (tick && st.tier != nullptr) st.tier->Housekeep(WallClockMs());
        if (!tick) st.housekeep_more = false;
        const Partition::ExpiryScan r =
            st.partition->ReclaimExpired(WallClockMs(), kExpiryVisitsPerSlice);
        if (r.more && !st.housekeep_more) {
          // The rest after whatever is queued: requests run between the slices.
          st.housekeep_more = true;
          self->send(self, housekeep_atom::value, false);
        }
        if (tick) {
          self->delayed_send(self, std::chrono::milliseconds(kHousekeepIntervalMs),
                             housekeep_atom::value, true);
        }
        AfterWork(self);
      },
  };
}

}  // namespace

shard_actor SpawnShard(caf::actor_system& system, uint32_t id, uint32_t count,
                       std::unique_ptr<Partition> partition, PersistenceState* persistence,
                       ShardMetrics* metrics, ShardLimits limits, ShardTiering tiering) {
  // CAF copies spawn arguments: hand the partition over through a shared pointer.
  auto loaded = std::make_shared<std::unique_ptr<Partition>>(std::move(partition));
  if (metrics != nullptr && *loaded != nullptr) metrics->Publish((*loaded)->stats(), 0);
  return system.spawn(ShardBehavior, id, count, loaded, persistence, metrics, limits, tiering);
}

}  // namespace dbkv
