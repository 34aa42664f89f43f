#include "core/key_table.h"

#include <catch2/catch.hpp>
#include <set>
#include <string>

namespace dbkv {

TEST_CASE("KeyTable finds, inserts and erases across segment splits", "[key_table]") {
  KeyTable t;
  const int n = static_cast<int>(KeyTable::kSegmentTarget) * 5;
  for (int i = 0; i < n; ++i) {
    auto [slot, inserted] = t.TryEmplace("key:" + std::to_string(i));
    REQUIRE(inserted);
    REQUIRE(slot->first == "key:" + std::to_string(i));  // the slot returned is the key's
    slot->second.version = static_cast<uint64_t>(i);
  }
  CHECK(t.size() == static_cast<size_t>(n));
  CHECK(t.segment_count() == 8);  // 5 x target needs 8 segments
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
}

TEST_CASE("a frozen KeyTable keeps its segments while a walk runs", "[key_table]") {
  KeyTable t;
  for (size_t i = 0; i < KeyTable::kSegmentTarget; ++i) t.TryEmplace("a" + std::to_string(i));
  t.Freeze();
  const size_t segments = t.segment_count();
  // A walk segment by segment, with inserts and erases between the steps.
  std::set<std::string> seen;
  for (size_t i = 0; i < t.segment_count(); ++i) {
    for (const auto& kv : t.segment(i)) seen.insert(kv.first);
    for (int j = 0; j < 5000; ++j) t.TryEmplace("b" + std::to_string(i * 5000 + j));
    CHECK(t.segment_count() == segments);
  }
  CHECK(seen.size() >= KeyTable::kSegmentTarget);  // every key present at the start was seen
  t.Thaw();
  CHECK(t.segment_count() > segments);  // the postponed split happens on thaw
  CHECK(t.Find("a0") != nullptr);
  CHECK(t.Find("b0") != nullptr);
}

}  // namespace dbkv
