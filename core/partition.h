// Partition: the keyspace one shard owns, split by namespace.
//
// Not thread-safe: exactly one shard actor owns a partition and is the only code that touches
// it. Expired entries are never returned: lookups erase them on the way (lazy expiry).
//
// Pointers to entries stay valid only until the next insertion into the same namespace (the
// table may rehash); handlers look a key up again after writing another one.
#ifndef DATABRIDGE_CORE_PARTITION_H_
#define DATABRIDGE_CORE_PARTITION_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "core/entry.h"
#include "core/key_table.h"

namespace dbkv {

// Per-key bytes charged on top of key and value heap bytes: the hash slot (key object and
// Entry) at the table's maximum load, and one control byte.
size_t EntryCharge(std::string_view key, const Entry& e);

// A handle on an entry being modified in place: remembers what it was charged before the change
// so that Partition::Commit can account the difference.
struct EntryRef {
  Entry* entry = nullptr;
  KeyTable* table = nullptr;
  std::string_view key;  // points into the table's key: valid as long as entry is
  size_t old_charge = 0;
  bool created = false;
  bool measured = true;  // old_charge is known (Upsert); false: UpsertUnmeasured
};

struct PartitionStats {
  uint64_t keys = 0;
  uint64_t memory_bytes = 0;
  uint64_t expired_keys = 0;  // reclaimed because their time had passed
  uint64_t hits = 0;
  uint64_t misses = 0;
};

class Partition {
 public:
  Partition() = default;
  Partition(const Partition&) = delete;
  Partition& operator=(const Partition&) = delete;

  // The live entry of key in namespace ns, or nullptr. Erases the entry if it has expired.
  Entry* Find(std::string_view ns, std::string_view key, int64_t now_ms);

  // Creates or overwrites key with value and expiry; assigns a new version. Returns the entry.
  Entry& Put(std::string_view ns, std::string_view key, Value value, int64_t expire_at_ms);

  // The live entry of key, created (null value, no expiry) if absent, for modification in
  // place. The caller changes it, then calls Commit(ref) before any other call on this
  // partition.
  EntryRef Upsert(std::string_view ns, std::string_view key, int64_t now_ms);
  // Finishes a modification: accounts memory (walking the value: O(its size)) and assigns a
  // new version.
  void Commit(const EntryRef& ref);
  // For large containers changed a little (a push on a long list): like Upsert, without
  // measuring the value; then CommitDelta with the change of the value's HeapBytes(), which
  // the caller knows exactly. O(1) instead of O(size).
  EntryRef UpsertUnmeasured(std::string_view ns, std::string_view key, int64_t now_ms);
  void CommitDelta(const EntryRef& ref, int64_t heap_delta);
  // Abandons an Upsert: erases the entry if the Upsert created it, else leaves it unchanged.
  void Abort(const EntryRef& ref);

  // Removes key. Returns true if a live entry was removed; *version (if given) receives the
  // version assigned to the deletion (every write, deletes included, takes a new version).
  bool Erase(std::string_view ns, std::string_view key, int64_t now_ms,
             uint64_t* version = nullptr);

  // Number of keys in one namespace (expired keys not yet reclaimed included).
  size_t Size(std::string_view ns) const;
  // Removes every key of a namespace. Returns how many there were.
  size_t Clear(std::string_view ns);

  const PartitionStats& stats() const { return stats_; }
  uint64_t last_version() const { return version_; }
  void RecordHit(bool hit) { hit ? ++stats_.hits : ++stats_.misses; }

  // -- Recovery (see persistence/): applies a persisted state without assigning versions.

  // Installs key's entry as persisted, if it is newer than what the partition holds (its
  // version is higher, or the key is absent). Entries already expired at now_ms are skipped.
  // Returns whether it was applied. Keeps the version counter above every version seen.
  bool Restore(std::string_view ns, std::string_view key, Entry entry, int64_t now_ms);
  // Applies a persisted delete of version `version`: removes key if what it holds is older.
  bool RestoreErase(std::string_view ns, std::string_view key, uint64_t version);
  // The entry of key regardless of expiry, for replaying in-place changes; nullptr if absent.
  Entry* FindForRestore(std::string_view ns, std::string_view key);
  // After an in-place replay: account memory and set the entry's version.
  void RestoreCommit(const EntryRef& ref, uint64_t version);
  EntryRef RestoreUpsert(std::string_view ns, std::string_view key);
  // Raises the version counter to at least v.
  void SeenVersion(uint64_t v) {
    if (v > version_) version_ = v;
  }

  // -- Walking (snapshots): every namespace's table.
  const absl::flat_hash_map<std::string, KeyTable, KeyHash, KeyEq>& tables() const {
    return tables_;
  }
  absl::flat_hash_map<std::string, KeyTable, KeyHash, KeyEq>& tables() { return tables_; }

 private:
  EntryRef UpsertImpl(std::string_view ns, std::string_view key, int64_t now_ms, bool measure);
  KeyTable* FindTable(std::string_view ns);
  KeyTable& GetTable(std::string_view ns);
  void EraseSlot(KeyTable& t, const KeyTable::Slot& slot);

  absl::flat_hash_map<std::string, KeyTable, KeyHash, KeyEq> tables_;
  // Cache of the last namespace looked up: most batches hit one namespace.
  std::string last_ns_;
  KeyTable* last_table_ = nullptr;
  uint64_t version_ = 0;
  PartitionStats stats_;
};

}  // namespace dbkv

#endif  // DATABRIDGE_CORE_PARTITION_H_
