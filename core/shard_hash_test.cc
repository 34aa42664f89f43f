#include "core/shard_hash.h"

#include <catch2/catch.hpp>
#include <set>
#include <string>

namespace dbkv {

TEST_CASE("HashTag follows Redis Cluster's rule", "[shard_hash]") {
  CHECK(HashTag("plain") == "plain");
  CHECK(HashTag("{user:42}:cart") == "user:42");
  CHECK(HashTag("a{b}c{d}") == "b");
  CHECK(HashTag("{}x") == "{}x");   // empty tag: the whole key
  CHECK(HashTag("{x") == "{x");     // unclosed
  CHECK(HashTag("x}{y}") == "y");   // the first '{' counts
  CHECK(HashTag("{{a}}") == "{a");  // the next '}' after the first '{'
}

TEST_CASE("ShardOf keeps keys with the same tag together and spreads the rest", "[shard_hash]") {
  for (uint32_t n : {1u, 2u, 7u, 64u}) {
    CHECK(ShardOf("{t}:a", n) == ShardOf("{t}:b", n));
    CHECK(ShardOf("{t}:a", n) < n);
  }
  std::set<uint32_t> seen;
  for (int i = 0; i < 1000; ++i) seen.insert(ShardOf("key:" + std::to_string(i), 8));
  CHECK(seen.size() == 8);
}

}  // namespace dbkv
