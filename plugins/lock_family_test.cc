// The lock family through the plugin API, on one shard with a clock the test controls and a
// host that records what a blocked LOCK asks for.
#include "plugins/lock_family.h"

#include <catch2/catch.hpp>
#include <string>

#include "plugins/shard_fixture.h"
#include "protocol/opcodes.h"

namespace dbkv::testing {
namespace {

namespace op = protocol::op;

constexpr int64_t kMaxLeaseMs = int64_t{1} << 40;

// The lease end of the lock `name`, or -1 if it is not held.
int64_t LeaseEnd(Shard& shard, std::string_view name) {
  Record* e = shard.partition().Find(shard.ns, name, shard.now);
  return e == nullptr ? -1 : e->expire_at_ms();
}

TEST_CASE("the lock family registers its commands", "[lock_family]") {
  Shard shard;
  const CommandRegistry& r = shard.registry();
  const ExpectedCommand expected[] = {
      {"LOCK", op::kLock, kCmdWrite, 3, 4},
      {"UNLOCK", op::kUnlock, kCmdWrite, 2, 2},
      {"LOCKEXTEND", op::kLockExtend, kCmdWrite, 3, 3},
  };
  for (const ExpectedCommand& e : expected) {
    const CommandSpec* cmd = RequireRegistered(r, e);
    CHECK(cmd->keys.last == 0);
    CHECK((cmd->flags & (kCmdConnection | kCmdAllShards | kCmdReadOnly)) == 0);
  }
  CHECK((r.FindByName("LOCK")->flags & kCmdBlocking) != 0);
  CHECK((r.FindByName("UNLOCK")->flags & kCmdBlocking) == 0);
  // Releasing never grows the data: allowed past --max-memory.
  CHECK((r.FindByName("UNLOCK")->flags & kCmdAllowOom) != 0);
}

TEST_CASE("LOCK takes a free lock, renews its own, and fails on another's", "[lock_family]") {
  Shard shard;
  CHECK(shard.Ok("LOCK", {S("l"), S("me"), I(1000)}) == I(1));
  CHECK(shard.Ok("GET", {S("l")}) == S("me"));
  CHECK(LeaseEnd(shard, "l") == kStart + 1000);
  CHECK(shard.Ok("LOCK", {S("l"), S("you"), I(5000)}) == I(0));
  CHECK(shard.Ok("GET", {S("l")}) == S("me"));
  shard.now += 500;
  CHECK(shard.Ok("LOCK", {S("l"), S("me"), I(1000)}) == I(1));  // the owner renews
  CHECK(LeaseEnd(shard, "l") == kStart + 1500);
  // Once the lease has run out, anyone takes it.
  shard.now = kStart + 1500;
  CHECK(shard.Ok("LOCK", {S("l"), S("you"), I(kMaxLeaseMs)}) == I(1));
  CHECK(LeaseEnd(shard, "l") == kStart + 1500 + kMaxLeaseMs);
}

TEST_CASE("a LOCK with a timeout blocks until the lease ends, with no effect", "[lock_family]") {
  Shard shard;
  FakeHost host;
  shard.host = &host;
  CHECK(shard.Ok("LOCK", {S("l"), S("holder"), I(3000)}) == I(1));
  host.written.clear();

  Reply r = shard.Run("LOCK", {S("l"), S("waiter"), I(1000), S("1.5")});
  REQUIRE(r.ok());
  CHECK(r.blocked);
  REQUIRE(host.parked.size() == 1);
  CHECK(host.parked[0].keys == std::vector<std::string>{"l"});
  CHECK(host.parked[0].deadline_ms == kStart + 1500);
  CHECK(host.parked[0].recheck_ms == kStart + 3000);  // re-run when the holder's lease ends
  CHECK(host.written.empty());
  CHECK(shard.Ok("GET", {S("l")}) == S("holder"));

  // Timeout 0: no deadline.
  REQUIRE(shard.Run("LOCK", {S("l"), S("waiter"), I(1000), I(0)}).blocked);
  CHECK(host.parked[1].deadline_ms == 0);

  // The re-run at the recheck time finds the lease over and takes the lock.
  shard.now = kStart + 3000;
  CHECK(shard.Ok("LOCK", {S("l"), S("waiter"), I(1000), S("1.5")}) == I(1));
  CHECK(host.written == std::vector<std::string>{"l"});
  CHECK(LeaseEnd(shard, "l") == kStart + 4000);
}

TEST_CASE("a LOCK's last run answers 0 and changes nothing", "[lock_family]") {
  Shard shard;
  FakeHost host;
  shard.host = &host;
  CHECK(shard.Ok("LOCK", {S("l"), S("holder"), I(3000)}) == I(1));
  host.written.clear();
  shard.timed_out = true;
  CHECK(shard.Ok("LOCK", {S("l"), S("waiter"), I(1000), I(1)}) == I(0));
  CHECK(host.parked.empty());
  CHECK(host.written.empty());
  CHECK(shard.Ok("GET", {S("l")}) == S("holder"));
  // A last run that finds the lock free still takes it.
  CHECK(shard.Ok("LOCK", {S("free"), S("waiter"), I(1000), I(1)}) == I(1));
}

TEST_CASE("UNLOCK and LOCKEXTEND work for the owner only", "[lock_family]") {
  Shard shard;
  FakeHost host;
  shard.host = &host;
  CHECK(shard.Ok("LOCK", {S("l"), S("me"), I(1000)}) == I(1));

  Reply r = shard.Err("UNLOCK", {S("l"), S("you")});
  CHECK(r.code == Code::kNotOwner);
  CHECK(r.error == "lock is held by another owner");
  r = shard.Err("LOCKEXTEND", {S("l"), S("you"), I(5000)});
  CHECK(r.code == Code::kNotOwner);
  CHECK(LeaseEnd(shard, "l") == kStart + 1000);

  shard.now += 400;
  CHECK(shard.Ok("LOCKEXTEND", {S("l"), S("me"), I(5000)}) == I(1));
  CHECK(LeaseEnd(shard, "l") == kStart + 5400);
  CHECK(shard.Ok("GET", {S("l")}) == S("me"));

  host.written.clear();
  CHECK(shard.Ok("UNLOCK", {S("l"), S("me")}) == I(1));
  CHECK(host.written == std::vector<std::string>{"l"});  // wakes the waiters
  CHECK(shard.Ok("EXISTS", {S("l")}) == I(0));

  r = shard.Err("UNLOCK", {S("l"), S("me")});
  CHECK(r.code == Code::kNotOwner);
  CHECK(r.error == "lock is not held");
  CHECK(shard.Err("LOCKEXTEND", {S("l"), S("me"), I(10)}).code == Code::kNotOwner);
  // A token that is not text holds nothing.
  CHECK(shard.Err("UNLOCK", {S("l"), I(5)}).code == Code::kNotOwner);
}

TEST_CASE("lock commands on a key that is not a lock are WRONGTYPE", "[lock_family]") {
  Shard shard;
  shard.Ok("RPUSH", {S("list"), S("me")});
  shard.Ok("SET", {S("n"), I(7)});
  for (const char* key : {"list", "n"}) {
    INFO(key);
    CHECK(shard.Err("LOCK", {S(key), S("me"), I(100)}).code == Code::kWrongType);
    CHECK(shard.Err("UNLOCK", {S(key), S("me")}).code == Code::kWrongType);
    CHECK(shard.Err("LOCKEXTEND", {S(key), S("me"), I(100)}).code == Code::kWrongType);
  }
  CHECK(shard.Ok("LLEN", {S("list")}) == I(1));
  CHECK(shard.Ok("GET", {S("n")}) == I(7));
}

TEST_CASE("lock tokens, leases and timeouts are checked", "[lock_family]") {
  Shard shard;
  const std::string bad_ttl = "lock ttl must be a positive number of ms";
  const std::string bad_token = "lock token must be a non-empty string";
  for (const char* cmd : {"LOCK", "LOCKEXTEND"}) {
    INFO(cmd);
    CHECK(shard.Err(cmd, {S("l"), S("t"), I(0)}).error == bad_ttl);
    CHECK(shard.Err(cmd, {S("l"), S("t"), I(-5)}).error == bad_ttl);
    CHECK(shard.Err(cmd, {S("l"), S("t"), I(kMaxLeaseMs + 1)}).error == bad_ttl);
    CHECK(shard.Err(cmd, {S("l"), S("t"), S("1.5")}).error == bad_ttl);
    CHECK(shard.Err(cmd, {S("l"), S("t"), S("soon")}).error == bad_ttl);
    CHECK(shard.Err(cmd, {S("l"), S(""), I(10)}).error == bad_token);
    CHECK(shard.Err(cmd, {S("l"), I(42), I(10)}).error == bad_token);
  }
  const std::string bad_timeout = "timeout is not a number of seconds >= 0";
  CHECK(shard.Err("LOCK", {S("l"), S("t"), I(10), I(-1)}).error == bad_timeout);
  CHECK(shard.Err("LOCK", {S("l"), S("t"), I(10), S("abc")}).error == bad_timeout);
  CHECK(shard.Err("LOCK", {S("l"), S("t"), I(10), I(315360001)}).error == bad_timeout);
  CHECK(shard.Err("LOCK", {S("l"), S("t")}).code == Code::kInvalidArgument);  // arity
  CHECK(shard.Ok("EXISTS", {S("l")}) == I(0));
  // The longest lease and the longest timeout are accepted.
  CHECK(shard.Ok("LOCK", {S("l"), S("t"), S("1099511627776"), I(315360000)}) == I(1));
}

TEST_CASE("locks are per namespace", "[lock_family]") {
  Shard shard;
  shard.ns = "a";
  CHECK(shard.Ok("LOCK", {S("l"), S("tokA"), I(1000)}) == I(1));
  shard.ns = "b";
  CHECK(shard.Ok("LOCK", {S("l"), S("tokB"), I(1000)}) == I(1));
  CHECK(shard.Err("UNLOCK", {S("l"), S("tokA")}).code == Code::kNotOwner);
  shard.ns = "";
  CHECK(shard.Err("UNLOCK", {S("l"), S("tokA")}).error == "lock is not held");
  shard.ns = "a";
  CHECK(shard.Ok("GET", {S("l")}) == S("tokA"));
  CHECK(shard.Ok("UNLOCK", {S("l"), S("tokA")}) == I(1));
  shard.ns = "b";
  CHECK(shard.Ok("GET", {S("l")}) == S("tokB"));
}

}  // namespace
}  // namespace dbkv::testing
