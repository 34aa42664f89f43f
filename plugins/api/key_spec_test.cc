// KeySpec: key positions, COMMAND's view of them, and the split of a call over shards.
#include "plugins/api/key_spec.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "core/shard_hash.h"

namespace dbkv {
namespace {

ValueList Strings(const std::vector<std::string>& words) {
  ValueList out;
  for (const std::string& w : words) out.push_back(Value::String(w));
  return out;
}

std::vector<std::string> Texts(const ValueList& values) {
  std::vector<std::string> out;
  for (const Value& v : values) out.emplace_back(v.AsStringView());
  return out;
}

// The keys ForEachKey visits in a call with these arguments.
std::vector<std::string> KeysOf(const KeySpec& spec, const ValueList& args) {
  std::vector<std::string> keys;
  ForEachKey(spec, args, [&](std::string_view k) { keys.emplace_back(k); });
  return keys;
}

TEST_CASE("ResolveKeys finds the key groups of a call, or says the count is wrong", "[key_spec]") {
  KeyGroups g;
  // GET key: one key, extra arguments after it are not keys.
  REQUIRE(ResolveKeys(KeySpec::One(0), 3, &g));
  CHECK((g.first == 0 && g.last == 0 && g.end == 0 && g.count() == 1));
  // MGET k1 k2 k3.
  REQUIRE(ResolveKeys(KeySpec::Range(0, -1), 3, &g));
  CHECK((g.first == 0 && g.last == 2 && g.end == 2 && g.count() == 3));
  // MSET k1 v1 k2 v2: groups of two; an odd count is a wrong number of arguments.
  REQUIRE(ResolveKeys(KeySpec::Range(0, -1, 2), 4, &g));
  CHECK((g.last == 2 && g.end == 3 && g.count() == 2));
  CHECK_FALSE(ResolveKeys(KeySpec::Range(0, -1, 2), 3, &g));
  // BLPOP k1 k2 timeout: every argument but the last.
  REQUIRE(ResolveKeys(KeySpec::Range(0, -2), 3, &g));
  CHECK((g.last == 1 && g.end == 1 && g.count() == 2));
  CHECK_FALSE(ResolveKeys(KeySpec::Range(0, -2), 1, &g));
  // WAITANYV timeout k1 v1 k2 v2: a prefix, then groups of two.
  REQUIRE(ResolveKeys(KeySpec::Range(1, -1, 2), 5, &g));
  CHECK((g.first == 1 && g.last == 3 && g.count() == 2));
  CHECK_FALSE(ResolveKeys(KeySpec::Range(1, -1, 2), 4, &g));
  CHECK_FALSE(ResolveKeys(KeySpec::None(), 3, &g));
  CHECK_FALSE(ResolveKeys(KeySpec::One(0), 0, &g));
}

TEST_CASE("ForEachKey visits the text keys of a call", "[key_spec]") {
  CHECK(KeysOf(KeySpec::Range(0, -1, 2), Strings({"a", "1", "b", "2"})) ==
        std::vector<std::string>{"a", "b"});
  CHECK(KeysOf(KeySpec::Range(1, -1), Strings({"0", "x", "y"})) ==
        std::vector<std::string>{"x", "y"});
  CHECK(KeysOf(KeySpec::Range(0, -1, 2), Strings({"a", "1", "b"})).empty());
  ValueList with_int = Strings({"a"});
  with_int.push_back(Value::Int(7));
  CHECK(KeysOf(KeySpec::Range(0, -1), with_int) == std::vector<std::string>{"a"});
}

TEST_CASE("Validate refuses key positions the router could not use", "[key_spec]") {
  CHECK(KeySpec::None().Validate("PING", 0).ok());
  CHECK(KeySpec::One(0).Validate("GET", 1).ok());
  CHECK(KeySpec::Range(1, -1, 2).Validate("WAITANYV", 3).ok());
  CHECK(KeySpec::One(0).Validate("X", 0).message() ==
        "X: the first key must be a required argument");
  CHECK(KeySpec::Range(0, -1, 0).Validate("X", 1).message() == "X: the key step must be >= 1");
  CHECK(KeySpec::Range(2, 1).Validate("X", 3).message() == "X: the last key is before the first");
}

TEST_CASE("redis_positions gives COMMAND's first, last and step", "[key_spec]") {
  auto pos = [](const KeySpec& s) {
    const KeySpec::RedisPositions p = s.redis_positions();
    return std::vector<int64_t>{p.first, p.last, p.step};
  };
  CHECK(pos(KeySpec::None()) == std::vector<int64_t>{0, 0, 0});
  CHECK(pos(KeySpec::One(0)) == std::vector<int64_t>{1, 1, 1});            // GET
  CHECK(pos(KeySpec::Range(0, -1, 2)) == std::vector<int64_t>{1, -1, 2});  // MSET
  CHECK(pos(KeySpec::Range(0, -2)) == std::vector<int64_t>{1, -2, 1});     // BLPOP
  CHECK(pos(KeySpec::Range(1, -1)) == std::vector<int64_t>{2, -1, 1});
}

TEST_CASE("NormalizeKeys turns integer keys into text and refuses other types", "[key_spec]") {
  ValueList args = Strings({"a"});
  args.push_back(Value::Int(-42));
  args.push_back(Value::String("v"));
  KeyGroups g;
  REQUIRE(ResolveKeys(KeySpec::Range(0, -2), args.size(), &g));
  REQUIRE(NormalizeKeys(g, args.data()).ok());
  CHECK(Texts(args) == std::vector<std::string>{"a", "-42", "v"});
  args[0] = Value::List({});
  const Status s = NormalizeKeys(g, args.data());
  CHECK(s.message() == "key must be a string, bytes or an integer, not list");
}

TEST_CASE("a call is split by shard, keeping the caller's order in each part", "[key_spec]") {
  constexpr uint32_t kShards = 4;
  // Keys that land on at least two shards, with a prefix and a suffix around their groups.
  std::vector<std::string> words = {"prefix"};
  std::vector<std::string> keys;
  for (int i = 0; keys.size() < 12; ++i) keys.push_back("key:" + std::to_string(i));
  for (const std::string& k : keys) {
    words.push_back(k);
    words.push_back("v-" + k);
  }
  words.push_back("suffix");
  ValueList args = Strings(words);
  KeySpec spec = KeySpec::Range(1, -2, 2);
  KeyGroups g;
  REQUIRE(ResolveKeys(spec, args.size(), &g));
  REQUIRE(g.count() == keys.size());
  REQUIRE(CommonShard(g, args.data(), kShards) == kSeveralShards);
  const ShardSplit split = SplitByShard(g, args.data(), args.size(), kShards);
  CHECK(split.group_count == keys.size());
  REQUIRE(split.shards.size() == split.args.size());
  REQUIRE(split.shards.size() == split.groups.size());
  REQUIRE(split.shards.size() >= 2);
  std::vector<bool> seen(keys.size(), false);
  for (size_t part = 0; part < split.shards.size(); ++part) {
    const std::vector<std::string> pa = Texts(split.args[part]);
    const std::vector<uint32_t>& groups = split.groups[part];
    REQUIRE(pa.size() == 2 + 2 * groups.size());
    CHECK(pa.front() == "prefix");
    CHECK(pa.back() == "suffix");
    for (size_t i = 0; i < groups.size(); ++i) {
      if (i > 0) CHECK(groups[i] > groups[i - 1]);  // the caller's order
      const std::string& key = keys[groups[i]];
      CHECK(pa[1 + 2 * i] == key);
      CHECK(pa[2 + 2 * i] == "v-" + key);
      CHECK(ShardOf(key, kShards) == split.shards[part]);
      seen[groups[i]] = true;
    }
  }
  CHECK(std::all_of(seen.begin(), seen.end(), [](bool b) { return b; }));
}

TEST_CASE("keys with one hash tag stay on one shard", "[key_spec]") {
  ValueList args = Strings({"{user:1}:a", "{user:1}:b", "{user:1}:c", "5"});
  KeyGroups g;
  REQUIRE(ResolveKeys(KeySpec::Range(0, -2), args.size(), &g));
  CHECK(CommonShard(g, args.data(), 8) == ShardOf("user:1", 8));
}

}  // namespace
}  // namespace dbkv
