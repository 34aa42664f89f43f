#include "core/partition.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"

namespace dbkv {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;  // a wall-clock time in milliseconds

std::string Text(size_t n, char c = 'v') { return std::string(n, c); }

// The partition's memory less its hash tables' slot arrays: what its entries are charged.
uint64_t Data(const Partition& p) { return p.stats().memory_bytes - p.table_bytes(); }

// Bytes of live cold records the partition has in a segment.
uint64_t Live(const Partition& p, uint32_t segment) {
  auto it = p.cold_segments().find(segment);
  return it == p.cold_segments().end() ? 0 : it->second;
}

}  // namespace

TEST_CASE("Partition starts empty", "[partition]") {
  Partition p;
  CHECK(p.Find("", "k", kNow) == nullptr);
  CHECK(p.Size("") == 0);
  CHECK(p.Size("ns") == 0);
  CHECK(p.stats().keys == 0);
  CHECK(Data(p) == 0);
  CHECK(p.last_version() == 0);
  CHECK_FALSE(p.Erase("", "k", kNow));
  CHECK(p.Clear("") == 0);
}

TEST_CASE("Partition Put then Find returns the value", "[partition]") {
  Partition p;
  Record* e = p.Put("", "k", Value::String("v"), kNoExpiry);
  CHECK(e->value() == Value::String("v"));
  CHECK_FALSE(e->HasExpiry());
  Record* found = p.Find("", "k", kNow);
  REQUIRE(found != nullptr);
  CHECK(found->value() == Value::String("v"));
  CHECK(found->expire_at_ms() == kNoExpiry);
  CHECK(p.Size("") == 1);
  CHECK(p.stats().keys == 1);
  CHECK(Data(p) == EntryCharge("k", *found));
  CHECK(p.Find("", "other", kNow) == nullptr);
}

TEST_CASE("Partition Put overwrites value and expiry", "[partition]") {
  Partition p;
  p.Put("", "k", Value::Int(1), kNow + 1000);
  p.Put("", "k", Value::String(Text(100)), kNoExpiry);
  Record* e = p.Find("", "k", kNow + 5000);
  REQUIRE(e != nullptr);
  CHECK(e->value() == Value::String(Text(100)));
  CHECK_FALSE(e->HasExpiry());
  CHECK(p.Size("") == 1);
  CHECK(p.stats().keys == 1);
  CHECK(Data(p) == EntryCharge("k", *e));
}

TEST_CASE("Partition namespaces are independent", "[partition]") {
  Partition p;
  p.Put("", "k", Value::Int(0), kNoExpiry);
  p.Put("a", "k", Value::Int(1), kNoExpiry);
  p.Put("b", "k", Value::Int(2), kNoExpiry);

  REQUIRE(p.Find("", "k", kNow) != nullptr);
  REQUIRE(p.Find("a", "k", kNow) != nullptr);
  REQUIRE(p.Find("b", "k", kNow) != nullptr);
  CHECK(p.Find("", "k", kNow)->value() == Value::Int(0));
  CHECK(p.Find("a", "k", kNow)->value() == Value::Int(1));
  CHECK(p.Find("b", "k", kNow)->value() == Value::Int(2));
  CHECK(p.Find("c", "k", kNow) == nullptr);
  CHECK(p.Size("") == 1);
  CHECK(p.Size("a") == 1);
  CHECK(p.stats().keys == 3);

  // Overwriting in one namespace leaves the others alone.
  p.Put("a", "k", Value::Int(10), kNoExpiry);
  CHECK(p.Find("a", "k", kNow)->value() == Value::Int(10));
  CHECK(p.Find("b", "k", kNow)->value() == Value::Int(2));
  CHECK(p.Find("", "k", kNow)->value() == Value::Int(0));

  // Erasing in one namespace leaves the others alone.
  CHECK(p.Erase("a", "k", kNow));
  CHECK(p.Find("a", "k", kNow) == nullptr);
  CHECK(p.Find("b", "k", kNow)->value() == Value::Int(2));
  CHECK(p.Find("", "k", kNow)->value() == Value::Int(0));
  CHECK_FALSE(p.Erase("a", "k", kNow));
  CHECK_FALSE(p.Erase("missing-ns", "k", kNow));
  CHECK(p.stats().keys == 2);
}

TEST_CASE("Partition namespace lookups alternate correctly", "[partition]") {
  // Exercises the last-namespace cache: interleaved namespaces, new namespaces created in
  // between (which may move every table), and lookups of namespaces that do not exist.
  Partition p;
  for (int i = 0; i < 50; ++i) {
    const std::string ns = "ns" + std::to_string(i);
    p.Put(ns, "k", Value::Int(i), kNoExpiry);
    CHECK(p.Find("", "k", kNow) == nullptr);
    CHECK(p.Find("nope", "k", kNow) == nullptr);
    for (int j = 0; j <= i; ++j) {
      Record* e = p.Find("ns" + std::to_string(j), "k", kNow);
      REQUIRE(e != nullptr);
      CHECK(e->value() == Value::Int(j));
    }
  }
  CHECK(p.stats().keys == 50);
}

TEST_CASE("Partition Erase removes the key and its charge", "[partition]") {
  Partition p;
  p.Put("", "a", Value::String(Text(40)), kNoExpiry);
  const uint64_t one = Data(p);
  p.Put("", "b", Value::Int(2), kNoExpiry);
  CHECK(p.Erase("", "b", kNow));
  CHECK(p.Find("", "b", kNow) == nullptr);
  CHECK(Data(p) == one);
  CHECK(p.Erase("", "a", kNow));
  CHECK(Data(p) == 0);
  CHECK(p.stats().keys == 0);
  CHECK(p.Size("") == 0);
  CHECK_FALSE(p.Erase("", "a", kNow));
}

TEST_CASE("Partition expires entries lazily on Find", "[partition]") {
  Partition p;
  p.Put("", "k", Value::String(Text(64)), kNow + 100);
  p.Put("", "keep", Value::Int(1), kNoExpiry);
  const uint64_t keep_charge = EntryCharge("keep", *p.Find("", "keep", kNow));

  // Before the deadline the entry is live.
  Record* e = p.Find("", "k", kNow + 99);
  REQUIRE(e != nullptr);
  CHECK(e->HasExpiry());
  CHECK(e->expire_at_ms() == kNow + 100);
  CHECK(p.stats().expired_keys == 0);

  // Not reclaimed until looked up: Size counts it.
  CHECK(p.Size("") == 2);
  CHECK(p.stats().keys == 2);

  // At the deadline exactly it is gone, and erased on the way.
  CHECK(p.Find("", "k", kNow + 100) == nullptr);
  CHECK(p.stats().expired_keys == 1);
  CHECK(p.stats().keys == 1);
  CHECK(p.Size("") == 1);
  CHECK(Data(p) == keep_charge);

  // A second lookup finds nothing and does not count again.
  CHECK(p.Find("", "k", kNow + 100) == nullptr);
  CHECK(p.stats().expired_keys == 1);
  CHECK(p.Find("", "keep", kNow + 1'000'000) != nullptr);
}

TEST_CASE("Partition expiry after the deadline and Erase of an expired key", "[partition]") {
  Partition p;
  p.Put("", "k", Value::Int(1), kNow);
  CHECK(p.Find("", "k", kNow + 1'000'000) == nullptr);
  CHECK(p.stats().expired_keys == 1);

  p.Put("", "j", Value::Int(1), kNow);
  // Erase of an expired entry reclaims it but reports that no live key was removed.
  CHECK_FALSE(p.Erase("", "j", kNow));
  CHECK(p.stats().expired_keys == 2);
  CHECK(p.stats().keys == 0);
  CHECK(p.Size("") == 0);
  CHECK(Data(p) == 0);
}

TEST_CASE("Partition versions strictly increase across writes", "[partition]") {
  Partition p;
  uint64_t last = 0;
  auto check_newer = [&](uint64_t v) {
    CHECK(v > last);
    CHECK(v == p.last_version());
    last = v;
  };
  check_newer(p.Put("", "a", Value::Int(1), kNoExpiry)->version());
  check_newer(p.Put("", "b", Value::Int(1), kNoExpiry)->version());
  check_newer(p.Put("ns", "a", Value::Int(1), kNoExpiry)->version());
  check_newer(p.Put("", "a", Value::Int(2), kNoExpiry)->version());

  EntryRef ref = p.Upsert("", "a", kNow);
  ref.entry->value = Value::Int(3);
  p.Commit(ref);
  check_newer(p.Find("", "a", kNow)->version());

  ref = p.Upsert("", "new", kNow);
  ref.entry->value = Value::Int(3);
  p.Commit(ref);
  check_newer(p.Find("", "new", kNow)->version());

  // Reads do not change versions.
  const uint64_t before = p.last_version();
  p.Find("", "a", kNow);
  p.Find("", "missing", kNow);
  CHECK(p.last_version() == before);
}

TEST_CASE("Partition gives a re-created key a higher version than before", "[partition]") {
  Partition p;
  const uint64_t first = p.Put("", "k", Value::Int(1), kNoExpiry)->version();
  p.Put("", "other", Value::Int(1), kNoExpiry);
  REQUIRE(p.Erase("", "k", kNow));
  const uint64_t second = p.Put("", "k", Value::Int(1), kNoExpiry)->version();
  CHECK(second > first);

  // Same after expiry and after Clear.
  p.Put("", "k", Value::Int(1), kNow);
  CHECK(p.Find("", "k", kNow) == nullptr);
  const uint64_t third = p.Put("", "k", Value::Int(1), kNoExpiry)->version();
  CHECK(third > second);
  p.Clear("");
  EntryRef ref = p.Upsert("", "k", kNow);
  p.Commit(ref);
  CHECK(p.Find("", "k", kNow)->version() > third);
}

TEST_CASE("Partition Upsert creates a null entry that Commit keeps", "[partition]") {
  Partition p;
  EntryRef ref = p.Upsert("ns", "counter", kNow);
  REQUIRE(ref.entry != nullptr);
  CHECK(ref.created);
  CHECK(ref.entry->value.is_null());
  CHECK_FALSE(ref.entry->HasExpiry());
  CHECK(p.stats().keys == 1);

  ref.entry->value = Value::String(Text(300));
  ref.entry->expire_at_ms = kNow + 10;
  p.Commit(ref);

  Record* e = p.Find("ns", "counter", kNow);
  REQUIRE(e != nullptr);
  CHECK(e->value() == Value::String(Text(300)));
  CHECK(e->expire_at_ms() == kNow + 10);
  CHECK(Data(p) == EntryCharge("counter", *e));
}

TEST_CASE("Partition Upsert of a live key modifies it in place", "[partition]") {
  Partition p;
  p.Put("", "k", Value::Int(1), kNow + 1000);
  const uint64_t v1 = p.Find("", "k", kNow)->version();

  EntryRef ref = p.Upsert("", "k", kNow);
  CHECK_FALSE(ref.created);
  CHECK(ref.entry->value == Value::Int(1));
  CHECK(ref.entry->expire_at_ms == kNow + 1000);
  CHECK(ref.old_charge == EntryCharge("k", *ref.entry));
  ref.entry->value = Value::List({Value::String(Text(100)), Value::String(Text(200))});
  p.Commit(ref);

  Record* e = p.Find("", "k", kNow);
  REQUIRE(e != nullptr);
  CHECK(e->value().type() == ValueType::kList);
  CHECK(e->expire_at_ms() == kNow + 1000);
  CHECK(e->version() > v1);
  CHECK(p.stats().keys == 1);
  CHECK(Data(p) == EntryCharge("k", *e));

  // Shrinking it again is accounted too.
  ref = p.Upsert("", "k", kNow);
  ref.entry->value = Value::Int(0);
  p.Commit(ref);
  CHECK(Data(p) == EntryCharge("k", *p.Find("", "k", kNow)));
}

TEST_CASE("Partition Abort erases only what Upsert created", "[partition]") {
  Partition p;
  p.Put("", "existing", Value::String(Text(50)), kNoExpiry);
  const PartitionStats before = p.stats();
  const uint64_t before_data = Data(p);
  const uint64_t version = p.Find("", "existing", kNow)->version();

  SECTION("a created entry is removed") {
    EntryRef ref = p.Upsert("", "fresh", kNow);
    REQUIRE(ref.created);
    p.Abort(ref);
    CHECK(p.Find("", "fresh", kNow) == nullptr);
    CHECK(p.Size("") == 1);
    CHECK(p.stats().keys == before.keys);
    CHECK(Data(p) == before_data);
  }
  SECTION("a created entry in a new namespace is removed") {
    EntryRef ref = p.Upsert("other", "fresh", kNow);
    REQUIRE(ref.created);
    p.Abort(ref);
    CHECK(p.Find("other", "fresh", kNow) == nullptr);
    CHECK(p.Size("other") == 0);
    CHECK(p.stats().keys == before.keys);
    CHECK(Data(p) == before_data);
  }
  SECTION("a created entry that was already filled in is removed with its whole charge") {
    EntryRef ref = p.Upsert("", "fresh", kNow);
    REQUIRE(ref.created);
    ref.entry->value = Value::String(Text(1000));
    p.Abort(ref);
    CHECK(p.Find("", "fresh", kNow) == nullptr);
    CHECK(p.stats().keys == before.keys);
    CHECK(Data(p) == before_data);
  }
  SECTION("an existing entry is left unchanged") {
    EntryRef ref = p.Upsert("", "existing", kNow);
    REQUIRE_FALSE(ref.created);
    p.Abort(ref);
    Record* e = p.Find("", "existing", kNow);
    REQUIRE(e != nullptr);
    CHECK(e->value() == Value::String(Text(50)));
    CHECK(e->version() == version);
    CHECK(p.stats().keys == before.keys);
    CHECK(Data(p) == before_data);
  }
  // Abort never assigns a version.
  CHECK(p.last_version() == version);
}

TEST_CASE("Partition Upsert over an expired entry yields a fresh created entry", "[partition]") {
  Partition p;
  p.Put("", "k", Value::String(Text(500)), kNow);
  const uint64_t old_version = p.last_version();

  EntryRef ref = p.Upsert("", "k", kNow);
  CHECK(ref.created);
  CHECK(ref.entry->value.is_null());
  CHECK_FALSE(ref.entry->HasExpiry());
  CHECK(ref.entry->version == 0);
  CHECK(p.stats().expired_keys == 1);
  CHECK(p.stats().keys == 1);
  CHECK(Data(p) == EntryCharge("k", Entry()));

  SECTION("Commit keeps the fresh entry") {
    ref.entry->value = Value::Int(1);
    p.Commit(ref);
    Record* e = p.Find("", "k", kNow);
    REQUIRE(e != nullptr);
    CHECK(e->value() == Value::Int(1));
    CHECK_FALSE(e->HasExpiry());
    CHECK(e->version() > old_version);
    CHECK(Data(p) == EntryCharge("k", *e));
  }
  SECTION("Abort removes the key altogether") {
    p.Abort(ref);
    CHECK(p.Find("", "k", kNow) == nullptr);
    CHECK(p.Size("") == 0);
    CHECK(p.stats().keys == 0);
    CHECK(Data(p) == 0);
    CHECK(p.stats().expired_keys == 1);
  }
}

TEST_CASE("Partition Clear and Size work per namespace", "[partition]") {
  Partition p;
  for (int i = 0; i < 10; ++i) p.Put("a", "k" + std::to_string(i), Value::Int(i), kNoExpiry);
  for (int i = 0; i < 5; ++i) {
    p.Put("b", "k" + std::to_string(i), Value::String(Text(30 + i)), kNoExpiry);
  }
  p.Put("", "k0", Value::Int(0), kNoExpiry);
  const uint64_t b_and_default_before = p.stats().memory_bytes;
  CHECK(p.Size("a") == 10);
  CHECK(p.Size("b") == 5);
  CHECK(p.Size("") == 1);
  CHECK(p.stats().keys == 16);

  CHECK(p.Clear("a") == 10);
  CHECK(p.Size("a") == 0);
  CHECK(p.Find("a", "k0", kNow) == nullptr);
  CHECK(p.Size("b") == 5);
  CHECK(p.Find("b", "k0", kNow) != nullptr);
  CHECK(p.Find("", "k0", kNow) != nullptr);
  CHECK(p.stats().keys == 6);
  CHECK(p.stats().memory_bytes < b_and_default_before);  // a's slot arrays are freed

  CHECK(p.Clear("a") == 0);
  CHECK(p.Clear("never") == 0);
  CHECK(p.Size("never") == 0);

  // Expired but unreclaimed keys are counted by Size and removed by Clear.
  p.Put("b", "doomed", Value::Int(1), kNow);
  CHECK(p.Size("b") == 6);
  CHECK(p.Clear("b") == 6);
  CHECK(p.Clear("") == 1);
  CHECK(p.stats().keys == 0);
  CHECK(Data(p) == 0);

  // The namespace is usable after Clear.
  p.Put("a", "k0", Value::Int(7), kNoExpiry);
  CHECK(p.Find("a", "k0", kNow)->value() == Value::Int(7));
  CHECK(p.Size("a") == 1);
}

TEST_CASE("Partition memory accounting returns to its starting value", "[partition]") {
  Partition p;
  p.Put("", "resident", Value::String(Text(77)), kNoExpiry);
  const uint64_t start = Data(p);
  const uint64_t start_keys = p.stats().keys;
  CHECK(start == EntryCharge("resident", *p.Find("", "resident", kNow)));

  const std::vector<std::string> namespaces = {"", "ns", std::string(40, 'n')};
  const size_t value_sizes[] = {0, 1, 14, 15, 16, 100, 1000, 5000};
  const size_t key_sizes[] = {1, 15, 16, 31, 100};
  std::vector<std::pair<std::string, std::string>> keys;  // (namespace, key)
  int n = 0;
  for (const std::string& ns : namespaces) {
    for (size_t ks : key_sizes) {
      for (size_t vs : value_sizes) {
        std::string key = std::to_string(n++) + "_" + Text(ks, 'k');
        Value value;
        switch (n % 4) {
          case 0:
            value = Value::String(Text(vs));
            break;
          case 1:
            value = Value::Bytes(Text(vs, '\0'));
            break;
          case 2:
            value = Value::List({Value::String(Text(vs)), Value::Int(1)});
            break;
          default:
            value = Value::Map({{Value::String(Text(vs, 'm')), Value::Dec(Decimal::FromInt(n))}});
            break;
        }
        p.Put(ns, key, std::move(value), n % 3 == 0 ? kNow + n : kNoExpiry);
        keys.emplace_back(ns, key);
      }
    }
  }
  CHECK(p.stats().keys == start_keys + keys.size());
  CHECK(Data(p) > start);

  // The sum of the charges of what is stored is what is accounted.
  uint64_t sum = start;
  for (const auto& [ns, key] : keys) sum += EntryCharge(key, *p.Find(ns, key, kNow));
  CHECK(Data(p) == sum);

  // Overwrite every other key with a value of another size, modify some in place, abort some.
  for (size_t i = 0; i < keys.size(); ++i) {
    const auto& [ns, key] = keys[i];
    if (i % 2 == 0) {
      p.Put(ns, key, Value::String(Text(i * 7 % 300)), kNoExpiry);
    } else if (i % 3 == 0) {
      EntryRef ref = p.Upsert(ns, key, kNow);
      ref.entry->value = Value::List({Value::String(Text(i)), Value::Bytes(Text(2 * i))});
      p.Commit(ref);
    } else {
      EntryRef ref = p.Upsert(ns, key, kNow);
      p.Abort(ref);
    }
  }
  // A few keys created through Upsert, some kept, some abandoned.
  for (int i = 0; i < 20; ++i) {
    EntryRef ref = p.Upsert("ns", "upserted" + std::to_string(i), kNow);
    ref.entry->value = Value::String(Text(20 * i));
    if (i % 2 == 0) {
      p.Commit(ref);
      keys.emplace_back("ns", "upserted" + std::to_string(i));
    } else {
      p.Abort(ref);
    }
  }
  CHECK(p.stats().keys == start_keys + keys.size());
  sum = start;
  for (const auto& [ns, key] : keys) sum += EntryCharge(key, *p.Find(ns, key, kNow));
  CHECK(Data(p) == sum);

  // Let some expire through Find, remove the rest with Erase.
  for (size_t i = 0; i < keys.size(); ++i) {
    const auto& [ns, key] = keys[i];
    if (i % 5 == 0) {
      p.Put(ns, key, Value::Int(1), kNow);
      CHECK(p.Find(ns, key, kNow) == nullptr);
    } else {
      CHECK(p.Erase(ns, key, kNow));
    }
  }
  CHECK(p.stats().keys == start_keys);
  CHECK(Data(p) == start);
  for (const std::string& ns : namespaces) CHECK(p.Size(ns) == (ns.empty() ? 1 : 0));
}

TEST_CASE("Partition EntryCharge counts the record and the value's heap bytes", "[partition]") {
  Entry small;
  const size_t base = EntryCharge("k", small);
  CHECK(base == 48);  // the record: a 16 B header, a boxed null, the key: jemalloc's 48 B class
  // The key is in the record: its class grows with it.
  CHECK(EntryCharge(Text(16, 'k'), small) == base);
  CHECK(EntryCharge(Text(17, 'k'), small) == 64);
  CHECK(EntryCharge(Text(1000, 'k'), small) == 1280);

  // A Celery result: 16 + 8 (expiry) + 2 + 53 + 171 = 250 bytes, one 256 B block; its ASCII
  // key and value packed, 16 + 8 + 2 + 47 + 150 = 223 bytes, a 224 B block.
  Entry celery;
  celery.value = Value::String(Text(171));
  celery.expire_at_ms = kNow;
  CHECK(EntryCharge(Text(53, 'k'), celery) == 224);
  Entry binary;
  binary.value = Value::Bytes(std::string(171, '\xff'));
  binary.expire_at_ms = kNow;
  CHECK(EntryCharge(Text(53, 'k'), binary) == 256);
  // Strings up to Record::kInlineMax live in the record; longer ones in their own block.
  Entry at_max;
  at_max.value = Value::Bytes(std::string(Record::kInlineMax, '\x80'));
  CHECK(EntryCharge("k", at_max) == AllocSize(16 + 2 + 1 + Record::kInlineMax));
  at_max.value = Value::Bytes(Text(Record::kInlineMax));  // packed: 448 bytes of value
  CHECK(EntryCharge("k", at_max) == AllocSize(16 + 2 + 1 + PackedSize(Record::kInlineMax)));
  Entry big;
  big.value = Value::String(Text(Record::kInlineMax + 1));
  CHECK(EntryCharge("k", big) == base + big.value.HeapBytes());
}

TEST_CASE("Partition records hits and misses", "[partition]") {
  Partition p;
  p.RecordHit(true);
  p.RecordHit(true);
  p.RecordHit(false);
  CHECK(p.stats().hits == 2);
  CHECK(p.stats().misses == 1);
}

TEST_CASE("Entry expiry predicates", "[partition]") {
  Entry e;
  CHECK_FALSE(e.HasExpiry());
  CHECK_FALSE(e.IsExpired(kNow));
  e.expire_at_ms = kNow;
  CHECK(e.HasExpiry());
  CHECK_FALSE(e.IsExpired(kNow - 1));
  CHECK(e.IsExpired(kNow));
  CHECK(e.IsExpired(kNow + 1));
}

}  // namespace dbkv

namespace dbkv {

TEST_CASE("Partition reclaims expired keys without reads, in bounded slices", "[partition]") {
  Partition p;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    p.Put("", "t" + std::to_string(i), Value::String(Text(40)), kNow + 1000);
  }
  for (int i = 0; i < 100; ++i) p.Put("", "keep" + std::to_string(i), Value::Int(i), kNoExpiry);
  const uint64_t keep_only = [] {
    Partition q;
    for (int i = 0; i < 100; ++i) q.Put("", "keep" + std::to_string(i), Value::Int(i), kNoExpiry);
    return Data(q);
  }();

  // Nothing is due yet: no segment is even scanned.
  Partition::ExpiryScan r = p.ReclaimExpired(kNow + 999, 1'000'000);
  CHECK(r.reclaimed == 0);
  CHECK(r.visited == 0);

  // Due: slices of about 5000 keys until done.
  size_t reclaimed = 0;
  int slices = 0;
  do {
    r = p.ReclaimExpired(kNow + 1000, 5000);
    reclaimed += r.reclaimed;
    CHECK(r.visited <= 5000 + KeyTable::kSegmentMax);
    REQUIRE(++slices < 100);
  } while (r.more);
  CHECK(slices > 2);
  CHECK(reclaimed == static_cast<size_t>(n));
  CHECK(p.stats().keys == 100);
  CHECK(p.stats().expired_keys == static_cast<uint64_t>(n));
  CHECK(Data(p) == keep_only);
  CHECK(p.Find("", "keep7", kNow + 1000) != nullptr);
  // The emptied segments gave back most of their arrays.
  CHECK(p.table_bytes() < static_cast<uint64_t>(n) * KeyTable::kSlotBytes / 4);
}

TEST_CASE("Partition rescans a segment for expiry at most once a second", "[partition]") {
  Partition p;
  p.Put("", "a", Value::Int(1), kNow + 100);
  p.Put("", "b", Value::Int(2), kNow + 500);
  CHECK(p.ReclaimExpired(kNow + 100, 100).reclaimed == 1);
  // b is due at +500, but the segment was scanned at +100: it waits for +1100.
  CHECK(p.ReclaimExpired(kNow + 600, 100).reclaimed == 0);
  CHECK(p.stats().keys == 1);
  CHECK(p.ReclaimExpired(kNow + 1100, 100).reclaimed == 1);
  CHECK(p.stats().keys == 0);
  // EXPIRE-style changes (Upsert + Commit) lower the bound too.
  p.Put("", "c", Value::Int(3), kNoExpiry);
  EntryRef ref = p.Upsert("", "c", kNow + 1100);
  ref.entry->expire_at_ms = kNow + 3000;
  p.Commit(ref);
  CHECK(p.ReclaimExpired(kNow + 3000, 100).reclaimed == 1);
}

TEST_CASE("Partition evicts the least recently used keys", "[partition]") {
  Partition p;
  const int n = 10000;
  for (int i = 0; i < n; ++i) p.Put("", "k" + std::to_string(i), Value::String(Text(100)), 0);
  // The upper half is read ten minutes later: the lower half is older.
  const int64_t later = WallClockMs() + 600'000;
  for (int i = n / 2; i < n; ++i) REQUIRE(p.Find("", "k" + std::to_string(i), later) != nullptr);
  const uint64_t before = Data(p);
  const uint64_t last_version = p.last_version();
  std::vector<std::string> evicted;
  uint64_t prev_version = last_version;
  size_t freed = 0;
  for (int round = 0; round < 100 && freed < before / 4; ++round) {
    freed += p.Evict(EvictionPolicy::kAllKeysLru, before / 4 - freed, later, 100000,
                     [&](std::string_view ns, std::string_view key, uint64_t version) {
                       CHECK(ns.empty());
                       CHECK(version == prev_version + 1);  // each eviction is a write
                       prev_version = version;
                       evicted.emplace_back(key);
                     });
  }
  CHECK(freed >= before / 4);
  CHECK(evicted.size() >= static_cast<size_t>(n) / 5);
  size_t old = 0;
  for (const std::string& k : evicted) {
    if (std::stoi(k.substr(1)) < n / 2) ++old;
    CHECK(p.Find("", k, later) == nullptr);
  }
  CHECK(old == evicted.size());  // only the lower half went
  CHECK(p.stats().evicted_keys == evicted.size());
  CHECK(p.stats().keys == n - evicted.size());
  CHECK(Data(p) == before - freed);
}

TEST_CASE("Partition volatile-ttl evicts keys with an expiry, soonest first", "[partition]") {
  Partition p;
  for (int i = 0; i < 1000; ++i) {
    p.Put("", "v" + std::to_string(i), Value::String(Text(100)), kNow + 10'000 + i);
    p.Put("", "p" + std::to_string(i), Value::String(Text(100)), kNoExpiry);
  }
  std::vector<std::string> evicted;
  p.Evict(EvictionPolicy::kVolatileTtl, 100 * 200, kNow, 100000,
          [&](std::string_view, std::string_view key, uint64_t) { evicted.emplace_back(key); });
  REQUIRE(!evicted.empty());
  for (const std::string& k : evicted) {
    CHECK(k[0] == 'v');
    CHECK(std::stoi(k.substr(1)) < 600);  // from the soonest to expire
  }
  CHECK(p.Evict(EvictionPolicy::kNoEviction, 1 << 20, kNow, 100000,
                [](std::string_view, std::string_view, uint64_t) { FAIL("evicted"); }) == 0);
}

}  // namespace dbkv

namespace dbkv {

TEST_CASE("Partition accounts cold values: made cold, then dropped every way", "[partition]") {
  Partition p;
  auto cold = [&](const std::string& key, uint32_t seg, uint32_t off) {
    Record* e = p.Find("", key, kNow);
    REQUIRE(e != nullptr);
    p.MakeCold("", e, ColdRef{seg, off, 100, ValueType::kString});
  };
  for (int i = 0; i < 6; ++i) {
    p.Put("", "k" + std::to_string(i), Value::String(Text(1000)), i == 4 ? kNow + 10 : 0);
  }
  const uint64_t hot = Data(p);
  cold("k0", 1, 0);
  cold("k1", 1, 100);
  cold("k2", 2, 0);
  cold("k3", 2, 100);
  cold("k4", 2, 200);
  cold("k5", 3, 0);
  CHECK(p.stats().cold_keys == 6);
  CHECK(p.stats().cold_bytes == 600);
  // The values' heap bytes went with them; the records stay.
  CHECK(Data(p) == 6 * EntryCharge("k0", Entry()));
  CHECK(Data(p) < hot / 20);
  CHECK(Live(p, 1) == 200);
  CHECK(Live(p, 2) == 300);
  std::vector<std::pair<uint32_t, int64_t>> deltas;
  p.TakeColdDeltas(&deltas);
  CHECK(deltas.size() == 3);
  deltas.clear();

  // Overwritten (Put), erased, expired, changed in place, loaded back, evicted.
  p.Put("", "k0", Value::Int(1), 0);
  CHECK(p.Erase("", "k1", kNow));
  CHECK(p.cold_segments().count(1) == 0);  // nothing of segment 1 is referenced any more
  CHECK(p.ReclaimExpired(kNow + 10, 100).reclaimed == 1);  // k4
  EntryRef ref = p.Upsert("", "k2", kNow);
  CHECK(ref.was_cold);
  ref.entry->value = Value::String("replaced");
  p.Commit(ref);
  ref = p.Upsert("", "k3", kNow);  // an expiry change keeps the cold value
  ref.entry->expire_at_ms = kNow + 1'000'000;
  p.Commit(ref);
  CHECK(p.Find("", "k3", kNow)->value().is_cold());
  CHECK(Live(p, 2) == 100);
  Record* e5 = p.Find("", "k5", kNow);
  p.MakeHot("", e5, Value::String(Text(1000)));
  CHECK(p.stats().cold_keys == 1);
  CHECK(p.stats().cold_bytes == 100);
  p.TakeColdDeltas(&deltas);
  int64_t net = 0;
  for (auto& d : deltas) net += d.second;
  CHECK(net == -500);
  size_t evicted = 0;
  while (p.stats().keys > 0) {
    evicted += p.Evict(EvictionPolicy::kAllKeysLru, 1 << 20, kNow, 1000,
                       [](std::string_view, std::string_view, uint64_t) {}) > 0;
    REQUIRE(evicted < 100);
  }
  CHECK(p.stats().cold_keys == 0);
  CHECK(p.stats().cold_bytes == 0);
  CHECK(p.cold_segments().empty());
  CHECK(Data(p) == 0);
}

TEST_CASE("Partition restores cold entries and picks the coldest values to spill", "[partition]") {
  Partition p;
  Entry e;
  e.value = Value::Cold(ColdRef{7, 32, 500, ValueType::kString});
  e.version = 5;
  REQUIRE(p.Restore("", "restored", e, kNow));
  CHECK(p.stats().cold_keys == 1);
  CHECK(Live(p, 7) == 500);
  Entry newer;
  newer.value = Value::String("hot again");
  newer.version = 6;
  REQUIRE(p.Restore("", "restored", newer, kNow));  // replayed from the WAL
  CHECK(p.stats().cold_keys == 0);

  for (int i = 0; i < 100; ++i) {
    p.Put("", "v" + std::to_string(i), Value::String(Text(i < 50 ? 1000 : 10)), 0);
  }
  const int64_t later = WallClockMs() + 60'000;
  for (int i = 0; i < 25; ++i) p.Find("", "v" + std::to_string(i), later);  // recently read
  std::vector<std::string> picked;
  p.PickColdest(1 << 20, 64, later, 1 << 20, [&](std::string_view, Record& r) {
    picked.emplace_back(r.key().str());
    return true;
  });
  // Only the large values, the older half of them first.
  REQUIRE(!picked.empty());
  for (const std::string& k : picked) {
    const int i = std::stoi(k.substr(1));
    CHECK(i < 50);
    CHECK(i >= 25);
  }
}

}  // namespace dbkv
