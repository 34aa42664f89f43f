// Persistence: the write-ahead log (group commit) and snapshot coordination, as a CAF actor,
// plus the snapshot writer actor. With --fsync always the WAL actor is detached (its fdatasyncs
// never hold a shard or an I/O loop); otherwise it only writes (to the page cache) and is
// scheduled like a shard: the I/O loop whose batch it logs runs it (server/io_loop.h).
//
// Shards encode the mutations of each batch (WalBuffer) and send them here in one message,
// with the batches whose replies wait for them: in every mode a reply goes out only once its
// records are written to the WAL file (write(2): they survive a crash of the process), and
// with --fsync always only once they are synced too. Every record that arrived meanwhile shares
// one write(2) and, with always, one fdatasync (group commit). With periodic a syncer actor of
// its own fdatasyncs the file every interval, so that the sync never holds up writing and
// acknowledging; with never the OS decides. Snapshots: every --snapshot-interval-s or
// --snapshot-every-writes, the WAL is rotated at LSN L and each shard writes its partition in
// slices, between its other messages (shard_actor.cc); once all are done, the snapshot set at
// L and the previous complete one are kept, older files and the WAL the kept sets do not need
// deleted (storage/snapshot_set.h).
#ifndef DATABRIDGE_ACTORS_PERSISTENCE_H_
#define DATABRIDGE_ACTORS_PERSISTENCE_H_

#include <caf/all.hpp>
#include <cstdint>
#include <vector>

#include "actors/messages.h"
#include "actors/persistence_types.h"

namespace dbkv {

// Spawns the persistence actor (detached with --fsync always). The WAL continues at next_lsn
// (after recovery) in a new file. Its messages: persistence_actor (messages.h).
persistence_actor SpawnPersistence(caf::actor_system& system, PersistenceOptions options,
                                   PersistenceState* state, std::vector<shard_actor> shards,
                                   uint64_t next_lsn);

}  // namespace dbkv

#endif  // DATABRIDGE_ACTORS_PERSISTENCE_H_
