// The core command family, driven through the plugin API the way a shard runs it: a
// ShardContext over a Partition, with a clock the test controls, so that expiry is exact.
#include "plugins/core_family.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "plugins/shard_fixture.h"
#include "protocol/opcodes.h"

namespace dbkv::testing {
namespace {

namespace op = protocol::op;

TEST_CASE("the core family registers every command by name and opcode", "[core_family]") {
  Shard shard;
  const CommandRegistry& r = shard.registry();
  const ExpectedCommand expected[] = {
      {"GET", op::kGet, kCmdReadOnly, 1, 1},
      {"SET", op::kSet, kCmdWrite, 2, 7},
      {"DEL", op::kDel, kCmdWrite | kCmdAllowOom, 1, -1},
      {"EXISTS", op::kExists, kCmdReadOnly, 1, -1},
      {"INCR", op::kIncr, kCmdWrite, 1, 2},
      {"DECR", op::kDecr, kCmdWrite, 1, 2},
      {"TTL", op::kTtl, kCmdReadOnly, 1, 1},
      {"PTTL", op::kPttl, kCmdReadOnly, 1, 1},
      {"EXPIRE", op::kExpire, kCmdWrite | kCmdAllowOom, 2, -1},
      {"PEXPIRE", op::kPexpire, kCmdWrite | kCmdAllowOom, 2, -1},
      {"PERSIST", op::kPersist, kCmdWrite | kCmdAllowOom, 1, 1},
  };
  for (const ExpectedCommand& e : expected) {
    INFO(e.name);
    const CommandSpec* cmd = RequireRegistered(r, e);
    CHECK((cmd->flags & (kCmdConnection | kCmdAllShards)) == 0);
  }
  // Names are case-insensitive; the multi-key commands merge their shards' counts.
  CHECK(r.FindByName("get") == r.FindByName("GET"));
  CHECK(r.FindByName("pExPiRe") == r.FindByName("PEXPIRE"));
  CHECK(r.FindByName("NOSUCH") == nullptr);
  for (const char* multi : {"DEL", "EXISTS"}) {
    const CommandSpec* cmd = r.FindByName(multi);
    CHECK(cmd->keys.last == -1);
    CHECK(static_cast<bool>(cmd->merge));
  }
  CHECK(r.FindByName("GET")->keys.last == 0);
}

TEST_CASE("SET then GET returns every value type unchanged", "[core_family]") {
  Shard shard;
  const Value values[] = {
      Value::Null(),
      Value::Bool(true),
      I(INT64_MIN),
      Value::Double(-2.5),
      D("1.10"),
      S(""),
      S(std::string(1000, 'x')),
      Value::Bytes(std::string("\0\1", 2)),
      Value::List({I(1), S("a")}),
      Value::Map({{S("k"), Value::List({})}}),
  };
  int n = 0;
  for (const Value& v : values) {
    const std::string key = "k" + std::to_string(n++);
    Reply set = shard.Run("SET", {S(key), v});
    REQUIRE(set.ok());
    CHECK(set.simple);
    CHECK(set.value == S("OK"));
    CHECK(shard.Ok("GET", {S(key)}) == v);
  }
  Reply missing = shard.Run("GET", {S("missing")});
  CHECK(missing.ok());
  CHECK_FALSE(missing.simple);
  CHECK(missing.value.is_null());
  // A later SET overwrites.
  shard.Ok("SET", {S("k0"), S("new")});
  CHECK(shard.Ok("GET", {S("k0")}) == S("new"));
}

TEST_CASE("SET NX, XX and GET", "[core_family]") {
  Shard shard;
  CHECK(shard.Ok("SET", {S("k"), S("v1"), S("XX")}).is_null());
  CHECK(shard.Ok("GET", {S("k")}).is_null());
  CHECK(shard.Ok("SET", {S("k"), S("v1"), S("nx")}) == S("OK"));
  CHECK(shard.Ok("SET", {S("k"), S("v2"), S("NX")}).is_null());
  CHECK(shard.Ok("GET", {S("k")}) == S("v1"));
  CHECK(shard.Ok("SET", {S("k"), S("v2"), S("XX")}) == S("OK"));
  CHECK(shard.Ok("GET", {S("k")}) == S("v2"));
  // GET returns the old value (nil if none), whether or not the write happens.
  CHECK(shard.Ok("SET", {S("k"), S("v3"), S("GET")}) == S("v2"));
  CHECK(shard.Ok("SET", {S("new"), S("v"), S("GET")}).is_null());
  CHECK(shard.Ok("GET", {S("new")}) == S("v"));
  CHECK(shard.Ok("SET", {S("k"), S("ignored"), S("NX"), S("GET")}) == S("v3"));
  CHECK(shard.Ok("GET", {S("k")}) == S("v3"));
  CHECK(shard.Ok("SET", {S("absent"), S("v"), S("XX"), S("GET")}).is_null());
  CHECK(shard.Ok("EXISTS", {S("absent")}) == I(0));
}

TEST_CASE("SET EX, PX, EXAT, PXAT and KEEPTTL", "[core_family]") {
  Shard shard;
  CHECK(shard.Ok("SET", {S("ex"), S("v"), S("EX"), I(10)}) == S("OK"));
  CHECK(shard.Ok("PTTL", {S("ex")}) == I(10000));
  CHECK(shard.Ok("SET", {S("px"), S("v"), S("px"), S("1500")}) == S("OK"));
  CHECK(shard.Ok("PTTL", {S("px")}) == I(1500));
  CHECK(shard.Ok("SET", {S("exat"), S("v"), S("EXAT"), I(kStart / 1000 + 20)}) == S("OK"));
  CHECK(shard.Ok("TTL", {S("exat")}) == I(20));
  CHECK(shard.Ok("SET", {S("pxat"), S("v"), S("PXAT"), I(kStart + 250)}) == S("OK"));
  CHECK(shard.Ok("PTTL", {S("pxat")}) == I(250));

  // KEEPTTL keeps the expiry of the value it replaces; a plain SET drops it.
  CHECK(shard.Ok("SET", {S("ex"), S("v2"), S("KEEPTTL")}) == S("OK"));
  CHECK(shard.Ok("PTTL", {S("ex")}) == I(10000));
  CHECK(shard.Ok("GET", {S("ex")}) == S("v2"));
  CHECK(shard.Ok("SET", {S("ex"), S("v3")}) == S("OK"));
  CHECK(shard.Ok("TTL", {S("ex")}) == I(-1));
  CHECK(shard.Ok("SET", {S("fresh"), S("v"), S("KEEPTTL")}) == S("OK"));
  CHECK(shard.Ok("TTL", {S("fresh")}) == I(-1));

  // Time passes: each key is gone exactly at its expiry.
  shard.now = kStart + 249;
  CHECK(shard.Ok("GET", {S("pxat")}) == S("v"));
  shard.now = kStart + 250;
  CHECK(shard.Ok("GET", {S("pxat")}).is_null());
  CHECK(shard.Ok("GET", {S("px")}) == S("v"));
  shard.now = kStart + 1500;
  CHECK(shard.Ok("GET", {S("px")}).is_null());
}

TEST_CASE("SET with an absolute time in the past writes nothing", "[core_family]") {
  Shard shard;
  shard.Ok("SET", {S("k"), S("old")});
  CHECK(shard.Ok("SET", {S("k"), S("v"), S("PXAT"), I(kStart - 1), S("GET")}) == S("old"));
  CHECK(shard.Ok("GET", {S("k")}).is_null());
  CHECK(shard.Ok("SET", {S("k2"), S("v"), S("EXAT"), I(1)}) == S("OK"));
  CHECK(shard.Ok("EXISTS", {S("k2")}) == I(0));
  // Exactly now counts as past.
  CHECK(shard.Ok("SET", {S("k3"), S("v"), S("PXAT"), I(kStart)}) == S("OK"));
  CHECK(shard.Ok("EXISTS", {S("k3")}) == I(0));
}

TEST_CASE("SET rejects bad options", "[core_family]") {
  Shard shard;
  const std::string bad_time = "invalid expire time in 'set' command";
  CHECK(shard.Err("SET", {S("k"), S("v"), S("EX"), I(0)}).error == bad_time);
  CHECK(shard.Err("SET", {S("k"), S("v"), S("EX"), I(-5)}).error == bad_time);
  CHECK(shard.Err("SET", {S("k"), S("v"), S("PX"), S("abc")}).error == bad_time);
  CHECK(shard.Err("SET", {S("k"), S("v"), S("EX"), D("1.5")}).error == bad_time);
  CHECK(shard.Err("SET", {S("k"), S("v"), S("EX"), I(INT64_MAX)}).error == bad_time);
  CHECK(shard.Err("SET", {S("k"), S("v"), S("PX"), I(INT64_MAX - kStart + 1)}).error == bad_time);
  CHECK(shard.Err("SET", {S("k"), S("v"), S("EXAT"), I(INT64_MAX / 100)}).code ==
        Code::kInvalidArgument);

  const std::string syntax = "syntax error";
  CHECK(shard.Err("SET", {S("k"), S("v"), S("NX"), S("XX")}).error == syntax);
  CHECK(shard.Err("SET", {S("k"), S("v"), S("XX"), S("NX")}).error == syntax);
  CHECK(shard.Err("SET", {S("k"), S("v"), S("EX")}).error == syntax);
  CHECK(shard.Err("SET", {S("k"), S("v"), S("EX"), I(1), S("PX"), I(1)}).error == syntax);
  CHECK(shard.Err("SET", {S("k"), S("v"), S("KEEPTTL"), S("EX"), I(1)}).error == syntax);
  CHECK(shard.Err("SET", {S("k"), S("v"), S("EX"), I(1), S("KEEPTTL")}).error == syntax);
  CHECK(shard.Err("SET", {S("k"), S("v"), S("BOGUS")}).error == syntax);
  CHECK(shard.Err("SET", {S("k"), S("v"), I(1)}).error == syntax);
  // Nothing was written by the failed commands.
  CHECK(shard.Ok("EXISTS", {S("k")}) == I(0));
}

TEST_CASE("DEL and EXISTS count keys", "[core_family]") {
  Shard shard;
  for (const char* k : {"a", "b", "c"}) shard.Ok("SET", {S(k), S("v")});
  // EXISTS counts a key named twice twice, as Redis does.
  CHECK(shard.Ok("EXISTS", {S("a"), S("b"), S("missing"), S("a")}) == I(3));
  CHECK(shard.Ok("DEL", {S("a"), S("a"), S("missing")}) == I(1));
  CHECK(shard.Ok("EXISTS", {S("a")}) == I(0));
  CHECK(shard.Ok("DEL", {S("b"), S("c")}) == I(2));
  CHECK(shard.Ok("DEL", {S("b")}) == I(0));
  CHECK(shard.Ok("EXISTS", {S("a"), S("b"), S("c")}) == I(0));
}

TEST_CASE("DEL and EXISTS over several shards merge into one count", "[core_family]") {
  Shard shard;
  Partition other;
  // Keys a, b on this shard; c on the other one, as the dispatcher would split them.
  shard.Ok("SET", {S("a"), I(1)});
  shard.Ok("SET", {S("b"), I(2)});
  REQUIRE(shard.Run("SET", {S("c"), I(3)}, &other).ok());

  const CommandSpec* exists = shard.registry().FindByName("EXISTS");
  FakeConnection conn;
  MergeInput in;
  in.parts.push_back(shard.Run("EXISTS", {S("a"), S("b"), S("x")}));
  in.parts.push_back(shard.Run("EXISTS", {S("c"), S("y")}, &other));
  in.groups = {{0, 1, 3}, {2, 4}};
  in.group_count = 5;
  Reply merged = exists->merge(in, conn);
  REQUIRE(merged.ok());
  CHECK(merged.value == I(3));

  const CommandSpec* del = shard.registry().FindByName("DEL");
  MergeInput din;
  din.parts.push_back(shard.Run("DEL", {S("a"), S("x")}));
  din.parts.push_back(shard.Run("DEL", {S("c")}, &other));
  din.groups = {{0, 1}, {2}};
  din.group_count = 3;
  merged = del->merge(din, conn);
  REQUIRE(merged.ok());
  CHECK(merged.value == I(2));
}

TEST_CASE("INCR and DECR on integers", "[core_family]") {
  Shard shard;
  CHECK(shard.Ok("INCR", {S("n")}) == I(1));
  CHECK(shard.Ok("INCR", {S("n")}) == I(2));
  CHECK(shard.Ok("INCR", {S("n"), I(40)}) == I(42));
  CHECK(shard.Ok("INCR", {S("n"), S("-2")}) == I(40));
  CHECK(shard.Ok("DECR", {S("n")}) == I(39));
  CHECK(shard.Ok("DECR", {S("n"), I(40)}) == I(-1));
  CHECK(shard.Ok("DECR", {S("fresh")}) == I(-1));
  CHECK(shard.Ok("GET", {S("n")}) == I(-1));
  // A string holding an integer counts as that integer, and becomes an int.
  shard.Ok("SET", {S("s"), S("41")});
  CHECK(shard.Ok("INCR", {S("s")}) == I(42));
  CHECK(shard.Ok("GET", {S("s")}) == I(42));
  shard.Ok("SET", {S("b"), Value::Bytes("-3")});
  CHECK(shard.Ok("INCR", {S("b")}) == I(-2));
}

TEST_CASE("INCR and DECR with decimals are exact", "[core_family]") {
  Shard shard;
  shard.Ok("SET", {S("price"), D("1.10")});
  CHECK(shard.Ok("INCR", {S("price"), I(2)}) == D("3.10"));
  CHECK(shard.Ok("INCR", {S("price"), D("0.05")}) == D("3.15"));
  CHECK(shard.Ok("DECR", {S("price"), S("0.15")}) == D("3.00"));
  CHECK(shard.Ok("GET", {S("price")}) == D("3.00"));
  // int + Decimal is a Decimal.
  shard.Ok("SET", {S("i"), I(1)});
  CHECK(shard.Ok("INCR", {S("i"), D("0.1")}) == D("1.1"));
  CHECK(shard.Ok("INCR", {S("absent"), D("-0.50")}) == D("-0.50"));
  // Text holding a decimal counts as that decimal.
  shard.Ok("SET", {S("t"), S("2.50")});
  CHECK(shard.Ok("INCR", {S("t")}) == D("3.50"));
  CHECK(shard.Ok("DECR", {S("t"), D("3.5")}) == D("0.00"));
}

TEST_CASE("INCR errors leave the value unchanged", "[core_family]") {
  Shard shard;
  shard.Ok("SET", {S("text"), S("abc")});
  shard.Ok("SET", {S("dbl"), Value::Double(1.5)});
  shard.Ok("SET", {S("list"), Value::List({I(1)})});
  for (const char* key : {"text", "dbl", "list"}) {
    INFO(key);
    Value before = shard.Ok("GET", {S(key)});
    CHECK(shard.Err("INCR", {S(key)}).code == Code::kWrongType);
    CHECK(shard.Err("DECR", {S(key), I(2)}).code == Code::kWrongType);
    CHECK(shard.Ok("GET", {S(key)}) == before);
  }
  shard.Ok("SET", {S("max"), I(INT64_MAX)});
  CHECK(shard.Err("INCR", {S("max")}).code == Code::kOverflow);
  CHECK(shard.Ok("GET", {S("max")}) == I(INT64_MAX));
  shard.Ok("SET", {S("min"), I(INT64_MIN)});
  CHECK(shard.Err("DECR", {S("min")}).code == Code::kOverflow);
  CHECK(shard.Err("DECR", {S("zero"), I(INT64_MIN)}).error == "decrement would overflow");
  CHECK(shard.Ok("EXISTS", {S("zero")}) == I(0));
  // A Decimal result with more than 38 digits is an overflow, never rounded.
  shard.Ok("SET", {S("big"), D("99999999999999999999999999999999999999")});
  CHECK(shard.Err("INCR", {S("big")}).code == Code::kOverflow);
  // A bad increment.
  CHECK(shard.Err("INCR", {S("n"), S("abc")}).code == Code::kInvalidArgument);
  CHECK(shard.Err("INCR", {S("n"), Value::Double(1.0)}).code == Code::kInvalidArgument);
  CHECK(shard.Err("INCR", {S("n"), S("1e999999999")}).code == Code::kOverflow);
  CHECK(shard.Ok("EXISTS", {S("n")}) == I(0));
}

TEST_CASE("INCR keeps the key's expiry", "[core_family]") {
  Shard shard;
  shard.Ok("SET", {S("n"), I(1), S("EX"), I(100)});
  CHECK(shard.Ok("INCR", {S("n")}) == I(2));
  CHECK(shard.Ok("TTL", {S("n")}) == I(100));
}

TEST_CASE("TTL and PTTL", "[core_family]") {
  Shard shard;
  CHECK(shard.Ok("TTL", {S("missing")}) == I(-2));
  CHECK(shard.Ok("PTTL", {S("missing")}) == I(-2));
  shard.Ok("SET", {S("forever"), S("v")});
  CHECK(shard.Ok("TTL", {S("forever")}) == I(-1));
  CHECK(shard.Ok("PTTL", {S("forever")}) == I(-1));
  shard.Ok("SET", {S("k"), S("v"), S("PX"), I(10'000)});
  shard.now += 1'400;
  CHECK(shard.Ok("PTTL", {S("k")}) == I(8'600));
  CHECK(shard.Ok("TTL", {S("k")}) == I(9));  // 8.6 s rounds to 9
  shard.now += 1'200;
  CHECK(shard.Ok("TTL", {S("k")}) == I(7));  // 7.4 s rounds to 7
  shard.now = kStart + 10'000;
  CHECK(shard.Ok("TTL", {S("k")}) == I(-2));
}

TEST_CASE("EXPIRE and PEXPIRE with NX, XX, GT, LT", "[core_family]") {
  Shard shard;
  CHECK(shard.Ok("EXPIRE", {S("missing"), I(10)}) == I(0));
  shard.Ok("SET", {S("k"), S("v")});
  CHECK(shard.Ok("EXPIRE", {S("k"), I(10), S("XX")}) == I(0));  // no expiry yet
  CHECK(shard.Ok("EXPIRE", {S("k"), I(10), S("GT")}) == I(0));  // none counts as infinite
  CHECK(shard.Ok("TTL", {S("k")}) == I(-1));
  CHECK(shard.Ok("EXPIRE", {S("k"), S("10"), S("nx")}) == I(1));
  CHECK(shard.Ok("PTTL", {S("k")}) == I(10'000));
  CHECK(shard.Ok("EXPIRE", {S("k"), I(20), S("NX")}) == I(0));
  CHECK(shard.Ok("EXPIRE", {S("k"), I(5), S("GT")}) == I(0));
  CHECK(shard.Ok("EXPIRE", {S("k"), I(20), S("GT")}) == I(1));
  CHECK(shard.Ok("TTL", {S("k")}) == I(20));
  CHECK(shard.Ok("EXPIRE", {S("k"), I(30), S("LT")}) == I(0));
  CHECK(shard.Ok("PEXPIRE", {S("k"), I(1'500), S("LT")}) == I(1));
  CHECK(shard.Ok("PTTL", {S("k")}) == I(1'500));
  CHECK(shard.Ok("PEXPIRE", {S("k"), I(2'500), S("XX")}) == I(1));
  CHECK(shard.Ok("PTTL", {S("k")}) == I(2'500));
  CHECK(shard.Ok("GET", {S("k")}) == S("v"));  // the value is untouched
  shard.Ok("SET", {S("k2"), S("v")});
  CHECK(shard.Ok("EXPIRE", {S("k2"), I(30), S("LT")}) == I(1));  // none counts as infinite
  CHECK(shard.Ok("TTL", {S("k2")}) == I(30));
}

TEST_CASE("EXPIRE with a time not in the future deletes the key", "[core_family]") {
  Shard shard;
  shard.Ok("SET", {S("a"), S("v")});
  shard.Ok("SET", {S("b"), S("v")});
  CHECK(shard.Ok("EXPIRE", {S("a"), I(0)}) == I(1));
  CHECK(shard.Ok("EXISTS", {S("a")}) == I(0));
  CHECK(shard.Ok("PEXPIRE", {S("b"), I(-100)}) == I(1));
  CHECK(shard.Ok("GET", {S("b")}).is_null());
}

TEST_CASE("EXPIRE rejects bad arguments", "[core_family]") {
  Shard shard;
  shard.Ok("SET", {S("k"), S("v")});
  CHECK(shard.Err("EXPIRE", {S("k"), S("ten")}).error == "value is not an integer or out of range");
  CHECK(shard.Err("EXPIRE", {S("k"), D("1.5")}).code == Code::kInvalidArgument);
  CHECK(shard.Err("EXPIRE", {S("k"), I(10), S("SOMETIMES")}).error ==
        "Unsupported option SOMETIMES");
  CHECK(shard.Err("EXPIRE", {S("k"), I(INT64_MAX)}).error ==
        "invalid expire time in 'expire' command");
  CHECK(shard.Err("PEXPIRE", {S("k"), I(INT64_MAX - kStart + 1)}).error ==
        "invalid expire time in 'pexpire' command");
  CHECK(shard.Ok("TTL", {S("k")}) == I(-1));
}

TEST_CASE("PERSIST removes an expiry", "[core_family]") {
  Shard shard;
  CHECK(shard.Ok("PERSIST", {S("missing")}) == I(0));
  shard.Ok("SET", {S("k"), S("v")});
  CHECK(shard.Ok("PERSIST", {S("k")}) == I(0));
  shard.Ok("EXPIRE", {S("k"), I(5)});
  CHECK(shard.Ok("PERSIST", {S("k")}) == I(1));
  CHECK(shard.Ok("TTL", {S("k")}) == I(-1));
  shard.now += 10'000;
  CHECK(shard.Ok("GET", {S("k")}) == S("v"));
}

TEST_CASE("expired keys are absent to every command", "[core_family]") {
  Shard shard;
  shard.Ok("SET", {S("k"), I(5), S("PX"), I(100)});
  shard.now += 100;
  CHECK(shard.Ok("GET", {S("k")}).is_null());
  CHECK(shard.Ok("EXISTS", {S("k")}) == I(0));
  CHECK(shard.Ok("TTL", {S("k")}) == I(-2));
  CHECK(shard.Ok("PERSIST", {S("k")}) == I(0));
  CHECK(shard.Ok("EXPIRE", {S("k"), I(100)}) == I(0));
  CHECK(shard.Ok("DEL", {S("k")}) == I(0));
  shard.Ok("SET", {S("n"), I(5), S("PX"), I(100)});
  shard.now += 100;
  CHECK(shard.Ok("INCR", {S("n")}) == I(1));  // counts from zero, without the old expiry
  CHECK(shard.Ok("TTL", {S("n")}) == I(-1));
  shard.Ok("SET", {S("x"), S("old"), S("PX"), I(100)});
  shard.now += 100;
  CHECK(shard.Ok("SET", {S("x"), S("new"), S("XX")}).is_null());
  CHECK(shard.Ok("SET", {S("x"), S("new"), S("NX"), S("GET")}).is_null());
  CHECK(shard.Ok("GET", {S("x")}) == S("new"));
}

TEST_CASE("namespaces keep keys apart", "[core_family]") {
  Shard shard;
  shard.Ok("SET", {S("k"), S("default")});
  shard.ns = "tenant-a";
  CHECK(shard.Ok("GET", {S("k")}).is_null());
  shard.Ok("SET", {S("k"), S("a")});
  CHECK(shard.Ok("INCR", {S("n")}) == I(1));
  shard.ns = "tenant-b";
  CHECK(shard.Ok("EXISTS", {S("k"), S("n")}) == I(0));
  CHECK(shard.Ok("DEL", {S("k")}) == I(0));
  shard.ns = "";
  CHECK(shard.Ok("GET", {S("k")}) == S("default"));
  CHECK(shard.Ok("EXISTS", {S("n")}) == I(0));
  shard.ns = "tenant-a";
  CHECK(shard.Ok("GET", {S("k")}) == S("a"));
  CHECK(shard.Ok("DEL", {S("k"), S("n")}) == I(2));
  shard.ns = "";
  CHECK(shard.Ok("GET", {S("k")}) == S("default"));
}

// -- The commands Redis users expect, by name (no opcode).

TEST_CASE("the Redis-named core commands are registered by name only", "[core_family]") {
  Shard shard;
  const CommandRegistry& r = shard.registry();
  struct Expected {
    const char* name;
    int min_args, max_args;
    uint32_t flags;
  };
  const Expected expected[] = {
      {"UNLINK", 1, -1, kCmdWrite | kCmdAllowOom},
      {"GETDEL", 1, 1, kCmdWrite | kCmdStoredReply},
      {"SETNX", 2, 2, kCmdWrite},
      {"SETEX", 3, 3, kCmdWrite},
      {"PSETEX", 3, 3, kCmdWrite},
      {"INCRBY", 2, 2, kCmdWrite},
      {"DECRBY", 2, 2, kCmdWrite},
      {"INCRBYFLOAT", 2, 2, kCmdWrite},
  };
  for (const Expected& e : expected) {
    INFO(e.name);
    const CommandSpec* cmd = r.FindByName(e.name);
    REQUIRE(cmd != nullptr);
    CHECK(cmd->opcode == 0);
    CHECK(cmd->min_args == e.min_args);
    CHECK(cmd->max_args == e.max_args);
    CHECK((cmd->flags & e.flags) == e.flags);
    CHECK(cmd->keys.first == 0);
  }
  CHECK(static_cast<bool>(r.FindByName("UNLINK")->merge));
  // Replies of stored values are marked so (RESP shows their numbers as strings).
  for (const char* stored : {"GET", "SET", "GETDEL", "MGET", "LPOP", "RPOP", "LRANGE", "BLPOP"}) {
    INFO(stored);
    CHECK((r.FindByName(stored)->flags & kCmdStoredReply) != 0);
  }
  for (const char* counted : {"INCR", "DEL", "TTL", "LLEN", "RPUSH", "INCRBYFLOAT"}) {
    INFO(counted);
    CHECK((r.FindByName(counted)->flags & kCmdStoredReply) == 0);
  }
}

TEST_CASE("UNLINK, GETDEL, SETNX, SETEX and PSETEX", "[core_family]") {
  Shard shard;
  shard.Ok("SET", {S("a"), I(1)});
  shard.Ok("SET", {S("b"), I(2)});
  CHECK(shard.Ok("UNLINK", {S("a"), S("b"), S("c")}) == I(2));

  shard.Ok("SET", {S("g"), D("1.10")});
  CHECK(shard.Ok("GETDEL", {S("g")}) == D("1.10"));
  CHECK(shard.Ok("EXISTS", {S("g")}) == I(0));
  CHECK(shard.Ok("GETDEL", {S("g")}).is_null());

  CHECK(shard.Ok("SETNX", {S("n"), S("first")}) == I(1));
  CHECK(shard.Ok("SETNX", {S("n"), S("second")}) == I(0));
  CHECK(shard.Ok("GET", {S("n")}) == S("first"));

  CHECK(shard.Ok("SETEX", {S("e"), S("10"), S("v")}) == S("OK"));
  CHECK(shard.Ok("PTTL", {S("e")}) == I(10000));
  CHECK(shard.Ok("PSETEX", {S("p"), I(1500), S("v")}) == S("OK"));
  CHECK(shard.Ok("PTTL", {S("p")}) == I(1500));
  CHECK(shard.Err("SETEX", {S("e"), I(0), S("v")}).error ==
        "invalid expire time in 'setex' command");
  CHECK(shard.Err("PSETEX", {S("e"), I(-1), S("v")}).error ==
        "invalid expire time in 'psetex' command");
  CHECK(shard.Err("SETEX", {S("e"), S("ten"), S("v")}).error ==
        "value is not an integer or out of range");
  shard.now += 1500;
  CHECK(shard.Ok("GET", {S("p")}).is_null());
  CHECK(shard.Ok("GET", {S("e")}) == S("v"));
}

TEST_CASE("INCRBY and DECRBY take integers, as Redis", "[core_family]") {
  Shard shard;
  // What a RESP client wrote is bytes; a number in it counts as the number.
  shard.Ok("SET", {S("n"), Value::Bytes("10")});
  CHECK(shard.Ok("INCR", {S("n")}) == I(11));
  CHECK(shard.Ok("INCRBY", {S("n"), Value::Bytes("5")}) == I(16));
  CHECK(shard.Ok("DECRBY", {S("n"), I(20)}) == I(-4));
  CHECK(shard.Err("INCRBY", {S("n"), S("1.5")}).error == "value is not an integer or out of range");
  CHECK(shard.Err("DECRBY", {S("n"), I(INT64_MIN)}).error == "decrement would overflow");
  shard.Ok("SET", {S("big"), I(INT64_MAX)});
  CHECK(shard.Err("INCRBY", {S("big"), I(1)}).code == Code::kOverflow);
  // A Decimal stored by a typed client stays exact.
  shard.Ok("SET", {S("price"), D("1.10")});
  CHECK(shard.Ok("INCRBY", {S("price"), I(2)}) == D("3.10"));
}

TEST_CASE("INCRBYFLOAT computes as Redis and stores Redis's text", "[core_family]") {
  Shard shard;
  CHECK(shard.Ok("INCRBYFLOAT", {S("f"), S("10.5")}) == S("10.5"));
  CHECK(shard.Ok("INCRBYFLOAT", {S("f"), S("0.1")}) == S("10.6"));
  CHECK(shard.Ok("GET", {S("f")}) == S("10.6"));
  CHECK(shard.Ok("INCRBYFLOAT", {S("f"), S("-10.6")}) == S("0"));
  CHECK(shard.Ok("INCRBYFLOAT", {S("f"), S("5.0e3")}) == S("5000"));
  // Typed values: an int, a Decimal, a double, and increments of any number type.
  shard.Ok("SET", {S("i"), I(3)});
  CHECK(shard.Ok("INCRBYFLOAT", {S("i"), D("0.25")}) == S("3.25"));
  shard.Ok("SET", {S("d"), D("1.10")});
  CHECK(shard.Ok("INCRBYFLOAT", {S("d"), I(1)}) == S("2.1"));
  shard.Ok("SET", {S("x"), Value::Double(0.5)});
  CHECK(shard.Ok("INCRBYFLOAT", {S("x"), Value::Double(0.25)}) == S("0.75"));
  // And what it stored counts for INCR (exactly, as a decimal).
  CHECK(shard.Ok("INCR", {S("d")}) == D("3.1"));

  const std::string not_float = "value is not a valid float";
  CHECK(shard.Err("INCRBYFLOAT", {S("f"), S("abc")}).error == not_float);
  CHECK(shard.Err("INCRBYFLOAT", {S("f"), S(" 1")}).error == not_float);
  CHECK(shard.Err("INCRBYFLOAT", {S("f"), S("nan")}).error == not_float);
  CHECK(shard.Err("INCRBYFLOAT", {S("f"), S("1e99999")}).error == not_float);
  CHECK(shard.Err("INCRBYFLOAT", {S("f"), S("inf")}).error ==
        "increment would produce NaN or Infinity");
  shard.Ok("SET", {S("s"), S("text")});
  CHECK(shard.Err("INCRBYFLOAT", {S("s"), I(1)}).error == not_float);
  shard.Ok("RPUSH", {S("l"), S("a")});
  CHECK(shard.Err("INCRBYFLOAT", {S("l"), I(1)}).code == Code::kWrongType);
  CHECK(shard.Err("INCRBYFLOAT", {S("new"), S("x")}).error == not_float);
  CHECK(shard.Ok("EXISTS", {S("new")}) == I(0));  // a failed INCRBYFLOAT creates nothing
}

TEST_CASE("INCR of text that is not a number: WRONGTYPE with Redis's text", "[core_family]") {
  Shard shard;
  shard.Ok("SET", {S("text"), S("abc")});
  shard.Ok("SET", {S("bytes"), Value::Bytes("12x")});
  for (const char* key : {"text", "bytes"}) {
    INFO(key);
    for (const char* cmd : {"INCR", "DECR"}) {
      const Reply r = shard.Err(cmd, {S(key)});
      CHECK(r.code == Code::kWrongType);  // the binary protocol's code, unchanged
      CHECK(r.error == "value is not an integer or out of range");  // RESP: -ERR, as Redis
    }
    CHECK(shard.Err("INCRBY", {S(key), I(2)}).error == "value is not an integer or out of range");
  }
  CHECK(shard.Ok("GET", {S("text")}) == S("abc"));
  // Other types keep Redis's WRONGTYPE text.
  shard.Ok("SET", {S("list"), Value::List({I(1)})});
  CHECK(shard.Err("INCR", {S("list")}).error == Status::WrongType().message());
  shard.Ok("SET", {S("dbl"), Value::Double(1.5)});
  CHECK(shard.Err("INCR", {S("dbl")}).error == Status::WrongType().message());
}

TEST_CASE("GETSET stores the value without expiry and returns the old one", "[core_family]") {
  Shard shard;
  const CommandSpec* cmd = shard.registry().FindByName("GETSET");
  REQUIRE(cmd != nullptr);
  CHECK((cmd->flags & kCmdStoredReply) != 0);
  CHECK((cmd->flags & kCmdNoLoad) == 0);  // it reads the old value
  CHECK(shard.Ok("GETSET", {S("k"), S("one")}).is_null());
  CHECK(shard.Ok("GET", {S("k")}) == S("one"));
  shard.Ok("SET", {S("k"), I(7), S("EX"), I(100)});
  CHECK(shard.Ok("GETSET", {S("k"), D("1.10")}) == I(7));
  CHECK(shard.Ok("GET", {S("k")}) == D("1.10"));
  CHECK(shard.Ok("TTL", {S("k")}) == I(-1));  // as SET: the expiry is gone
  CHECK(shard.Err("GETSET", {S("k")}).code == Code::kInvalidArgument);
}

}  // namespace
}  // namespace dbkv::testing
