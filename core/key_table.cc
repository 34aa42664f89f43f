#include "core/key_table.h"

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
    s.clear();
  }
}

Record* KeyTable::Find(std::string_view key, size_t hash) {
  Segment& s = segments_[dir_[DirIndex(hash)]];
  auto it = s.find(key, hash);  // the hash is computed once
  return it == s.end() ? nullptr : *it;
}

size_t KeyTable::SegmentForInsert(std::string_view key, size_t hash, Record** found) {
  size_t i = dir_[DirIndex(hash)];
  if (segments_[i].size() >= kSegmentMax && frozen_ == 0) {
    auto it = segments_[i].find(key, hash);
    if (it != segments_[i].end()) {
      *found = *it;
      return i;
    }
    if (Split(i)) i = dir_[DirIndex(hash)];
  }
  return i;
}

void KeyTable::Replace(const Record* old, Record* now) {
  const KeyText key = old->key();
  const size_t hash = KeyHash()(key.view());
  Segment& s = segments_[dir_[DirIndex(hash)]];
  auto it = s.find(key.view(), hash);
  // The set's elements are Record* objects of its own (not const): the slot may be given the
  // record's new address, which hashes and compares the same (same key).
  const_cast<Record*&>(*it) = now;
}

bool KeyTable::Erase(std::string_view key) { return EraseHashed(key, KeyHash()(key)); }

void KeyTable::Erase(Record* r) {
  const KeyText key = r->key();
  EraseHashed(key.view(), KeyHash()(key.view()));
}

bool KeyTable::EraseHashed(std::string_view key, size_t hash) {
  Segment& s = segments_[dir_[DirIndex(hash)]];
  auto it = s.find(key, hash);
  if (it == s.end()) return false;
  Record* r = *it;
  s.erase(it);
  Record::Delete(r);  // key may point into it: not used past here
  --size_;
  // A flat_hash_set never shrinks on erase; an emptied segment gives its array back.
  if (s.empty()) {
    bytes_ -= ArrayBytes(s);
    Segment().swap(s);
  }
  return true;
}

void KeyTable::Compact(size_t i) {
  Segment& s = segments_[i];
  const size_t before = ArrayBytes(s);
  if (s.empty()) {
    Segment().swap(s);
  } else {
    s.rehash(0);  // the smallest array that holds its keys
  }
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
  // The key with the next hash bit set moves.
  const int bit = 63 - depth;
  size_t first_hash = 0;
  bool have_first = false;
  for (auto it = from.begin(); it != from.end();) {
    const size_t h = KeyHashOf(**it);
    if (!have_first) {
      first_hash = h;
      have_first = true;
    }
    if ((h >> bit) & 1) {
      to.insert(*it);
      from.erase(it++);
    } else {
      ++it;
    }
  }
  // from keeps its array (flat_hash_map does not shrink on erase); to has its own.
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
