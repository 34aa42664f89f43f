// The one function that maps a key to its shard. Every component that routes keys (the
// server's dispatcher, later the cluster client) calls this, never its own hash.
#ifndef DATABRIDGE_CORE_SHARD_HASH_H_
#define DATABRIDGE_CORE_SHARD_HASH_H_

#include <cstdint>
#include <string_view>

namespace dbkv {

// XXH3-64 of the key bytes (the namespace is not part of it), reduced to [0, shard_count)
// with a multiply-shift (no division, no bias worth measuring).
uint32_t ShardOf(std::string_view key, uint32_t shard_count);

}  // namespace dbkv

#endif  // DATABRIDGE_CORE_SHARD_HASH_H_
