#include "core/key_table.h"

#include <catch2/catch.hpp>
#include <set>
#include <string>

namespace dbkv {

TEST_CASE("KeyTable finds, inserts and erases across segment splits", "[key_table]") {
  KeyTable t;
  const int n = static_cast<int>(KeyTable::kSegmentMax) * 10;
  for (int i = 0; i < n; ++i) {
    auto [slot, inserted] = t.TryEmplace("key:" + std::to_string(i));
    REQUIRE(inserted);
    REQUIRE(slot->first == "key:" + std::to_string(i));  // the slot returned is the key's
    slot->second.version = static_cast<uint64_t>(i);
  }
  CHECK(t.size() == static_cast<size_t>(n));
  // Segments split one at a time: between n/max and 2n/max of them, none over the maximum.
  CHECK(t.segment_count() >= 10);
  CHECK(t.segment_count() <= 24);
  size_t total = 0;
  for (size_t i = 0; i < t.segment_count(); ++i) {
    CHECK(t.segment(i).size() <= KeyTable::kSegmentMax);
    total += t.segment(i).size();
    for (const auto& kv : t.segment(i)) CHECK(t.SegmentIndexOf(kv.first) == i);
  }
  CHECK(total == static_cast<size_t>(n));
  for (int i = 0; i < n; i += 97) {
    KeyTable::Slot* s = t.Find("key:" + std::to_string(i));
    REQUIRE(s != nullptr);
    CHECK(s->second.version == static_cast<uint64_t>(i));
  }
  CHECK_FALSE(t.TryEmplace("key:7").second);
  CHECK(t.Erase("key:7"));
  CHECK_FALSE(t.Erase("key:7"));
  CHECK(t.Find("key:7") == nullptr);
  CHECK(t.size() == static_cast<size_t>(n - 1));
  t.clear();
  CHECK(t.size() == 0);
  CHECK(t.segment_count() == 1);
  CHECK(t.bytes() == 0);
}

TEST_CASE("KeyTable charges its slot arrays exactly and gives them back", "[key_table]") {
  KeyTable t;
  CHECK(t.bytes() == 0);
  const int n = static_cast<int>(KeyTable::kSegmentMax) * 3;
  for (int i = 0; i < n; ++i) t.TryEmplace("k" + std::to_string(i));
  size_t expected = 0;
  for (size_t i = 0; i < t.segment_count(); ++i) {
    const size_t cap = t.segment(i).capacity();
    if (cap != 0) expected += cap * KeyTable::kSlotBytes + 16;
  }
  CHECK(t.bytes() == expected);
  CHECK(t.bytes() >= static_cast<size_t>(n) * sizeof(KeyTable::Slot));
  for (int i = 0; i < n; ++i) REQUIRE(t.Erase("k" + std::to_string(i)));
  CHECK(t.bytes() == 0);  // every emptied segment freed its array
}

TEST_CASE("a frozen KeyTable keeps its segments while a walk runs", "[key_table]") {
  KeyTable t;
  for (size_t i = 0; i < KeyTable::kSegmentMax * 2; ++i) t.TryEmplace("a" + std::to_string(i));
  t.Freeze();
  const size_t segments = t.segment_count();
  // A walk segment by segment, with inserts and erases between the steps.
  std::set<std::string> seen;
  for (size_t i = 0; i < t.segment_count(); ++i) {
    for (const auto& kv : t.segment(i)) seen.insert(kv.first);
    for (int j = 0; j < 5000; ++j) t.TryEmplace("b" + std::to_string(i * 5000 + j));
    CHECK(t.segment_count() == segments);
  }
  CHECK(seen.size() >= KeyTable::kSegmentMax * 2);  // every key present at the start was seen
  t.Thaw();
  for (int j = 0; j < 100; ++j) t.TryEmplace("c" + std::to_string(j));
  CHECK(t.segment_count() > segments);  // oversized segments split on the next inserts
  CHECK(t.Find("a0") != nullptr);
  CHECK(t.Find("b0") != nullptr);
}

}  // namespace dbkv
