#include "core/partition.h"

namespace dbkv {
namespace {

// A std::string key longer than its inline buffer (15 bytes) owns one heap block.
size_t KeyHeapBytes(std::string_view key) {
  return key.size() > 15 ? ((key.size() + 1 + 8 + 15) & ~static_cast<size_t>(15)) : 0;
}

// flat_hash_map keeps its load at or below 7/8; one control byte per slot.
constexpr size_t kSlotBytes = (sizeof(std::string) + sizeof(Entry)) * 8 / 7 + 1;

}  // namespace

size_t EntryCharge(std::string_view key, const Entry& e) {
  return kSlotBytes + KeyHeapBytes(key) + e.value.HeapBytes();
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

void Partition::EraseExpired(KeyTable& t, KeyTable::iterator it) {
  stats_.memory_bytes -= EntryCharge(it->first, it->second);
  --stats_.keys;
  ++stats_.expired_keys;
  t.erase(it);
}

Entry* Partition::Find(std::string_view ns, std::string_view key, int64_t now_ms) {
  KeyTable* t = FindTable(ns);
  if (t == nullptr) return nullptr;
  auto it = t->find(key);
  if (it == t->end()) return nullptr;
  if (it->second.IsExpired(now_ms)) {
    EraseExpired(*t, it);
    return nullptr;
  }
  return &it->second;
}

Entry& Partition::Put(std::string_view ns, std::string_view key, Value value,
                      int64_t expire_at_ms) {
  KeyTable& t = GetTable(ns);
  auto [it, inserted] = t.try_emplace(key);
  Entry& e = it->second;
  if (inserted) {
    ++stats_.keys;
  } else {
    stats_.memory_bytes -= EntryCharge(it->first, e);
  }
  e.value = std::move(value);
  e.expire_at_ms = expire_at_ms;
  e.version = ++version_;
  stats_.memory_bytes += EntryCharge(it->first, e);
  return e;
}

EntryRef Partition::Upsert(std::string_view ns, std::string_view key, int64_t now_ms) {
  return UpsertImpl(ns, key, now_ms, /*measure=*/true);
}

EntryRef Partition::UpsertImpl(std::string_view ns, std::string_view key, int64_t now_ms,
                               bool measure) {
  KeyTable& t = GetTable(ns);
  auto [it, inserted] = t.try_emplace(key);
  EntryRef ref;
  ref.table = &t;
  ref.entry = &it->second;
  ref.key = it->first;
  if (!inserted && it->second.IsExpired(now_ms)) {
    // An expired entry is as good as absent: reuse its slot as a fresh entry.
    stats_.memory_bytes -= EntryCharge(it->first, it->second);
    ++stats_.expired_keys;
    it->second = Entry();
    inserted = true;
  } else if (inserted) {
    ++stats_.keys;
  }
  if (inserted) stats_.memory_bytes += EntryCharge(it->first, it->second);
  ref.created = inserted;
  // A created entry is null: measuring it costs nothing, and Abort needs it.
  ref.measured = measure || inserted;
  if (ref.measured) ref.old_charge = EntryCharge(it->first, it->second);
  return ref;
}

EntryRef Partition::UpsertUnmeasured(std::string_view ns, std::string_view key, int64_t now_ms) {
  return UpsertImpl(ns, key, now_ms, /*measure=*/false);
}

void Partition::CommitDelta(const EntryRef& ref, int64_t heap_delta) {
  stats_.memory_bytes =
      static_cast<uint64_t>(static_cast<int64_t>(stats_.memory_bytes) + heap_delta);
  ref.entry->version = ++version_;
}

void Partition::Commit(const EntryRef& ref) {
  stats_.memory_bytes -= ref.old_charge;
  stats_.memory_bytes += EntryCharge(ref.key, *ref.entry);
  ref.entry->version = ++version_;
}

void Partition::Abort(const EntryRef& ref) {
  if (!ref.created) return;
  auto it = ref.table->find(ref.key);
  // Uncharge what Upsert charged: the caller may have changed the entry before giving up.
  stats_.memory_bytes -= ref.old_charge;
  --stats_.keys;
  ref.table->erase(it);
}

bool Partition::Erase(std::string_view ns, std::string_view key, int64_t now_ms) {
  KeyTable* t = FindTable(ns);
  if (t == nullptr) return false;
  auto it = t->find(key);
  if (it == t->end()) return false;
  bool live = !it->second.IsExpired(now_ms);
  if (!live) ++stats_.expired_keys;
  stats_.memory_bytes -= EntryCharge(it->first, it->second);
  --stats_.keys;
  t->erase(it);
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
  for (const auto& kv : *t) stats_.memory_bytes -= EntryCharge(kv.first, kv.second);
  stats_.keys -= n;
  t->clear();
  return n;
}

}  // namespace dbkv
