// The WAL syncer: with --fsync periodic, fdatasyncs the WAL file on a thread of its own, so that
// the persistence actor goes on writing and acknowledging meanwhile (persistence.cc).
#ifndef DATABRIDGE_ACTORS_WAL_SYNCER_H_
#define DATABRIDGE_ACTORS_WAL_SYNCER_H_

#include <caf/actor_system.hpp>

#include "actors/messages.h"
#include "actors/persistence_types.h"

namespace dbkv {

// Spawns the WAL syncer (detached): wal_syncer_actor (messages.h). Counts each sync in state.
wal_syncer_actor SpawnWalSyncer(caf::actor_system& system, PersistenceState* state);

}  // namespace dbkv

#endif  // DATABRIDGE_ACTORS_WAL_SYNCER_H_
