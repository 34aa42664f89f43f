// The batch family through the plugin API: each handler on one shard, and whole commands split
// over several partitions the way the dispatcher splits them, then merged.
#include "plugins/batch_family.h"

#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <string>

#include "core/shard_hash.h"
#include "plugins/shard_fixture.h"
#include "protocol/opcodes.h"

namespace dbkv::testing {
namespace {

namespace op = protocol::op;

constexpr uint32_t kShards = 3;

// Runs a multi-key command as the dispatcher does on kShards shards: the key groups are sent
// to the shard ShardOf picks, each part with the arguments before the first key, and the
// parts are merged by the command's merge function.
Reply RunSplit(Shard& shard, std::array<Partition, kShards>& partitions, std::string_view name,
               const ValueList& args) {
  const CommandSpec* cmd = shard.registry().FindByName(name);
  REQUIRE(cmd != nullptr);
  const size_t first = static_cast<size_t>(cmd->keys.first);
  const size_t step = static_cast<size_t>(cmd->keys.step);
  REQUIRE((args.size() - first) % step == 0);
  std::array<ValueList, kShards> part_args;
  std::array<std::vector<uint32_t>, kShards> groups;
  uint32_t group = 0;
  for (size_t k = first; k < args.size(); k += step, ++group) {
    const uint32_t s = ShardOf(args[k].AsStringView(), kShards);
    if (part_args[s].empty()) part_args[s].assign(args.begin(), args.begin() + first);
    part_args[s].insert(part_args[s].end(), args.begin() + k, args.begin() + k + step);
    groups[s].push_back(group);
  }
  MergeInput in;
  in.group_count = group;
  for (uint32_t s = 0; s < kShards; ++s) {
    if (groups[s].empty()) continue;
    in.parts.push_back(shard.Run(name, part_args[s], &partitions[s]));
    in.groups.push_back(groups[s]);
  }
  FakeConnection conn;
  return cmd->merge(in, conn);
}

// n keys that fall on every one of the kShards shards.
ValueList SpreadKeys(int n) {
  ValueList keys;
  std::array<bool, kShards> seen{};
  for (int i = 0; i < n; ++i) {
    keys.push_back(S("key:" + std::to_string(i)));
    seen[ShardOf(keys.back().AsStringView(), kShards)] = true;
  }
  for (bool s : seen) REQUIRE(s);
  return keys;
}

TEST_CASE("the batch family registers its commands with their key positions", "[batch_family]") {
  Shard shard;
  const CommandRegistry& r = shard.registry();
  struct Expect {
    ExpectedCommand command;  // max_args -1: any number of key groups
    int key_step{};
  };
  const Expect expected[] = {
      {{"MGET", op::kMget, kCmdReadOnly, 1, -1, 0}, 1},
      {{"MSET", op::kMset, kCmdWrite, 2, -1, 0}, 2},
      {{"MSETPX", op::kMsetpx, kCmdWrite, 3, -1, 1}, 2},
      {{"MDEL", op::kMdel, kCmdWrite | kCmdAllowOom, 1, -1, 0}, 1},
      {{"MEXISTS", op::kMexists, kCmdReadOnly, 1, -1, 0}, 1},
  };
  for (const Expect& e : expected) {
    INFO(e.command.name);
    const CommandSpec* cmd = RequireRegistered(r, e.command);
    CHECK((cmd->flags & (kCmdConnection | kCmdAllShards | kCmdBlocking)) == 0);
    CHECK(cmd->keys.last == -1);
    CHECK(cmd->keys.step == e.key_step);
    CHECK(static_cast<bool>(cmd->merge));
    CHECK(cmd->keys.multiple());
  }
}

TEST_CASE("MSET then MGET on one shard, missing keys nil", "[batch_family]") {
  Shard shard;
  Reply set = shard.Run("MSET", {S("a"), I(1), S("b"), S("two"), S("c"), L({I(3)})});
  REQUIRE(set.ok());
  CHECK(set.simple);
  CHECK(set.value == S("OK"));
  CHECK(shard.Ok("MGET", {S("c"), S("missing"), S("a"), S("b"), S("a")}) ==
        L({L({I(3)}), Value::Null(), I(1), S("two"), I(1)}));
  CHECK(shard.Ok("GET", {S("b")}) == S("two"));
  // A key named twice: the last value wins.
  shard.Ok("MSET", {S("d"), I(1), S("d"), I(2)});
  CHECK(shard.Ok("GET", {S("d")}) == I(2));
}

TEST_CASE("MSET clears expiries, as SET does", "[batch_family]") {
  Shard shard;
  shard.Ok("SET", {S("k"), S("v"), S("PX"), I(100)});
  shard.Ok("MSET", {S("k"), S("w")});
  CHECK(shard.Ok("PTTL", {S("k")}) == I(-1));
}

TEST_CASE("MSET with an unpaired key is an arity error", "[batch_family]") {
  Shard shard;
  CHECK(shard.Err("MSET", {S("a"), I(1), S("b")}).error ==
        "wrong number of arguments for 'mset' command");
  CHECK(shard.Ok("EXISTS", {S("a")}) == I(0));
  CHECK(shard.Err("MSETPX", {I(100), S("a"), I(1), S("b")}).error ==
        "wrong number of arguments for 'msetpx' command");
  CHECK(shard.Ok("EXISTS", {S("a")}) == I(0));
}

TEST_CASE("MGET of expired keys is nil", "[batch_family]") {
  Shard shard;
  shard.Ok("SET", {S("short"), S("v"), S("PX"), I(10)});
  shard.Ok("SET", {S("long"), S("v"), S("PX"), I(1000)});
  shard.now += 10;
  CHECK(shard.Ok("MGET", {S("short"), S("long")}) == L({Value::Null(), S("v")}));
  CHECK(shard.Ok("MEXISTS", {S("short"), S("long")}) == L({B(false), B(true)}));
}

TEST_CASE("MSETPX gives every key the same expiry", "[batch_family]") {
  Shard shard;
  CHECK(shard.Ok("MSETPX", {I(1500), S("a"), I(1), S("b"), I(2)}) == S("OK"));
  CHECK(shard.Ok("PTTL", {S("a")}) == I(1500));
  CHECK(shard.Ok("PTTL", {S("b")}) == I(1500));
  CHECK(shard.Ok("MSETPX", {S("250"), S("c"), I(3)}) == S("OK"));
  CHECK(shard.Ok("PTTL", {S("c")}) == I(250));
  shard.now += 1499;
  CHECK(shard.Ok("MGET", {S("a"), S("b"), S("c")}) == L({I(1), I(2), Value::Null()}));
  shard.now += 1;
  CHECK(shard.Ok("MGET", {S("a"), S("b")}) == L({Value::Null(), Value::Null()}));
}

TEST_CASE("MSETPX rejects a time that is not a positive integer", "[batch_family]") {
  Shard shard;
  const std::string bad = "invalid expire time in 'msetpx' command";
  for (const Value& t : {I(0), I(-1), S("abc"), S("1.5"), Value::Double(10.0), I(INT64_MAX)}) {
    INFO(t.DebugString());
    Reply r = shard.Err("MSETPX", {t, S("a"), I(1)});
    CHECK(r.code == Code::kInvalidArgument);
    CHECK(r.error == bad);
  }
  CHECK(shard.Ok("EXISTS", {S("a")}) == I(0));
}

TEST_CASE("MDEL counts removed keys, MEXISTS answers per key", "[batch_family]") {
  Shard shard;
  shard.Ok("MSET", {S("a"), I(1), S("b"), I(2), S("c"), I(3)});
  CHECK(shard.Ok("MEXISTS", {S("a"), S("x"), S("c"), S("a")}) ==
        L({B(true), B(false), B(true), B(true)}));
  CHECK(shard.Ok("MDEL", {S("a"), S("a"), S("x"), S("b")}) == I(2));
  CHECK(shard.Ok("MEXISTS", {S("a"), S("b"), S("c")}) == L({B(false), B(false), B(true)}));
  CHECK(shard.Ok("MDEL", {S("a")}) == I(0));
}

TEST_CASE("batch commands split over shards merge in the caller's order", "[batch_family]") {
  Shard shard;
  std::array<Partition, kShards> partitions;
  ValueList keys = SpreadKeys(30);
  ValueList mset;
  for (size_t i = 0; i < keys.size(); ++i) {
    mset.push_back(keys[i]);
    mset.push_back(I(static_cast<int64_t>(i)));
  }
  Reply r = RunSplit(shard, partitions, "MSET", mset);
  REQUIRE(r.ok());
  CHECK(r.value == S("OK"));
  // Every shard holds only its own keys.
  for (uint32_t s = 0; s < kShards; ++s) {
    CHECK(partitions[s].stats().keys > 0);
    CHECK(partitions[s].stats().keys < keys.size());
  }

  ValueList probe = keys;
  std::reverse(probe.begin(), probe.end());
  probe.push_back(S("missing"));
  probe.push_back(keys[3]);
  r = RunSplit(shard, partitions, "MGET", probe);
  REQUIRE(r.ok());
  ValueList expected;
  for (int i = 29; i >= 0; --i) expected.push_back(I(i));
  expected.push_back(Value::Null());
  expected.push_back(I(3));
  CHECK(r.value == L(expected));

  r = RunSplit(shard, partitions, "MEXISTS", {keys[0], S("missing"), keys[29], keys[0]});
  REQUIRE(r.ok());
  CHECK(r.value == L({B(true), B(false), B(true), B(true)}));

  ValueList del(keys.begin(), keys.begin() + 10);
  del.push_back(keys[0]);
  del.push_back(S("missing"));
  r = RunSplit(shard, partitions, "MDEL", del);
  REQUIRE(r.ok());
  CHECK(r.value == I(10));

  ValueList msetpx{I(5000)};
  msetpx.insert(msetpx.end(), mset.begin(), mset.end());
  r = RunSplit(shard, partitions, "MSETPX", msetpx);
  REQUIRE(r.ok());
  for (const Value& k : keys) {
    const uint32_t s = ShardOf(k.AsStringView(), kShards);
    CHECK(shard.Run("PTTL", {k}, &partitions[s]).value == I(5000));
  }
}

TEST_CASE("a bad MSETPX time fails every shard's part, so nothing is written", "[batch_family]") {
  Shard shard;
  std::array<Partition, kShards> partitions;
  ValueList args{I(-5)};
  for (const Value& k : SpreadKeys(12)) {
    args.push_back(k);
    args.push_back(S("v"));
  }
  Reply r = RunSplit(shard, partitions, "MSETPX", args);
  CHECK(r.code == Code::kInvalidArgument);
  CHECK(r.error == "invalid expire time in 'msetpx' command");
  for (const Partition& p : partitions) CHECK(p.stats().keys == 0);
}

TEST_CASE("batch commands respect namespaces", "[batch_family]") {
  Shard shard;
  shard.Ok("MSET", {S("k"), S("default")});
  shard.ns = "tenant";
  CHECK(shard.Ok("MGET", {S("k")}) == L({Value::Null()}));
  CHECK(shard.Ok("MEXISTS", {S("k")}) == L({B(false)}));
  CHECK(shard.Ok("MDEL", {S("k")}) == I(0));
  shard.Ok("MSETPX", {I(100), S("k"), S("tenant")});
  shard.ns = "";
  CHECK(shard.Ok("MGET", {S("k")}) == L({S("default")}));
  CHECK(shard.Ok("PTTL", {S("k")}) == I(-1));
}

}  // namespace
}  // namespace dbkv::testing
