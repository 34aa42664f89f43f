#include "core/record.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "core/key_table.h"

namespace dbkv {
namespace {

// n bytes of every value, NULs and high bytes included.
std::string Bytes(size_t n, int seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i)
    s[i] = static_cast<char>((i * 131 + static_cast<size_t>(seed)) & 0xff);
  return s;
}

// n printable ASCII bytes (JSON-like text).
std::string Text(size_t n, int seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i)
    s[i] = static_cast<char>(' ' + (i * 7 + static_cast<size_t>(seed)) % 95);
  return s;
}

const std::vector<size_t> kLengths = {0, 1, 14, 15, 16, 17, 255, 256, 511, 512, 513, 4096, 1 << 20};

Entry MakeEntry(Value v, int64_t expire_at_ms, uint64_t version = 7) {
  Entry e;
  e.value = std::move(v);
  e.expire_at_ms = expire_at_ms;
  e.version = version;
  e.access = 1234;
  e.flags = kEntryColdRead;
  return e;
}

void CheckHolds(const Record& r, std::string_view key, const Value& v, int64_t expire_at_ms) {
  CHECK(r.key().str() == key);
  CHECK(r.value() == v);
  CHECK(r.value().ToValue() == v);
  CHECK(r.value().type() == v.type());
  CHECK(r.expire_at_ms() == expire_at_ms);
  CHECK(r.HasExpiry() == (expire_at_ms != kNoExpiry));
  CHECK(r.is_inline() == Record::Inlines(v));
  CHECK(r.AllocBytes() == Record::AllocBytesFor(key, v, expire_at_ms != kNoExpiry));
}

}  // namespace

TEST_CASE("a record holds keys and values of every length exactly", "[record]") {
  for (size_t kn : {size_t{0}, size_t{15}, size_t{16}, size_t{53}, size_t{513}}) {
    const std::string key = Bytes(kn, 1);
    for (size_t vn : kLengths) {
      for (const Value& v : {Value::String(Bytes(vn, 2)), Value::Bytes(Bytes(vn, 3))}) {
        for (int64_t expiry : {kNoExpiry, int64_t{1'700'000'000'000}}) {
          INFO("key " << kn << " value " << vn << " " << ValueTypeName(v.type()) << " expiry "
                      << expiry);
          Record* r = Record::Make(key, MakeEntry(v, expiry));
          CheckHolds(*r, key, v, expiry);
          CHECK(r->version() == 7);
          CHECK(r->access() == 1234);
          CHECK(r->flags() == kEntryColdRead);
          CHECK(r->is_inline() == (vn <= Record::kInlineMax));
          const Entry copy = r->Copy();
          CHECK(copy.value == v);
          CHECK(copy.expire_at_ms == expiry);
          CHECK(copy.version == 7);
          Record::Delete(r);
        }
      }
    }
  }
}

TEST_CASE("ASCII keys and values pack only when that saves a size class", "[record]") {
  const int64_t ttl = 1'700'000'000'000;
  // The Celery shape: 53 + 171 bytes with a TTL is 250 bytes plain (256 class), 223 packed.
  Record* celery = Record::Make(Text(53, 1), MakeEntry(Value::String(Text(171, 2)), ttl));
  CHECK(celery->key_packed());
  CHECK(celery->value_packed());
  CHECK(celery->AllocBytes() == 224);
  CheckHolds(*celery, Text(53, 1), Value::String(Text(171, 2)), ttl);
  Record::Delete(celery);
  // Binary bytes never pack; neither does text that would stay in its class.
  Record* binary = Record::Make(Text(53, 1), MakeEntry(Value::Bytes(Bytes(171, 2)), ttl));
  CHECK_FALSE(binary->value_packed());
  CHECK_FALSE(binary->key_packed());
  CHECK(binary->AllocBytes() == 256);
  Record::Delete(binary);
  Record* tiny = Record::Make(Text(16, 1), MakeEntry(Value::String(Text(16, 2)), ttl));
  CHECK_FALSE(tiny->key_packed());
  CHECK_FALSE(tiny->value_packed());
  Record::Delete(tiny);
  // When packing the value alone reaches the class, the key stays plain (cheaper to read).
  // (16 + 8 + 2 + 10 + 200 = 236 plain, 256; 211 with the value packed, 224.)
  Record* value_only = Record::Make(Text(10, 1), MakeEntry(Value::String(Text(200, 2)), ttl));
  CHECK_FALSE(value_only->key_packed());
  CHECK(value_only->value_packed());
  CHECK(value_only->AllocBytes() == 224);
  Record::Delete(value_only);
  // A key longer than kPackKeyMax stays plain.
  Record* long_key =
      Record::Make(Text(Record::kPackKeyMax + 1, 1), MakeEntry(Value::String(Text(8, 2)), ttl));
  CHECK_FALSE(long_key->key_packed());
  Record::Delete(long_key);
}

TEST_CASE("packed records hold ASCII of every length exactly", "[record]") {
  for (size_t kn : {size_t{0}, size_t{7}, size_t{8}, size_t{15}, size_t{16}, size_t{17}, size_t{53},
                    size_t{255}, size_t{256}, size_t{257}}) {
    for (size_t vn : kLengths) {
      for (int64_t expiry : {kNoExpiry, int64_t{1'700'000'000'000}}) {
        const std::string key = Text(kn, 3);
        const Value v = Value::String(Text(vn, 4));
        INFO("key " << kn << " value " << vn << " expiry " << expiry);
        Record* r = Record::Make(key, MakeEntry(v, expiry));
        CheckHolds(*r, key, v, expiry);
        CHECK(r->KeyEquals(key));
        CHECK_FALSE(r->KeyEquals(key + "x"));
        if (kn > 0) {
          std::string other = key;
          other.back() = static_cast<char>(other.back() ^ 0x80);
          CHECK_FALSE(r->KeyEquals(other));
        }
        const ValueRef ref = r->value();
        // A copy unpacks on its own (the copy is the point here).
        const ValueRef copy = ref;  // NOLINT(performance-unnecessary-copy-initialization)
        CHECK(copy.AsStringView() == v.AsStringView());
        CHECK(ref.DataBytes() == (r->is_inline() ? vn : v.HeapBytes()));
        // Back and forth between packed, plain and boxed shapes, in place or moved.
        for (const Value& to :
             {Value::Bytes(Bytes(vn, 5)), Value::String(Text(vn + 9, 6)), Value::Int(5), v}) {
          Record* now = Record::Reset(r, MakeEntry(to, expiry, 9));
          CheckHolds(*now, key, to, expiry);
          if (now != r) {
            CHECK(r->KeyEquals(key));
            Record::Delete(r);
          }
          r = now;
        }
        Record::Delete(r);
      }
    }
  }
}

TEST_CASE("text with one high byte anywhere is stored plain, made or reset", "[record]") {
  // Values that would pack if they were ASCII, found not to be while packing: in the first
  // group, a middle one, the last, or the tail; made anew, and reset over a packed record of
  // the same class (the fill in place fails and is redone) or of another.
  const int64_t ttl = 1'700'000'000'000;
  const std::string key = Text(53, 1);
  for (size_t vn : {size_t{171}, size_t{172}, size_t{200}, size_t{203}, size_t{500}}) {
    for (size_t pos : {size_t{0}, size_t{7}, size_t{8}, vn / 2, vn - 9, vn - 4, vn - 1}) {
      std::string text = Text(vn, 2);
      text[pos] = static_cast<char>(0x80 | (text[pos] & 0x7f));
      const Value v = Value::String(text);
      INFO("value " << vn << " high byte at " << pos);
      Record* made = Record::Make(key, MakeEntry(v, ttl));
      CHECK_FALSE(made->value_packed());
      CheckHolds(*made, key, v, ttl);
      Record::Delete(made);
      for (const Value& from : {Value::String(Text(vn, 3)), Value::String(Text(vn - 8, 3)),
                                Value::Bytes(Bytes(vn, 4)), Value::Int(1)}) {
        Record* r = Record::Make(key, MakeEntry(from, ttl));
        Record* now = Record::Reset(r, MakeEntry(v, ttl, 9));
        CHECK_FALSE(now->value_packed());
        CheckHolds(*now, key, v, ttl);
        if (now != r) {
          CHECK(r->KeyEquals(key));
          Record::Delete(r);
        }
        // And back to text that packs.
        const Value back = Value::String(Text(vn, 5));
        Record* again = Record::Reset(now, MakeEntry(back, ttl, 10));
        CheckHolds(*again, key, back, ttl);
        if (again != now) Record::Delete(now);
        Record::Delete(again);
      }
    }
  }
}

TEST_CASE("a KeyTable finds, splits and erases packed keys", "[record]") {
  KeyTable t;
  const int64_t ttl = 1'700'000'000'000;
  const int n = 3 * static_cast<int>(KeyTable::kSegmentMax);  // several splits
  // 53-byte keys, as Celery's: both key and value pack.
  auto key = [](int i) {
    const std::string id = std::to_string(i);
    return "celery-task-meta-" + std::string(36 - id.size(), '0') + id;
  };
  for (int i = 0; i < n; ++i) {
    auto [r, inserted] = t.TryEmplace(key(i));
    REQUIRE(inserted);
    Record* now = Record::Reset(r, MakeEntry(Value::String(Text(171, i)), ttl));
    if (now != r) {
      t.Replace(r, now);
      Record::Delete(r);
    }
    REQUIRE(now->key_packed());
  }
  CHECK(t.segment_count() > 1);
  for (int i = 0; i < n; ++i) {
    const Record* r = t.Find(key(i));
    REQUIRE(r != nullptr);
    CHECK(r->value() == Value::String(Text(171, i)));
    CHECK(t.SegmentIndexOf(key(i)) < t.segment_count());
  }
  CHECK(t.Find(key(0) + "x") == nullptr);
  for (int i = 0; i < n; i += 2) CHECK(t.Erase(key(i)));
  for (int i = 0; i < n; ++i) CHECK((t.Find(key(i)) != nullptr) == (i % 2 == 1));
}

TEST_CASE("a record holds every other type boxed", "[record]") {
  const std::vector<Value> values = {Value::Null(),
                                     Value::Bool(true),
                                     Value::Int(-5),
                                     Value::Double(2.5),
                                     Value::Dec(Decimal::FromInt(110)),
                                     Value::List({Value::Int(1), Value::String(Bytes(600, 4))}),
                                     Value::Map({{Value::String("a"), Value::Int(1)}}),
                                     Value::Cold(ColdRef{3, 4096, 200, ValueType::kString})};
  for (const Value& v : values) {
    INFO(v.DebugString());
    Record* r = Record::Make("k", MakeEntry(v, kNoExpiry));
    CheckHolds(*r, "k", v, kNoExpiry);
    CHECK_FALSE(r->is_inline());
    CHECK(r->is_cold() == v.is_cold());
    CHECK(r->Charge() == r->AllocBytes() + v.HeapBytes());
    Record::Delete(r);
  }
}

TEST_CASE("Reset rewrites a record in place or moves it, key intact", "[record]") {
  const std::string key = Bytes(53, 5);
  // Every pair of shapes: inline and boxed values, with and without an expiry.
  const std::vector<std::pair<Value, int64_t>> shapes = {
      {Value::String(Bytes(171, 6)), 1'700'000'000'000},
      {Value::String(Bytes(170, 7)), 1'700'000'000'000},  // the same class: in place
      {Value::String(Bytes(171, 8)), kNoExpiry},
      {Value::Bytes(Bytes(0, 9)), kNoExpiry},
      {Value::String(Bytes(Record::kInlineMax + 1, 10)), 1'700'000'000'000},
      {Value::Int(42), kNoExpiry},
      {Value::List({Value::Int(1)}), 5},
      {Value::String(Bytes(Record::kInlineMax, 11)), 5},
  };
  for (const auto& [from, from_expiry] : shapes) {
    for (const auto& [to, to_expiry] : shapes) {
      Record* r = Record::Make(key, MakeEntry(from, from_expiry));
      const size_t before = r->AllocBytes();
      Record* now = Record::Reset(r, MakeEntry(to, to_expiry, 9));
      CheckHolds(*now, key, to, to_expiry);
      CHECK(now->version() == 9);
      if (now == r) {
        CHECK(now->AllocBytes() == before);  // in place only within the same size class
      } else {
        CHECK(r->key().str() == key);  // the old record still has its key for the table
        CHECK(now->AllocBytes() != before);
        Record::Delete(r);
      }
      Record::Delete(now);
    }
  }
}

TEST_CASE("TakeInto moves a boxed value out and Reset puts it back", "[record]") {
  Record* r = Record::Make("list", MakeEntry(Value::List({Value::String(Bytes(100, 1))}), 9));
  const ValueList* items = &r->value().AsList();
  Entry e;
  r->TakeInto(&e);
  CHECK(&e.value.AsList() == items);  // moved, not copied
  CHECK(e.expire_at_ms == 9);
  e.value.MutableList().push_back(Value::Int(2));
  Record* now = Record::Reset(r, std::move(e));
  CHECK(now == r);  // still boxed, same size: in place
  CHECK(now->value().AsList().size() == 2);
  Record::Delete(now);

  // An inline value is copied out; the record keeps it until Reset.
  Record* s = Record::Make("s", MakeEntry(Value::String("hello"), kNoExpiry));
  Entry t;
  s->TakeInto(&t);
  CHECK(t.value == Value::String("hello"));
  CHECK(s->value() == Value::String("hello"));
  Record::Delete(s);
}

TEST_CASE("a KeyTable follows a record that moved", "[record]") {
  KeyTable t;
  for (int i = 0; i < 100; ++i) t.TryEmplace("k" + std::to_string(i));
  Record* r = t.Find("k7");
  Record* now = Record::Reset(r, MakeEntry(Value::String(Bytes(400, 1)), 5));
  REQUIRE(now != r);
  t.Replace(r, now);
  Record::Delete(r);
  CHECK(t.Find("k7") == now);
  CHECK(t.Find("k7")->value() == Value::String(Bytes(400, 1)));
  CHECK(t.Erase("k7"));
  CHECK(t.size() == 99);
}

}  // namespace dbkv
