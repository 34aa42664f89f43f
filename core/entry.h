// Entry: what a partition stores for one key.
#ifndef DATABRIDGE_CORE_ENTRY_H_
#define DATABRIDGE_CORE_ENTRY_H_

#include <cstdint>

#include "core/value.h"

namespace dbkv {

// No expiry.
constexpr int64_t kNoExpiry = 0;

// The clock of Entry::access: wall-clock milliseconds, 32 bits. Compare ages (now - access, in
// uint32 arithmetic), which stay right across the wrap; an entry left alone for more than
// 24.8 days (2^31 ms) may look recent to eviction (LRU is approximate anyway).
inline uint32_t AccessClock(int64_t now_ms) { return static_cast<uint32_t>(now_ms); }

// The largest version an entry holds (Entry::version has 56 bits).
constexpr uint64_t kMaxVersion = (uint64_t{1} << 56) - 1;

// The bits of a flags byte that are EntryFlag bits (a Record keeps its layout in the others).
constexpr uint32_t kEntryFlagMask = 0x0f;

enum EntryFlag : uint32_t {
  // Its cold value was read once from disk without coming back to RAM; the next read brings it
  // back (values read often return to RAM).
  kEntryColdRead = 1u << 0,
  // Its value is being written to a cold segment (tiering): not a candidate again until the
  // write is done. Any write to the entry clears it (the finished write then finds the
  // version changed and leaves the entry alone).
  kEntrySpilling = 1u << 1,
};

// A key's entry, detached from the table: what Record::TakeInto gives for a change, what
// recovery restores and what a cold read lends. A table keeps it in the key's Record.
struct Entry {
  Value value;
  // Absolute expiry time, milliseconds since the Unix epoch (wall clock), or kNoExpiry.
  // Absolute so that persistence never extends a key's life.
  int64_t expire_at_ms = kNoExpiry;
  // Set from the shard's version counter on every write: strictly increasing per shard, so a
  // deleted and re-created key never reuses a version (CAS is free of ABA). A record keeps 56
  // bits of it (kMaxVersion): at ten million writes a second, 228 years of writes.
  uint64_t version = 0;
  // When the key was last read or written, in AccessClock units (for LRU eviction and for
  // choosing values to move to disk).
  uint32_t access = 0;
  // EntryFlag bits.
  uint32_t flags = 0;

  bool HasExpiry() const { return expire_at_ms != kNoExpiry; }
  bool IsExpired(int64_t now_ms) const {
    return expire_at_ms != kNoExpiry && expire_at_ms <= now_ms;
  }
};

}  // namespace dbkv

#endif  // DATABRIDGE_CORE_ENTRY_H_
