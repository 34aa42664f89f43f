#include "core/key_table.h"

#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <vector>

namespace dbkv {

TEST_CASE("KeyTable finds, inserts and erases across segment splits", "[key_table]") {
  KeyTable t;
  const int n = static_cast<int>(KeyTable::kSegmentMax) * 10;
  for (int i = 0; i < n; ++i) {
    auto [r, inserted] = t.TryEmplace("key:" + std::to_string(i));
    REQUIRE(inserted);
    REQUIRE(r->key().str() == "key:" + std::to_string(i));  // the record returned is the key's
    r->set_version(static_cast<uint64_t>(i));
  }
  CHECK(t.size() == static_cast<size_t>(n));
  // Segments split one at a time: between n/max and 2n/max of them, none over the maximum.
  CHECK(t.segment_count() >= 10);
  CHECK(t.segment_count() <= 24);
  size_t total = 0;
  for (size_t i = 0; i < t.segment_count(); ++i) {
    CHECK(t.segment(i).size() <= KeyTable::kSegmentMax);
    total += t.segment(i).size();
    for (const Record* r : t.segment(i)) CHECK(t.SegmentIndexOf(r->key().str()) == i);
  }
  CHECK(total == static_cast<size_t>(n));
  for (int i = 0; i < n; i += 97) {
    Record* r = t.Find("key:" + std::to_string(i));
    REQUIRE(r != nullptr);
    CHECK(r->version() == static_cast<uint64_t>(i));
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
    for (const KeySegment::Set* set : {&t.segment(i).main_set(), &t.segment(i).overflow_set()}) {
      if (set->capacity() != 0) expected += set->capacity() * KeyTable::kSlotBytes + 16;
    }
  }
  CHECK(t.bytes() == expected);
  CHECK(t.bytes() >= static_cast<size_t>(n) * KeyTable::kSlotBytes);
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
    for (const Record* r : t.segment(i)) seen.emplace(r->key().str());
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

TEST_CASE("a record keeps its key exactly, at every length, and stays put", "[key_table]") {
  KeyTable t;
  std::vector<std::string> keys;
  for (size_t n : {0, 1, 15, 16, 17, 23, 24, 25, 55, 56, 57, 255, 256, 511, 512, 513, 1 << 20}) {
    std::string k(n, 'k');
    for (size_t i = 0; i < n; ++i) k[i] = static_cast<char>((i * 131 + n) & 0xff);  // NULs too
    keys.push_back(k);
  }
  keys.emplace_back("\x80\xff\x00binary", 9);
  std::vector<Record*> records;
  for (const std::string& k : keys) {
    auto [r, inserted] = t.TryEmplace(k);
    REQUIRE(inserted);
    CHECK(r->key().str() == k);
    // A null entry: the 16-byte header, a boxed null Value, the key.
    CHECK(r->AllocBytes() == AllocSize(16 + 16 + k.size()));
    CHECK(r->AllocBytes() == Record::AllocBytesFor(k, Value(), false));
    records.push_back(r);
  }
  // Many more keys: the segments split, the records stay where they are (a record moves only
  // when its own key is written).
  for (size_t i = 0; i < KeyTable::kSegmentMax * 4; ++i) t.TryEmplace("x" + std::to_string(i));
  for (size_t i = 0; i < keys.size(); ++i) {
    CHECK(t.Find(keys[i]) == records[i]);
    CHECK(records[i]->key().str() == keys[i]);
  }
  CHECK(t.Find(std::string(16, 'k')) == nullptr);  // same length, other bytes
  // A moved table owns the records; the old one is empty.
  KeyTable moved(std::move(t));
  CHECK(moved.Find(keys[3]) == records[3]);
  CHECK(t.size() == 0);  // NOLINT(bugprone-use-after-move): a moved-from table is empty
  CHECK(t.Find(keys[3]) == nullptr);
}

TEST_CASE("AllocSize is jemalloc's size classes", "[key_table]") {
  CHECK(AllocSize(0) == 8);
  CHECK(AllocSize(8) == 8);
  CHECK(AllocSize(16) == 16);
  CHECK(AllocSize(17) == 32);
  CHECK(AllocSize(93) == 96);  // a Celery key's record: 40 + 53
  CHECK(AllocSize(129) == 160);
  CHECK(AllocSize(183) == 192);
  CHECK(AllocSize(513) == 640);
  CHECK(AllocSize(4097) == 5120);
  CHECK(AllocSize((1 << 20) + 1) == (1 << 20) + (1 << 18));
}

}  // namespace dbkv

namespace dbkv {

TEST_CASE("a segment's main array stays full and the rest overflows", "[key_table]") {
  KeyTable t;
  // One segment: the main set fills its largest array, then the overflow set takes keys.
  const size_t n = KeyTable::kMainKeys + 100;
  for (size_t i = 0; i < n; ++i) REQUIRE(t.TryEmplace("k" + std::to_string(i)).second);
  REQUIRE(t.segment_count() == 1);
  const KeySegment& s = t.segment(0);
  CHECK(s.main_set().capacity() == KeyTable::kMainCapacity);
  CHECK(s.main_set().size() == KeyTable::kMainKeys);
  CHECK(s.overflow_set().size() == 100);
  CHECK(s.overflow_set().capacity() < 256);
  // Every key is found, once, in either set; a walk sees each once.
  std::set<std::string> seen;
  for (const Record* r : s) CHECK(seen.insert(r->key().str()).second);
  CHECK(seen.size() == n);
  for (size_t i = 0; i < n; ++i) CHECK(t.Find("k" + std::to_string(i)) != nullptr);
  CHECK_FALSE(t.TryEmplace("k5").second);  // in the main set
  CHECK_FALSE(t.TryEmplace("k" + std::to_string(n - 1)).second);
  // Erasing from the main set makes room there again; overflow keys stay found.
  for (size_t i = 0; i < 50; ++i) CHECK(t.Erase("k" + std::to_string(i)));
  CHECK(t.TryEmplace("new").second);
  CHECK(t.Find("new") != nullptr);
  for (size_t i = 50; i < n; ++i) CHECK(t.Find("k" + std::to_string(i)) != nullptr);
  CHECK(t.size() == n - 50 + 1);
}

TEST_CASE("segments split into full main arrays, and walks erase from both sets", "[key_table]") {
  KeyTable t;
  const size_t n = KeyTable::kSegmentMax * 4 + 1000;
  for (size_t i = 0; i < n; ++i) t.TryEmplace("s" + std::to_string(i));
  size_t keys = 0, slots = 0;
  for (size_t i = 0; i < t.segment_count(); ++i) {
    const KeySegment& s = t.segment(i);
    CHECK(s.size() <= KeyTable::kSegmentMax);
    CHECK(s.main_set().capacity() <= KeyTable::kMainCapacity);
    if (!s.overflow_set().empty()) CHECK(s.main_set().size() == KeyTable::kMainKeys);
    keys += s.size();
    slots += s.capacity();
  }
  CHECK(keys == n);
  CHECK(slots >= keys);
  CHECK(keys * 100 >= slots * 60);  // never the 44 % of one doubled array
  // Erase every other key while walking each segment (as the expiry scan does).
  size_t erased = 0;
  for (size_t i = 0; i < t.segment_count(); ++i) {
    KeySegment& s = t.segment(i);
    bool odd = false;
    for (auto it = s.begin(); it != s.end();) {
      odd = !odd;
      if (odd) {
        t.EraseAt(i, it++);
        ++erased;
      } else {
        ++it;
      }
    }
    if (t.Sparse(i)) t.Compact(i);
  }
  CHECK(t.size() == n - erased);
  size_t found = 0;
  for (size_t i = 0; i < n; ++i) found += t.Find("s" + std::to_string(i)) != nullptr ? 1 : 0;
  CHECK(found == t.size());
  size_t expected = 0;
  for (size_t i = 0; i < t.segment_count(); ++i) {
    t.Compact(i);
    for (const KeySegment::Set* set : {&t.segment(i).main_set(), &t.segment(i).overflow_set()}) {
      if (set->capacity() != 0) expected += set->capacity() * KeyTable::kSlotBytes + 16;
    }
  }
  CHECK(t.bytes() == expected);
}

}  // namespace dbkv

namespace dbkv {

TEST_CASE("a key longer than 2 GiB - 1 is refused before the table changes", "[key_table]") {
  KeyTable t;
  t.TryEmplace("kept");
  const char byte = 'k';
  // Only the length is looked at: no byte past the one above is read.
  const std::string_view huge(&byte, Record::kKeyMax + 1);
  CHECK_THROWS_AS(t.TryEmplace(huge), std::length_error);
  CHECK(t.size() == 1);
  CHECK(t.Find("kept") != nullptr);
}

}  // namespace dbkv
