#include "core/shard_hash.h"

#include <xxhash.h>

namespace dbkv {

uint32_t ShardOf(std::string_view key, uint32_t shard_count) {
  const uint64_t h = XXH3_64bits(key.data(), key.size());
  return static_cast<uint32_t>((static_cast<unsigned __int128>(h) * shard_count) >> 64);
}

}  // namespace dbkv
