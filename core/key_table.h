// KeyTable: the keys of one namespace in one partition, as a set of hash-table segments.
//
// Extendible hashing (as Dragonfly's dash table): a directory indexed by the top bits of a
// key's hash points at segments; a segment that fills up splits in two on its own (its keys
// move by their next hash bit), doubling the directory when it must. Work is bounded by one
// segment (at most kSegmentMax keys): no insert ever rehashes the whole table, and a walk, an
// expiry scan or an eviction scan can proceed one segment per step.
//
// Segments are only ever appended: the index of a segment stays valid until clear(). Splits
// can be held off (Freeze) while a snapshot walks the segments across many shard messages (a
// split moves keys from a segment already walked into a new one, or the reverse). Not
// thread-safe (a shard owns it).
#ifndef DATABRIDGE_CORE_KEY_TABLE_H_
#define DATABRIDGE_CORE_KEY_TABLE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "core/record.h"

namespace dbkv {

// Transparent hashing so that lookups by std::string_view need no std::string. (Debian's
// abseil has its own absl::string_view, so the default transparent hasher does not take
// std::string_view.)
struct KeyHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const {
    return absl::Hash<absl::string_view>()(absl::string_view(s.data(), s.size()));
  }
};
struct KeyEq {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const { return a == b; }
};

// The hash of a record's key (unpacked first if it is packed).
inline size_t KeyHashOf(const Record& r) {
  const KeyText k = r.key();
  return KeyHash()(k.view());
}

// A segment's set of record pointers, hashed and compared by the records' keys (a lookup by
// std::string_view builds nothing, and compares with a packed key without unpacking it).
struct RecordHash {
  using is_transparent = void;
  size_t operator()(std::string_view key) const { return KeyHash()(key); }
  size_t operator()(const Record* r) const { return KeyHashOf(*r); }
};
struct RecordEq {
  using is_transparent = void;
  bool operator()(const Record* a, std::string_view b) const { return a->KeyEquals(b); }
  bool operator()(std::string_view a, const Record* b) const { return b->KeyEquals(a); }
  bool operator()(const Record* a, const Record* b) const { return a->KeyEquals(*b); }
  bool operator()(std::string_view a, std::string_view b) const { return a == b; }
};

// Owns its records: erasing a key (or clearing, or destroying the table) frees its record.
class KeyTable {
 public:
  using Segment = absl::flat_hash_set<Record*, RecordHash, RecordEq>;

  // A segment holding this many keys splits before it takes another. The number is where a
  // flat_hash_map of capacity 4095 would grow (7/8 load): segments stay at that capacity.
  static constexpr size_t kSegmentMax = 3584;
  // Bytes one slot of a segment's array costs: the record pointer and its control byte.
  static constexpr size_t kSlotBytes = sizeof(void*) + 1;

  // What the partition knows about a segment beyond its keys.
  struct SegmentInfo {
    // No key in the segment expires before this (0: none has an expiry). A lower bound: it
    // is lowered on every write with an expiry and made exact by ScanExpired.
    int64_t next_expiry_ms = 0;
    int64_t scanned_ms = 0;  // when an expiry scan last went through it
    uint8_t depth = 0;       // local depth: the hash bits the segment's keys share
  };

  KeyTable();
  ~KeyTable();
  KeyTable(KeyTable&& o) noexcept;
  KeyTable& operator=(KeyTable&& o) noexcept;
  KeyTable(const KeyTable&) = delete;
  KeyTable& operator=(const KeyTable&) = delete;

  // The record of key, or nullptr. Valid until key is written or erased.
  Record* Find(std::string_view key) { return Find(key, KeyHash()(key)); }
  Record* Find(std::string_view key, size_t hash);
  // The record of key; if absent, make() (a new Record* of key) is inserted. second: whether
  // it was.
  template <class MakeRecord>
  std::pair<Record*, bool> TryEmplace(std::string_view key, MakeRecord make);
  // As above, inserting a record with a null entry.
  std::pair<Record*, bool> TryEmplace(std::string_view key) {
    return TryEmplace(key, [key] { return Record::Make(key, Entry()); });
  }
  // The slot of record old (still valid, with its key) now points at now, a record of the same
  // key (Record::Reset moved it). The caller frees old.
  void Replace(const Record* old, Record* now);
  // Removes key and frees its record; false if absent.
  bool Erase(std::string_view key);
  // Removes r (a record of this table) and frees it.
  void Erase(Record* r);
  // Removes the key at it, in segment i, during a scan of that segment (the scan goes on from
  // a copy of it incremented before the call), and frees its record. Follow a scan that erased
  // with Compact(i) if Sparse(i).
  void EraseAt(size_t i, Segment::iterator it) {
    Record* r = *it;
    segments_[i].erase(it);
    Record::Delete(r);
    --size_;
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  void clear();

  // The index of the segment that holds (or would hold) key.
  size_t SegmentIndexOf(std::string_view key) const { return dir_[DirIndex(KeyHash()(key))]; }
  size_t segment_count() const { return segments_.size(); }
  const Segment& segment(size_t i) const { return segments_[i]; }
  Segment& segment(size_t i) { return segments_[i]; }
  SegmentInfo& info(size_t i) { return info_[i]; }
  const SegmentInfo& info(size_t i) const { return info_[i]; }
  // Records that a key of segment i expires at expire_at_ms.
  void NoteExpiry(size_t i, int64_t expire_at_ms) {
    int64_t& next = info_[i].next_expiry_ms;
    if (next == 0 || expire_at_ms < next) next = expire_at_ms;
  }

  // Shrinks segment i's array to fit its keys (after many were erased). O(its keys).
  void Compact(size_t i);
  // True if segment i's array is mostly empty: worth Compact.
  bool Sparse(size_t i) const {
    const Segment& s = segments_[i];
    return s.capacity() > 0 && (s.empty() || (s.capacity() > 64 && s.size() < s.capacity() / 8));
  }

  // Bytes of the segments' slot arrays (what the table costs beyond its records and their
  // values' heap blocks): exact, from the segments' capacities.
  size_t bytes() const { return bytes_; }

  // While frozen the segments never split (they may grow past kSegmentMax): a walk by segment
  // index sees every key that stays in the table exactly once.
  void Freeze() { ++frozen_; }
  void Thaw() {
    if (frozen_ > 0) --frozen_;
  }

 private:
  size_t DirIndex(size_t hash) const {
    return global_depth_ == 0 ? 0 : hash >> (64 - global_depth_);
  }
  static size_t ArrayBytes(const Segment& s) {
    return s.capacity() == 0 ? 0 : s.capacity() * kSlotBytes + 16;
  }
  // Splits segment i in two (doubling the directory if it must). False if it cannot (the
  // segment's keys already use every directory bit available).
  bool Split(size_t i);
  // The segment an insertion of key goes to (splitting a full one first); if key is there
  // already, sets *found instead.
  size_t SegmentForInsert(std::string_view key, size_t hash, Record** found);
  bool EraseHashed(std::string_view key, size_t hash);
  void FreeRecords();

  std::vector<uint32_t> dir_;  // 2^global_depth_ entries: segment indexes
  int global_depth_ = 0;
  std::vector<Segment> segments_;
  std::vector<SegmentInfo> info_;
  size_t size_ = 0;
  size_t bytes_ = 0;
  int frozen_ = 0;
};

template <class MakeRecord>
std::pair<Record*, bool> KeyTable::TryEmplace(std::string_view key, MakeRecord make) {
  const size_t hash = KeyHash()(key);
  Record* found = nullptr;
  Segment& s = segments_[SegmentForInsert(key, hash, &found)];
  if (found != nullptr) return {found, false};
  const size_t before = ArrayBytes(s);
  // One probe: the slot is found, or claimed for key and given the new record.
  bool inserted = false;
  auto it = s.lazy_emplace(key, [&](const Segment::constructor& construct) {
    inserted = true;
    construct(make());
  });
  if (inserted) {
    ++size_;
    bytes_ += ArrayBytes(s) - before;
  }
  return {*it, inserted};
}

}  // namespace dbkv

#endif  // DATABRIDGE_CORE_KEY_TABLE_H_
