// The hash family through the plugin API: replies and errors as Redis 7's.
#include "plugins/hash_family.h"

#include <catch2/catch.hpp>
#include <string>

#include "plugins/shard_fixture.h"

namespace dbkv::testing {
namespace {

Value Bin(std::string_view s) { return Value::Bytes(s); }

}  // namespace

TEST_CASE("HSET, HGET, HMGET, HGETALL, HKEYS, HVALS, HLEN, HEXISTS, HSTRLEN", "[hash_family]") {
  Shard shard;
  CHECK(shard.Ok("HSET", {Bin("h"), Bin("a"), Bin("1"), Bin("b"), Bin("2")}) == I(2));
  CHECK(shard.Ok("HSET", {Bin("h"), Bin("a"), Bin("10"), Bin("c"), Bin("3")}) == I(1));
  CHECK(shard.Ok("HGET", {Bin("h"), Bin("a")}) == Bin("10"));
  CHECK(shard.Ok("HGET", {Bin("h"), Bin("zz")}).is_null());
  CHECK(shard.Ok("HGET", {Bin("missing"), Bin("a")}).is_null());
  CHECK(shard.Ok("HMGET", {Bin("h"), Bin("c"), Bin("zz"), Bin("a")}) ==
        L({Bin("3"), Value(), Bin("10")}));
  CHECK(shard.Ok("HMGET", {Bin("missing"), Bin("a")}) == L({Value()}));
  CHECK(shard.Ok("HGETALL", {Bin("h")}) ==
        Value::Map({{Bin("a"), Bin("10")}, {Bin("b"), Bin("2")}, {Bin("c"), Bin("3")}}));
  CHECK(shard.Ok("HGETALL", {Bin("missing")}) == Value::Map({}));
  CHECK(shard.Ok("HKEYS", {Bin("h")}) == L({Bin("a"), Bin("b"), Bin("c")}));
  CHECK(shard.Ok("HVALS", {Bin("h")}) == L({Bin("10"), Bin("2"), Bin("3")}));
  CHECK(shard.Ok("HLEN", {Bin("h")}) == I(3));
  CHECK(shard.Ok("HLEN", {Bin("missing")}) == I(0));
  CHECK(shard.Ok("HEXISTS", {Bin("h"), Bin("b")}) == I(1));
  CHECK(shard.Ok("HEXISTS", {Bin("h"), Bin("zz")}) == I(0));
  CHECK(shard.Ok("HSTRLEN", {Bin("h"), Bin("a")}) == I(2));
  CHECK(shard.Ok("HSTRLEN", {Bin("h"), Bin("zz")}) == I(0));
  CHECK(shard.Ok("TYPE", {Bin("h")}) == S("hash"));
  // A field is matched by its text: the typed int 5 is RESP's "5".
  CHECK(shard.Ok("HSET", {Bin("h"), I(5), Bin("five")}) == I(1));
  CHECK(shard.Ok("HGET", {Bin("h"), Bin("5")}) == Bin("five"));
  // Arity as Redis counts it.
  CHECK(shard.Err("HSET", {Bin("h"), Bin("a"), Bin("1"), Bin("b")}).error ==
        "wrong number of arguments for 'hset' command");
  CHECK(shard.Ok("HMSET", {Bin("h"), Bin("x"), Bin("y")}) == S("OK"));
  CHECK(shard.Err("HSET", {Bin("h"), L({}), Bin("1")}).error ==
        "hash field must be a string or a number");
  shard.Ok("SET", {Bin("s"), Bin("v")});
  for (const char* cmd : {"HGET", "HEXISTS", "HSTRLEN"}) {
    INFO(cmd);
    CHECK(shard.Err(cmd, {Bin("s"), Bin("a")}).code == Code::kWrongType);
  }
  for (const char* cmd : {"HGETALL", "HKEYS", "HVALS", "HLEN"}) {
    INFO(cmd);
    CHECK(shard.Err(cmd, {Bin("s")}).code == Code::kWrongType);
  }
  CHECK(shard.Err("HSET", {Bin("s"), Bin("a"), Bin("1")}).code == Code::kWrongType);
  CHECK(shard.Ok("GET", {Bin("s")}) == Bin("v"));
}

TEST_CASE("HSETNX and HDEL; an emptied hash is deleted", "[hash_family]") {
  Shard shard;
  CHECK(shard.Ok("HSETNX", {Bin("h"), Bin("a"), Bin("1")}) == I(1));
  CHECK(shard.Ok("HSETNX", {Bin("h"), Bin("a"), Bin("2")}) == I(0));
  CHECK(shard.Ok("HGET", {Bin("h"), Bin("a")}) == Bin("1"));
  shard.Ok("HSET", {Bin("h"), Bin("b"), Bin("2"), Bin("c"), Bin("3")});
  CHECK(shard.Ok("HDEL", {Bin("h"), Bin("a"), Bin("zz"), Bin("a")}) == I(1));
  CHECK(shard.Ok("HDEL", {Bin("h"), Bin("zz")}) == I(0));
  CHECK(shard.Ok("HDEL", {Bin("missing"), Bin("a")}) == I(0));
  CHECK(shard.Ok("HDEL", {Bin("h"), Bin("b"), Bin("c")}) == I(2));
  CHECK(shard.Ok("EXISTS", {Bin("h")}) == I(0));
  // Expiry is kept by field writes.
  shard.Ok("HSET", {Bin("t"), Bin("a"), Bin("1")});
  shard.Ok("EXPIRE", {Bin("t"), I(100)});
  shard.Ok("HSET", {Bin("t"), Bin("b"), Bin("2")});
  shard.Ok("HDEL", {Bin("t"), Bin("a")});
  CHECK(shard.Ok("TTL", {Bin("t")}) == I(100));
  shard.Ok("SET", {Bin("s"), Bin("v")});
  CHECK(shard.Err("HSETNX", {Bin("s"), Bin("a"), Bin("1")}).code == Code::kWrongType);
  CHECK(shard.Err("HDEL", {Bin("s"), Bin("a")}).code == Code::kWrongType);
}

TEST_CASE("HINCRBY and HINCRBYFLOAT", "[hash_family]") {
  Shard shard;
  CHECK(shard.Ok("HINCRBY", {Bin("h"), Bin("n"), I(5)}) == I(5));
  CHECK(shard.Ok("HINCRBY", {Bin("h"), Bin("n"), Bin("-7")}) == I(-2));
  shard.Ok("HSET", {Bin("h"), Bin("t"), Bin("41"), Bin("x"), Bin("abc"), Bin("big"),
                    Bin("9223372036854775807")});
  CHECK(shard.Ok("HINCRBY", {Bin("h"), Bin("t"), I(1)}) == I(42));
  CHECK(shard.Err("HINCRBY", {Bin("h"), Bin("x"), I(1)}).error == "hash value is not an integer");
  CHECK(shard.Err("HINCRBY", {Bin("h"), Bin("big"), I(1)}).error ==
        "increment or decrement would overflow");
  CHECK(shard.Err("HINCRBY", {Bin("h"), Bin("t"), Bin("1.5")}).error ==
        "value is not an integer or out of range");
  CHECK(shard.Ok("HINCRBYFLOAT", {Bin("h"), Bin("f"), Bin("10.5")}) == S("10.5"));
  CHECK(shard.Ok("HINCRBYFLOAT", {Bin("h"), Bin("f"), Bin("0.1")}) == S("10.6"));
  CHECK(shard.Ok("HINCRBYFLOAT", {Bin("h"), Bin("t"), Bin("5.0e3")}) == S("5042"));
  CHECK(shard.Err("HINCRBYFLOAT", {Bin("h"), Bin("x"), Bin("1")}).error ==
        "hash value is not a float");
  CHECK(shard.Err("HINCRBYFLOAT", {Bin("h"), Bin("f"), Bin("abc")}).error ==
        "value is not a valid float");
  CHECK(shard.Err("HINCRBYFLOAT", {Bin("h"), Bin("f"), Bin("inf")}).error ==
        "value is NaN or Infinity");
  shard.Ok("HSET", {Bin("h"), Bin("huge"), Bin("1e4932")});
  CHECK(shard.Err("HINCRBYFLOAT", {Bin("h"), Bin("huge"), Bin("1e4932")}).error ==
        "increment would produce NaN or Infinity");
  CHECK(shard.Ok("HGET", {Bin("h"), Bin("f")}) == S("10.6"));
  shard.Ok("SET", {Bin("s"), Bin("v")});
  CHECK(shard.Err("HINCRBY", {Bin("s"), Bin("a"), I(1)}).code == Code::kWrongType);
}

TEST_CASE("HSCAN and HRANDFIELD", "[hash_family]") {
  Shard shard;
  shard.Ok("HSET",
           {Bin("h"), Bin("apple"), Bin("1"), Bin("avocado"), Bin("2"), Bin("banana"), Bin("3")});
  CHECK(
      shard.Ok("HSCAN", {Bin("h"), Bin("0")}) ==
      L({S("0"), L({Bin("apple"), Bin("1"), Bin("avocado"), Bin("2"), Bin("banana"), Bin("3")})}));
  CHECK(shard.Ok("HSCAN", {Bin("h"), Bin("0"), Bin("MATCH"), Bin("a*"), Bin("COUNT"), I(1)}) ==
        L({S("0"), L({Bin("apple"), Bin("1"), Bin("avocado"), Bin("2")})}));
  CHECK(shard.Ok("HSCAN", {Bin("missing"), Bin("0")}) == L({S("0"), L({})}));
  // The key before the options, as Redis: a missing one is an empty scan whatever they are.
  CHECK(shard.Ok("HSCAN", {Bin("missing"), Bin("-1"), Bin("COUNT"), I(0)}) == L({S("0"), L({})}));
  CHECK(shard.Err("HSCAN", {Bin("h"), Bin("x")}).error == "invalid cursor");
  CHECK(shard.Err("HSCAN", {Bin("h"), Bin("0"), Bin("COUNT"), I(0)}).error == "syntax error");
  CHECK(shard.Err("HSCAN", {Bin("h"), Bin("0"), Bin("MATCH")}).error == "syntax error");

  const Value one = shard.Ok("HRANDFIELD", {Bin("h")});
  CHECK((one == Bin("apple") || one == Bin("avocado") || one == Bin("banana")));
  CHECK(shard.Ok("HRANDFIELD", {Bin("missing")}).is_null());
  CHECK(shard.Ok("HRANDFIELD", {Bin("missing"), I(2)}) == L({}));
  CHECK(shard.Ok("HRANDFIELD", {Bin("h"), I(0)}) == L({}));
  // Distinct fields, at most the hash's size.
  const Value all = shard.Ok("HRANDFIELD", {Bin("h"), I(10)});
  CHECK(all.AsList().size() == 3);
  const Value two = shard.Ok("HRANDFIELD", {Bin("h"), I(2)});
  REQUIRE(two.AsList().size() == 2);
  CHECK(two.AsList()[0] != two.AsList()[1]);
  // A negative count may repeat.
  CHECK(shard.Ok("HRANDFIELD", {Bin("h"), I(-7)}).AsList().size() == 7);
  const Value pairs = shard.Ok("HRANDFIELD", {Bin("h"), I(-4), Bin("WITHVALUES")});
  REQUIRE(pairs.AsList().size() == 8);
  for (size_t i = 0; i < 8; i += 2) {
    CHECK(shard.Ok("HGET", {Bin("h"), pairs.AsList()[i]}) == pairs.AsList()[i + 1]);
  }
  CHECK(shard.Err("HRANDFIELD", {Bin("h"), I(1), Bin("VALUES")}).error == "syntax error");
  CHECK(shard.Err("HRANDFIELD", {Bin("h"), I(1), Bin("WITHVALUES"), Bin("x")}).error ==
        "syntax error");
  CHECK(shard.Err("HRANDFIELD", {Bin("h"), I(-(int64_t{1} << 40))}).error ==
        "value is out of range");
  CHECK(shard.Err("HRANDFIELD", {Bin("h"), Bin("x")}).error ==
        "value is not an integer or out of range");
}

}  // namespace dbkv::testing
