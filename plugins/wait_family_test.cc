// The wait family through the plugin API, on one shard with a clock the test controls and a
// host that records what a blocked command asks for.
#include "plugins/wait_family.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "plugins/shard_fixture.h"
#include "protocol/opcodes.h"

namespace dbkv::testing {
namespace {

namespace op = protocol::op;

using Keys = std::vector<std::string>;

const Value kNil;

// The version of key's entry.
int64_t VersionOf(Shard& shard, std::string_view key) {
  Record* e = shard.partition().Find(shard.ns, key, shard.now);
  REQUIRE(e != nullptr);
  return static_cast<int64_t>(e->version());
}

TEST_CASE("the wait family registers its commands", "[wait_family]") {
  Shard shard;
  const CommandRegistry& r = shard.registry();
  const ExpectedCommand expected[] = {
      {"WAIT", op::kWait, kCmdBlocking, 2, 2, 0},
      {"MWAIT", op::kMWait, kCmdBlocking, 2, -1, 1},
      {"WAITANY", op::kWaitAny, kCmdBlocking, 2, -1, 1},
      {"WAITANYV", op::kWaitAnyV, kCmdBlocking, 3, -1, 1},
  };
  for (const ExpectedCommand& e : expected) {
    const CommandSpec* cmd = RequireRegistered(r, e);
    CHECK((cmd->flags & kCmdReadOnly) != 0);
    CHECK((cmd->flags & (kCmdWrite | kCmdConnection | kCmdAllShards)) == 0);
  }
  CHECK(r.FindByName("WAIT")->keys.last == 0);
  CHECK(r.FindByName("MWAIT")->keys.last == -1);
  CHECK(static_cast<bool>(r.FindByName("MWAIT")->merge));
  CHECK(r.FindByName("WAITANYV")->keys.step == 2);
  // The first part with a key wins; the parts still waiting are cancelled.
  CHECK((r.FindByName("WAITANY")->flags & kCmdFirstPartWins) != 0);
  CHECK((r.FindByName("WAITANYV")->flags & kCmdFirstPartWins) != 0);
  CHECK((r.FindByName("MWAIT")->flags & kCmdFirstPartWins) == 0);
  // Values are stored data; WAITANYV's versions stay numbers.
  CHECK((r.FindByName("WAIT")->flags & kCmdStoredReply) != 0);
  CHECK((r.FindByName("WAITANYV")->flags & kCmdStoredReply) == 0);
}

TEST_CASE("WAIT answers an existing key at once, else blocks on it", "[wait_family]") {
  Shard shard;
  FakeHost host;
  shard.host = &host;
  shard.Ok("SET", {S("k"), D("1.10")});
  CHECK(shard.Ok("WAIT", {S("k"), I(5)}) == D("1.10"));
  CHECK(host.parked.empty());

  Reply r = shard.Run("WAIT", {S("missing"), S("0.25")});
  REQUIRE(r.ok());
  CHECK(r.blocked);
  REQUIRE(host.parked.size() == 1);
  CHECK(host.parked[0].keys == Keys{"missing"});
  CHECK(host.parked[0].deadline_ms == kStart + 250);
  CHECK(host.parked[0].recheck_ms == 0);  // woken by writes only
  REQUIRE(shard.Run("WAIT", {S("missing"), I(0)}).blocked);
  CHECK(host.parked[1].deadline_ms == 0);  // forever
  // The re-run after the write answers the value; the last run answers nil.
  shard.Ok("SET", {S("missing"), S("here")});
  CHECK(shard.Ok("WAIT", {S("missing"), S("0.25")}) == S("here"));
  shard.timed_out = true;
  CHECK(shard.Ok("WAIT", {S("never"), S("0.25")}) == kNil);
  CHECK(host.parked.size() == 2);
  CHECK(host.written == Keys{"k", "missing"});  // waiting wrote nothing
}

TEST_CASE("wait timeouts are checked", "[wait_family]") {
  Shard shard;
  FakeHost host;
  shard.host = &host;
  const std::string bad = "timeout is not a number of seconds >= 0";
  for (const Value& t : {I(-1), S("-0.5"), S("soon"), S(""), I(315360001), S("1e12")}) {
    INFO(t.DebugString());
    CHECK(shard.Err("WAIT", {S("k"), t}).error == bad);
    CHECK(shard.Err("MWAIT", {t, S("k")}).error == bad);
    CHECK(shard.Err("WAITANY", {t, S("k")}).error == bad);
    CHECK(shard.Err("WAITANYV", {t, S("k"), I(0)}).error == bad);
  }
  CHECK(host.parked.empty());
  // Ten years is the longest wait.
  REQUIRE(shard.Run("WAIT", {S("k"), I(315360000)}).blocked);
  CHECK(host.parked[0].deadline_ms == kStart + int64_t{315360000} * 1000);
}

TEST_CASE("MWAIT blocks on the missing keys only, and answers what exists at the end",
          "[wait_family]") {
  Shard shard;
  FakeHost host;
  shard.host = &host;
  shard.Ok("SET", {S("a"), I(1)});
  shard.Ok("SET", {S("c"), I(3)});
  REQUIRE(shard.Run("MWAIT", {I(2), S("a"), S("b"), S("c"), S("d")}).blocked);
  REQUIRE(host.parked.size() == 1);
  CHECK(host.parked[0].keys == Keys{"b", "d"});
  CHECK(host.parked[0].deadline_ms == kStart + 2000);
  // One more key written: still waiting for the last.
  shard.Ok("SET", {S("d"), I(4)});
  REQUIRE(shard.Run("MWAIT", {I(2), S("a"), S("b"), S("c"), S("d")}).blocked);
  CHECK(host.parked[1].keys == Keys{"b"});
  // The last run answers the keys that exist, nil for the others, in the caller's order.
  shard.timed_out = true;
  CHECK(shard.Ok("MWAIT", {I(2), S("a"), S("b"), S("c"), S("d")}) == L({I(1), kNil, I(3), I(4)}));
  shard.timed_out = false;
  shard.Ok("SET", {S("b"), I(2)});
  CHECK(shard.Ok("MWAIT", {I(2), S("a"), S("b"), S("c"), S("d")}) == L({I(1), I(2), I(3), I(4)}));
  CHECK(host.parked.size() == 2);
}

TEST_CASE("WAITANY answers the first existing key in the given order", "[wait_family]") {
  Shard shard;
  FakeHost host;
  shard.host = &host;
  REQUIRE(shard.Run("WAITANY", {I(1), S("x"), S("y"), S("z")}).blocked);
  CHECK(host.parked[0].keys == Keys{"x", "y", "z"});
  shard.Ok("SET", {S("z"), S("zz")});
  shard.Ok("SET", {S("y"), S("yy")});
  CHECK(shard.Ok("WAITANY", {I(1), S("x"), S("y"), S("z")}) == L({S("y"), S("yy")}));
  CHECK(shard.Ok("WAITANY", {I(1), S("z"), S("y")}) == L({S("z"), S("zz")}));
  shard.timed_out = true;
  CHECK(shard.Ok("WAITANY", {I(1), S("x"), S("w")}) == kNil);
  CHECK(host.parked.size() == 1);
}

TEST_CASE("WAITANYV waits for a key to change from the version the caller saw", "[wait_family]") {
  Shard shard;
  FakeHost host;
  shard.host = &host;
  shard.Ok("SET", {S("k"), S("v1")});
  const int64_t v1 = VersionOf(shard, "k");
  // Version 0: any version will do.
  CHECK(shard.Ok("WAITANYV", {I(1), S("k"), I(0)}) == L({S("k"), S("v1"), I(v1)}));
  // The version seen: wait for the next write.
  REQUIRE(shard.Run("WAITANYV", {I(1), S("k"), I(v1), S("other"), I(0)}).blocked);
  CHECK(host.parked[0].keys == Keys{"k", "other"});
  shard.Ok("SET", {S("k"), S("v2")});
  const int64_t v2 = VersionOf(shard, "k");
  CHECK(v2 != v1);
  CHECK(shard.Ok("WAITANYV", {I(1), S("k"), I(v1), S("other"), I(0)}) ==
        L({S("k"), S("v2"), I(v2)}));
  // A version other than the current one answers at once, even an older or unknown one.
  CHECK(shard.Ok("WAITANYV", {I(1), S("k"), I(v2 + 1000)}) == L({S("k"), S("v2"), I(v2)}));
  // The first key in the given order that qualifies.
  shard.Ok("SET", {S("other"), S("o")});
  const int64_t vo = VersionOf(shard, "other");
  CHECK(shard.Ok("WAITANYV", {I(1), S("k"), I(v2), S("other"), I(0)}) ==
        L({S("other"), S("o"), I(vo)}));
  shard.timed_out = true;
  CHECK(shard.Ok("WAITANYV", {I(1), S("k"), I(v2)}) == kNil);
  shard.timed_out = false;
  const std::string bad = "version must be an integer >= 0";
  CHECK(shard.Err("WAITANYV", {I(1), S("k"), I(-1)}).error == bad);
  CHECK(shard.Err("WAITANYV", {I(1), S("k"), S("new")}).error == bad);
  CHECK(shard.Err("WAITANYV", {I(1), S("k"), S("1.5")}).error == bad);
  CHECK(host.parked.size() == 1);
}

TEST_CASE("waits are per namespace", "[wait_family]") {
  Shard shard;
  FakeHost host;
  shard.host = &host;
  shard.ns = "a";
  shard.Ok("SET", {S("k"), S("in a")});
  shard.ns = "b";
  REQUIRE(shard.Run("WAIT", {S("k"), I(1)}).blocked);
  REQUIRE(shard.Run("WAITANY", {I(1), S("k")}).blocked);
  shard.ns = "a";
  CHECK(shard.Ok("WAIT", {S("k"), I(1)}) == S("in a"));
}

TEST_CASE("WAITANY's merge answers the first part with a key", "[wait_family]") {
  Shard shard;
  const CommandSpec* cmd = shard.registry().FindByName("WAITANY");
  REQUIRE(static_cast<bool>(cmd->merge));
  FakeConnection conn;
  MergeInput in;
  in.parts = {Reply::Nil(), Reply::Of(L({S("b"), I(2)})), Reply::Of(L({S("c"), I(3)}))};
  in.groups = {{0}, {1}, {2}};
  in.group_count = 3;
  CHECK(cmd->merge(in, conn).value == L({S("b"), I(2)}));
  MergeInput none;
  none.parts = {Reply::Nil(), Reply::Nil()};
  none.groups = {{0}, {1}};
  none.group_count = 2;
  Reply r = cmd->merge(none, conn);
  CHECK(r.ok());
  CHECK(r.value == kNil);
  MergeInput failed;
  failed.parts = {Reply::Error(Code::kInvalidArgument, "bad"), Reply::Of(L({S("b"), I(2)}))};
  failed.groups = {{0}, {1}};
  failed.group_count = 2;
  CHECK(cmd->merge(failed, conn).code == Code::kInvalidArgument);
}

}  // namespace
}  // namespace dbkv::testing
