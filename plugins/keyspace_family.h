// The keyspace family: commands over the keys of a namespace rather than one key's value —
// TYPE, SCAN, KEYS, FLUSHDB (by name; DBSIZE is in the server family).
#ifndef DATABRIDGE_PLUGINS_KEYSPACE_FAMILY_H_
#define DATABRIDGE_PLUGINS_KEYSPACE_FAMILY_H_

#include <cstdint>

#include "core/status.h"
#include "plugins/api/registry.h"

namespace dbkv {

Status RegisterKeyspaceFamily(CommandRegistry* registry);

// SCAN's cursor: the shard and the index of the next segment of that shard's table to visit,
// as segment * shard_count + shard (0: the start, and the end). See PROTOCOL.md, "SCAN".
inline uint64_t EncodeScanCursor(uint64_t shard, uint64_t segment, uint64_t shard_count) {
  return segment * shard_count + shard;
}

}  // namespace dbkv

#endif  // DATABRIDGE_PLUGINS_KEYSPACE_FAMILY_H_
