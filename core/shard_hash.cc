#include "core/shard_hash.h"

#include <xxhash.h>

namespace dbkv {

std::string_view HashTag(std::string_view key) {
  const size_t open = key.find('{');
  if (open == std::string_view::npos) return key;
  const size_t close = key.find('}', open + 1);
  if (close == std::string_view::npos || close == open + 1) return key;
  return key.substr(open + 1, close - open - 1);
}

uint32_t ShardOf(std::string_view key, uint32_t shard_count) {
  const std::string_view tag = HashTag(key);
  const uint64_t h = XXH3_64bits(tag.data(), tag.size());
  return static_cast<uint32_t>((static_cast<unsigned __int128>(h) * shard_count) >> 64);
}

}  // namespace dbkv
