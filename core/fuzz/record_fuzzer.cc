// libFuzzer target for a partition's records (core/record.h, core/key_table.h,
// core/partition.h). Built outside Bazel by scripts/fuzz.sh with -fsanitize=fuzzer,address,
// undefined.
//
// The input is a program of writes on one partition: puts of strings, bytes and numbers of any
// length (inline, at the 512-byte limit, boxed; binary, or ASCII that packs), with and without
// an expiry, changes through Upsert/Commit and Abort, deletes, values made cold and hot again. A
// plain map follows the same program. Besides crashes and sanitizer reports (a record moved under a
// live pointer, a write past a block), it traps on broken invariants:
//  - every key holds exactly what the map says: value, type, expiry; absent keys are absent;
//  - versions only grow;
//  - the partition's accounted memory is the sum of its records' charges and its tables' slot
//    arrays, and each charge is what EntryCharge says for that entry.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "core/partition.h"
#include "core/record.h"
#include "core/value.h"

namespace dbkv {
namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

// Reads the fuzzer's bytes as a program.
struct Input {
  const uint8_t* p;
  size_t n;
  uint8_t Byte() {
    if (n == 0) return 0;
    --n;
    return *p++;
  }
  // Lengths that hit the boundaries: around the Value's inline 14, the record's 512, the
  // jemalloc classes.
  size_t Length() {
    static constexpr size_t kLengths[] = {0,   1,   7,   8,   14,  15,  16,  17,  53,   171,
                                          208, 224, 255, 256, 511, 512, 513, 600, 1024, 4100};
    const uint8_t b = Byte();
    return kLengths[b % (sizeof(kLengths) / sizeof(kLengths[0]))] + (b >> 7);
  }
  // Binary bytes, or (an odd seed) 7-bit text: packed ASCII when that saves a size class; the
  // seed's top bit puts one high byte somewhere in the text.
  std::string Bytes(size_t len) {
    std::string s(len, '\0');
    const uint8_t seed = Byte();
    for (size_t i = 0; i < len; ++i) s[i] = static_cast<char>(seed * 31 + i * (seed | 1));
    if ((seed & 1) != 0) {
      for (char& c : s) c = static_cast<char>(c & 0x7f);
      if ((seed & 0x80) != 0 && len != 0) s[Byte() % len] = static_cast<char>(0x80 | seed);
    }
    return s;
  }
};

struct Expected {
  Value value;
  int64_t expire_at_ms = kNoExpiry;
};

constexpr int64_t kNow = 1'700'000'000'000;

void CheckAll(Partition& p, const std::map<std::string, Expected>& want) {
  uint64_t charges = 0;
  for (const auto& [key, e] : want) {
    const Record* r = p.FindForRestore("", key);
    Check(r != nullptr);
    Check(r->key().str() == key);
    Check(r->value() == e.value);
    Check(r->value().type() == e.value.type());
    Check(r->expire_at_ms() == e.expire_at_ms);
    Entry detached;
    detached.value = e.value;
    detached.expire_at_ms = e.expire_at_ms;
    Check(r->Charge() == EntryCharge(key, detached));
    charges += r->Charge();
  }
  Check(p.stats().keys == want.size());
  Check(p.stats().memory_bytes == charges + p.table_bytes());
}

void Run(const uint8_t* data, size_t size) {
  Input in{data, size};
  Partition p;
  std::map<std::string, Expected> want;
  uint64_t last_version = 0;
  const std::string keys[] = {"",
                              "k",
                              std::string(15, 'a'),
                              std::string(53, 'c'),
                              std::string(300, '\xff'),
                              std::string("\0bin\x80", 5)};
  for (int step = 0; step < 64 && in.n > 0; ++step) {
    const std::string& key = keys[in.Byte() % 6];
    const uint8_t op = in.Byte() % 7;
    const int64_t expiry = (in.Byte() & 1) != 0 ? kNow + 1000 : kNoExpiry;
    switch (op) {
      case 0:
      case 1: {  // Put a string or bytes value
        const std::string bytes = in.Bytes(in.Length());
        Value v = op == 0 ? Value::String(bytes) : Value::Bytes(bytes);
        const Record* r = p.Put("", key, v, expiry);
        Check(r->version() > last_version);
        last_version = r->version();
        want[key] = Expected{std::move(v), expiry};
        break;
      }
      case 2: {  // Put a number, moved in
        const int64_t n = in.Byte();
        const Record* r = p.Put("", key, Value::Int(n), expiry);
        Check(r->version() > last_version);
        last_version = r->version();
        want[key] = Expected{Value::Int(n), expiry};
        break;
      }
      case 3: {  // change through Upsert: a new value, a new expiry, or nothing (Abort)
        EntryRef ref = p.Upsert("", key, kNow);
        const uint8_t what = in.Byte() % 3;
        if (what == 0) {
          p.Abort(ref);
          break;
        }
        if (what == 1) ref.entry->value = Value::String(in.Bytes(in.Length()));
        ref.entry->expire_at_ms = expiry;
        const Record* r = p.Commit(ref);
        Check(r->version() > last_version);
        last_version = r->version();
        want[key] = Expected{r->value().ToValue(), expiry};
        break;
      }
      case 4:  // delete
        p.Erase("", key, kNow);
        want.erase(key);
        break;
      case 5: {  // the value goes to disk, or comes back
        Record* r = p.FindForRestore("", key);
        if (r == nullptr) break;
        if (r->is_cold()) {
          const Value back = Value::String(in.Bytes(in.Length()));
          r = p.MakeHot("", r, back);
          want[key].value = back;
        } else {
          const ColdRef ref{1, in.Byte(), 100, r->value().type()};
          r = p.MakeCold("", r, ref);
          want[key].value = Value::Cold(ref);
        }
        Check(r->key().str() == key);
        break;
      }
      default:  // a read
        if (Record* r = p.Find("", key, kNow)) Check(want.count(key) == 1 && r->key().str() == key);
        break;
    }
    CheckAll(p, want);
  }
}

}  // namespace
}  // namespace dbkv

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dbkv::Run(data, size);
  return 0;
}
