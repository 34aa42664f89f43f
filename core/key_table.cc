#include "core/key_table.h"

namespace dbkv {

KeyTable::Slot* KeyTable::Find(std::string_view key) {
  const size_t hash = KeyHash()(key);
  Segment& s = segments_[SegmentOf(hash)];
  auto it = s.find(key, hash);  // the hash is computed once
  return it == s.end() ? nullptr : &*it;
}

std::pair<KeyTable::Slot*, bool> KeyTable::TryEmplace(std::string_view key) {
  Segment& s = segments_[SegmentOf(KeyHash()(key))];
  auto [it, inserted] = s.try_emplace(key);
  if (!inserted) return {&*it, false};
  ++size_;
  if (frozen_ == 0 && size_ > segments_.size() * kSegmentTarget) {
    const std::string k = it->first;
    MaybeSplit();
    return {Find(k), true};  // the split moved it
  }
  return {&*it, true};
}

bool KeyTable::Erase(std::string_view key) {
  const size_t hash = KeyHash()(key);
  Segment& s = segments_[SegmentOf(hash)];
  auto it = s.find(key, hash);
  if (it == s.end()) return false;
  s.erase(it);
  --size_;
  return true;
}

void KeyTable::clear() {
  segments_.assign(1, Segment());
  shift_ = 64;
  size_ = 0;
}

void KeyTable::Thaw() {
  if (frozen_ > 0 && --frozen_ == 0) MaybeSplit();
}

void KeyTable::MaybeSplit() {
  while (size_ > segments_.size() * kSegmentTarget && segments_.size() < (size_t{1} << 20)) {
    // Double the segments: each key moves to the segment its next hash bit chooses.
    std::vector<Segment> next(segments_.size() * 2);
    const int next_shift = shift_ - 1;
    for (Segment& s : segments_) {
      for (auto it = s.begin(); it != s.end();) {
        const size_t h = KeyHash()(it->first);
        auto node = s.extract(it++);
        next[h >> next_shift].insert(std::move(node));
      }
      Segment().swap(s);  // free as we go
    }
    segments_.swap(next);
    shift_ = next_shift;
  }
}

}  // namespace dbkv
