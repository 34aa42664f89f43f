// Entry: what a partition stores for one key.
#ifndef DATABRIDGE_CORE_ENTRY_H_
#define DATABRIDGE_CORE_ENTRY_H_

#include <cstdint>

#include "core/value.h"

namespace dbkv {

// No expiry.
constexpr int64_t kNoExpiry = 0;

struct Entry {
  Value value;
  // Absolute expiry time, milliseconds since the Unix epoch (wall clock), or kNoExpiry.
  // Absolute so that persistence never extends a key's life.
  int64_t expire_at_ms = kNoExpiry;
  // Set from the shard's version counter on every write: strictly increasing per shard, so a
  // deleted and re-created key never reuses a version (CAS is free of ABA).
  uint64_t version = 0;

  bool HasExpiry() const { return expire_at_ms != kNoExpiry; }
  bool IsExpired(int64_t now_ms) const {
    return expire_at_ms != kNoExpiry && expire_at_ms <= now_ms;
  }
};

}  // namespace dbkv

#endif  // DATABRIDGE_CORE_ENTRY_H_
