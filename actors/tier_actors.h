// A shard's tier I/O actors (tier_io.h): the writer appends spilled values to cold segments,
// the reader loads them back and scans segments for compaction. Both detached: a slow disk
// delays the shard's cold reads and spills, never its other keys. One file each.
#ifndef DATABRIDGE_ACTORS_TIER_ACTORS_H_
#define DATABRIDGE_ACTORS_TIER_ACTORS_H_

#include <caf/actor_system.hpp>
#include <string>

#include "actors/messages.h"
#include "storage/env.h"

namespace dbkv {

// tier_writer.cc: tier_writer_actor (messages.h) over the segments in dir.
tier_writer_actor SpawnTierWriter(caf::actor_system& system, storage::Env* env,
                                  const std::string& dir);
// tier_reader.cc: tier_reader_actor (messages.h) over the segments in dir.
tier_reader_actor SpawnTierReader(caf::actor_system& system, storage::Env* env,
                                  const std::string& dir);

}  // namespace dbkv

#endif  // DATABRIDGE_ACTORS_TIER_ACTORS_H_
