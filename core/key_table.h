// KeyTable: the keys of one namespace in one partition, as a set of hash-table segments.
//
// Extendible hashing (as Dragonfly's dash table): a directory indexed by the top bits of a
// key's hash points at segments; a segment that fills up splits in two on its own (its keys
// move by their next hash bit), doubling the directory when it must. Work is bounded by one
// segment (at most kSegmentMax keys): no insert ever rehashes the whole table, and a walk, an
// expiry scan or an eviction scan can proceed one segment per step.
//
// A segment keeps its keys in two sets: a main one whose array stops growing at kMainCapacity
// slots (it then holds kMainKeys keys, 7/8 full), and an overflow set for the keys past those;
// it splits at kSegmentMax = 2 * kMainKeys. An array of 2^k - 1 slots doubles at 7/8 full, and
// with uniform hashing every segment doubles at the same N (just past 7 * 2^j keys): one array
// per segment would leave the whole table 44 % full there (at 1 M keys, for one). With the main
// array always full, a segment's slots are 66 % to 88 % full at every N. A lookup probes the
// main set, and the overflow set only when the key is not there and it is not empty.
//
// Segments are only ever appended: the index of a segment stays valid until clear(). Splits
// can be held off (Freeze) while a snapshot walks the segments across many shard messages (a
// split moves keys from a segment already walked into a new one, or the reverse). Not
// thread-safe (a shard owns it).
#ifndef DATABRIDGE_CORE_KEY_TABLE_H_
#define DATABRIDGE_CORE_KEY_TABLE_H_

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <stdexcept>
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

// One segment's keys: the main set, then the overflow set. Iterates over both (an iterator
// stays valid while other keys are erased, as a flat_hash_set's does).
class KeySegment {
 public:
  using Set = absl::flat_hash_set<Record*, RecordHash, RecordEq>;

  template <class S, class It>
  class Iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = Record*;
    using difference_type = std::ptrdiff_t;
    using pointer = Record* const*;
    using reference = Record* const&;

    Iterator() = default;
    reference operator*() const { return *it_; }
    Iterator& operator++() {
      ++it_;
      Settle();
      return *this;
    }
    Iterator operator++(int) {
      Iterator was = *this;
      ++*this;
      return was;
    }
    bool operator==(const Iterator& o) const {
      return in_overflow_ == o.in_overflow_ && it_ == o.it_;
    }
    bool operator!=(const Iterator& o) const { return !(*this == o); }

   private:
    friend class KeySegment;
    friend class KeyTable;
    Iterator(S* overflow, It it, bool in_overflow)
        : overflow_(overflow), it_(it), in_overflow_(in_overflow) {}
    // Past the main set's last key: the overflow set's first.
    void Settle() {
      if (!in_overflow_ && it_ == main_end_) {
        in_overflow_ = true;
        it_ = overflow_->begin();
      }
    }

    S* overflow_ = nullptr;
    It it_;
    It main_end_;
    bool in_overflow_ = false;
  };
  using iterator = Iterator<Set, Set::iterator>;
  using const_iterator = Iterator<const Set, Set::const_iterator>;

  iterator begin() { return Begin<iterator>(main_, overflow_); }
  iterator end() { return iterator(&overflow_, overflow_.end(), true); }
  const_iterator begin() const { return Begin<const_iterator>(main_, overflow_); }
  const_iterator end() const { return const_iterator(&overflow_, overflow_.end(), true); }

  size_t size() const { return main_.size() + overflow_.size(); }
  bool empty() const { return main_.empty() && overflow_.empty(); }
  // Slots of both arrays.
  size_t capacity() const { return main_.capacity() + overflow_.capacity(); }
  const Set& main_set() const { return main_; }
  const Set& overflow_set() const { return overflow_; }

 private:
  friend class KeyTable;
  template <class I, class S>
  static I Begin(S& main, S& overflow) {
    I it(&overflow, main.begin(), false);
    it.main_end_ = main.end();
    it.Settle();
    return it;
  }

  Set main_;
  Set overflow_;
};

// Owns its records: erasing a key (or clearing, or destroying the table) frees its record.
class KeyTable {
 public:
  using Segment = KeySegment;

  // The main set's largest array, and the keys it holds without growing (absl grows a
  // flat_hash_set of capacity c past c - c / 8 keys).
  static constexpr size_t kMainCapacity = 2047;
  static constexpr size_t kMainKeys = kMainCapacity - kMainCapacity / 8;
  // A segment holding this many keys splits before it takes another: a full main set and a
  // full overflow set of the same capacity.
  static constexpr size_t kSegmentMax = 2 * kMainKeys;
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
  Record* Find(std::string_view key) const { return Find(key, KeyHash()(key)); }
  Record* Find(std::string_view key, size_t hash) const;
  // The record of key; if absent, make() (a new Record* of key) is inserted. second: whether
  // it was. A key longer than Record::kKeyMax throws std::length_error.
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
    Segment& s = segments_[i];
    (it.in_overflow_ ? s.overflow_ : s.main_).erase(it.it_);
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
  static size_t ArrayBytes(const Segment::Set& s) {
    return s.capacity() == 0 ? 0 : s.capacity() * kSlotBytes + 16;
  }
  static size_t ArrayBytes(const Segment& s) {
    return ArrayBytes(s.main_) + ArrayBytes(s.overflow_);
  }
  // The set a new key of s goes to: the main one until its array is full.
  static Segment::Set& InsertSet(Segment& s) {
    const bool main_has_room = s.main_.capacity() < kMainCapacity || s.main_.size() < kMainKeys;
    return main_has_room ? s.main_ : s.overflow_;
  }
  // The key's slot in s: its set and position, or nullptr.
  static Record* const* FindIn(const Segment& s, std::string_view key, size_t hash) {
    auto it = s.main_.find(key, hash);
    if (it != s.main_.end()) return &*it;
    if (s.overflow_.empty()) return nullptr;
    auto jt = s.overflow_.find(key, hash);
    return jt == s.overflow_.end() ? nullptr : &*jt;
  }
  // Empties s and puts records (keys of s's hash range) back, each set's array sized to fit.
  static void Refill(Segment& s, const std::vector<Record*>& records);
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
  // Before anything changes: the command fails with this (CallHandler), the table is intact.
  if (key.size() > Record::kKeyMax) throw std::length_error("key longer than 2 GiB - 1 bytes");
  const size_t hash = KeyHash()(key);
  Record* found = nullptr;
  Segment& s = segments_[SegmentForInsert(key, hash, &found)];
  if (found != nullptr) return {found, false};
  const size_t before = ArrayBytes(s);
  // The set the key would go to finds it or claims its slot in one probe; the other set is
  // probed first (the overflow set only if it has keys).
  Segment::Set& target = InsertSet(s);
  Segment::Set& other = &target == &s.main_ ? s.overflow_ : s.main_;
  if (!other.empty()) {
    auto it = other.find(key, hash);
    if (it != other.end()) return {*it, false};
  }
  bool inserted = false;
  auto it = target.lazy_emplace(key, [&](const Segment::Set::constructor& construct) {
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
