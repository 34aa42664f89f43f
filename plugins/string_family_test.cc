// The string family (APPEND, STRLEN, GETRANGE, SETRANGE, GETEX, SETBIT, GETBIT, BITCOUNT) and
// the expiry commands beside EXPIRE (EXPIREAT, PEXPIREAT, EXPIRETIME, PEXPIRETIME, TOUCH),
// through the plugin API. Replies and errors are Redis 7's (checked against redis-server by
// bindings/python/tests/test_differential.py as well).
#include "plugins/string_family.h"

#include <catch2/catch.hpp>
#include <string>

#include "plugins/shard_fixture.h"

namespace dbkv::testing {
namespace {

Value Bin(std::string_view s) { return Value::Bytes(s); }

std::string ErrorText(const Reply& r) { return r.error; }

}  // namespace

TEST_CASE("APPEND concatenates text and keeps its type", "[string_family]") {
  Shard shard;
  CHECK(shard.Ok("APPEND", {Bin("k"), Bin("ab")}) == I(2));
  CHECK(shard.Ok("APPEND", {Bin("k"), Bin("cd")}) == I(4));
  CHECK(shard.Ok("GET", {Bin("k")}) == Bin("abcd"));
  // A typed string stays a string; a number becomes its text.
  shard.Ok("SET", {Bin("s"), S("x")});
  CHECK(shard.Ok("APPEND", {Bin("s"), Bin("y")}) == I(2));
  CHECK(shard.Ok("GET", {Bin("s")}) == S("xy"));
  shard.Ok("SET", {Bin("n"), I(10)});
  CHECK(shard.Ok("APPEND", {Bin("n"), Bin("5")}) == I(3));
  CHECK(shard.Ok("GET", {Bin("n")}) == Bin("105"));
  CHECK(shard.Ok("INCR", {Bin("n")}) == I(106));
  shard.Ok("SET", {Bin("d"), D("1.10")});
  CHECK(shard.Ok("APPEND", {Bin("d"), Bin("0")}) == I(5));
  // Keeps the expiry.
  shard.Ok("SET", {Bin("t"), Bin("v"), Bin("EX"), I(100)});
  shard.Ok("APPEND", {Bin("t"), Bin("w")});
  CHECK(shard.Ok("TTL", {Bin("t")}) == I(100));
  shard.Ok("RPUSH", {Bin("l"), Bin("a")});
  CHECK(shard.Err("APPEND", {Bin("l"), Bin("a")}).code == Code::kWrongType);
  CHECK(shard.Ok("LLEN", {Bin("l")}) == I(1));
}

TEST_CASE("STRLEN and GETRANGE read the text as Redis sees it", "[string_family]") {
  Shard shard;
  CHECK(shard.Ok("STRLEN", {Bin("missing")}) == I(0));
  shard.Ok("SET", {Bin("k"), Bin("Hello World")});
  CHECK(shard.Ok("STRLEN", {Bin("k")}) == I(11));
  shard.Ok("SET", {Bin("n"), I(-123)});
  CHECK(shard.Ok("STRLEN", {Bin("n")}) == I(4));
  const struct {
    int64_t start, end;
    const char* want;
  } cases[] = {
      {0, 4, "Hello"},  {-5, -1, "World"}, {0, -1, "Hello World"},
      {5, 3, ""},       {-1, -5, ""},      {0, 100, "Hello World"},
      {-100, 2, "Hel"}, {20, 30, ""},      {10, 10, "d"},
  };
  for (const auto& c : cases) {
    INFO(c.start << " " << c.end);
    CHECK(shard.Ok("GETRANGE", {Bin("k"), I(c.start), I(c.end)}) == Bin(c.want));
  }
  CHECK(shard.Ok("SUBSTR", {Bin("k"), I(0), I(0)}) == Bin("H"));
  CHECK(shard.Ok("GETRANGE", {Bin("n"), I(1), I(2)}) == S("12"));
  CHECK(shard.Ok("GETRANGE", {Bin("missing"), I(0), I(-1)}) == Bin(""));
  CHECK(ErrorText(shard.Err("GETRANGE", {Bin("k"), Bin("a"), I(1)})) ==
        "value is not an integer or out of range");
  shard.Ok("RPUSH", {Bin("l"), Bin("a")});
  CHECK(shard.Err("STRLEN", {Bin("l")}).code == Code::kWrongType);
  CHECK(shard.Err("GETRANGE", {Bin("l"), I(0), I(1)}).code == Code::kWrongType);
}

TEST_CASE("SETRANGE overwrites, pads with zero bytes and refuses what Redis refuses",
          "[string_family]") {
  Shard shard;
  shard.Ok("SET", {Bin("k"), Bin("Hello World")});
  CHECK(shard.Ok("SETRANGE", {Bin("k"), I(6), Bin("Redis")}) == I(11));
  CHECK(shard.Ok("GET", {Bin("k")}) == Bin("Hello Redis"));
  CHECK(shard.Ok("SETRANGE", {Bin("pad"), I(3), Bin("x")}) == I(4));
  CHECK(shard.Ok("GET", {Bin("pad")}) == Bin(std::string("\0\0\0x", 4)));
  // An empty value changes nothing and creates nothing.
  CHECK(shard.Ok("SETRANGE", {Bin("none"), I(5), Bin("")}) == I(0));
  CHECK(shard.Ok("EXISTS", {Bin("none")}) == I(0));
  CHECK(shard.Ok("SETRANGE", {Bin("k"), I(100), Bin("")}) == I(11));
  CHECK(ErrorText(shard.Err("SETRANGE", {Bin("k"), I(-1), Bin("x")})) == "offset is out of range");
  CHECK(ErrorText(shard.Err("SETRANGE", {Bin("k"), I(512 << 20), Bin("x")})) ==
        "string exceeds maximum allowed size (proto-max-bulk-len)");
  CHECK(ErrorText(shard.Err("SETRANGE", {Bin("k"), Bin("x"), Bin("x")})) ==
        "value is not an integer or out of range");
  shard.Ok("RPUSH", {Bin("l"), Bin("a")});
  CHECK(shard.Err("SETRANGE", {Bin("l"), I(0), Bin("")}).code == Code::kWrongType);
}

TEST_CASE("GETEX reads and changes the expiry", "[string_family]") {
  Shard shard;
  CHECK(shard.Ok("GETEX", {Bin("missing"), Bin("EX"), I(-5)}).is_null());
  shard.Ok("SET", {Bin("k"), Bin("v")});
  CHECK(shard.Ok("GETEX", {Bin("k")}) == Bin("v"));
  CHECK(shard.Ok("TTL", {Bin("k")}) == I(-1));
  CHECK(shard.Ok("GETEX", {Bin("k"), Bin("ex"), I(50)}) == Bin("v"));
  CHECK(shard.Ok("TTL", {Bin("k")}) == I(50));
  CHECK(shard.Ok("GETEX", {Bin("k"), Bin("PX"), I(20'000)}) == Bin("v"));
  CHECK(shard.Ok("PTTL", {Bin("k")}) == I(20'000));
  CHECK(shard.Ok("GETEX", {Bin("k"), Bin("PXAT"), I(kStart + 5'000)}) == Bin("v"));
  CHECK(shard.Ok("PTTL", {Bin("k")}) == I(5'000));
  CHECK(shard.Ok("GETEX", {Bin("k"), Bin("EXAT"), I(kStart / 1000 + 9)}) == Bin("v"));
  CHECK(shard.Ok("TTL", {Bin("k")}) == I(9));
  CHECK(shard.Ok("GETEX", {Bin("k"), Bin("PERSIST")}) == Bin("v"));
  CHECK(shard.Ok("TTL", {Bin("k")}) == I(-1));
  CHECK(ErrorText(shard.Err("GETEX", {Bin("k"), Bin("EX"), I(0)})) ==
        "invalid expire time in 'getex' command");
  CHECK(ErrorText(shard.Err("GETEX", {Bin("k"), Bin("EX"), Bin("x")})) ==
        "value is not an integer or out of range");
  CHECK(ErrorText(shard.Err("GETEX", {Bin("k"), Bin("EX"), I(1), Bin("PERSIST")})) ==
        "syntax error");
  CHECK(ErrorText(shard.Err("GETEX", {Bin("k"), Bin("EX")})) == "syntax error");
  // An option may repeat (the last one counts), not mix with another; a list is WRONGTYPE.
  CHECK(shard.Ok("GETEX", {Bin("k"), Bin("EX"), I(5), Bin("EX"), I(7)}) == Bin("v"));
  CHECK(shard.Ok("TTL", {Bin("k")}) == I(7));
  CHECK(shard.Ok("GETEX", {Bin("k"), Bin("PERSIST"), Bin("PERSIST")}) == Bin("v"));
  CHECK(shard.Err("GETEX", {Bin("k"), Bin("EX"), I(5), Bin("PX"), I(7)}).error == "syntax error");
  shard.Ok("RPUSH", {Bin("list"), Bin("a")});
  CHECK(shard.Err("GETEX", {Bin("list")}).code == Code::kWrongType);
  // An absolute time in the past deletes the key, the value still given.
  CHECK(shard.Ok("GETEX", {Bin("k"), Bin("PXAT"), I(1)}) == Bin("v"));
  CHECK(shard.Ok("EXISTS", {Bin("k")}) == I(0));
}

TEST_CASE("SETBIT, GETBIT and BITCOUNT count bits as Redis does", "[string_family]") {
  Shard shard;
  CHECK(shard.Ok("SETBIT", {Bin("b"), I(7), I(1)}) == I(0));
  CHECK(shard.Ok("GET", {Bin("b")}) == Bin("\x01"));
  CHECK(shard.Ok("SETBIT", {Bin("b"), I(7), I(0)}) == I(1));
  CHECK(shard.Ok("SETBIT", {Bin("b"), I(0), I(1)}) == I(0));
  CHECK(shard.Ok("GET", {Bin("b")}) == Bin("\x80"));
  CHECK(shard.Ok("SETBIT", {Bin("b"), I(17), I(1)}) == I(0));
  CHECK(shard.Ok("STRLEN", {Bin("b")}) == I(3));
  CHECK(shard.Ok("GETBIT", {Bin("b"), I(0)}) == I(1));
  CHECK(shard.Ok("GETBIT", {Bin("b"), I(1)}) == I(0));
  CHECK(shard.Ok("GETBIT", {Bin("b"), I(17)}) == I(1));
  CHECK(shard.Ok("GETBIT", {Bin("b"), I(1000)}) == I(0));
  CHECK(shard.Ok("GETBIT", {Bin("missing"), I(3)}) == I(0));
  CHECK(ErrorText(shard.Err("SETBIT", {Bin("b"), I(-1), I(1)})) ==
        "bit offset is not an integer or out of range");
  CHECK(ErrorText(shard.Err("SETBIT", {Bin("b"), I(int64_t{1} << 32), I(1)})) ==
        "bit offset is not an integer or out of range");
  CHECK(ErrorText(shard.Err("SETBIT", {Bin("b"), I(1), I(2)})) ==
        "bit is not an integer or out of range");

  shard.Ok("SET", {Bin("s"), Bin("foobar")});
  CHECK(shard.Ok("BITCOUNT", {Bin("s")}) == I(26));
  CHECK(shard.Ok("BITCOUNT", {Bin("s"), I(0), I(0)}) == I(4));
  CHECK(shard.Ok("BITCOUNT", {Bin("s"), I(1), I(1)}) == I(6));
  CHECK(shard.Ok("BITCOUNT", {Bin("s"), I(1), I(1), Bin("BYTE")}) == I(6));
  CHECK(shard.Ok("BITCOUNT", {Bin("s"), I(5), I(30), Bin("BIT")}) == I(17));
  CHECK(shard.Ok("BITCOUNT", {Bin("s"), I(-2), I(-1)}) == I(7));
  CHECK(shard.Ok("BITCOUNT", {Bin("s"), I(-1), I(-2)}) == I(0));
  CHECK(shard.Ok("BITCOUNT", {Bin("missing")}) == I(0));
  CHECK(ErrorText(shard.Err("BITCOUNT", {Bin("s"), I(0)})) == "syntax error");
  CHECK(shard.Ok("BITCOUNT", {Bin("missing"), I(0)}) == I(0));  // the key first, as Redis 7.0
  CHECK(shard.Ok("BITCOUNT", {Bin("s"), I(-1), I(-2), Bin("FOO")}) == I(0));
  CHECK(ErrorText(shard.Err("BITCOUNT", {Bin("s"), I(0), I(1), Bin("BITS")})) == "syntax error");
  shard.Ok("RPUSH", {Bin("l"), Bin("a")});
  CHECK(shard.Err("SETBIT", {Bin("l"), I(0), I(1)}).code == Code::kWrongType);
  CHECK(shard.Err("BITCOUNT", {Bin("l")}).code == Code::kWrongType);
}

TEST_CASE("EXPIREAT, PEXPIREAT, EXPIRETIME, PEXPIRETIME and TOUCH", "[string_family]") {
  Shard shard;
  shard.Ok("SET", {Bin("k"), Bin("v")});
  CHECK(shard.Ok("EXPIRETIME", {Bin("k")}) == I(-1));
  CHECK(shard.Ok("EXPIRETIME", {Bin("missing")}) == I(-2));
  CHECK(shard.Ok("EXPIREAT", {Bin("k"), I(kStart / 1000 + 100)}) == I(1));
  CHECK(shard.Ok("EXPIRETIME", {Bin("k")}) == I(kStart / 1000 + 100));
  CHECK(shard.Ok("PEXPIRETIME", {Bin("k")}) == I(kStart + 100'000));
  CHECK(shard.Ok("PEXPIREAT", {Bin("k"), I(kStart + 50'000), Bin("GT")}) == I(0));
  CHECK(shard.Ok("PEXPIREAT", {Bin("k"), I(kStart + 50'000), Bin("LT")}) == I(1));
  CHECK(shard.Ok("PEXPIRETIME", {Bin("k")}) == I(kStart + 50'000));
  // Options combine as Redis allows, with its errors for the rest.
  CHECK(shard.Ok("EXPIRE", {Bin("k"), I(500), Bin("GT"), Bin("XX")}) == I(1));
  CHECK(ErrorText(shard.Err("EXPIRE", {Bin("k"), I(5), Bin("NX"), Bin("XX")})) ==
        "NX and XX, GT or LT options at the same time are not compatible");
  CHECK(ErrorText(shard.Err("EXPIRE", {Bin("k"), I(5), Bin("GT"), Bin("LT")})) ==
        "GT and LT options at the same time are not compatible");
  CHECK(ErrorText(shard.Err("EXPIRE", {Bin("k"), I(5), Bin("FOO")})) == "Unsupported option FOO");
  CHECK(ErrorText(shard.Err("EXPIREAT", {Bin("k"), Bin("soon")})) ==
        "value is not an integer or out of range");
  // A time in the past deletes the key.
  CHECK(shard.Ok("EXPIREAT", {Bin("k"), I(1)}) == I(1));
  CHECK(shard.Ok("EXISTS", {Bin("k")}) == I(0));
  CHECK(shard.Ok("EXPIREAT", {Bin("k"), I(kStart / 1000 + 100)}) == I(0));

  shard.Ok("SET", {Bin("a"), Bin("1")});
  shard.Ok("SET", {Bin("b"), Bin("2")});
  CHECK(shard.Ok("TOUCH", {Bin("a"), Bin("b"), Bin("c"), Bin("a")}) == I(3));
}

}  // namespace dbkv::testing
