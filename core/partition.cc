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

void Partition::EraseSlot(KeyTable& t, const KeyTable::Slot& slot) {
  stats_.memory_bytes -= EntryCharge(slot.first, slot.second);
  --stats_.keys;
  const std::string key = slot.first;  // the slot goes away with the erase
  t.Erase(key);
}

Entry* Partition::Find(std::string_view ns, std::string_view key, int64_t now_ms) {
  KeyTable* t = FindTable(ns);
  if (t == nullptr) return nullptr;
  KeyTable::Slot* slot = t->Find(key);
  if (slot == nullptr) return nullptr;
  if (slot->second.IsExpired(now_ms)) {
    ++stats_.expired_keys;
    EraseSlot(*t, *slot);
    return nullptr;
  }
  return &slot->second;
}

Entry& Partition::Put(std::string_view ns, std::string_view key, Value value,
                      int64_t expire_at_ms) {
  KeyTable& t = GetTable(ns);
  auto [slot, inserted] = t.TryEmplace(key);
  Entry& e = slot->second;
  if (inserted) {
    ++stats_.keys;
  } else {
    stats_.memory_bytes -= EntryCharge(slot->first, e);
  }
  e.value = std::move(value);
  e.expire_at_ms = expire_at_ms;
  e.version = ++version_;
  stats_.memory_bytes += EntryCharge(slot->first, e);
  return e;
}

EntryRef Partition::Upsert(std::string_view ns, std::string_view key, int64_t now_ms) {
  return UpsertImpl(ns, key, now_ms, /*measure=*/true);
}

EntryRef Partition::UpsertImpl(std::string_view ns, std::string_view key, int64_t now_ms,
                               bool measure) {
  KeyTable& t = GetTable(ns);
  auto [slot, inserted] = t.TryEmplace(key);
  EntryRef ref;
  ref.table = &t;
  ref.entry = &slot->second;
  ref.key = slot->first;
  if (!inserted && slot->second.IsExpired(now_ms)) {
    // An expired entry is as good as absent: reuse its slot as a fresh entry.
    stats_.memory_bytes -= EntryCharge(slot->first, slot->second);
    ++stats_.expired_keys;
    slot->second = Entry();
    inserted = true;
  } else if (inserted) {
    ++stats_.keys;
  }
  if (inserted) stats_.memory_bytes += EntryCharge(slot->first, slot->second);
  ref.created = inserted;
  // A created entry is null: measuring it costs nothing, and Abort needs it.
  ref.measured = measure || inserted;
  if (ref.measured) ref.old_charge = EntryCharge(slot->first, slot->second);
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
  // Upsert charged the fresh entry; the caller may have filled it in since.
  stats_.memory_bytes -= ref.old_charge;
  --stats_.keys;
  const std::string key(ref.key);
  ref.table->Erase(key);
}

bool Partition::Erase(std::string_view ns, std::string_view key, int64_t now_ms,
                      uint64_t* version) {
  KeyTable* t = FindTable(ns);
  if (t == nullptr) return false;
  KeyTable::Slot* slot = t->Find(key);
  if (slot == nullptr) return false;
  const bool live = !slot->second.IsExpired(now_ms);
  if (!live) ++stats_.expired_keys;
  EraseSlot(*t, *slot);
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
    for (const auto& kv : t->segment(i)) stats_.memory_bytes -= EntryCharge(kv.first, kv.second);
  }
  stats_.keys -= n;
  t->clear();
  return n;
}

bool Partition::Restore(std::string_view ns, std::string_view key, Entry entry, int64_t now_ms) {
  SeenVersion(entry.version);
  KeyTable& t = GetTable(ns);
  KeyTable::Slot* slot = t.Find(key);
  if (slot != nullptr && slot->second.version >= entry.version) return false;
  if (entry.IsExpired(now_ms)) {
    // Expired since it was written: never resurrected. A newer expired state still removes
    // an older live one.
    if (slot != nullptr) EraseSlot(t, *slot);
    return false;
  }
  if (slot == nullptr) {
    slot = t.TryEmplace(key).first;
    ++stats_.keys;
  } else {
    stats_.memory_bytes -= EntryCharge(slot->first, slot->second);
  }
  slot->second = std::move(entry);
  stats_.memory_bytes += EntryCharge(slot->first, slot->second);
  return true;
}

bool Partition::RestoreErase(std::string_view ns, std::string_view key, uint64_t version) {
  SeenVersion(version);
  KeyTable* t = FindTable(ns);
  if (t == nullptr) return false;
  KeyTable::Slot* slot = t->Find(key);
  if (slot == nullptr || slot->second.version >= version) return false;
  EraseSlot(*t, *slot);
  return true;
}

Entry* Partition::FindForRestore(std::string_view ns, std::string_view key) {
  KeyTable* t = FindTable(ns);
  if (t == nullptr) return nullptr;
  KeyTable::Slot* slot = t->Find(key);
  return slot == nullptr ? nullptr : &slot->second;
}

EntryRef Partition::RestoreUpsert(std::string_view ns, std::string_view key) {
  return UpsertImpl(ns, key, /*now_ms=*/0, /*measure=*/true);
}

void Partition::RestoreCommit(const EntryRef& ref, uint64_t version) {
  stats_.memory_bytes -= ref.old_charge;
  stats_.memory_bytes += EntryCharge(ref.key, *ref.entry);
  ref.entry->version = version;
  SeenVersion(version);
}

}  // namespace dbkv
