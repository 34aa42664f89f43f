// The shard actor: owns one Partition and runs every command on its keys, one batch per
// message. It is the only code that touches its partition, so the data needs no lock.
#ifndef DATABRIDGE_ACTORS_SHARD_ACTOR_H_
#define DATABRIDGE_ACTORS_SHARD_ACTOR_H_

#include <caf/all.hpp>
#include <cstdint>

#include "actors/shard_batch.h"
#include "core/partition.h"
#include "plugins/api/contexts.h"

namespace dbkv {

using run_atom = caf::atom_constant<caf::atom("run")>;

struct ShardState {
  static inline const char* name = "dbkv.shard";
  uint32_t id = 0;
  uint32_t count = 1;
  Partition partition;
};

// Runs every op of a batch against partition, in order, writing each reply. Exposed for tests
// and benchmarks that drive a shard without an actor system.
void RunBatch(Partition& partition, uint32_t shard_id, uint32_t shard_count, ShardBatch& batch);

caf::actor SpawnShard(caf::actor_system& system, uint32_t id, uint32_t count);

}  // namespace dbkv

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(dbkv::BatchPtr)

#endif  // DATABRIDGE_ACTORS_SHARD_ACTOR_H_
