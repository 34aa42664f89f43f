// WAL records (storage/WAL_FORMAT.md, "WAL records"): mutation encodings round-trip, damaged
// encodings are Corruption, and replay is gated by versions.
#include "storage/wal.h"

#include <catch2/catch.hpp>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "storage/data_dir.h"
#include "storage/fault_env.h"
#include "storage/log_format.h"

namespace dbkv::storage {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;

Value S(std::string_view s) { return Value::String(s); }
Value I(int64_t i) { return Value::Int(i); }
Value Dec(std::string_view text) { return Value::Dec(Decimal::Parse(text).value()); }

// Every kind of value, nested ones included.
std::vector<Value> AllValues() {
  return {
      Value::Null(),
      Value::Bool(true),
      Value::Bool(false),
      I(0),
      I(-1),
      I(INT64_MAX),
      I(INT64_MIN),
      Value::Double(3.25),
      Value::Double(-0.0),
      Dec("1.10"),
      Dec("-12345678901234567890.123456789"),
      Dec("1E+300"),
      S(""),
      S("short"),
      S(std::string(1000, 'x')),
      Value::Bytes(std::string("\0\xff\x01", 3)),
      Value::Bytes(std::string(300, '\x7f')),
      Value::List({}),
      Value::List({I(1), S("two"), Value::List({Dec("3.0"), Value::List({Value::Null()})})}),
      Value::Map({{S("a"), I(1)}, {I(2), Value::List({S("b"), Value::Bool(false)})}}),
  };
}

// A decoded mutation that owns its bytes.
struct Owned {
  MutationType type;
  std::string ns, key;
  uint64_t version;
  int64_t expire_at_ms;
  Value value;
  bool tail;
  ValueList values;
  uint64_t count;
};

Status Decode(const std::string& record, WalRecordHeader* h, std::vector<Owned>* out) {
  out->clear();
  return DecodeWalRecord(record, h, [&](const Mutation& m) {
    out->push_back({m.type, std::string(m.ns), std::string(m.key), m.version, m.expire_at_ms,
                    m.value, m.tail, m.values, m.count});
  });
}

// One mutation of each type, with known contents.
std::string EncodeOneOfEach() {
  std::string bytes;
  MutationEncoder enc(&bytes);
  Entry e;
  e.value = Value::List({S("a"), Dec("0.5")});
  e.expire_at_ms = kNow + 5000;
  e.version = 7;
  enc.Put("ns", "put-key", e);
  enc.Del("", "del-key", 8);
  const ValueList pushed = {S("x"), I(2)};
  enc.Push("ns", "list", 9, kNow + 9000, /*tail=*/false, pushed.data(), pushed.size());
  enc.Pop("ns", "list", 10, /*tail=*/true, 3);
  return EncodeWalRecord({42, 3, 4}, bytes);
}

TEST_CASE("A WAL record round-trips its header and one mutation of each type", "[wal]") {
  const std::string record = EncodeOneOfEach();
  WalRecordHeader h;
  std::vector<Owned> ms;
  REQUIRE(Decode(record, &h, &ms).ok());
  CHECK(h.lsn == 42);
  CHECK(h.shard == 3);
  CHECK(h.count == 4);
  REQUIRE(ms.size() == 4);

  CHECK(ms[0].type == MutationType::kPut);
  CHECK(ms[0].ns == "ns");
  CHECK(ms[0].key == "put-key");
  CHECK(ms[0].version == 7);
  CHECK(ms[0].expire_at_ms == kNow + 5000);
  CHECK(ms[0].value == Value::List({S("a"), Dec("0.5")}));

  CHECK(ms[1].type == MutationType::kDel);
  CHECK(ms[1].ns.empty());
  CHECK(ms[1].key == "del-key");
  CHECK(ms[1].version == 8);

  CHECK(ms[2].type == MutationType::kPush);
  CHECK(ms[2].version == 9);
  CHECK(ms[2].expire_at_ms == kNow + 9000);
  CHECK_FALSE(ms[2].tail);
  CHECK(ms[2].values == ValueList{S("x"), I(2)});

  CHECK(ms[3].type == MutationType::kPop);
  CHECK(ms[3].version == 10);
  CHECK(ms[3].tail);
  CHECK(ms[3].count == 3);
}

TEST_CASE("A PUT round-trips every value type", "[wal]") {
  for (const Value& v : AllValues()) {
    INFO(v.DebugString());
    std::string bytes;
    MutationEncoder enc(&bytes);
    Entry e;
    e.value = v;
    e.version = 123456789012345ull;
    enc.Put("n", std::string("k\0ey", 4), e);
    WalRecordHeader h;
    std::vector<Owned> ms;
    REQUIRE(Decode(EncodeWalRecord({1, 0, 1}, bytes), &h, &ms).ok());
    REQUIRE(ms.size() == 1);
    CHECK(ms[0].value == v);
    CHECK(ms[0].value.type() == v.type());
    CHECK(ms[0].key == std::string("k\0ey", 4));
    CHECK(ms[0].expire_at_ms == kNoExpiry);
    CHECK(ms[0].version == 123456789012345ull);
  }
}

TEST_CASE("A PUSH round-trips every value type at both ends", "[wal]") {
  const std::vector<Value> values = AllValues();
  for (bool tail : {false, true}) {
    std::string bytes;
    MutationEncoder enc(&bytes);
    enc.Push("", "k", 5, kNoExpiry, tail, values.data(), values.size());
    WalRecordHeader h;
    std::vector<Owned> ms;
    REQUIRE(Decode(EncodeWalRecord({1, 0, 1}, bytes), &h, &ms).ok());
    REQUIRE(ms.size() == 1);
    CHECK(ms[0].tail == tail);
    CHECK(ms[0].values == ValueList(values.begin(), values.end()));
  }
}

TEST_CASE("A record with no mutations round-trips", "[wal]") {
  WalRecordHeader h;
  std::vector<Owned> ms;
  REQUIRE(Decode(EncodeWalRecord({UINT64_MAX, UINT32_MAX, 0}, ""), &h, &ms).ok());
  CHECK(h.lsn == UINT64_MAX);
  CHECK(h.shard == UINT32_MAX);
  CHECK(ms.empty());
}

TEST_CASE("A record cut at any byte is Corruption", "[wal]") {
  const std::string record = EncodeOneOfEach();
  for (size_t n = 0; n < record.size(); ++n) {
    INFO("cut at " << n << " of " << record.size());
    WalRecordHeader h;
    std::vector<Owned> ms;
    const Status s = Decode(record.substr(0, n), &h, &ms);
    CHECK(s.code() == Code::kCorruption);
  }
}

TEST_CASE("Bytes after the last mutation are Corruption", "[wal]") {
  WalRecordHeader h;
  std::vector<Owned> ms;
  const Status s = Decode(EncodeOneOfEach() + "x", &h, &ms);
  CHECK(s.code() == Code::kCorruption);
  CHECK(s.message() == "trailing bytes after the last mutation");
}

TEST_CASE("A count larger than the mutations present is Corruption", "[wal]") {
  std::string record = EncodeOneOfEach();
  record[12] = 5;  // count: 5 instead of 4
  WalRecordHeader h;
  std::vector<Owned> ms;
  const Status s = Decode(record, &h, &ms);
  CHECK(s.code() == Code::kCorruption);
  CHECK(s.message() == "missing mutation");
}

TEST_CASE("An unknown mutation type is Corruption", "[wal]") {
  for (char type : {'\0', '\x05', '\xff'}) {
    std::string bytes(1, type);
    WalRecordHeader h;
    std::vector<Owned> ms;
    const Status s = Decode(EncodeWalRecord({1, 0, 1}, bytes + std::string(2, '\0')), &h, &ms);
    CHECK(s.code() == Code::kCorruption);
    CHECK(s.message().rfind("unknown mutation type", 0) == 0);
  }
}

TEST_CASE("An undecodable value is Corruption", "[wal]") {
  std::string bytes;
  MutationEncoder enc(&bytes);
  Entry e;
  e.value = S("v");
  enc.Put("", "k", e);
  // The value is msgpack fixstr "v" (a1 76), last in the mutation: make its header announce
  // five bytes.
  bytes[bytes.size() - 2] = '\xa5';
  WalRecordHeader h;
  std::vector<Owned> ms;
  const Status s = Decode(EncodeWalRecord({1, 0, 1}, bytes), &h, &ms);
  CHECK(s.code() == Code::kCorruption);
  CHECK(s.message().rfind("bad value", 0) == 0);
}

TEST_CASE("A push count larger than the record is Corruption", "[wal]") {
  std::string bytes;
  MutationEncoder enc(&bytes);
  const Value v = S("x");
  enc.Push("", "k", 1, kNoExpiry, true, &v, 1);
  // The count varint, just before the value (length prefix 02, then a1 78).
  REQUIRE(bytes[bytes.size() - 4] == 1);
  bytes[bytes.size() - 4] = '\x7f';
  WalRecordHeader h;
  std::vector<Owned> ms;
  const Status s = Decode(EncodeWalRecord({1, 0, 1}, bytes), &h, &ms);
  CHECK(s.code() == Code::kCorruption);
  CHECK(s.message() == "push count exceeds the record");
}

// Bytes from "5b 4b 69 ..." (as printed in the format documents).
std::string FromHex(const std::string& hex) {
  std::istringstream in(hex);
  std::string out;
  unsigned byte;
  while (in >> std::hex >> byte) out.push_back(static_cast<char>(byte));
  return out;
}

TEST_CASE("The worked example of WAL_FORMAT.md is what the WAL writes", "[wal][doc]") {
  std::string bytes;
  Entry e;
  e.value = S("v");
  e.version = 5;
  MutationEncoder(&bytes).Put("", "k", e);
  const std::string record = EncodeWalRecord({7, 0, 1}, bytes);
  FaultInjectionEnv env;
  const std::string path = JoinPath(NewTestDir("wal-doc"), WalFileName(7));
  std::unique_ptr<WritableFile> f;
  REQUIRE(env.NewWritableFile(path, &f).ok());
  log::Writer writer(f.get());
  REQUIRE(writer.AddRecord(record).ok());
  REQUIRE(f->Close().ok());
  std::string file;
  REQUIRE(ReadFileToString(&env, path, &file).ok());
  CHECK(file == FromHex("5b 4b 69 a8 27 00 01 07 00 00 00 00 00 00 00 00"
                        " 00 00 00 01 00 00 00 01 00 01 6b 05 00 00 00 00"
                        " 00 00 00 00 00 00 00 00 00 00 00 02 a1 76"));
  CHECK(log::MaskedCrc(log::kFullType, record) == 0xa8694b5bu);
  CHECK(WalFileName(7) == "wal-00000000000000000007.log");
}

// -- Replay.

// Builds mutations and applies them to a partition.
class Replay {
 public:
  bool Put(std::string_view key, Value v, uint64_t version, int64_t expire = kNoExpiry) {
    Entry e;
    e.value = std::move(v);
    e.version = version;
    e.expire_at_ms = expire;
    std::string bytes;
    MutationEncoder(&bytes).Put("", key, e);
    return Apply(bytes);
  }
  bool Del(std::string_view key, uint64_t version) {
    std::string bytes;
    MutationEncoder(&bytes).Del("", key, version);
    return Apply(bytes);
  }
  bool Push(std::string_view key, ValueList values, uint64_t version, bool tail,
            int64_t expire = kNoExpiry) {
    std::string bytes;
    MutationEncoder(&bytes).Push("", key, version, expire, tail, values.data(), values.size());
    return Apply(bytes);
  }
  bool Pop(std::string_view key, uint64_t count, uint64_t version, bool tail) {
    std::string bytes;
    MutationEncoder(&bytes).Pop("", key, version, tail, count);
    return Apply(bytes);
  }

  const Record* Get(std::string_view key) { return p.Find("", key, now); }

  Partition p;
  int64_t now = kNow;

 private:
  bool Apply(const std::string& bytes) {
    const std::string record = EncodeWalRecord({1, 0, 1}, bytes);
    bool changed = false;
    WalRecordHeader h;
    REQUIRE(DecodeWalRecord(record, &h, [&](const Mutation& m) {
              changed = ApplyMutation(&p, m, now);
            }).ok());
    return changed;
  }
};

TEST_CASE("Replay applies a newer PUT and ignores an older one", "[wal][replay]") {
  Replay r;
  CHECK(r.Put("k", S("v5"), 5));
  CHECK_FALSE(r.Put("k", S("v3"), 3));
  CHECK_FALSE(r.Put("k", S("v5 again"), 5));
  REQUIRE(r.Get("k") != nullptr);
  CHECK(r.Get("k")->value() == S("v5"));
  CHECK(r.Put("k", S("v9"), 9));
  CHECK(r.Get("k")->value() == S("v9"));
  CHECK(r.Get("k")->version() == 9);
}

TEST_CASE("Replay applies a DEL only to an older entry", "[wal][replay]") {
  Replay r;
  r.Put("k", S("v5"), 5);
  CHECK_FALSE(r.Del("k", 4));  // older than what is there
  CHECK(r.Get("k") != nullptr);
  CHECK(r.Del("k", 6));
  CHECK(r.Get("k") == nullptr);
  CHECK_FALSE(r.Del("missing", 7));
}

TEST_CASE("Replay keeps the version counter above every version it saw", "[wal][replay]") {
  Replay r;
  r.Put("k", S("v"), 5);
  r.Del("k", 12);
  r.Pop("missing", 1, 20, true);  // ignored, but its version was used
  r.Put("old", S("v"), 3);
  CHECK(r.p.last_version() == 20);
  // A new write continues above.
  CHECK(r.p.Put("", "new", S("n"), kNoExpiry)->version() == 21);
}

TEST_CASE("Replay of pushes and pops rebuilds the list", "[wal][replay]") {
  Replay r;
  CHECK(r.Push("l", {S("a"), S("b")}, 1, /*tail=*/true));   // creates [a, b]
  CHECK(r.Push("l", {S("x"), S("y")}, 2, /*tail=*/false));  // LPUSH x y: [y, x, a, b]
  CHECK(r.Get("l")->value() == Value::List({S("y"), S("x"), S("a"), S("b")}));
  CHECK(r.Pop("l", 1, 3, /*tail=*/false));  // [x, a, b]
  CHECK(r.Pop("l", 2, 4, /*tail=*/true));   // [x]
  CHECK(r.Get("l")->value() == Value::List({S("x")}));
  CHECK(r.Get("l")->version() == 4);
}

TEST_CASE("Replay of a push or pop the entry already holds changes nothing", "[wal][replay]") {
  Replay r;
  // The snapshot already has the list after the push of version 2 and the pop of version 3.
  r.Put("l", Value::List({S("b"), S("c")}), 3);
  CHECK_FALSE(r.Push("l", {S("c")}, 2, /*tail=*/true));
  CHECK_FALSE(r.Pop("l", 1, 3, /*tail=*/false));
  CHECK(r.Get("l")->value() == Value::List({S("b"), S("c")}));
  // And a record replayed twice (written again after a WAL failure) applies once.
  CHECK(r.Push("l", {S("d")}, 4, /*tail=*/true));
  CHECK_FALSE(r.Push("l", {S("d")}, 4, /*tail=*/true));
  CHECK(r.Get("l")->value() == Value::List({S("b"), S("c"), S("d")}));
}

TEST_CASE("Replay ignores a pop on a missing key", "[wal][replay]") {
  Replay r;
  CHECK_FALSE(r.Pop("missing", 1, 5, true));
  CHECK(r.Get("missing") == nullptr);
}

TEST_CASE("Replay never resurrects an entry that expired by now", "[wal][replay]") {
  Replay r;
  CHECK_FALSE(r.Put("k", S("gone"), 5, kNow - 1));
  CHECK(r.Get("k") == nullptr);
  CHECK(r.p.stats().keys == 0);
  // A newer expired PUT also removes an older live entry.
  r.Put("j", S("live"), 1, kNow + 60000);
  CHECK_FALSE(r.Put("j", S("expired"), 2, kNow));
  CHECK(r.Get("j") == nullptr);
  // A live PUT with an expiry keeps it.
  CHECK(r.Put("t", S("v"), 3, kNow + 1000));
  CHECK(r.Get("t")->expire_at_ms() == kNow + 1000);
}

TEST_CASE("Replay of a push onto a list that has expired since does not resurrect it",
          "[wal][replay]") {
  Replay r;
  const int64_t expiry = kNow - 10;  // the list was live when pushed, has expired by now
  CHECK_FALSE(r.Put("l", Value::List({S("a")}), 1, expiry));
  CHECK_FALSE(r.Push("l", {S("b")}, 2, /*tail=*/true, expiry));
  CHECK_FALSE(r.Pop("l", 1, 3, /*tail=*/true));
  CHECK(r.Get("l") == nullptr);
  CHECK(r.p.FindForRestore("", "l") == nullptr);
  CHECK(r.p.stats().keys == 0);
}

TEST_CASE("Replay of a push keeps the list's expiry", "[wal][replay]") {
  Replay r;
  r.Put("l", Value::List({S("a")}), 1, kNow + 5000);
  CHECK(r.Push("l", {S("b")}, 2, /*tail=*/true, kNow + 5000));
  CHECK(r.Get("l")->expire_at_ms() == kNow + 5000);
  CHECK(r.Push("new", {S("x")}, 3, /*tail=*/true));
  CHECK(r.Get("new")->expire_at_ms() == kNoExpiry);
}

TEST_CASE("Replay of a push after the old entry expired starts a new list", "[wal][replay]") {
  Replay r;
  r.now = kNow - 100;
  r.Put("l", Value::List({S("old")}), 1, kNow - 50);  // live when loaded at kNow - 100
  r.now = kNow;
  // At run time the old list had expired when this push came: it made a fresh list.
  CHECK(r.Push("l", {S("new")}, 2, /*tail=*/true, kNoExpiry));
  REQUIRE(r.Get("l") != nullptr);
  CHECK(r.Get("l")->value() == Value::List({S("new")}));
  CHECK(r.Get("l")->expire_at_ms() == kNoExpiry);
}

TEST_CASE("Replay skips a push or pop onto an older entry that is not a list", "[wal][replay]") {
  Replay r;
  r.Put("s", S("string"), 1);
  CHECK_FALSE(r.Push("s", {S("x")}, 2, true));
  CHECK_FALSE(r.Pop("s", 1, 3, true));
  CHECK(r.Get("s")->value() == S("string"));
}

}  // namespace
}  // namespace dbkv::storage
