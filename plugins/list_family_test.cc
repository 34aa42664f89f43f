// The list family through the plugin API, on one shard with a clock the test controls.
#include "plugins/list_family.h"

#include <catch2/catch.hpp>
#include <string>

#include "plugins/shard_fixture.h"
#include "protocol/opcodes.h"

namespace dbkv::testing {
namespace {

namespace op = protocol::op;

const Value kNil;
const Value kEmpty = L({});

TEST_CASE("the list family registers its commands", "[list_family]") {
  Shard shard;
  const CommandRegistry& r = shard.registry();
  const ExpectedCommand expected[] = {
      {"RPUSH", op::kRpush, kCmdWrite, 2, -1},
      {"LPUSH", op::kLpush, kCmdWrite, 2, -1},
      {"LPOP", op::kLpop, kCmdWrite | kCmdAllowOom, 1, 2},
      {"RPOP", op::kRpop, kCmdWrite | kCmdAllowOom, 1, 2},
      {"LRANGE", op::kLrange, kCmdReadOnly, 3, 3},
      {"LLEN", op::kLlen, kCmdReadOnly, 1, 1},
  };
  for (const ExpectedCommand& e : expected) {
    INFO(e.name);
    const CommandSpec* cmd = RequireRegistered(r, e);
    CHECK((cmd->flags & (kCmdConnection | kCmdAllShards | kCmdBlocking)) == 0);
    CHECK(cmd->keys.last == 0);
  }
}

TEST_CASE("RPUSH appends, LPUSH prepends in reverse, as Redis", "[list_family]") {
  Shard shard;
  CHECK(shard.Ok("RPUSH", {S("l"), S("a"), S("b")}) == I(2));
  CHECK(shard.Ok("RPUSH", {S("l"), S("c")}) == I(3));
  CHECK(shard.Ok("LRANGE", {S("l"), I(0), I(-1)}) == L({S("a"), S("b"), S("c")}));
  CHECK(shard.Ok("LPUSH", {S("l"), S("x"), S("y"), S("z")}) == I(6));
  CHECK(shard.Ok("LRANGE", {S("l"), I(0), I(-1)}) ==
        L({S("z"), S("y"), S("x"), S("a"), S("b"), S("c")}));
  CHECK(shard.Ok("LPUSH", {S("new"), S("a"), S("b"), S("c")}) == I(3));
  CHECK(shard.Ok("LRANGE", {S("new"), I(0), I(-1)}) == L({S("c"), S("b"), S("a")}));
  CHECK(shard.Ok("LLEN", {S("l")}) == I(6));
  CHECK(shard.Ok("LLEN", {S("missing")}) == I(0));
}

TEST_CASE("list elements keep their types", "[list_family]") {
  Shard shard;
  const ValueList items{kNil,
                        Value::Bool(true),
                        I(-7),
                        Value::Double(0.5),
                        D("1.10"),
                        S(std::string(100, 's')),
                        Value::Bytes(std::string("\0\1", 2)),
                        L({I(1), L({})})};
  ValueList args{S("l")};
  args.insert(args.end(), items.begin(), items.end());
  CHECK(shard.Ok("RPUSH", args) == I(static_cast<int64_t>(items.size())));
  CHECK(shard.Ok("LRANGE", {S("l"), I(0), I(-1)}) == L(items));
  CHECK(shard.Ok("GET", {S("l")}) == L(items));
  CHECK(shard.Ok("LPOP", {S("l")}) == kNil);  // the element null, not "no element"
  CHECK(shard.Ok("RPOP", {S("l")}) == L({I(1), L({})}));
  CHECK(shard.Ok("LLEN", {S("l")}) == I(static_cast<int64_t>(items.size() - 2)));
}

TEST_CASE("LPOP and RPOP without count", "[list_family]") {
  Shard shard;
  CHECK(shard.Ok("LPOP", {S("l")}) == kNil);
  CHECK(shard.Ok("RPOP", {S("l")}) == kNil);
  shard.Ok("RPUSH", {S("l"), S("a"), S("b"), S("c")});
  CHECK(shard.Ok("LPOP", {S("l")}) == S("a"));
  CHECK(shard.Ok("RPOP", {S("l")}) == S("c"));
  CHECK(shard.Ok("LLEN", {S("l")}) == I(1));
  CHECK(shard.Ok("RPOP", {S("l")}) == S("b"));
  // The emptied list is gone.
  CHECK(shard.Ok("EXISTS", {S("l")}) == I(0));
  CHECK(shard.Ok("LPOP", {S("l")}) == kNil);
  CHECK(shard.partition().stats().keys == 0);
}

TEST_CASE("LPOP and RPOP with count", "[list_family]") {
  Shard shard;
  CHECK(shard.Ok("LPOP", {S("l"), I(2)}) == kNil);  // no key: nil, not an empty list
  CHECK(shard.Ok("LPOP", {S("l"), I(0)}) == kNil);
  shard.Ok("RPUSH", {S("l"), I(1), I(2), I(3), I(4), I(5)});
  CHECK(shard.Ok("LPOP", {S("l"), I(0)}) == kEmpty);
  CHECK(shard.Ok("LLEN", {S("l")}) == I(5));
  CHECK(shard.Ok("LPOP", {S("l"), I(2)}) == L({I(1), I(2)}));
  CHECK(shard.Ok("RPOP", {S("l"), S("2")}) == L({I(5), I(4)}));  // pop order
  CHECK(shard.Ok("LPOP", {S("l"), I(1)}) == L({I(3)}));          // a list even for one
  CHECK(shard.Ok("EXISTS", {S("l")}) == I(0));
  shard.Ok("RPUSH", {S("l"), I(1), I(2)});
  CHECK(shard.Ok("RPOP", {S("l"), I(100)}) == L({I(2), I(1)}));
  CHECK(shard.Ok("EXISTS", {S("l")}) == I(0));
  shard.Ok("RPUSH", {S("l"), I(1)});
  CHECK(shard.Ok("LPOP", {S("l"), I(INT64_MAX)}) == L({I(1)}));
  CHECK(shard.Ok("EXISTS", {S("l")}) == I(0));
}

TEST_CASE("a bad count is an error and pops nothing", "[list_family]") {
  Shard shard;
  shard.Ok("RPUSH", {S("l"), I(1)});
  CHECK(shard.Err("LPOP", {S("l"), I(-1)}).error == "value is out of range, must be positive");
  CHECK(shard.Err("RPOP", {S("l"), I(INT64_MIN)}).error ==
        "value is out of range, must be positive");
  CHECK(shard.Err("LPOP", {S("l"), S("two")}).error == "value is not an integer or out of range");
  CHECK(shard.Err("RPOP", {S("l"), Value::Double(1.0)}).code == Code::kInvalidArgument);
  CHECK(shard.Ok("LLEN", {S("l")}) == I(1));
}

TEST_CASE("LRANGE follows Redis's index rules", "[list_family]") {
  Shard shard;
  shard.Ok("RPUSH", {S("l"), S("a"), S("b"), S("c"), S("d"), S("e")});
  auto range = [&](int64_t start, int64_t stop) {
    return shard.Ok("LRANGE", {S("l"), I(start), I(stop)});
  };
  CHECK(range(0, 0) == L({S("a")}));
  CHECK(range(1, 3) == L({S("b"), S("c"), S("d")}));
  CHECK(range(-2, -1) == L({S("d"), S("e")}));
  CHECK(range(-100, 1) == L({S("a"), S("b")}));  // start clamped to 0
  CHECK(range(3, 100) == L({S("d"), S("e")}));   // stop clamped to the end
  CHECK(range(-100, 100).AsList().size() == 5);  // both clamped
  CHECK(range(2, 1) == kEmpty);                  // start > stop
  CHECK(range(5, 10) == kEmpty);                 // start past the end
  CHECK(range(-1, -2) == kEmpty);                // both negative, reversed
  CHECK(range(0, -6) == kEmpty);                 // stop before the start
  CHECK(range(-5, -5) == L({S("a")}));
  CHECK(range(INT64_MIN, INT64_MAX).AsList().size() == 5);
  CHECK(range(INT64_MAX, INT64_MAX) == kEmpty);
  CHECK(range(INT64_MIN, INT64_MIN) == kEmpty);
  CHECK(shard.Ok("LRANGE", {S("l"), S("-1"), S("-1")}) == L({S("e")}));
  CHECK(shard.Ok("LRANGE", {S("missing"), I(0), I(-1)}) == kEmpty);
  CHECK(shard.Err("LRANGE", {S("l"), S("x"), I(1)}).error ==
        "value is not an integer or out of range");
  CHECK(shard.Err("LRANGE", {S("l"), I(0), Value::Double(1.0)}).code == Code::kInvalidArgument);
}

TEST_CASE("list commands on a key of another type are WRONGTYPE", "[list_family]") {
  Shard shard;
  shard.Ok("SET", {S("s"), S("text")});
  shard.Ok("SET", {S("m"), Value::Map({})});
  for (const char* key : {"s", "m"}) {
    INFO(key);
    for (auto [cmd, args] : std::initializer_list<std::pair<const char*, ValueList>>{
             {"RPUSH", {S(key), I(1)}},
             {"LPUSH", {S(key), I(1)}},
             {"LPOP", {S(key)}},
             {"RPOP", {S(key), I(2)}},
             {"LRANGE", {S(key), I(0), I(-1)}},
             {"LLEN", {S(key)}},
         }) {
      INFO(cmd);
      Reply r = shard.Err(cmd, args);
      CHECK(r.code == Code::kWrongType);
      CHECK(r.error == "Operation against a key holding the wrong kind of value");
    }
  }
  CHECK(shard.Ok("GET", {S("s")}) == S("text"));
  CHECK(shard.Ok("GET", {S("m")}) == Value::Map({}));
}

TEST_CASE("a list written by SET is a list", "[list_family]") {
  Shard shard;
  shard.Ok("SET", {S("l"), L({I(1), I(2)})});
  CHECK(shard.Ok("RPUSH", {S("l"), I(3)}) == I(3));
  CHECK(shard.Ok("LPOP", {S("l")}) == I(1));
  // An empty list stored by SET: nothing to pop, and it stays.
  shard.Ok("SET", {S("e"), kEmpty});
  CHECK(shard.Ok("LLEN", {S("e")}) == I(0));
  CHECK(shard.Ok("LPOP", {S("e")}) == kNil);
  CHECK(shard.Ok("RPOP", {S("e"), I(3)}) == kEmpty);
  CHECK(shard.Ok("LRANGE", {S("e"), I(0), I(-1)}) == kEmpty);
  CHECK(shard.Ok("EXISTS", {S("e")}) == I(1));
}

TEST_CASE("lists keep their expiry and expire like any key", "[list_family]") {
  Shard shard;
  shard.Ok("RPUSH", {S("l"), I(1), I(2)});
  shard.Ok("PEXPIRE", {S("l"), I(1000)});
  shard.Ok("RPUSH", {S("l"), I(3)});
  shard.Ok("LPOP", {S("l")});
  CHECK(shard.Ok("PTTL", {S("l")}) == I(1000));
  shard.now += 1000;
  CHECK(shard.Ok("LLEN", {S("l")}) == I(0));
  CHECK(shard.Ok("LPOP", {S("l")}) == kNil);
  // Pushing to an expired list starts a new one, without the old expiry.
  CHECK(shard.Ok("LPUSH", {S("l"), I(9)}) == I(1));
  CHECK(shard.Ok("TTL", {S("l")}) == I(-1));
  CHECK(shard.Ok("LRANGE", {S("l"), I(0), I(-1)}) == L({I(9)}));
}

TEST_CASE("list memory is accounted as the list grows and shrinks", "[list_family]") {
  Shard shard;
  const PartitionStats& stats = shard.partition().stats();
  CHECK(stats.memory_bytes == 0);
  shard.Ok("RPUSH", {S("l"), S(std::string(1000, 'a'))});
  const uint64_t one = stats.memory_bytes;
  CHECK(one > 1000);
  shard.Ok("RPUSH", {S("l"), S(std::string(1000, 'b')), S(std::string(1000, 'c'))});
  CHECK(stats.memory_bytes > one + 2000);
  shard.Ok("LPOP", {S("l"), I(2)});
  CHECK(stats.memory_bytes < one + 1000);
  shard.Ok("RPOP", {S("l")});
  CHECK(stats.keys == 0);
  CHECK(stats.memory_bytes == 0);
  // A failed push creates nothing and charges nothing.
  shard.Ok("SET", {S("s"), I(1)});
  const uint64_t with_s = stats.memory_bytes;
  shard.Err("RPUSH", {S("s"), S(std::string(1000, 'x'))});
  CHECK(stats.memory_bytes == with_s);
  CHECK(stats.keys == 1);
}

TEST_CASE("lists are per namespace", "[list_family]") {
  Shard shard;
  shard.Ok("RPUSH", {S("q"), S("default")});
  shard.ns = "tenant";
  CHECK(shard.Ok("LLEN", {S("q")}) == I(0));
  CHECK(shard.Ok("LPOP", {S("q")}) == kNil);
  CHECK(shard.Ok("RPUSH", {S("q"), S("t1"), S("t2")}) == I(2));
  shard.ns = "";
  CHECK(shard.Ok("LRANGE", {S("q"), I(0), I(-1)}) == L({S("default")}));
  shard.ns = "tenant";
  CHECK(shard.Ok("RPOP", {S("q"), I(5)}) == L({S("t2"), S("t1")}));
  shard.ns = "";
  CHECK(shard.Ok("LLEN", {S("q")}) == I(1));
}

}  // namespace

namespace {

Value Bl(std::string_view s) { return Value::Bytes(s); }

// The list as Bytes elements, for comparing with what RESP pushed.
Value Blist(std::initializer_list<const char*> items) {
  ValueList out;
  for (const char* i : items) out.push_back(Bl(i));
  return Value::List(std::move(out));
}

}  // namespace

TEST_CASE("a pop with a count from no list is a missing array", "[list_family]") {
  Shard shard;
  const Reply with_count = shard.Run("LPOP", {Bl("missing"), I(2)});
  CHECK(with_count.value.is_null());
  CHECK(with_count.null_array);  // RESP2: *-1, as Redis
  const Reply without = shard.Run("RPOP", {Bl("missing")});
  CHECK(without.value.is_null());
  CHECK_FALSE(without.null_array);  // RESP2: $-1
}

TEST_CASE("LPUSHX, RPUSHX, LINDEX and LSET", "[list_family]") {
  Shard shard;
  CHECK(shard.Ok("RPUSHX", {Bl("l"), Bl("a")}) == I(0));
  CHECK(shard.Ok("EXISTS", {Bl("l")}) == I(0));
  shard.Ok("RPUSH", {Bl("l"), Bl("b")});
  CHECK(shard.Ok("RPUSHX", {Bl("l"), Bl("c"), Bl("d")}) == I(3));
  CHECK(shard.Ok("LPUSHX", {Bl("l"), Bl("a")}) == I(4));
  CHECK(shard.Ok("LINDEX", {Bl("l"), I(0)}) == Bl("a"));
  CHECK(shard.Ok("LINDEX", {Bl("l"), I(-1)}) == Bl("d"));
  CHECK(shard.Ok("LINDEX", {Bl("l"), I(4)}).is_null());
  CHECK(shard.Ok("LINDEX", {Bl("l"), I(-5)}).is_null());
  CHECK(shard.Ok("LINDEX", {Bl("missing"), I(0)}).is_null());
  CHECK(shard.Ok("LSET", {Bl("l"), I(-2), Bl("C")}) == S("OK"));
  CHECK(shard.Ok("LRANGE", {Bl("l"), I(0), I(-1)}) == Blist({"a", "b", "C", "d"}));
  CHECK(shard.Err("LSET", {Bl("l"), I(4), Bl("x")}).error == "index out of range");
  CHECK(shard.Err("LSET", {Bl("missing"), I(0), Bl("x")}).error == "no such key");
  CHECK(shard.Err("LINDEX", {Bl("l"), Bl("x")}).error == "value is not an integer or out of range");
  // The key first, then the index, as Redis.
  CHECK(shard.Ok("LINDEX", {Bl("missing"), Bl("x")}).is_null());
  CHECK(shard.Err("LSET", {Bl("missing"), Bl("x"), Bl("v")}).error == "no such key");
  shard.Ok("SET", {Bl("s"), Bl("v")});
  CHECK(shard.Err("LPUSHX", {Bl("s"), Bl("x")}).code == Code::kWrongType);
  CHECK(shard.Err("LINDEX", {Bl("s"), I(0)}).code == Code::kWrongType);
  CHECK(shard.Err("LSET", {Bl("s"), I(0), Bl("x")}).code == Code::kWrongType);
}

TEST_CASE("LINSERT, LREM and LPOS match elements by their text", "[list_family]") {
  Shard shard;
  shard.Ok("RPUSH", {Bl("l"), Bl("a"), Bl("b"), Bl("a"), Bl("c"), Bl("a")});
  CHECK(shard.Ok("LINSERT", {Bl("l"), Bl("before"), Bl("b"), Bl("x")}) == I(6));
  CHECK(shard.Ok("LINSERT", {Bl("l"), Bl("AFTER"), Bl("c"), Bl("y")}) == I(7));
  CHECK(shard.Ok("LINSERT", {Bl("l"), Bl("AFTER"), Bl("zz"), Bl("y")}) == I(-1));
  CHECK(shard.Ok("LINSERT", {Bl("missing"), Bl("AFTER"), Bl("a"), Bl("y")}) == I(0));
  CHECK(shard.Err("LINSERT", {Bl("l"), Bl("BESIDE"), Bl("a"), Bl("y")}).error == "syntax error");
  CHECK(shard.Ok("LRANGE", {Bl("l"), I(0), I(-1)}) == Blist({"a", "x", "b", "a", "c", "y", "a"}));
  // LPOS: first, by rank, from the tail, all, bounded by MAXLEN.
  CHECK(shard.Ok("LPOS", {Bl("l"), Bl("a")}) == I(0));
  CHECK(shard.Ok("LPOS", {Bl("l"), Bl("a"), Bl("RANK"), I(2)}) == I(3));
  CHECK(shard.Ok("LPOS", {Bl("l"), Bl("a"), Bl("RANK"), I(-1)}) == I(6));
  CHECK(shard.Ok("LPOS", {Bl("l"), Bl("a"), Bl("COUNT"), I(0)}) == L({I(0), I(3), I(6)}));
  CHECK(shard.Ok("LPOS", {Bl("l"), Bl("a"), Bl("COUNT"), I(2), Bl("RANK"), I(-1)}) ==
        L({I(6), I(3)}));
  CHECK(shard.Ok("LPOS", {Bl("l"), Bl("a"), Bl("COUNT"), I(0), Bl("MAXLEN"), I(4)}) ==
        L({I(0), I(3)}));
  CHECK(shard.Ok("LPOS", {Bl("l"), Bl("q")}).is_null());
  CHECK(shard.Ok("LPOS", {Bl("missing"), Bl("q"), Bl("COUNT"), I(1)}) == L({}));
  CHECK(shard.Err("LPOS", {Bl("l"), Bl("a"), Bl("RANK"), I(0)})
            .error.rfind("RANK can't be zero", 0) == 0);
  CHECK(shard.Err("LPOS", {Bl("l"), Bl("a"), Bl("COUNT"), I(-1)}).error ==
        "COUNT can't be negative");
  CHECK(shard.Err("LPOS", {Bl("l"), Bl("a"), Bl("MAXLEN"), I(-1)}).error ==
        "MAXLEN can't be negative");
  CHECK(shard.Err("LPOS", {Bl("l"), Bl("a"), Bl("RANK")}).error == "syntax error");
  CHECK(shard.Err("LPOS", {Bl("l"), Bl("a"), Bl("MAXLEN"), Bl("x")}).error ==
        "MAXLEN can't be negative");
  CHECK(shard.Err("LPOS", {Bl("l"), Bl("a"), Bl("COUNT"), Bl("x")}).error ==
        "COUNT can't be negative");
  // LREM from the head, the tail, and all.
  CHECK(shard.Ok("LREM", {Bl("l"), I(1), Bl("a")}) == I(1));
  CHECK(shard.Ok("LRANGE", {Bl("l"), I(0), I(-1)}) == Blist({"x", "b", "a", "c", "y", "a"}));
  CHECK(shard.Ok("LREM", {Bl("l"), I(-1), Bl("a")}) == I(1));
  CHECK(shard.Ok("LRANGE", {Bl("l"), I(0), I(-1)}) == Blist({"x", "b", "a", "c", "y"}));
  CHECK(shard.Ok("LREM", {Bl("l"), I(0), Bl("nothing")}) == I(0));
  // A typed int matches RESP's text of it.
  shard.Ok("RPUSH", {Bl("n"), I(5), Bl("5"), I(6)});
  CHECK(shard.Ok("LPOS", {Bl("n"), Bl("6")}) == I(2));
  CHECK(shard.Ok("LREM", {Bl("n"), I(0), Bl("5")}) == I(2));
  CHECK(shard.Ok("LREM", {Bl("n"), I(0), Bl("6")}) == I(1));
  CHECK(shard.Ok("EXISTS", {Bl("n")}) == I(0));  // emptied: deleted
}

TEST_CASE("LTRIM keeps what LRANGE would give and deletes an emptied list", "[list_family]") {
  Shard shard;
  const auto fill = [&] {
    shard.Ok("DEL", {Bl("l")});
    shard.Ok("RPUSH", {Bl("l"), Bl("a"), Bl("b"), Bl("c"), Bl("d"), Bl("e")});
  };
  const struct {
    int64_t start, stop;
    Value want;
  } cases[] = {
      {1, 3, Blist({"b", "c", "d"})},
      {-2, -1, Blist({"d", "e"})},
      {0, -1, Blist({"a", "b", "c", "d", "e"})},
      {0, 100, Blist({"a", "b", "c", "d", "e"})},
      {-100, 0, Blist({"a"})},
  };
  for (const auto& c : cases) {
    INFO(c.start << " " << c.stop);
    fill();
    CHECK(shard.Ok("LTRIM", {Bl("l"), I(c.start), I(c.stop)}) == S("OK"));
    CHECK(shard.Ok("LRANGE", {Bl("l"), I(0), I(-1)}) == c.want);
  }
  for (auto [start, stop] : {std::pair<int64_t, int64_t>{3, 1}, {5, 10}, {-1, -2}}) {
    fill();
    CHECK(shard.Ok("LTRIM", {Bl("l"), I(start), I(stop)}) == S("OK"));
    CHECK(shard.Ok("EXISTS", {Bl("l")}) == I(0));
  }
  CHECK(shard.Ok("LTRIM", {Bl("missing"), I(0), I(1)}) == S("OK"));
  shard.Ok("SET", {Bl("s"), Bl("v")});
  CHECK(shard.Err("LTRIM", {Bl("s"), I(0), I(1)}).code == Code::kWrongType);
  CHECK(shard.Err("LREM", {Bl("s"), I(0), Bl("v")}).code == Code::kWrongType);
  CHECK(shard.Err("LINSERT", {Bl("s"), Bl("AFTER"), Bl("v"), Bl("w")}).code == Code::kWrongType);
}

}  // namespace dbkv::testing
