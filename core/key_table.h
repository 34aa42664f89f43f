// KeyTable: the keys of one namespace in one partition, as a set of hash-table segments.
//
// A key's segment is chosen by the top bits of its hash; segments double in number (each one
// split in two) when they average more than kSegmentTarget keys. Splitting can be held off
// (Freeze) while a snapshot walks the table segment by segment across many shard messages: a
// segment is always serialized within one message, and the set of segments does not change
// under the walk. Not thread-safe (a shard owns it).
#ifndef DATABRIDGE_CORE_KEY_TABLE_H_
#define DATABRIDGE_CORE_KEY_TABLE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "core/entry.h"

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

class KeyTable {
 public:
  using Segment = absl::flat_hash_map<std::string, Entry, KeyHash, KeyEq>;
  using Slot = std::pair<const std::string, Entry>;

  // A segment splits once the table averages this many keys per segment.
  static constexpr size_t kSegmentTarget = 16384;

  KeyTable() : segments_(1) {}

  // The slot of key, or nullptr. Valid until the next insertion into this table.
  Slot* Find(std::string_view key);
  // The slot of key, inserted (null entry) if absent; second: whether it was inserted.
  std::pair<Slot*, bool> TryEmplace(std::string_view key);
  // Removes key; false if absent.
  bool Erase(std::string_view key);

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  void clear();

  size_t segment_count() const { return segments_.size(); }
  const Segment& segment(size_t i) const { return segments_[i]; }
  Segment& segment(size_t i) { return segments_[i]; }

  // While frozen the segments never split (they may grow past the target): a walk by segment
  // index stays valid across calls.
  void Freeze() { ++frozen_; }
  void Thaw();

 private:
  size_t SegmentOf(size_t hash) const { return shift_ == 64 ? 0 : hash >> shift_; }
  void MaybeSplit();

  std::vector<Segment> segments_;
  int shift_ = 64;  // 64 - log2(segment count)
  size_t size_ = 0;
  int frozen_ = 0;
};

}  // namespace dbkv

#endif  // DATABRIDGE_CORE_KEY_TABLE_H_
