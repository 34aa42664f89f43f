#include "actors/tier.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/clock.h"

namespace dbkv {

Tier::Tier(const TierOptions& options, TierSegments* segments, Partition* partition, TierIo* io,
           TierReaderFiles* sync_reader, RunOp run, Deliver deliver)
    : o_(options),
      segments_(segments),
      partition_(partition),
      io_(io),
      sync_reader_(sync_reader),
      run_(std::move(run)),
      deliver_(std::move(deliver)) {
  high_ = static_cast<uint64_t>(static_cast<double>(o_.max_memory) * o_.high_watermark);
  low_ = static_cast<uint64_t>(static_cast<double>(o_.max_memory) * o_.low_watermark);
}

Tier::~Tier() = default;

// -- Loads.

void Tier::MissingLoads(const Parked& p, std::vector<ColdRef>* out) {
  out->clear();
  const int64_t now = WallClockMs();
  ForEachKey(p.op.cmd->keys, p.op.args, [&](std::string_view key) {
    const Record* e = partition_->FindForRestore(p.op.ns, key);
    if (e == nullptr || !e->is_cold() || e->IsExpired(now)) return;
    const ColdRef ref = e->value().cold_ref();
    const uint64_t k = SlotKey(ref);
    for (uint64_t have : p.slots) {
      if (have != k) continue;
      auto it = inflight_.find(k);
      if (it != inflight_.end() && it->second.ref == ref) return;  // asked for already
    }
    for (const ColdRef& r : *out) {
      if (r == ref) return;
    }
    out->push_back(ref);
  });
}

void Tier::RequestLoads(Parked& p, const std::vector<ColdRef>& refs) {
  auto* r = new TierRead();
  for (const ColdRef& ref : refs) {
    const uint64_t k = SlotKey(ref);
    auto [it, fresh] = inflight_.try_emplace(k);
    Slot& slot = it->second;
    if (fresh || !(slot.ref == ref)) {
      // Not loading yet (or a stale slot of an older record at that place: start over).
      slot = Slot();
      slot.ref = ref;
      r->refs.push_back(ref);
    }
    ++slot.users;
    p.slots.push_back(k);
  }
  if (r->refs.empty()) {
    delete r;
    return;
  }
  io_->Read(r);
}

bool Tier::WaitsForMemory(const ShardOp& op) {
  if (o_.max_memory == 0 || (op.cmd->flags & (kCmdWrite | kCmdAllowOom)) != kCmdWrite ||
      partition_->stats().memory_bytes <= o_.max_memory) {
    return false;
  }
  if (spills_in_flight_ == 0) Spill(WallClockMs());
  return spills_in_flight_ > 0;
}

bool Tier::Park(ShardOp& op, BatchCompletion* completion) {
  auto queue = parked_.find(op.conn_id);
  if (queue != parked_.end()) {
    // Behind the connection's waiting ops, whatever this one needs.
    queue->second.push_back(Parked{op, completion, {}, false});
    ++parked_count_;
    return true;
  }
  if (WaitsForMemory(op)) {
    parked_[op.conn_id].push_back(Parked{op, completion, {}, true});
    ++parked_count_;
    return true;
  }
  // Nothing on disk (the common case until memory fills): no lookups.
  if (partition_->stats().cold_keys == 0 || !ReadsValues(*op.cmd, op.args)) return false;
  Parked p{op, completion, {}, false};
  std::vector<ColdRef> refs;
  MissingLoads(p, &refs);
  if (refs.empty()) return false;
  RequestLoads(p, refs);
  parked_[op.conn_id].push_back(std::move(p));
  ++parked_count_;
  return true;
}

void Tier::OnLoaded(TierRead* r) {
  for (size_t i = 0; i < r->refs.size(); ++i) {
    const ColdRef& ref = r->refs[i];
    segments_->cold_reads.fetch_add(1, std::memory_order_relaxed);
    segments_->loaded_bytes.fetch_add(ref.length, std::memory_order_relaxed);
    if (!r->status[i].ok()) {
      segments_->cold_read_errors.fetch_add(1, std::memory_order_relaxed);
      spdlog::error("shard {}: reading a cold value: {}", o_.shard, r->status[i].message());
    }
    auto it = inflight_.find(SlotKey(ref));
    if (it == inflight_.end() || !(it->second.ref == ref)) continue;
    if (it->second.users <= 0) {
      inflight_.erase(it);
      continue;
    }
    it->second.done = true;
    it->second.status = std::move(r->status[i]);
    it->second.value = std::move(r->values[i]);
  }
  delete r;
  DrainAll();
}

void Tier::DrainAll() {
  if (parked_.empty()) return;
  std::vector<uint64_t> conns;
  conns.reserve(parked_.size());
  for (const auto& kv : parked_) conns.push_back(kv.first);
  for (uint64_t c : conns) Drain(c);
}

void Tier::ReleaseSlots(Parked& p) {
  for (uint64_t k : p.slots) {
    auto it = inflight_.find(k);
    if (it == inflight_.end()) continue;
    if (--it->second.users <= 0 && it->second.done) inflight_.erase(it);
  }
  p.slots.clear();
}

void Tier::Finish(Parked& p, Reply reply) {
  *p.op.reply = std::move(reply);
  ReleaseSlots(p);
  auto* batch = new ShardBatch();
  batch->shard = o_.shard;
  batch->completion = p.completion;
  batch->ops.push_back(p.op);
  deliver_(batch);
}

void Tier::Drain(uint64_t conn_id) {
  for (;;) {
    auto it = parked_.find(conn_id);
    if (it == parked_.end()) return;
    if (it->second.empty()) {
      parked_.erase(it);
      return;
    }
    Parked& p = it->second.front();
    if (p.memory) {
      if (WaitsForMemory(p.op)) return;
      p.memory = false;
    }
    Status failed;
    for (uint64_t k : p.slots) {
      auto s = inflight_.find(k);
      if (s == inflight_.end()) continue;
      if (!s->second.done) return;  // still loading
      if (!s->second.status.ok() && failed.ok()) failed = s->second.status;
    }
    if (!failed.ok()) {
      // The stored value cannot be read: say so, never answer as if the key were missing.
      Finish(p, Reply::Error(Code::kCorruption,
                             "a stored value cannot be read (" + failed.message() + ")"));
    } else {
      if (ReadsValues(*p.op.cmd, p.op.args)) {
        // Spilled again, or moved by compaction, while it waited: load what it needs now.
        std::vector<ColdRef> refs;
        MissingLoads(p, &refs);
        if (!refs.empty()) {
          RequestLoads(p, refs);
          return;
        }
      }
      running_ = &p;
      const bool blocked = run_(p.op, p.completion);
      running_ = nullptr;
      lent_.clear();
      if (blocked) {
        ReleaseSlots(p);  // the waiters have it now
      } else {
        ReleaseSlots(p);
        auto* batch = new ShardBatch();
        batch->shard = o_.shard;
        batch->completion = p.completion;
        batch->ops.push_back(p.op);
        deliver_(batch);
      }
    }
    it = parked_.find(conn_id);  // running may have touched the map
    it->second.pop_front();
    --parked_count_;
  }
}

void Tier::Cancel(uint64_t conn_id) {
  auto it = parked_.find(conn_id);
  if (it == parked_.end()) return;
  std::deque<Parked> q = std::move(it->second);
  parked_.erase(it);
  for (Parked& p : q) {
    Finish(p, Reply::Error(Code::kIoError, "connection closed"));
    --parked_count_;
  }
}

Record* Tier::Resolve(std::string_view ns, std::string_view key, Record* e, bool for_write) {
  const ColdRef ref = e->value().cold_ref();
  Value v;
  auto it = inflight_.find(SlotKey(ref));
  if (it != inflight_.end() && it->second.done && it->second.status.ok() && it->second.ref == ref) {
    v = it->second.value;
  } else {
    // Not loaded ahead: a blocked command re-run by a write, or a key the command did not
    // declare. Read it here, on the shard's thread (counted: it should be rare).
    segments_->sync_loads.fetch_add(1, std::memory_order_relaxed);
    segments_->cold_reads.fetch_add(1, std::memory_order_relaxed);
    segments_->loaded_bytes.fetch_add(ref.length, std::memory_order_relaxed);
    Status s = sync_reader_ != nullptr ? sync_reader_->ReadOne(ref, &v)
                                       : Status::Internal("no reader for cold values");
    if (!s.ok()) {
      segments_->cold_read_errors.fetch_add(1, std::memory_order_relaxed);
      spdlog::error("shard {}: reading a cold value: {}", o_.shard, s.message());
      return nullptr;
    }
  }
  const uint64_t memory = partition_->stats().memory_bytes;
  const uint64_t after = memory + v.HeapBytes();
  const bool often = (e->flags() & kEntryColdRead) != 0;
  if (for_write || o_.max_memory == 0 || after <= low_ || (often && after <= high_)) {
    e = partition_->MakeHot(ns, e, std::move(v));
    e->set_flags(e->flags() & ~kEntryColdRead);
    segments_->promoted.fetch_add(1, std::memory_order_relaxed);
    return e;
  }
  // Lent to this command only; the next read of it brings it back if memory allows.
  e->set_flags(e->flags() | kEntryColdRead);
  Entry l = e->Copy();  // its cold reference, replaced by the value
  l.value = std::move(v);
  lent_.emplace_back(Record::Make(key, std::move(l)));
  return lent_.back().get();
}

// -- Writing: spills and compaction share the shard's current segment.

TierAppend* Tier::NewAppend() {
  if (segment_ == 0) {
    segment_ = segments_->NewSegmentId();
    segment_size_ = storage::kColdHeaderSize;
    segment_created_ = false;
  }
  auto* a = new TierAppend();
  a->id = next_append_++;
  a->segment = segment_;
  a->create = !segment_created_;
  a->shard = o_.shard;
  segment_created_ = true;
  return a;
}

void Tier::SendAppend(TierAppend* a, PendingAppend pending) {
  segment_size_ += a->data.size();
  if (segment_size_ >= o_.segment_bytes) {
    a->seal = true;
    segment_ = 0;  // the next append starts a new segment
  }
  if (!pending.spills.empty()) ++spills_in_flight_;
  if (!pending.moves.empty()) ++compaction_.appends;
  appends_.emplace(a->id, std::move(pending));
  io_->Append(a);
}

void Tier::Spill(int64_t now_ms) {
  if (o_.max_memory == 0 || spills_in_flight_ >= o_.max_spills_in_flight ||
      now_ms < spill_paused_until_) {
    return;
  }
  const uint64_t memory = partition_->stats().memory_bytes;
  if (memory <= high_) return;
  TierAppend* a = nullptr;
  PendingAppend pending;
  bool found = false;
  partition_->PickColdest(
      memory - low_, o_.min_value_bytes, now_ms, 4 * KeyTable::kSegmentMax,
      [&](std::string_view ns, Record& e) {
        found = true;
        if (a == nullptr) a = NewAppend();
        const uint64_t offset = segment_size_ + a->data.size();
        const KeyText key = e.key();
        const size_t len = encoder_.Append(ns, key.view(), e.version(), e.value(), &a->data);
        pending.spills.push_back({std::string(ns), key.str(), e.version(),
                                  ColdRef{a->segment, static_cast<uint32_t>(offset),
                                          static_cast<uint32_t>(len), e.value().type()}});
        e.set_flags(e.flags() | kEntrySpilling);
        return a->data.size() < o_.spill_batch_bytes;
      });
  can_spill_ = found;
  if (a != nullptr) SendAppend(a, std::move(pending));
}

void Tier::OnAppended(TierAppend* a, int64_t now_ms) {
  auto it = appends_.find(a->id);
  PendingAppend pending;
  if (it != appends_.end()) {
    pending = std::move(it->second);
    appends_.erase(it);
  }
  if (!pending.spills.empty()) --spills_in_flight_;
  if (!pending.moves.empty()) --compaction_.appends;
  if (!a->status.ok()) {
    // Nothing more goes to that segment; the values stay in memory. Try again in a while.
    spill_paused_until_ = now_ms + 1000;
    if (a->segment == segment_) segment_ = 0;
    for (const PendingSpill& p : pending.spills) {
      Record* e = partition_->FindForRestore(p.ns, p.key);
      if (e != nullptr && e->version() == p.version) e->set_flags(e->flags() & ~kEntrySpilling);
    }
    segments_->Added(a->segment, a->file_bytes, /*sealed=*/true);
    if (!pending.moves.empty()) FinishCompaction("writing failed: " + a->status.message());
    delete a;
    return;
  }
  for (const PendingSpill& p : pending.spills) {
    Record* e = partition_->FindForRestore(p.ns, p.key);
    // Written since it was picked (a new value, or deleted): the record is garbage already.
    if (e == nullptr || e->version() != p.version || e->is_cold() ||
        (e->flags() & kEntrySpilling) == 0) {
      continue;
    }
    partition_->MakeCold(p.ns, e, p.ref);
    segments_->spilled_values.fetch_add(1, std::memory_order_relaxed);
    segments_->spilled_bytes.fetch_add(p.ref.length, std::memory_order_relaxed);
  }
  for (const PendingMove& m : pending.moves) {
    Record* e = partition_->FindForRestore(m.ns, m.key);
    if (e == nullptr || !e->is_cold() || !(e->value().cold_ref() == m.from)) continue;
    partition_->MoveCold(e, m.to);
    segments_->compacted_bytes.fetch_add(m.to.length, std::memory_order_relaxed);
  }
  // Live bytes first, then the size: a sealed segment is never seen without its live bytes.
  partition_->TakeColdDeltas(&deltas_);
  segments_->ApplyDeltas(deltas_);
  deltas_.clear();
  segments_->Added(a->segment, a->file_bytes, a->seal);
  const bool moved = !pending.moves.empty();
  delete a;
  if (moved) ContinueCompaction();
  DrainAll();  // writes waiting for memory, mostly
}

// -- Compaction.

void Tier::Housekeep(int64_t now_ms) {
  if (compaction_.active || now_ms < spill_paused_until_) return;
  for (uint32_t id : segments_->CompactionCandidates(o_.compact_below, 16)) {
    if (id == segment_ || partition_->cold_segments().count(id) == 0) continue;
    compaction_ = Compaction();
    compaction_.active = true;
    compaction_.segment = id;
    compaction_.offset = storage::kColdHeaderSize;
    segments_->compactions.fetch_add(1, std::memory_order_relaxed);
    ContinueCompaction();
    return;
  }
}

void Tier::ContinueCompaction() {
  if (!compaction_.active || compaction_.scanning || compaction_.appends > 0) return;
  if (compaction_.eof) return FinishCompaction("");
  auto* s = new TierScan();
  s->segment = compaction_.segment;
  s->offset = compaction_.offset;
  compaction_.scanning = true;
  io_->Scan(s);
}

void Tier::OnScanned(TierScan* s) {
  compaction_.scanning = false;
  if (!compaction_.active || s->segment != compaction_.segment) {
    delete s;
    return;
  }
  if (!s->status.ok()) {
    FinishCompaction(s->status.message());
    delete s;
    return;
  }
  TierAppend* a = nullptr;
  PendingAppend pending;
  std::string_view data = s->data;
  size_t pos = 0;
  while (pos < data.size()) {
    const uint32_t len = storage::ColdRecordLength(data.substr(pos));
    if (len == 0 || pos + len > data.size()) break;
    const std::string_view rec = data.substr(pos, len);
    const ColdRef here{s->segment, static_cast<uint32_t>(s->offset + pos), len};
    pos += len;
    storage::ColdRecord r;
    if (!decoder_.Decode(rec, &r, /*decode_value=*/false).ok()) continue;  // left where it is
    const Record* e = partition_->FindForRestore(r.ns, r.key);
    if (e == nullptr || !e->is_cold() || !(e->value().cold_ref() == here)) continue;
    if (a == nullptr) a = NewAppend();
    const uint64_t offset = segment_size_ + a->data.size();
    a->data.append(rec.data(), rec.size());
    pending.moves.push_back(
        {std::string(r.ns), std::string(r.key), e->value().cold_ref(),
         ColdRef{a->segment, static_cast<uint32_t>(offset), len, e->value().cold_ref().type}});
    if (a->data.size() >= o_.spill_batch_bytes) {
      SendAppend(a, std::move(pending));
      pending = PendingAppend();
      a = nullptr;
    }
  }
  if (a != nullptr) SendAppend(a, std::move(pending));
  compaction_.offset = s->next;
  compaction_.eof = s->eof;
  delete s;
  ContinueCompaction();
}

void Tier::FinishCompaction(const std::string& why) {
  if (!why.empty()) {
    spdlog::warn("shard {}: compaction of cold segment {} stopped: {}", o_.shard,
                 compaction_.segment, why);
  }
  const int appends = compaction_.appends;
  compaction_ = Compaction();
  compaction_.appends = appends;  // still answered later
}

void Tier::AfterWork(int64_t now_ms) {
  lent_.clear();
  Spill(now_ms);
  partition_->TakeColdDeltas(&deltas_);
  segments_->ApplyDeltas(deltas_);
  deltas_.clear();
}

}  // namespace dbkv
