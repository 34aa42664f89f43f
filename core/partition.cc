#include "core/partition.h"

#include <algorithm>
#include <stdexcept>

#include "core/clock.h"

namespace dbkv {

size_t EntryCharge(std::string_view key, const Entry& e) {
  const size_t record = Record::AllocBytesFor(key, e.value, e.HasExpiry());
  return Record::Inlines(e.value) ? record : record + e.value.HeapBytes();
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

Record* Partition::Store(KeyTable& t, Record* r, Entry&& e) {
  return Store(t, r, std::move(e.value), Record::HeaderOf(e));
}

template <class V>
Record* Partition::Store(KeyTable& t, Record* r, V&& v, const Record::Header& h) {
  Record* now = Record::Reset(r, std::forward<V>(v), h);
  if (now != r) {
    t.Replace(r, now);  // finds the slot by r's key: r is freed after
    Record::Delete(r);
  }
  return now;
}

Record* Partition::MakeCold(std::string_view ns, Record* r, const ColdRef& ref) {
  stats_.memory_bytes -= r->Charge();
  Entry e;
  r->TakeInto(&e);
  e.value = Value::Cold(ref);
  e.flags &= ~kEntrySpilling;
  r = Store(GetTable(ns), r, std::move(e));
  stats_.memory_bytes += r->Charge();
  ColdAdded(ref);
  return r;
}

Record* Partition::MakeHot(std::string_view ns, Record* r, Value value) {
  DropValue(*r);
  stats_.memory_bytes -= r->Charge();
  Entry e;
  r->TakeInto(&e);
  e.value = std::move(value);
  r = Store(GetTable(ns), r, std::move(e));
  stats_.memory_bytes += r->Charge();
  return r;
}

void Partition::MoveCold(Record* r, const ColdRef& to) {
  ColdRemoved(r->value().cold_ref());
  *r->mutable_boxed() = Value::Cold(to);  // boxed before and after: the record stays
  ColdAdded(to);
}

void Partition::EraseRecord(KeyTable& t, Record* r) {
  DropValue(*r);
  stats_.memory_bytes -= r->Charge();
  --stats_.keys;
  const size_t before = t.bytes();
  t.Erase(r);
  TableChanged(t, before);
}

Record* Partition::Find(std::string_view ns, std::string_view key, int64_t now_ms) {
  KeyTable* t = FindTable(ns);
  if (t == nullptr) return nullptr;
  Record* r = t->Find(key);
  if (r == nullptr) return nullptr;
  if (r->IsExpired(now_ms)) {
    ++stats_.expired_keys;
    EraseRecord(*t, r);
    return nullptr;
  }
  r->set_access(AccessClock(now_ms));
  return r;
}

Record* Partition::Put(std::string_view ns, std::string_view key, const Value& value,
                       int64_t expire_at_ms) {
  return PutImpl(ns, key, value, expire_at_ms);
}

Record* Partition::Put(std::string_view ns, std::string_view key, Value&& value,
                       int64_t expire_at_ms) {
  return PutImpl(ns, key, std::move(value), expire_at_ms);
}

template <class V>
Record* Partition::PutImpl(std::string_view ns, std::string_view key, V&& value,
                           int64_t expire_at_ms) {
  KeyTable& t = GetTable(ns);
  Record::Header h;
  h.expire_at_ms = expire_at_ms;
  h.version = ++version_;
  h.access = AccessClock(WallClockMs());
  const size_t before = t.bytes();
  auto [r, inserted] =
      t.TryEmplace(key, [&] { return Record::Make(key, std::forward<V>(value), h); });
  TableChanged(t, before);
  if (inserted) {
    ++stats_.keys;
    stats_.memory_bytes += r->Charge();
  } else {
    const bool was_inline = r->is_inline();
    const size_t old_charge = r->Charge();
    DropValue(*r);
    Record* now = Store(t, r, std::forward<V>(value), h);
    // Reset in place keeps the block's class: an inline value then charges the same.
    if (now != r || !was_inline || !now->is_inline()) {
      stats_.memory_bytes = stats_.memory_bytes - old_charge + now->Charge();
    }
    r = now;
  }
  if (expire_at_ms != kNoExpiry) t.NoteExpiry(t.SegmentIndexOf(key), expire_at_ms);
  return r;
}

EntryRef Partition::Upsert(std::string_view ns, std::string_view key, int64_t now_ms) {
  return UpsertImpl(ns, key, now_ms, /*measure=*/true);
}

EntryRef Partition::UpsertImpl(std::string_view ns, std::string_view key, int64_t now_ms,
                               bool measure) {
  // One change at a time: the entry under change is the partition's. A handler that opens a
  // second one is told so (and its command fails: CommandRunner aborts the first).
  if (HasOpenChange()) throw std::logic_error("Upsert while another change is open");
  KeyTable& t = GetTable(ns);
  const size_t before = t.bytes();
  auto [r, inserted] = t.TryEmplace(key);
  TableChanged(t, before);
  EntryRef ref;
  ref.table = &t;
  ref.record = r;
  ref.entry = &editing_;
  if (!inserted && r->IsExpired(now_ms)) {
    // An expired key is as good as absent: its record becomes a fresh entry.
    stats_.memory_bytes -= r->Charge();
    ++stats_.expired_keys;
    DropValue(*r);
    r = Store(t, r, Entry());
    ref.record = r;
    inserted = true;
  } else if (inserted) {
    ++stats_.keys;
  }
  if (inserted) stats_.memory_bytes += r->Charge();
  ref.created = inserted;
  if (r->is_cold()) {
    ref.was_cold = true;
    ref.old_cold = r->value().cold_ref();
  }
  r->set_access(AccessClock(now_ms != 0 ? now_ms : WallClockMs()));
  // A created entry is null: measuring it costs nothing, and Abort needs it.
  ref.measured = measure || inserted;
  if (ref.measured) ref.old_charge = r->Charge();
  ref.old_record_bytes = r->AllocBytes();
  r->TakeInto(&editing_);
  open_ = ref;
  return ref;
}

EntryRef Partition::UpsertUnmeasured(std::string_view ns, std::string_view key, int64_t now_ms) {
  return UpsertImpl(ns, key, now_ms, /*measure=*/false);
}

Record* Partition::Finish(const EntryRef& ref, uint64_t version) {
  editing_.version = version;
  editing_.flags &= ~kEntrySpilling;
  open_ = EntryRef();
  Record* now = Store(*ref.table, ref.record, std::move(editing_));
  editing_ = Entry();
  ReleaseReplacedCold(ref, *now);
  NoteExpiry(*ref.table, *now);
  return now;
}

Record* Partition::CommitDelta(const EntryRef& ref, int64_t heap_delta) {
  Record* now = Finish(ref, ++version_);
  stats_.memory_bytes = static_cast<uint64_t>(static_cast<int64_t>(stats_.memory_bytes) +
                                              heap_delta + static_cast<int64_t>(now->AllocBytes()) -
                                              static_cast<int64_t>(ref.old_record_bytes));
  return now;
}

Record* Partition::Commit(const EntryRef& ref) {
  Record* now = Finish(ref, ++version_);
  stats_.memory_bytes = stats_.memory_bytes - ref.old_charge + now->Charge();
  return now;
}

void Partition::Abort(const EntryRef& ref) {
  open_ = EntryRef();
  if (!ref.created) {
    // An inline value was copied out: the record still holds it as it was. A boxed one was
    // moved out and goes back as the caller left it (the same size: the record stays).
    if (!ref.record->is_inline()) Store(*ref.table, ref.record, std::move(editing_));
    editing_ = Entry();
    return;
  }
  editing_ = Entry();
  // Upsert charged the fresh entry.
  stats_.memory_bytes -= ref.old_charge;
  --stats_.keys;
  const size_t before = ref.table->bytes();
  ref.table->Erase(ref.record);
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
      stats_.memory_bytes -= r->Charge();
      DropValue(*r);
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
  if (r != nullptr && r->version() >= entry.version) return false;
  if (entry.IsExpired(now_ms)) {
    // Expired since it was written: never resurrected. A newer expired state still removes
    // an older live one.
    if (r != nullptr) EraseRecord(t, r);
    return false;
  }
  entry.access = AccessClock(now_ms);
  entry.flags = 0;
  if (r == nullptr) {
    const size_t before = t.bytes();
    r = t.TryEmplace(key, [&] { return Record::Make(key, std::move(entry)); }).first;
    TableChanged(t, before);
    ++stats_.keys;
  } else {
    stats_.memory_bytes -= r->Charge();
    DropValue(*r);
    r = Store(t, r, std::move(entry));
  }
  if (r->is_cold()) ColdAdded(r->value().cold_ref());
  stats_.memory_bytes += r->Charge();
  if (r->HasExpiry()) t.NoteExpiry(t.SegmentIndexOf(key), r->expire_at_ms());
  return true;
}

bool Partition::RestoreErase(std::string_view ns, std::string_view key, uint64_t version) {
  SeenVersion(version);
  KeyTable* t = FindTable(ns);
  if (t == nullptr) return false;
  Record* r = t->Find(key);
  if (r == nullptr || r->version() >= version) return false;
  EraseRecord(*t, r);
  return true;
}

Record* Partition::FindForRestore(std::string_view ns, std::string_view key) {
  KeyTable* t = FindTable(ns);
  if (t == nullptr) return nullptr;
  return t->Find(key);
}

EntryRef Partition::RestoreUpsert(std::string_view ns, std::string_view key) {
  return UpsertImpl(ns, key, /*now_ms=*/0, /*measure=*/true);
}

Record* Partition::RestoreCommit(const EntryRef& ref, uint64_t version) {
  SeenVersion(version);
  Record* now = Finish(ref, version);
  stats_.memory_bytes = stats_.memory_bytes - ref.old_charge + now->Charge();
  return now;
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
        DropValue(e);
        stats_.memory_bytes -= e.Charge();
        --stats_.keys;
        ++stats_.expired_keys;
        ++r.reclaimed;
        t->EraseAt(i, it++);
        continue;
      }
      if (e.HasExpiry() && (next == 0 || e.expire_at_ms() < next)) next = e.expire_at_ms();
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
        const uint32_t age = now_clock - r->access();
        candidates_.emplace_back(~uint64_t{age}, r);
      } else if (r->HasExpiry()) {
        candidates_.emplace_back(static_cast<uint64_t>(r->expire_at_ms()), r);
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
      const size_t charge = r->Charge();
      freed += charge;
      ++stats_.evicted_keys;
      const KeyText key = r->key();
      on_evict(ns, key.view(), ++version_);
      DropValue(*r);
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
      if (r->is_cold() || (r->flags() & kEntrySpilling) != 0) continue;
      if (r->value().DataBytes() < min_value_bytes) continue;
      const uint32_t age = now_clock - r->access();
      candidates_.emplace_back(~uint64_t{age}, r);
    }
    if (candidates_.empty()) continue;
    const size_t take_n = (candidates_.size() + 1) / 2;
    std::partial_sort(candidates_.begin(), candidates_.begin() + take_n, candidates_.end(),
                      [](const auto& a, const auto& b) { return a.first < b.first; });
    const std::string ns = spill_cursor_.ns;
    for (size_t k = 0; k < take_n && offered < want_bytes; ++k) {
      Record* r = candidates_[k].second;
      offered += r->value().DataBytes();
      if (!take(ns, *r)) return;
    }
  }
}

void Partition::NoteExpiry(KeyTable& t, const Record& r) {
  if (!r.HasExpiry()) return;
  const KeyText key = r.key();
  t.NoteExpiry(t.SegmentIndexOf(key.view()), r.expire_at_ms());
}

}  // namespace dbkv
