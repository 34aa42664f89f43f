// The snapshot writer: writes the shards' snapshot files (storage/SNAPSHOT_FORMAT.md) on a
// thread of its own, as the shards walk their partitions (shard_actor.cc). A file is written
// under a temporary name and renamed once whole and synced: a snapshot file that exists is
// complete.
#ifndef DATABRIDGE_ACTORS_SNAPSHOT_WRITER_H_
#define DATABRIDGE_ACTORS_SNAPSHOT_WRITER_H_

#include <caf/actor_system.hpp>
#include <string>

#include "actors/messages.h"
#include "storage/env.h"

namespace dbkv {

// Spawns the snapshot writer (detached) for the data dir dir: snapshot_writer_actor.
snapshot_writer_actor SpawnSnapshotWriter(caf::actor_system& system, storage::Env* env,
                                          std::string dir);

}  // namespace dbkv

#endif  // DATABRIDGE_ACTORS_SNAPSHOT_WRITER_H_
