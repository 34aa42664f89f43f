// The keyspace family (TYPE, SCAN, KEYS, FLUSHDB) through the plugin API, on one shard or on
// several partitions standing for several shards.
#include "plugins/keyspace_family.h"

#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <vector>

#include "plugins/shard_fixture.h"

namespace dbkv::testing {
namespace {

Value Bin(std::string_view s) { return Value::Bytes(s); }

TEST_CASE("the keyspace family registers its commands by name", "[keyspace_family]") {
  Shard shard;
  const CommandRegistry& r = shard.registry();
  const CommandSpec* type = r.FindByName("type");
  REQUIRE(type != nullptr);
  CHECK(type->opcode == 0);
  CHECK(type->keys.first == 0);
  CHECK((type->flags & kCmdReadOnly) != 0);
  for (const char* name : {"SCAN", "KEYS", "FLUSHDB"}) {
    INFO(name);
    const CommandSpec* cmd = r.FindByName(name);
    REQUIRE(cmd != nullptr);
    CHECK(cmd->opcode == 0);
    CHECK((cmd->flags & kCmdAllShards) != 0);
    CHECK(static_cast<bool>(cmd->merge));
    CHECK_FALSE(cmd->summary.empty());
  }
  CHECK((r.FindByName("FLUSHDB")->flags & kCmdWrite) != 0);
}

TEST_CASE("TYPE names Redis's types", "[keyspace_family]") {
  Shard shard;
  shard.Ok("SET", {S("s"), S("v")});
  shard.Ok("SET", {S("i"), I(5)});
  shard.Ok("SET", {S("d"), D("1.10")});
  shard.Ok("SET", {S("n"), Value::Null()});
  shard.Ok("RPUSH", {S("l"), S("a")});
  shard.Ok("SET", {S("m"), Value::Map({{S("k"), I(1)}})});
  const std::pair<const char*, const char*> expected[] = {
      {"s", "string"}, {"i", "string"}, {"d", "string"},     {"n", "string"},
      {"l", "list"},   {"m", "hash"},   {"missing", "none"},
  };
  for (const auto& [key, type] : expected) {
    INFO(key);
    Reply r = shard.Run("TYPE", {S(key)});
    REQUIRE(r.ok());
    CHECK(r.simple);
    CHECK(r.value == S(type));
  }
}

// Runs an all-shards command over `parts` (partition i is shard i) and merges, as the server
// does.
Reply RunOnShards(Shard& shard, std::vector<Partition*> parts, std::string_view name,
                  ValueList args, std::string_view ns = "") {
  const CommandSpec* cmd = shard.registry().FindByName(name);
  REQUIRE(cmd != nullptr);
  MergeInput in;
  in.args = CommandArgs(args.data(), args.size());
  for (size_t i = 0; i < parts.size(); ++i) {
    ShardContext ctx(parts[i], static_cast<uint32_t>(i), static_cast<uint32_t>(parts.size()));
    ctx.Reset(ns, shard.now);
    in.parts.push_back(cmd->shard(ctx, CommandArgs(args.data(), args.size())));
  }
  FakeConnection conn;
  return cmd->merge(in, conn);
}

std::set<std::string> Strings(const Value& list) {
  std::set<std::string> out;
  for (const Value& v : list.AsList()) out.insert(std::string(v.AsStringView()));
  return out;
}

TEST_CASE("KEYS returns the matching live keys of the namespace", "[keyspace_family]") {
  Shard shard;
  Partition other;
  shard.Ok("SET", {S("user:1"), I(1)});
  shard.Ok("SET", {S("user:2"), I(2), S("PX"), I(10)});
  shard.Ok("SET", {S("job:1"), I(3)});
  REQUIRE(shard.Run("SET", {S("user:3"), I(3)}, &other).ok());
  shard.ns = "elsewhere";
  shard.Ok("SET", {S("user:9"), I(9)});
  shard.ns = "";

  Reply r = RunOnShards(shard, {&shard.partition(), &other}, "KEYS", {S("user:*")});
  REQUIRE(r.ok());
  CHECK(Strings(r.value) == std::set<std::string>{"user:1", "user:2", "user:3"});
  shard.now += 10;  // user:2 expires
  r = RunOnShards(shard, {&shard.partition(), &other}, "KEYS", {S("*")});
  CHECK(Strings(r.value) == std::set<std::string>{"user:1", "job:1", "user:3"});
  r = RunOnShards(shard, {&shard.partition(), &other}, "KEYS", {S("*")}, "elsewhere");
  CHECK(Strings(r.value) == std::set<std::string>{"user:9"});
  // A key that is not UTF-8 comes back as bytes (so that it can be used again as it is).
  shard.Ok("SET", {Bin("\xff\xfe"), I(1)});
  r = RunOnShards(shard, {&shard.partition()}, "KEYS", {Bin("\xff*")});
  REQUIRE(r.value.AsList().size() == 1);
  CHECK(r.value.AsList()[0] == Bin("\xff\xfe"));
  CHECK(RunOnShards(shard, {&shard.partition()}, "KEYS", {S("user:1")}).value == L({S("user:1")}));
}

// Scans to the end from cursor 0 over parts; returns every key seen (with repeats) and the
// number of calls. between(step) runs between calls.
struct ScanResult {
  std::multiset<std::string> keys;
  int calls = 0;
};
template <class Between>
ScanResult ScanAll(Shard& shard, const std::vector<Partition*>& parts, ValueList options,
                   Between between) {
  ScanResult out;
  std::string cursor = "0";
  do {
    ValueList args = {S(cursor)};
    args.insert(args.end(), options.begin(), options.end());
    Reply r = RunOnShards(shard, parts, "SCAN", args);
    INFO(r.error);
    REQUIRE(r.ok());
    const ValueList& pair = r.value.AsList();
    REQUIRE(pair.size() == 2);
    cursor = std::string(pair[0].AsStringView());
    for (const Value& k : pair[1].AsList()) out.keys.insert(std::string(k.AsStringView()));
    between(out.calls++);
    REQUIRE(out.calls < 100000);
  } while (cursor != "0");
  return out;
}

TEST_CASE("SCAN over several shards returns every key, in steps", "[keyspace_family]") {
  Shard shard;
  Partition p0, p1, p2;
  std::vector<Partition*> parts = {&p0, &p1, &p2};
  // 20000 keys over 3 shards: several segments each (a segment holds at most 3584 keys).
  std::set<std::string> all;
  for (int i = 0; i < 20000; ++i) {
    const std::string key = "k" + std::to_string(i);
    REQUIRE(shard.Run("SET", {S(key), I(i)}, parts[i % 3]).ok());
    all.insert(key);
  }
  ScanResult r = ScanAll(shard, parts, {S("COUNT"), I(1000)}, [](int) {});
  CHECK(std::set<std::string>(r.keys.begin(), r.keys.end()) == all);
  CHECK(r.keys.size() == all.size());  // nothing moved: no repeats
  CHECK(r.calls > 3);                  // in steps, not all at once

  // MATCH and TYPE filter; COUNT is work, not results.
  REQUIRE(shard.Run("RPUSH", {S("k5list"), S("x")}, &p1).ok());
  ScanResult m = ScanAll(shard, parts, {S("MATCH"), S("k5*"), S("TYPE"), S("list")}, [](int) {});
  CHECK(std::set<std::string>(m.keys.begin(), m.keys.end()) == std::set<std::string>{"k5list"});
}

size_t Segments(const Partition& p) {
  auto it = p.tables().find("");
  return it == p.tables().end() ? 0 : it->second.segment_count();
}

TEST_CASE("SCAN returns every key that stays, while keys are added and removed",
          "[keyspace_family]") {
  Shard shard;
  Partition p0, p1;
  std::vector<Partition*> parts = {&p0, &p1};
  std::set<std::string> stays;
  for (int i = 0; i < 30000; ++i) {
    const std::string key = "stay" + std::to_string(i);
    REQUIRE(shard.Run("SET", {S(key), I(i)}, parts[i % 2]).ok());
    stays.insert(key);
  }
  for (int i = 0; i < 3000; ++i) {
    REQUIRE(shard.Run("SET", {S("gone" + std::to_string(i)), I(i)}, parts[i % 2]).ok());
  }
  const size_t segments_before = Segments(p0) + Segments(p1);
  // Between the steps: many new keys (segments split: keys move to new segments, behind and
  // ahead of the cursor) and the "gone" keys removed.
  int added = 0;
  ScanResult r = ScanAll(shard, parts, {S("COUNT"), I(100)}, [&](int step) {
    for (int i = 0; i < 4000; ++i, ++added) {
      REQUIRE(shard.Run("SET", {S("new" + std::to_string(added)), I(i)}, parts[added % 2]).ok());
    }
    for (int i = step * 300; i < step * 300 + 300 && i < 3000; ++i) {
      shard.Run("DEL", {S("gone" + std::to_string(i))}, parts[i % 2]);
    }
  });
  for (const std::string& key : stays) {
    INFO(key);
    CHECK(r.keys.count(key) >= 1);
  }
  CHECK(r.calls > 10);
  // The tables split many times while the scan went on.
  CHECK(Segments(p0) + Segments(p1) > 2 * segments_before);
}

TEST_CASE("SCAN's arguments are checked as Redis checks them", "[keyspace_family]") {
  Shard shard;
  Partition p;
  auto err = [&](ValueList args) {
    Reply r = RunOnShards(shard, {&shard.partition(), &p}, "SCAN", std::move(args));
    REQUIRE_FALSE(r.ok());
    return r.error;
  };
  CHECK(err({S("abc")}) == "invalid cursor");
  CHECK(err({S(" 1")}) == "invalid cursor");
  CHECK(err({S("1.5")}) == "invalid cursor");
  CHECK(err({S("18446744073709551616")}) == "invalid cursor");
  // As Redis reads a cursor (strtoul): "" is 0, "-1" wraps (a cursor past the end).
  CHECK(RunOnShards(shard, {&shard.partition(), &p}, "SCAN", {S("")}).ok());
  CHECK(RunOnShards(shard, {&shard.partition(), &p}, "SCAN", {S("-1")}).ok());
  CHECK(err({S("0"), S("COUNT"), I(0)}) == "syntax error");
  CHECK(err({S("0"), S("COUNT"), S("x")}) == "value is not an integer or out of range");
  CHECK(err({S("0"), S("BOGUS"), S("x")}) == "syntax error");
  CHECK(err({S("0"), S("MATCH")}) == "syntax error");
  // An empty namespace: one step per shard at most, and the end.
  Reply r = RunOnShards(shard, {&shard.partition(), &p}, "SCAN", {S("0")});
  REQUIRE(r.ok());
  CHECK(r.value == L({S("1"), L({})}));
  r = RunOnShards(shard, {&shard.partition(), &p}, "SCAN", {S("1")});
  CHECK(r.value == L({S("0"), L({})}));
  // A cursor past the table's segments (from before a restart) just ends that shard.
  r = RunOnShards(shard, {&shard.partition(), &p}, "SCAN", {S("1001")});
  CHECK(r.value == L({S("0"), L({})}));
}

TEST_CASE("FLUSHDB removes the namespace's keys and nothing else", "[keyspace_family]") {
  Shard shard;
  Partition other;
  for (int i = 0; i < 5000; ++i) shard.Ok("SET", {S("k" + std::to_string(i)), I(i)});
  REQUIRE(shard.Run("SET", {S("x"), I(1)}, &other).ok());
  shard.ns = "keep";
  shard.Ok("SET", {S("k1"), I(1)});
  shard.ns = "";
  Reply r = RunOnShards(shard, {&shard.partition(), &other}, "FLUSHDB", {});
  REQUIRE(r.ok());
  CHECK(r.simple);
  CHECK(shard.partition().Size("") == 0);
  CHECK(other.Size("") == 0);
  CHECK(shard.partition().Size("keep") == 1);
  CHECK(RunOnShards(shard, {&shard.partition()}, "FLUSHDB", {S("async")}).ok());
  CHECK(RunOnShards(shard, {&shard.partition()}, "FLUSHDB", {S("now")}).error == "syntax error");
}

TEST_CASE("FLUSHALL removes the keys of every namespace", "[keyspace_family]") {
  Shard shard;
  Partition other;
  for (int i = 0; i < 3000; ++i) shard.Ok("SET", {S("k" + std::to_string(i)), I(i)});
  REQUIRE(shard.Run("SET", {S("x"), I(1)}, &other).ok());
  for (const char* ns : {"a", "b"}) {
    shard.ns = ns;
    shard.Ok("SET", {S("k1"), I(1)});
    REQUIRE(shard.Run("SET", {S("y"), I(1)}, &other).ok());
  }
  shard.ns = "a";
  Reply r = RunOnShards(shard, {&shard.partition(), &other}, "FLUSHALL", {}, "a");
  REQUIRE(r.ok());
  CHECK(r.simple);
  for (const char* ns : {"", "a", "b"}) {
    INFO(ns);
    CHECK(shard.partition().Size(ns) == 0);
    CHECK(other.Size(ns) == 0);
  }
  // The connection's namespace is still its own afterwards.
  shard.Ok("SET", {S("after"), I(1)});
  CHECK(shard.partition().Size("a") == 1);
  CHECK(RunOnShards(shard, {&shard.partition()}, "FLUSHALL", {S("now")}).error == "syntax error");
}

TEST_CASE("RANDOMKEY gives every key of the namespace, or nil", "[keyspace_family]") {
  Shard shard;
  Partition other;
  CHECK(RunOnShards(shard, {&shard.partition(), &other}, "RANDOMKEY", {}).value.is_null());
  std::set<std::string> keys;
  for (int i = 0; i < 20; ++i) {
    const std::string key = "k" + std::to_string(i);
    keys.insert(key);
    REQUIRE(shard.Run("SET", {S(key), I(i)}, i % 3 == 0 ? &other : nullptr).ok());
  }
  shard.ns = "elsewhere";
  shard.Ok("SET", {S("not-this-one"), I(1)});
  shard.ns = "";
  std::set<std::string> seen;
  for (int i = 0; i < 2000 && seen.size() < keys.size(); ++i) {
    Reply r = RunOnShards(shard, {&shard.partition(), &other}, "RANDOMKEY", {});
    REQUIRE(r.ok());
    REQUIRE(r.value.is_string_like());
    seen.insert(std::string(r.value.AsStringView()));
  }
  CHECK(seen == keys);
}

TEST_CASE("OBJECT names Redis's encodings and reads idle time without touching",
          "[keyspace_family]") {
  Shard shard;
  shard.Ok("SET", {S("int"), Value::Bytes("10")});
  shard.Ok("SET", {S("typed"), I(10)});
  shard.Ok("SET", {S("padded"), Value::Bytes("010")});
  shard.Ok("SET", {S("short"), Value::Bytes("hello")});
  shard.Ok("SET", {S("long"), Value::Bytes(std::string(45, 'x'))});
  shard.Ok("RPUSH", {S("list"), S("a")});
  shard.Ok("HSET", {S("small"), S("f"), S("v")});
  shard.Ok("HSET", {S("big"), S("f"), Value::Bytes(std::string(65, 'x'))});
  const std::pair<const char*, const char*> expected[] = {
      {"int", "int"},  {"typed", "int"},      {"padded", "embstr"},  {"short", "embstr"},
      {"long", "raw"}, {"list", "quicklist"}, {"small", "listpack"}, {"big", "hashtable"},
  };
  for (const auto& [key, encoding] : expected) {
    INFO(key);
    CHECK(shard.Ok("OBJECT", {S("ENCODING"), S(key)}) == S(encoding));
  }
  CHECK(shard.Ok("OBJECT", {S("encoding"), S("missing")}).is_null());
  CHECK(shard.Ok("OBJECT", {S("REFCOUNT"), S("short")}) == I(1));
  shard.Ok("GET", {S("short")});  // a use, at the test's clock (a write uses the wall clock)
  CHECK(shard.Ok("OBJECT", {S("IDLETIME"), S("short")}) == I(0));
  shard.now += 5'500;
  CHECK(shard.Ok("OBJECT", {S("IDLETIME"), S("short")}) == I(5));
  CHECK(shard.Ok("OBJECT", {S("IDLETIME"), S("short")}) == I(5));  // reading it is no use
  CHECK(shard.Err("OBJECT", {S("FREQ"), S("short")}).error.rfind("An LFU maxmemory policy", 0) ==
        0);
  CHECK(shard.Err("OBJECT", {S("FOO"), S("short")}).error ==
        "unknown subcommand 'FOO'. Try OBJECT HELP.");
}

}  // namespace
}  // namespace dbkv::testing
