// Partition: the keyspace one shard owns, split by namespace.
//
// Not thread-safe: exactly one shard actor owns a partition and is the only code that touches
// it. Expired entries are never returned: lookups erase them on the way (lazy expiry).
//
// A key lives in its record (record.h): a pointer to it stays valid until the key itself is
// written (the record may move to another size class) or erased, whatever else is written.
#ifndef DATABRIDGE_CORE_PARTITION_H_
#define DATABRIDGE_CORE_PARTITION_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "core/entry.h"
#include "core/key_table.h"

namespace dbkv {

// Heap bytes one key costs beyond its hash-table slot (the tables' slot arrays are charged
// separately, exactly, from their capacity): the record that would hold e (record.h) and the
// value's own blocks. Equal to that record's Charge().
size_t EntryCharge(std::string_view key, const Entry& e);
// The same for a key's record: its Charge().
inline size_t EntryCharge(std::string_view /*key*/, const Record& r) { return r.Charge(); }

// What to do when a write would take memory past the limit (see Partition::Evict).
enum class EvictionPolicy {
  kNoEviction,  // refuse the write (out of memory)
  kAllKeysLru,  // remove the least recently used keys, approximately (sampled per segment)
  kVolatileTtl  // remove keys that have an expiry, the soonest to expire first
};
// "noeviction", "allkeys-lru", "volatile-ttl"; false if name is none of them.
bool ParseEvictionPolicy(std::string_view name, EvictionPolicy* policy);

// A handle on an entry being modified: `entry` is the key's entry taken out of its record (the
// value moved out, or copied if it was inline), for the caller to change; Commit puts it back.
// Remembers what the key was charged before the change so that Commit can account the
// difference.
struct EntryRef {
  Entry* entry = nullptr;  // the partition's one entry under change
  Record* record = nullptr;
  KeyTable* table = nullptr;
  size_t old_charge = 0;
  size_t old_record_bytes = 0;  // the record's own allocation before the change
  bool created = false;
  bool measured = true;  // old_charge is known (Upsert); false: UpsertUnmeasured
  // The entry's value was cold (on disk): if the change replaced it, Commit releases it.
  bool was_cold = false;
  ColdRef old_cold;
};

struct PartitionStats {
  uint64_t keys = 0;
  uint64_t memory_bytes = 0;
  uint64_t expired_keys = 0;  // reclaimed because their time had passed
  uint64_t evicted_keys = 0;  // removed to stay within the memory limit
  uint64_t cold_keys = 0;     // keys whose value is on disk (tiering)
  uint64_t cold_bytes = 0;    // bytes of the cold records those keys reference
  uint64_t hits = 0;
  uint64_t misses = 0;
};

class Partition {
 public:
  Partition() = default;
  Partition(const Partition&) = delete;
  Partition& operator=(const Partition&) = delete;

  // The live record of key in namespace ns, or nullptr. Erases the key if it has expired.
  Record* Find(std::string_view ns, std::string_view key, int64_t now_ms);

  // Creates or overwrites key with value and expiry; assigns a new version. Returns the record.
  // A const value is copied: a string kept inline costs one copy of its bytes.
  Record* Put(std::string_view ns, std::string_view key, const Value& value, int64_t expire_at_ms);
  Record* Put(std::string_view ns, std::string_view key, Value&& value, int64_t expire_at_ms);

  // The live entry of key, created (null value, no expiry) if absent, for modification: the
  // caller changes *ref.entry, then calls Commit(ref) or Abort(ref) before any other call on
  // this partition.
  EntryRef Upsert(std::string_view ns, std::string_view key, int64_t now_ms);
  // Finishes a modification: stores the entry, accounts memory (walking the value: O(its
  // size)) and assigns a new version. Returns the key's record.
  Record* Commit(const EntryRef& ref);
  // For large containers changed a little (a push on a long list): like Upsert, without
  // measuring the value; then CommitDelta with the change of the value's HeapBytes(), which
  // the caller knows exactly. O(1) instead of O(size).
  EntryRef UpsertUnmeasured(std::string_view ns, std::string_view key, int64_t now_ms);
  Record* CommitDelta(const EntryRef& ref, int64_t heap_delta);
  // Abandons an Upsert: erases the key if the Upsert created it, else leaves it as it was.
  // (Call it before changing *ref.entry: a container value, moved out for the change, goes
  // back with whatever was done to it, under its old version.)
  void Abort(const EntryRef& ref);
  // A change begun by Upsert and not yet committed or aborted (a handler threw, or returned
  // without finishing it): AbortOpenChange abandons it as Abort does. Another Upsert while one
  // is open throws std::logic_error.
  bool HasOpenChange() const { return open_.record != nullptr; }
  void AbortOpenChange() {
    if (!HasOpenChange()) return;
    const EntryRef ref = open_;  // Abort clears open_ first
    Abort(ref);
  }

  // Removes key. Returns true if a live entry was removed; *version (if given) receives the
  // version assigned to the deletion (every write, deletes included, takes a new version).
  bool Erase(std::string_view ns, std::string_view key, int64_t now_ms,
             uint64_t* version = nullptr);

  // Number of keys in one namespace (expired keys not yet reclaimed included).
  size_t Size(std::string_view ns) const;
  // Removes every key of a namespace. Returns how many there were.
  size_t Clear(std::string_view ns);

  const PartitionStats& stats() const { return stats_; }
  // The part of stats().memory_bytes that is the tables' slot arrays.
  uint64_t table_bytes() const;
  uint64_t last_version() const { return version_; }
  void RecordHit(bool hit) { hit ? ++stats_.hits : ++stats_.misses; }

  // -- Recovery (see persistence/): applies a persisted state without assigning versions.

  // Installs key's entry as persisted, if it is newer than what the partition holds (its
  // version is higher, or the key is absent). Entries already expired at now_ms are skipped.
  // Returns whether it was applied. Keeps the version counter above every version seen.
  bool Restore(std::string_view ns, std::string_view key, Entry entry, int64_t now_ms);
  // Applies a persisted delete of version `version`: removes key if what it holds is older.
  bool RestoreErase(std::string_view ns, std::string_view key, uint64_t version);
  // The record of key regardless of expiry (replaying in-place changes, tiering); nullptr if
  // absent.
  Record* FindForRestore(std::string_view ns, std::string_view key);
  // After an in-place replay: account memory and set the entry's version.
  Record* RestoreCommit(const EntryRef& ref, uint64_t version);
  EntryRef RestoreUpsert(std::string_view ns, std::string_view key);
  // Raises the version counter to at least v.
  void SeenVersion(uint64_t v) {
    if (v > version_) version_ = v;
  }

  // -- Housekeeping, in slices a shard runs between messages.

  struct ExpiryScan {
    size_t reclaimed = 0;  // keys removed
    size_t visited = 0;    // keys looked at
    bool more = false;     // the budget ran out before every due segment was scanned
  };
  // Reclaims expired keys without their being read: scans the segments whose earliest expiry
  // has passed (each at most once per kExpiryRescanMs), until about max_visits keys were
  // looked at. on_remove is told of each key removed.
  static constexpr int64_t kExpiryRescanMs = 1000;
  ExpiryScan ReclaimExpired(int64_t now_ms, size_t max_visits);

  // Removes keys by policy until bytes_to_free bytes are freed or max_visits keys were looked
  // at (whole segments, in turn; from each, its least recently used keys or those expiring
  // soonest, up to a quarter of it). Each removal is a write: it takes a new version, and
  // on_evict(ns, key, version) is told of it before the key goes. Returns the bytes freed.
  using EvictCallback =
      absl::FunctionRef<void(std::string_view ns, std::string_view key, uint64_t version)>;
  size_t Evict(EvictionPolicy policy, size_t bytes_to_free, int64_t now_ms, size_t max_visits,
               EvictCallback on_evict);

  // -- Tiering: values moved to cold segments on disk (see storage/COLD_FORMAT.md).

  // Replaces r's value (hot) by ref, the place its value was written: frees the value's bytes.
  // r is a record of namespace ns of this partition; returns where it is now (r moves).
  Record* MakeCold(std::string_view ns, Record* r, const ColdRef& ref);
  // Replaces r's cold value by the value loaded from disk; returns where r is now.
  Record* MakeHot(std::string_view ns, Record* r, Value value);
  // r's cold value was copied to `to` (compaction). r does not move.
  void MoveCold(Record* r, const ColdRef& to);
  // Bytes of live cold records per segment, for this partition's entries.
  const absl::flat_hash_map<uint32_t, uint64_t>& cold_segments() const { return cold_live_; }
  // The changes to cold_segments() since the last call (segment, bytes added or removed), for
  // the server-wide table of segments.
  void TakeColdDeltas(std::vector<std::pair<uint32_t, int64_t>>* out);

  // Hot values worth moving to disk (at least min_value_bytes of data, not being written
  // already), least recently used first: scans whole segments in turn until want_bytes are
  // offered or max_visits keys were looked at, and offers each segment's older half to take
  // (ns, record); take returns false to stop. It may change the record's flags, nothing else.
  using SpillCallback = absl::FunctionRef<bool(std::string_view ns, Record& record)>;
  void PickColdest(size_t want_bytes, size_t min_value_bytes, int64_t now_ms, size_t max_visits,
                   SpillCallback take);

  // -- Walking (snapshots): every namespace's table.
  const absl::flat_hash_map<std::string, KeyTable, KeyHash, KeyEq>& tables() const {
    return tables_;
  }
  absl::flat_hash_map<std::string, KeyTable, KeyHash, KeyEq>& tables() { return tables_; }

 private:
  EntryRef UpsertImpl(std::string_view ns, std::string_view key, int64_t now_ms, bool measure);
  template <class V>
  Record* PutImpl(std::string_view ns, std::string_view key, V&& value, int64_t expire_at_ms);
  // Puts e in r's place in t; returns the record now holding it (see Record::Reset).
  Record* Store(KeyTable& t, Record* r, Entry&& e);
  template <class V>
  Record* Store(KeyTable& t, Record* r, V&& v, const Record::Header& h);
  // Ends a change begun by Upsert: stores the entry under change with version `version`.
  Record* Finish(const EntryRef& ref, uint64_t version);
  // Lowers the segment's expiry bound if r has an expiry.
  void NoteExpiry(KeyTable& t, const Record& r);
  KeyTable* FindTable(std::string_view ns);
  KeyTable& GetTable(std::string_view ns);
  void EraseRecord(KeyTable& t, Record* r);
  // Accounts a value leaving an entry (overwritten, erased, expired): a cold one no longer
  // references its record.
  void DropValue(const Record& r) {
    if (r.is_cold()) ColdRemoved(r.value().cold_ref());
  }
  void ColdAdded(const ColdRef& r);
  void ColdRemoved(const ColdRef& r);
  // After a change: releases the cold value the entry had if it was replaced.
  void ReleaseReplacedCold(const EntryRef& ref, const Record& now) {
    if (ref.was_cold && !(now.is_cold() && now.value().cold_ref() == ref.old_cold)) {
      ColdRemoved(ref.old_cold);
    }
  }
  // Charges the change of t's slot arrays since they were `before` bytes.
  void TableChanged(const KeyTable& t, size_t before) {
    stats_.memory_bytes = stats_.memory_bytes + t.bytes() - before;
  }

  // Where a round-robin scan over every namespace's segments goes next.
  struct Cursor {
    std::string ns;
    size_t segment = 0;
  };
  // The next segment of a round-robin scan (advancing c), or nullptr if there are no tables.
  KeyTable* NextSegment(Cursor& c, size_t* segment);
  size_t SegmentCount() const;

  absl::flat_hash_map<std::string, KeyTable, KeyHash, KeyEq> tables_;
  // Cache of the last namespace looked up: most batches hit one namespace.
  std::string last_ns_;
  KeyTable* last_table_ = nullptr;
  uint64_t version_ = 0;
  PartitionStats stats_;
  Cursor expiry_cursor_;
  Cursor evict_cursor_;
  Cursor spill_cursor_;
  // The entry under change between Upsert and Commit or Abort (EntryRef::entry).
  Entry editing_;
  EntryRef open_;  // the change under way (record null: none)
  absl::flat_hash_map<uint32_t, uint64_t> cold_live_;
  absl::flat_hash_map<uint32_t, int64_t> cold_deltas_;
  // Reused by Evict: (score, key) of the candidates of one segment.
  std::vector<std::pair<uint64_t, Record*>> candidates_;
};

}  // namespace dbkv

#endif  // DATABRIDGE_CORE_PARTITION_H_
