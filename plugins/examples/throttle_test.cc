// The THROTTLE example plugin on one shard whose clock the test sets: GCRA as redis-cell
// computes it (the table of redis-cell's own test, in whole seconds), replenishment over time,
// and arguments at and past the limits of 64-bit arithmetic.
#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <string>

#include "plugins/api/plugin.h"
#include "plugins/shard_fixture.h"

namespace dbkv::testing {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

// A shard with the built-in families and the plugin, registered as the server registers it.
struct ThrottleShard : Shard {
  ThrottleShard() { REQUIRE(dbkv_plugin_register(&mutable_registry()) == nullptr); }

  // [limited, limit, remaining, retry_after_s, reset_after_s]
  Value Call(const std::string& key, ValueList params) {
    params.insert(params.begin(), S(key));
    return Ok("THROTTLE", std::move(params));
  }
};

Value Result(int64_t limited, int64_t limit, int64_t remaining, int64_t retry, int64_t reset) {
  return L({I(limited), I(limit), I(remaining), I(retry), I(reset)});
}

TEST_CASE("THROTTLE registers by name, with no opcode", "[throttle]") {
  ThrottleShard shard;
  const CommandSpec* cmd = shard.registry().FindByName("throttle");
  REQUIRE(cmd != nullptr);
  CHECK(cmd->opcode == 0);
  CHECK(cmd->min_args == 4);
  CHECK(cmd->max_args == 5);
  CHECK((cmd->flags & kCmdWrite) != 0);
  CHECK(std::string(dbkv_plugin_name()) == "throttle");
  CHECK(dbkv_plugin_abi() == PluginAbiFingerprint());
}

TEST_CASE("THROTTLE follows redis-cell's GCRA table over time", "[throttle]") {
  // 1 per second, max_burst 4: limit 5. The cases of redis-cell's rate limiter test, with its
  // durations in whole seconds rounded up as CL.THROTTLE replies them.
  ThrottleShard shard;
  const int64_t start = shard.now;
  struct Case {
    int64_t at_ms, quantity;
    Value want;
  };
  const Case cases[] = {
      // A request larger than the burst can never pass: limited, retry_after -1.
      {0, 6, Result(1, 5, 5, -1, 0)},
      {0, 1, Result(0, 5, 4, -1, 1)},
      {0, 1, Result(0, 5, 3, -1, 2)},
      {0, 1, Result(0, 5, 2, -1, 3)},
      {0, 1, Result(0, 5, 1, -1, 4)},
      {0, 1, Result(0, 5, 0, -1, 5)},
      {0, 1, Result(1, 5, 0, 1, 5)},
      // Time passes: the bucket refills one request per second.
      {3000, 1, Result(0, 5, 2, -1, 3)},
      {3100, 1, Result(0, 5, 1, -1, 4)},  // reset_after 3.9 s rounds up
      {4000, 1, Result(0, 5, 1, -1, 4)},
      {8000, 1, Result(0, 5, 4, -1, 1)},
      {9500, 1, Result(0, 5, 4, -1, 1)},
      // Quantity 0 only looks.
      {9500, 0, Result(0, 5, 4, -1, 1)},
      {9500, 2, Result(0, 5, 2, -1, 3)},
      // More than remains: limited, told when it would pass.
      {9500, 5, Result(1, 5, 2, 3, 3)},
  };
  int n = 0;
  for (const Case& c : cases) {
    INFO("case " << n++ << " at +" << c.at_ms << " ms, quantity " << c.quantity);
    shard.now = start + c.at_ms;
    CHECK(shard.Call("k", {I(4), I(1), I(1), I(c.quantity)}) == c.want);
  }
  // Once the bucket is full again the key is gone: nothing is kept for an idle bucket.
  shard.now = start + 20000;
  CHECK(shard.Ok("EXISTS", {S("k")}) == I(0));
  CHECK(shard.Call("k", {I(4), I(1), I(1), I(0)}) == Result(0, 5, 5, -1, 0));
}

TEST_CASE("THROTTLE replenishes a drained bucket one emission interval at a time", "[throttle]") {
  // 10 per minute, max_burst 2: one request every 6 s, 3 at once.
  ThrottleShard shard;
  const int64_t start = shard.now;
  for (int i = 0; i < 3; ++i) CHECK(shard.Call("b", {I(2), I(10), I(60)}).AsList()[0] == I(0));
  CHECK(shard.Call("b", {I(2), I(10), I(60)}) == Result(1, 3, 0, 6, 18));
  shard.now = start + 5999;  // just before the first request comes back
  CHECK(shard.Call("b", {I(2), I(10), I(60)}) == Result(1, 3, 0, 1, 13));
  shard.now = start + 6000;
  CHECK(shard.Call("b", {I(2), I(10), I(60)}) == Result(0, 3, 0, -1, 18));
  shard.now = start + 6000 + 3 * 6000;  // the whole burst is back
  CHECK(shard.Call("b", {I(2), I(10), I(60), I(0)}) == Result(0, 3, 3, -1, 0));
  CHECK(shard.Call("b", {I(2), I(10), I(60), I(3)}) == Result(0, 3, 0, -1, 18));
}

TEST_CASE("THROTTLE with huge arguments never overflows", "[throttle]") {
  ThrottleShard shard;
  // A quantity of 2^63 - 1 (it used to overflow and pass) is limited for good, changing nothing.
  CHECK(shard.Call("t2", {I(4), I(10), I(60), I(kMax)}) == Result(1, 5, 5, -1, 0));
  CHECK(shard.Ok("EXISTS", {S("t2")}) == I(0));
  CHECK(shard.Call("t2", {I(4), I(10), I(60), I(5)}) == Result(0, 5, 0, -1, 30));
  CHECK(shard.Call("t2", {I(4), I(10), I(60), I(kMax)}) == Result(1, 5, 0, -1, 30));
  // The largest window allowed: 2^40 ms in one emission interval, and in many.
  const int64_t max_window_s = (int64_t{1} << 40) / 1000;  // whole seconds under 2^40 ms
  CHECK(shard.Call("w1", {I(0), I(1), I(max_window_s)}) == Result(0, 1, 0, -1, max_window_s));
  CHECK(shard.Call("w1", {I(0), I(1), I(max_window_s)}) ==
        Result(1, 1, 0, max_window_s, max_window_s));
  CHECK(shard.Call("w2", {I(999), I(1000), I(max_window_s)}).AsList()[2] == I(999));
  // A TAT far in the future (a key written by SET): limited, no overflow.
  shard.Ok("SET", {S("far"), I(kMax)});
  Value far = shard.Call("far", {I(4), I(10), I(60)});
  CHECK(far.AsList()[0] == I(1));
  CHECK(far.AsList()[2] == I(0));
  CHECK(far.AsList()[4].AsInt() > 0);
  shard.Ok("SET", {S("past"), I(-kMax)});
  CHECK(shard.Call("past", {I(4), I(10), I(60)}) == Result(0, 5, 4, -1, 6));
}

TEST_CASE("THROTTLE refuses arguments no bucket can honour", "[throttle]") {
  ThrottleShard shard;
  using Catch::Matchers::Contains;
  auto err = [&](ValueList params) {
    params.insert(params.begin(), S("k"));
    Reply r = shard.Err("THROTTLE", std::move(params));
    CHECK(r.code == Code::kInvalidArgument);
    return r.error;
  };
  CHECK_THAT(err({I(-1), I(5), I(60)}), Contains("max_burst"));
  CHECK_THAT(err({I(1), I(0), I(60)}), Contains("count_per_period"));
  CHECK_THAT(err({I(1), I(-5), I(60)}), Contains("count_per_period"));
  CHECK_THAT(err({I(1), I(5), I(0)}), Contains("period_s"));
  CHECK_THAT(err({I(1), I(5), I(-60)}), Contains("period_s"));
  CHECK_THAT(err({I(1), I(5), I(60), I(-1)}), Contains("quantity"));
  // More than one request per microsecond.
  CHECK_THAT(err({I(1), I(1000001), I(1)}), Contains("one per microsecond"));
  // Windows past 2^40 ms, however they are reached.
  CHECK_THAT(err({I(kMax), I(1), I(1)}), Contains("2^40 ms"));
  CHECK_THAT(err({I(0), I(1), I(kMax)}), Contains("2^40 ms"));
  CHECK_THAT(err({I(kMax), I(1), I(kMax)}), Contains("2^40 ms"));
  CHECK_THAT(err({I(kMax), I(kMax), I(kMax)}), Contains("2^40 ms"));
  CHECK_THAT(err({I(0), I(1), I((int64_t{1} << 40) / 1000 + 1)}), Contains("2^40 ms"));
  CHECK(err({S("x"), I(5), I(60)}) == "value is not an integer or out of range");
  CHECK(err({I(1), I(5), I(60), S("1.5")}) == "value is not an integer or out of range");
  CHECK(shard.Ok("EXISTS", {S("k")}) == I(0));  // no error wrote anything
  shard.Ok("SET", {S("text"), S("not a tat")});
  CHECK(shard.Err("THROTTLE", {S("text"), I(1), I(1), I(1)}).code == Code::kWrongType);
}

}  // namespace
}  // namespace dbkv::testing
