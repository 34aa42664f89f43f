// The one function that maps a key to its shard. Every component that routes keys (the
// server's dispatcher, later the cluster client) calls this, never its own hash.
#ifndef DATABRIDGE_CORE_SHARD_HASH_H_
#define DATABRIDGE_CORE_SHARD_HASH_H_

#include <cstdint>
#include <string_view>

namespace dbkv {

// XXH3-64 of the key's hash tag (the namespace is not part of it), reduced to
// [0, shard_count) with a multiply-shift (no division, no bias worth measuring).
uint32_t ShardOf(std::string_view key, uint32_t shard_count);

// The part of a key that is hashed, as in Redis Cluster: if the key holds a '{' followed later
// by a '}' with at least one byte between them, the bytes between the first '{' and the next
// '}'; otherwise the whole key. Keys with the same tag ("{user:42}:cart", "{user:42}:lock")
// live on the same shard, so a command over several of them (BLPOP, WAITANY, ...) stays on
// one shard.
std::string_view HashTag(std::string_view key);

}  // namespace dbkv

#endif  // DATABRIDGE_CORE_SHARD_HASH_H_
