// The shard actor: owns one Partition and runs every command on its keys, one batch per
// message. It is the only code that touches its partition, so the data needs no lock.
#ifndef DATABRIDGE_ACTORS_SHARD_ACTOR_H_
#define DATABRIDGE_ACTORS_SHARD_ACTOR_H_

#include <caf/all.hpp>
#include <cstdint>
#include <memory>

#include "actors/shard_batch.h"
#include "actors/waiters.h"
#include "core/partition.h"
#include "plugins/api/contexts.h"

namespace dbkv {

using run_atom = caf::atom_constant<caf::atom("run")>;
using timer_atom = caf::atom_constant<caf::atom("timer")>;
// (cancel_atom, conn_id, seq): answer and drop that connection's blocked ops (seq 0: all).
using cancel_atom = caf::atom_constant<caf::atom("cancel")>;

struct ShardState {
  static inline const char* name = "dbkv.shard";
  uint32_t id = 0;
  uint32_t count = 1;
  Partition partition;
  std::unique_ptr<Waiters> waiters;
  int64_t timer_at_ms = 0;  // the earliest timer message in flight, or 0
};

// Runs every op of a batch against partition, in order, writing each reply; ops that block
// are parked in waiters and removed from the batch. Exposed for tests and benchmarks that
// drive a shard without an actor system.
void RunBatch(Partition& partition, Waiters& waiters, ShardBatch& batch);
// The same without blocking support (a blocking command gets an error).
void RunBatch(Partition& partition, uint32_t shard_id, uint32_t shard_count, ShardBatch& batch);

caf::actor SpawnShard(caf::actor_system& system, uint32_t id, uint32_t count);

}  // namespace dbkv

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(dbkv::BatchPtr)

#endif  // DATABRIDGE_ACTORS_SHARD_ACTOR_H_
