// The CAS family through the plugin API, on one shard with a clock the test controls.
#include "plugins/cas_family.h"

#include <catch2/catch.hpp>

#include "plugins/shard_fixture.h"
#include "protocol/opcodes.h"

namespace dbkv::testing {
namespace {

namespace op = protocol::op;

// The version GETV reports for key (0 if absent).
int64_t VersionOf(Shard& shard, std::string_view key) {
  Value v = shard.Ok("GETV", {S(key)});
  if (v.is_null()) return 0;
  REQUIRE(v.type() == ValueType::kList);
  REQUIRE(v.AsList().size() == 2);
  REQUIRE(v.AsList()[1].type() == ValueType::kInt);
  return v.AsList()[1].AsInt();
}

TEST_CASE("the CAS family registers GETV and CAS", "[cas_family]") {
  Shard shard;
  const CommandRegistry& r = shard.registry();
  const CommandSpec* getv = RequireRegistered(r, {"GETV", op::kGetv, kCmdReadOnly, 1, 1});
  CHECK(r.FindByName("getv") == getv);
  const CommandSpec* cas = RequireRegistered(r, {"CAS", op::kCas, kCmdWrite, 3, 5});
  for (const CommandSpec* c : {getv, cas}) CHECK(c->keys.last == 0);
}

TEST_CASE("GETV returns the value and its version", "[cas_family]") {
  Shard shard;
  CHECK(shard.Ok("GETV", {S("k")}).is_null());
  shard.Ok("SET", {S("k"), S("v1")});
  Value v = shard.Ok("GETV", {S("k")});
  REQUIRE(v.type() == ValueType::kList);
  CHECK(v.AsList()[0] == S("v1"));
  const int64_t v1 = v.AsList()[1].AsInt();
  CHECK(v1 > 0);
  // Any write gives a higher version; reads do not change it.
  CHECK(VersionOf(shard, "k") == v1);
  shard.Ok("GET", {S("k")});
  CHECK(VersionOf(shard, "k") == v1);
  shard.Ok("SET", {S("k"), S("v2")});
  const int64_t v2 = VersionOf(shard, "k");
  CHECK(v2 > v1);
  shard.Ok("EXPIRE", {S("k"), I(100)});
  const int64_t v3 = VersionOf(shard, "k");
  CHECK(v3 > v2);
  shard.Ok("INCR", {S("n")});
  shard.Ok("RPUSH", {S("list"), I(1)});
  CHECK(shard.Ok("GETV", {S("list")}) == L({L({I(1)}), I(VersionOf(shard, "list"))}));
}

TEST_CASE("CAS writes only when the version matches", "[cas_family]") {
  Shard shard;
  // Version 0: the key must not exist.
  const int64_t v1 = shard.Ok("CAS", {S("k"), I(0), S("a")}).AsInt();
  CHECK(v1 > 0);
  CHECK(shard.Ok("GETV", {S("k")}) == L({S("a"), I(v1)}));
  CHECK(shard.Ok("CAS", {S("k"), I(0), S("b")}) == I(0));
  CHECK(shard.Ok("GET", {S("k")}) == S("a"));
  // The current version wins once; the same version again loses.
  const int64_t v2 = shard.Ok("CAS", {S("k"), I(v1), S("b")}).AsInt();
  CHECK(v2 > v1);
  CHECK(shard.Ok("CAS", {S("k"), I(v1), S("c")}) == I(0));
  CHECK(shard.Ok("CAS", {S("k"), I(v2 + 1), S("c")}) == I(0));
  CHECK(shard.Ok("GETV", {S("k")}) == L({S("b"), I(v2)}));
  // The version may come as text.
  const int64_t v3 = shard.Ok("CAS", {S("k"), S(std::to_string(v2)), I(7)}).AsInt();
  CHECK(v3 > v2);
  CHECK(shard.Ok("GET", {S("k")}) == I(7));
  // A version for a missing key never matches.
  CHECK(shard.Ok("CAS", {S("absent"), I(v3), S("x")}) == I(0));
  CHECK(shard.Ok("EXISTS", {S("absent")}) == I(0));
}

TEST_CASE("a deleted and re-created key never gets its old version back", "[cas_family]") {
  Shard shard;
  const int64_t v1 = shard.Ok("CAS", {S("k"), I(0), S("a")}).AsInt();
  shard.Ok("DEL", {S("k")});
  CHECK(shard.Ok("CAS", {S("k"), I(v1), S("stale")}) == I(0));
  const int64_t v2 = shard.Ok("CAS", {S("k"), I(0), S("b")}).AsInt();
  CHECK(v2 > v1);
  CHECK(shard.Ok("CAS", {S("k"), I(v1), S("stale")}) == I(0));
  CHECK(shard.Ok("GET", {S("k")}) == S("b"));
}

TEST_CASE("CAS expiry options: EX, PX, KEEPTTL, none clears", "[cas_family]") {
  Shard shard;
  int64_t v = shard.Ok("CAS", {S("k"), I(0), S("a"), S("EX"), I(10)}).AsInt();
  CHECK(shard.Ok("PTTL", {S("k")}) == I(10'000));
  v = shard.Ok("CAS", {S("k"), I(v), S("b"), S("keepttl")}).AsInt();
  CHECK(shard.Ok("PTTL", {S("k")}) == I(10'000));
  v = shard.Ok("CAS", {S("k"), I(v), S("c"), S("px"), S("2500")}).AsInt();
  CHECK(shard.Ok("PTTL", {S("k")}) == I(2'500));
  v = shard.Ok("CAS", {S("k"), I(v), S("d")}).AsInt();
  CHECK(shard.Ok("PTTL", {S("k")}) == I(-1));
  // KEEPTTL on a new key: no expiry.
  CHECK(shard.Ok("CAS", {S("new"), I(0), S("x"), S("KEEPTTL")}).AsInt() > v);
  CHECK(shard.Ok("TTL", {S("new")}) == I(-1));
  // A failed CAS leaves the expiry alone too.
  shard.Ok("PEXPIRE", {S("new"), I(500)});
  CHECK(shard.Ok("CAS", {S("new"), I(1), S("y"), S("PX"), I(9000)}) == I(0));
  CHECK(shard.Ok("PTTL", {S("new")}) == I(500));
}

TEST_CASE("an expired key has version 0 for CAS", "[cas_family]") {
  Shard shard;
  const int64_t v = shard.Ok("CAS", {S("k"), I(0), S("a"), S("PX"), I(100)}).AsInt();
  shard.now += 100;
  CHECK(shard.Ok("GETV", {S("k")}).is_null());
  CHECK(shard.Ok("CAS", {S("k"), I(v), S("b")}) == I(0));
  CHECK(shard.Ok("CAS", {S("k"), I(0), S("b")}).AsInt() > v);
  CHECK(shard.Ok("GET", {S("k")}) == S("b"));
}

TEST_CASE("CAS rejects bad arguments before comparing", "[cas_family]") {
  Shard shard;
  CHECK(shard.Err("CAS", {S("k"), S("abc"), S("v")}).error ==
        "value is not an integer or out of range");
  CHECK(shard.Err("CAS", {S("k"), Value::Double(1.0), S("v")}).code == Code::kInvalidArgument);
  CHECK(shard.Err("CAS", {S("k"), I(-1), S("v")}).error ==
        "value is out of range, must be positive");
  const std::string bad_time = "invalid expire time in 'cas' command";
  CHECK(shard.Err("CAS", {S("k"), I(0), S("v"), S("EX"), I(0)}).error == bad_time);
  CHECK(shard.Err("CAS", {S("k"), I(0), S("v"), S("PX"), I(-3)}).error == bad_time);
  CHECK(shard.Err("CAS", {S("k"), I(0), S("v"), S("EX"), S("soon")}).error == bad_time);
  CHECK(shard.Err("CAS", {S("k"), I(0), S("v"), S("EX"), I(INT64_MAX)}).error == bad_time);
  const std::string syntax = "syntax error";
  CHECK(shard.Err("CAS", {S("k"), I(0), S("v"), S("EX")}).error == syntax);
  CHECK(shard.Err("CAS", {S("k"), I(0), S("v"), S("KEEPTTL"), I(1)}).error == syntax);
  CHECK(shard.Err("CAS", {S("k"), I(0), S("v"), S("NX")}).error == syntax);
  CHECK(shard.Err("CAS", {S("k"), I(0), S("v"), S("XX"), I(1)}).error == syntax);
  CHECK(shard.Ok("EXISTS", {S("k")}) == I(0));
}

TEST_CASE("CAS versions are per namespace", "[cas_family]") {
  Shard shard;
  const int64_t v = shard.Ok("CAS", {S("k"), I(0), S("default")}).AsInt();
  shard.ns = "tenant";
  CHECK(shard.Ok("GETV", {S("k")}).is_null());
  CHECK(shard.Ok("CAS", {S("k"), I(v), S("x")}) == I(0));
  CHECK(shard.Ok("CAS", {S("k"), I(0), S("tenant")}).AsInt() > v);
  shard.ns = "";
  CHECK(shard.Ok("GETV", {S("k")}) == L({S("default"), I(v)}));
}

}  // namespace
}  // namespace dbkv::testing
