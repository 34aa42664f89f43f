#include "core/key_table.h"

#include <algorithm>
#include <vector>

namespace dbkv {
namespace {

// The directory never grows past 2^kMaxDepth entries (4 MiB of directory, a billion keys and
// more at kSegmentMax keys per segment); past it, segments grow instead of splitting.
constexpr int kMaxDepth = 20;

}  // namespace

KeyTable::KeyTable() : dir_(1, 0), segments_(1), info_(1) {}

KeyTable::~KeyTable() { FreeRecords(); }

KeyTable::KeyTable(KeyTable&& o) noexcept
    : dir_(std::move(o.dir_)),
      global_depth_(o.global_depth_),
      segments_(std::move(o.segments_)),
      info_(std::move(o.info_)),
      size_(o.size_),
      bytes_(o.bytes_),
      frozen_(o.frozen_) {
  o.clear();
}

KeyTable& KeyTable::operator=(KeyTable&& o) noexcept {
  if (this != &o) {
    FreeRecords();
    dir_ = std::move(o.dir_);
    global_depth_ = o.global_depth_;
    segments_ = std::move(o.segments_);
    info_ = std::move(o.info_);
    size_ = o.size_;
    bytes_ = o.bytes_;
    frozen_ = o.frozen_;
    o.clear();
  }
  return *this;
}

void KeyTable::FreeRecords() {
  for (Segment& s : segments_) {
    for (Record* r : s) Record::Delete(r);
    s.main_.clear();
    s.overflow_.clear();
  }
}

Record* KeyTable::Find(std::string_view key, size_t hash) const {
  Record* const* slot = FindIn(segments_[dir_[DirIndex(hash)]], key, hash);  // hashed once
  return slot == nullptr ? nullptr : *slot;
}

size_t KeyTable::SegmentForInsert(std::string_view key, size_t hash, Record** found) {
  size_t i = dir_[DirIndex(hash)];
  if (segments_[i].size() >= kSegmentMax && frozen_ == 0) {
    if (Record* const* slot = FindIn(segments_[i], key, hash)) {
      *found = *slot;
      return i;
    }
    if (Split(i)) i = dir_[DirIndex(hash)];
  }
  return i;
}

void KeyTable::Refill(Segment& s, const std::vector<Record*>& records) {
  Segment::Set().swap(s.main_);
  Segment::Set().swap(s.overflow_);
  // Sized up front: no array grows (and no key is hashed again) while the records go in.
  const size_t main = std::min(records.size(), kMainKeys);
  s.main_.reserve(main);
  if (records.size() > main) s.overflow_.reserve(records.size() - main);
  for (size_t k = 0; k < records.size(); ++k) (k < main ? s.main_ : s.overflow_).insert(records[k]);
}

void KeyTable::Replace(const Record* old, Record* now) {
  const KeyText key = old->key();
  const size_t hash = KeyHash()(key.view());
  Record* const* slot = FindIn(segments_[dir_[DirIndex(hash)]], key.view(), hash);
  // The sets' elements are Record* objects of their own (not const): the slot may be given the
  // record's new address, which hashes and compares the same (same key).
  *const_cast<Record**>(slot) = now;
}

bool KeyTable::Erase(std::string_view key) { return EraseHashed(key, KeyHash()(key)); }

void KeyTable::Erase(Record* r) {
  const KeyText key = r->key();
  EraseHashed(key.view(), KeyHash()(key.view()));
}

bool KeyTable::EraseHashed(std::string_view key, size_t hash) {
  Segment& s = segments_[dir_[DirIndex(hash)]];
  Record* r = nullptr;
  auto it = s.main_.find(key, hash);
  if (it != s.main_.end()) {
    r = *it;
    s.main_.erase(it);
  } else {
    auto jt = s.overflow_.find(key, hash);
    if (jt == s.overflow_.end()) return false;
    r = *jt;
    s.overflow_.erase(jt);
  }
  Record::Delete(r);  // key may point into it: not used past here
  --size_;
  // A flat_hash_set never shrinks on erase; an emptied set gives its array back.
  const size_t before = ArrayBytes(s);
  if (s.main_.empty()) Segment::Set().swap(s.main_);
  if (s.overflow_.empty()) Segment::Set().swap(s.overflow_);
  bytes_ -= before - ArrayBytes(s);
  return true;
}

void KeyTable::Compact(size_t i) {
  Segment& s = segments_[i];
  const size_t before = ArrayBytes(s);
  // The smallest arrays that hold its keys, the main one first.
  const std::vector<Record*> records(s.begin(), s.end());
  Refill(s, records);
  bytes_ = bytes_ - before + ArrayBytes(s);
}

void KeyTable::clear() {
  FreeRecords();
  dir_.assign(1, 0);
  global_depth_ = 0;
  segments_.clear();
  segments_.emplace_back();
  info_.assign(1, SegmentInfo());
  size_ = 0;
  bytes_ = 0;
}

bool KeyTable::Split(size_t i) {
  const int depth = info_[i].depth;
  if (depth >= kMaxDepth) return false;
  if (depth == global_depth_) {
    // Double the directory: entry k becomes entries 2k and 2k+1.
    std::vector<uint32_t> next(dir_.size() * 2);
    for (size_t k = 0; k < next.size(); ++k) next[k] = dir_[k >> 1];
    dir_.swap(next);
    ++global_depth_;
  }
  const size_t j = segments_.size();
  segments_.emplace_back();
  info_.push_back(info_[i]);  // the same expiry bound holds for both halves
  Segment& from = segments_[i];
  Segment& to = segments_[j];
  const size_t from_before = ArrayBytes(from);
  // The keys with the next hash bit set move; both halves get arrays that fit them.
  const int bit = 63 - depth;
  size_t first_hash = 0;
  bool have_first = false;
  std::vector<Record*> stay, move;
  stay.reserve(from.size());
  move.reserve(from.size());
  for (Record* r : from) {
    const size_t h = KeyHashOf(*r);
    if (!have_first) {
      first_hash = h;
      have_first = true;
    }
    ((h >> bit) & 1 ? move : stay).push_back(r);
  }
  Refill(from, stay);
  Refill(to, move);
  bytes_ += ArrayBytes(from) - from_before + ArrayBytes(to);
  info_[i].depth = info_[j].depth = static_cast<uint8_t>(depth + 1);
  // The directory entries of segment i: a run of 2^(global - depth) starting at its prefix;
  // the upper half now points at j.
  const size_t run = size_t{1} << (global_depth_ - depth);
  const size_t start = depth == 0 ? 0 : (first_hash >> (64 - depth)) << (global_depth_ - depth);
  for (size_t k = start + run / 2; k < start + run; ++k) dir_[k] = static_cast<uint32_t>(j);
  return true;
}

}  // namespace dbkv
