#include "core/partition.h"

#include <algorithm>

#include "core/clock.h"

namespace dbkv {

size_t EntryCharge(std::string_view key, const Entry& e) {
  return Record::AllocBytesFor(key.size()) + e.value.HeapBytes();
}

bool ParseEvictionPolicy(std::string_view name, EvictionPolicy* policy) {
  if (name == "noeviction") {
    *policy = EvictionPolicy::kNoEviction;
  } else if (name == "allkeys-lru") {
    *policy = EvictionPolicy::kAllKeysLru;
  } else if (name == "volatile-ttl") {
    *policy = EvictionPolicy::kVolatileTtl;
  } else {
    return false;
  }
  return true;
}

KeyTable* Partition::FindTable(std::string_view ns) {
  if (last_table_ != nullptr && last_ns_ == ns) return last_table_;
  auto it = tables_.find(ns);
  if (it == tables_.end()) return nullptr;
  last_ns_.assign(ns.data(), ns.size());
  last_table_ = &it->second;
  return last_table_;
}

KeyTable& Partition::GetTable(std::string_view ns) {
  if (KeyTable* t = FindTable(ns)) return *t;
  // Inserting may rehash tables_ and move every KeyTable: drop the cache.
  last_table_ = nullptr;
  KeyTable& t = tables_[ns];
  last_ns_.assign(ns.data(), ns.size());
  last_table_ = &t;
  return t;
}

void Partition::ColdAdded(const ColdRef& r) {
  ++stats_.cold_keys;
  stats_.cold_bytes += r.length;
  cold_live_[r.segment] += r.length;
  cold_deltas_[r.segment] += r.length;
}

void Partition::ColdRemoved(const ColdRef& r) {
  --stats_.cold_keys;
  stats_.cold_bytes -= r.length;
  auto it = cold_live_.find(r.segment);
  if (it != cold_live_.end()) {
    it->second -= r.length;
    if (it->second == 0) cold_live_.erase(it);
  }
  cold_deltas_[r.segment] -= static_cast<int64_t>(r.length);
}

void Partition::TakeColdDeltas(std::vector<std::pair<uint32_t, int64_t>>* out) {
  for (const auto& kv : cold_deltas_) {
    if (kv.second != 0) out->emplace_back(kv.first, kv.second);
  }
  cold_deltas_.clear();
}

void Partition::MakeCold(Entry& e, const ColdRef& ref) {
  stats_.memory_bytes -= e.value.HeapBytes();
  e.value = Value::Cold(ref);
  e.flags &= ~kEntrySpilling;
  ColdAdded(ref);
}

void Partition::MakeHot(Entry& e, Value value) {
  DropValue(e.value);
  e.value = std::move(value);
  stats_.memory_bytes += e.value.HeapBytes();
}

void Partition::MoveCold(Entry& e, const ColdRef& to) {
  ColdRemoved(e.value.cold_ref());
  e.value = Value::Cold(to);
  ColdAdded(to);
}

void Partition::EraseRecord(KeyTable& t, Record* r) {
  DropValue(r->value);
  stats_.memory_bytes -= EntryCharge(r->key(), *r);
  --stats_.keys;
  const size_t before = t.bytes();
  t.Erase(r);
  TableChanged(t, before);
}

Entry* Partition::Find(std::string_view ns, std::string_view key, int64_t now_ms) {
  KeyTable* t = FindTable(ns);
  if (t == nullptr) return nullptr;
  Record* r = t->Find(key);
  if (r == nullptr) return nullptr;
  if (r->IsExpired(now_ms)) {
    ++stats_.expired_keys;
    EraseRecord(*t, r);
    return nullptr;
  }
  r->access = AccessClock(now_ms);
  return r;
}

Entry& Partition::Put(std::string_view ns, std::string_view key, Value value,
                      int64_t expire_at_ms) {
  KeyTable& t = GetTable(ns);
  const size_t before = t.bytes();
  auto [r, inserted] = t.TryEmplace(key);
  TableChanged(t, before);
  Entry& e = *r;
  if (inserted) {
    ++stats_.keys;
  } else {
    stats_.memory_bytes -= EntryCharge(key, e);
    DropValue(e.value);
  }
  e.value = std::move(value);
  e.expire_at_ms = expire_at_ms;
  e.version = ++version_;
  e.access = AccessClock(WallClockMs());
  e.flags = 0;
  stats_.memory_bytes += EntryCharge(key, e);
  if (expire_at_ms != kNoExpiry) t.NoteExpiry(t.SegmentIndexOf(key), expire_at_ms);
  return e;
}

EntryRef Partition::Upsert(std::string_view ns, std::string_view key, int64_t now_ms) {
  return UpsertImpl(ns, key, now_ms, /*measure=*/true);
}

EntryRef Partition::UpsertImpl(std::string_view ns, std::string_view key, int64_t now_ms,
                               bool measure) {
  KeyTable& t = GetTable(ns);
  const size_t before = t.bytes();
  auto [r, inserted] = t.TryEmplace(key);
  TableChanged(t, before);
  EntryRef ref;
  ref.table = &t;
  ref.entry = r;
  ref.key = r->key();
  if (!inserted && r->IsExpired(now_ms)) {
    // An expired entry is as good as absent: reuse its record as a fresh entry.
    stats_.memory_bytes -= EntryCharge(ref.key, *r);
    ++stats_.expired_keys;
    DropValue(r->value);
    r->entry() = Entry();
    inserted = true;
  } else if (inserted) {
    ++stats_.keys;
  }
  if (inserted) stats_.memory_bytes += EntryCharge(ref.key, *r);
  ref.created = inserted;
  if (r->value.is_cold()) {
    ref.was_cold = true;
    ref.old_cold = r->value.cold_ref();
  }
  r->access = AccessClock(now_ms != 0 ? now_ms : WallClockMs());
  // A created entry is null: measuring it costs nothing, and Abort needs it.
  ref.measured = measure || inserted;
  if (ref.measured) ref.old_charge = EntryCharge(ref.key, *r);
  return ref;
}

EntryRef Partition::UpsertUnmeasured(std::string_view ns, std::string_view key, int64_t now_ms) {
  return UpsertImpl(ns, key, now_ms, /*measure=*/false);
}

void Partition::CommitDelta(const EntryRef& ref, int64_t heap_delta) {
  stats_.memory_bytes =
      static_cast<uint64_t>(static_cast<int64_t>(stats_.memory_bytes) + heap_delta);
  ref.entry->version = ++version_;
  ref.entry->flags &= ~kEntrySpilling;
  ReleaseReplacedCold(ref);
  NoteExpiry(ref);
}

void Partition::Commit(const EntryRef& ref) {
  stats_.memory_bytes -= ref.old_charge;
  stats_.memory_bytes += EntryCharge(ref.key, *ref.entry);
  ref.entry->version = ++version_;
  ref.entry->flags &= ~kEntrySpilling;
  ReleaseReplacedCold(ref);
  NoteExpiry(ref);
}

void Partition::Abort(const EntryRef& ref) {
  if (!ref.created) return;
  // Upsert charged the fresh entry; the caller may have filled it in since.
  stats_.memory_bytes -= ref.old_charge;
  --stats_.keys;
  const size_t before = ref.table->bytes();
  ref.table->Erase(ref.key);  // ref.key is the record's: the erase reads it before freeing
  TableChanged(*ref.table, before);
}

bool Partition::Erase(std::string_view ns, std::string_view key, int64_t now_ms,
                      uint64_t* version) {
  KeyTable* t = FindTable(ns);
  if (t == nullptr) return false;
  Record* r = t->Find(key);
  if (r == nullptr) return false;
  const bool live = !r->IsExpired(now_ms);
  if (!live) ++stats_.expired_keys;
  EraseRecord(*t, r);
  if (live) {
    ++version_;
    if (version != nullptr) *version = version_;
  }
  return live;
}

size_t Partition::Size(std::string_view ns) const {
  auto it = tables_.find(ns);
  return it == tables_.end() ? 0 : it->second.size();
}

size_t Partition::Clear(std::string_view ns) {
  KeyTable* t = FindTable(ns);
  if (t == nullptr) return 0;
  size_t n = t->size();
  for (size_t i = 0; i < t->segment_count(); ++i) {
    for (const Record* r : t->segment(i)) {
      stats_.memory_bytes -= EntryCharge(r->key(), *r);
      DropValue(r->value);
    }
  }
  stats_.keys -= n;
  const size_t before = t->bytes();
  t->clear();
  TableChanged(*t, before);
  return n;
}

bool Partition::Restore(std::string_view ns, std::string_view key, Entry entry, int64_t now_ms) {
  SeenVersion(entry.version);
  KeyTable& t = GetTable(ns);
  Record* r = t.Find(key);
  if (r != nullptr && r->version >= entry.version) return false;
  if (entry.IsExpired(now_ms)) {
    // Expired since it was written: never resurrected. A newer expired state still removes
    // an older live one.
    if (r != nullptr) EraseRecord(t, r);
    return false;
  }
  if (r == nullptr) {
    const size_t before = t.bytes();
    r = t.TryEmplace(key).first;
    TableChanged(t, before);
    ++stats_.keys;
  } else {
    stats_.memory_bytes -= EntryCharge(key, *r);
    DropValue(r->value);
  }
  r->entry() = std::move(entry);
  r->access = AccessClock(now_ms);
  r->flags = 0;
  if (r->value.is_cold()) ColdAdded(r->value.cold_ref());
  stats_.memory_bytes += EntryCharge(key, *r);
  if (r->HasExpiry()) t.NoteExpiry(t.SegmentIndexOf(key), r->expire_at_ms);
  return true;
}

bool Partition::RestoreErase(std::string_view ns, std::string_view key, uint64_t version) {
  SeenVersion(version);
  KeyTable* t = FindTable(ns);
  if (t == nullptr) return false;
  Record* r = t->Find(key);
  if (r == nullptr || r->version >= version) return false;
  EraseRecord(*t, r);
  return true;
}

Entry* Partition::FindForRestore(std::string_view ns, std::string_view key) {
  KeyTable* t = FindTable(ns);
  if (t == nullptr) return nullptr;
  return t->Find(key);
}

EntryRef Partition::RestoreUpsert(std::string_view ns, std::string_view key) {
  return UpsertImpl(ns, key, /*now_ms=*/0, /*measure=*/true);
}

void Partition::RestoreCommit(const EntryRef& ref, uint64_t version) {
  stats_.memory_bytes -= ref.old_charge;
  stats_.memory_bytes += EntryCharge(ref.key, *ref.entry);
  ref.entry->version = version;
  SeenVersion(version);
  ReleaseReplacedCold(ref);
  NoteExpiry(ref);
}

// -- Housekeeping.

uint64_t Partition::table_bytes() const {
  uint64_t n = 0;
  for (const auto& kv : tables_) n += kv.second.bytes();
  return n;
}

size_t Partition::SegmentCount() const {
  size_t n = 0;
  for (const auto& kv : tables_) n += kv.second.segment_count();
  return n;
}

KeyTable* Partition::NextSegment(Cursor& c, size_t* segment) {
  if (tables_.empty()) return nullptr;
  auto it = tables_.find(c.ns);
  if (it != tables_.end() && c.segment < it->second.segment_count()) {
    *segment = c.segment++;
    return &it->second;
  }
  if (it == tables_.end() || ++it == tables_.end()) it = tables_.begin();
  c.ns = it->first;
  c.segment = 1;
  *segment = 0;
  return &it->second;
}

Partition::ExpiryScan Partition::ReclaimExpired(int64_t now_ms, size_t max_visits) {
  ExpiryScan r;
  // One pass over every segment at most; most are skipped by their expiry bound.
  const size_t segments = SegmentCount();
  for (size_t n = 0; n < segments; ++n) {
    if (r.visited >= max_visits) {
      r.more = true;
      break;
    }
    size_t i = 0;
    KeyTable* t = NextSegment(expiry_cursor_, &i);
    if (t == nullptr) break;
    KeyTable::SegmentInfo& info = t->info(i);
    if (info.next_expiry_ms == 0 || info.next_expiry_ms > now_ms ||
        now_ms - info.scanned_ms < kExpiryRescanMs) {
      continue;
    }
    KeyTable::Segment& seg = t->segment(i);
    int64_t next = 0;
    r.visited += seg.size();
    for (auto it = seg.begin(); it != seg.end();) {
      const Record& e = **it;
      if (e.IsExpired(now_ms)) {
        DropValue(e.value);
        stats_.memory_bytes -= EntryCharge(e.key(), e);
        --stats_.keys;
        ++stats_.expired_keys;
        ++r.reclaimed;
        t->EraseAt(i, it++);
        continue;
      }
      if (e.HasExpiry() && (next == 0 || e.expire_at_ms < next)) next = e.expire_at_ms;
      ++it;
    }
    info.next_expiry_ms = next;
    info.scanned_ms = now_ms;
    if (t->Sparse(i)) {
      const size_t before = t->bytes();
      t->Compact(i);
      TableChanged(*t, before);
    }
  }
  return r;
}

size_t Partition::Evict(EvictionPolicy policy, size_t bytes_to_free, int64_t now_ms,
                        size_t max_visits, EvictCallback on_evict) {
  if (policy == EvictionPolicy::kNoEviction) return 0;
  const uint32_t now_clock = AccessClock(now_ms);
  size_t freed = 0;
  size_t visited = 0;
  const size_t segments = SegmentCount();
  for (size_t n = 0; n < segments && freed < bytes_to_free && visited < max_visits; ++n) {
    size_t i = 0;
    KeyTable* t = NextSegment(evict_cursor_, &i);
    if (t == nullptr) break;
    KeyTable::Segment& seg = t->segment(i);
    visited += seg.size();
    // Lower score goes first: the oldest access, or the soonest expiry.
    candidates_.clear();
    for (Record* r : seg) {
      if (policy == EvictionPolicy::kAllKeysLru) {
        const uint32_t age = now_clock - r->access;
        candidates_.emplace_back(~uint64_t{age}, r);
      } else if (r->HasExpiry()) {
        candidates_.emplace_back(static_cast<uint64_t>(r->expire_at_ms), r);
      }
    }
    if (candidates_.empty()) continue;
    const size_t take = std::max<size_t>(1, (candidates_.size() + 3) / 4);
    std::partial_sort(candidates_.begin(), candidates_.begin() + take, candidates_.end(),
                      [](const auto& a, const auto& b) { return a.first < b.first; });
    const std::string ns = evict_cursor_.ns;
    const size_t before = t->bytes();
    for (size_t k = 0; k < take && freed < bytes_to_free; ++k) {
      Record* r = candidates_[k].second;
      const size_t charge = EntryCharge(r->key(), *r);
      freed += charge;
      ++stats_.evicted_keys;
      on_evict(ns, r->key(), ++version_);
      DropValue(r->value);
      stats_.memory_bytes -= charge;
      --stats_.keys;
      t->Erase(r);
    }
    if (t->Sparse(i)) t->Compact(i);
    TableChanged(*t, before);
  }
  return freed;
}

void Partition::PickColdest(size_t want_bytes, size_t min_value_bytes, int64_t now_ms,
                            size_t max_visits, SpillCallback take) {
  const uint32_t now_clock = AccessClock(now_ms);
  size_t offered = 0;
  size_t visited = 0;
  const size_t segments = SegmentCount();
  for (size_t n = 0; n < segments && offered < want_bytes && visited < max_visits; ++n) {
    size_t i = 0;
    KeyTable* t = NextSegment(spill_cursor_, &i);
    if (t == nullptr) break;
    KeyTable::Segment& seg = t->segment(i);
    visited += seg.size();
    candidates_.clear();
    for (Record* r : seg) {
      if (r->value.is_cold() || (r->flags & kEntrySpilling) != 0) continue;
      if (r->value.HeapBytes() < min_value_bytes) continue;
      const uint32_t age = now_clock - r->access;
      candidates_.emplace_back(~uint64_t{age}, r);
    }
    if (candidates_.empty()) continue;
    const size_t take_n = (candidates_.size() + 1) / 2;
    std::partial_sort(candidates_.begin(), candidates_.begin() + take_n, candidates_.end(),
                      [](const auto& a, const auto& b) { return a.first < b.first; });
    const std::string ns = spill_cursor_.ns;
    for (size_t k = 0; k < take_n && offered < want_bytes; ++k) {
      Record* r = candidates_[k].second;
      offered += r->value.HeapBytes();
      if (!take(ns, r->key(), *r)) return;
    }
  }
}

void Partition::NoteExpiry(const EntryRef& ref) {
  if (ref.entry->HasExpiry()) {
    ref.table->NoteExpiry(ref.table->SegmentIndexOf(ref.key), ref.entry->expire_at_ms);
  }
}

}  // namespace dbkv
