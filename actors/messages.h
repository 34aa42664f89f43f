// The messages of the actors, as CAF typed interfaces: the compiler checks every send, request
// and handler against them. One actor per file implements each (the file named after it).
//
//   shard_actor            shard_actor.cc      owns a partition; runs batches, blocked commands,
//                                              expiry, its snapshot walk, its tier's I/O results
//   persistence_actor      persistence.cc      the WAL (group commit) and snapshot coordination
//   wal_syncer_actor       wal_syncer.cc       fdatasyncs the WAL off the persistence actor
//   snapshot_writer_actor  snapshot_writer.cc  writes the shards' snapshot files
//   tier_writer_actor      tier_writer.cc      appends spilled values to cold segments
//   tier_reader_actor      tier_reader.cc      reads cold values back, scans for compaction
//
// Messages an actor sends itself (timers, continuations) are part of its interface too (CAF
// 0.17 has no private messages); they are grouped after its public ones.
#ifndef DATABRIDGE_ACTORS_MESSAGES_H_
#define DATABRIDGE_ACTORS_MESSAGES_H_

#include <caf/all.hpp>
#include <cstdint>
#include <string>

#include "actors/persistence_types.h"
#include "actors/shard_batch.h"
#include "actors/tier_io.h"

namespace dbkv {

// -- Atoms.

// Shards.
using run_atom = caf::atom_constant<caf::atom("run")>;
using timer_atom = caf::atom_constant<caf::atom("timer")>;
using cancel_atom = caf::atom_constant<caf::atom("cancel")>;
using attach_atom = caf::atom_constant<caf::atom("attach")>;
using health_atom = caf::atom_constant<caf::atom("health")>;
using housekeep_atom = caf::atom_constant<caf::atom("housekeep")>;
// Persistence.
using wal_atom = caf::atom_constant<caf::atom("wal")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using sync_atom = caf::atom_constant<caf::atom("sync")>;
using retry_atom = caf::atom_constant<caf::atom("retry")>;
using snapshot_atom = caf::atom_constant<caf::atom("snapshot")>;
using snapdone_atom = caf::atom_constant<caf::atom("snapdone")>;
using snaptick_atom = caf::atom_constant<caf::atom("snaptick")>;
using snapbegin_atom = caf::atom_constant<caf::atom("snapbegin")>;
using snapblock_atom = caf::atom_constant<caf::atom("snapblock")>;
using snapend_atom = caf::atom_constant<caf::atom("snapend")>;
using finish_atom = caf::atom_constant<caf::atom("finish")>;
// Tiered storage.
using tier_append_atom = caf::atom_constant<caf::atom("tappend")>;
using tier_appended_atom = caf::atom_constant<caf::atom("tappended")>;
using tier_read_atom = caf::atom_constant<caf::atom("tread")>;
using tier_loaded_atom = caf::atom_constant<caf::atom("tloaded")>;
using tier_scan_atom = caf::atom_constant<caf::atom("tscan")>;
using tier_scanned_atom = caf::atom_constant<caf::atom("tscanned")>;
using tier_sync_atom = caf::atom_constant<caf::atom("tsync")>;

// -- Interfaces.

// Answers the error, or "" once the file's written data is durable (counted in
// PersistenceState's fsync figures).
using wal_syncer_actor =
    caf::typed_actor<caf::replies_to<sync_atom, WalFileRef>::with<std::string>>;

// A shard's snapshot file: begin (temporary file, header), blocks, end (footer, fsync, rename
// to its final name for that LSN). Each answers whether it worked.
using snapshot_writer_actor =
    caf::typed_actor<caf::replies_to<snapbegin_atom, uint32_t, std::string>::with<bool>,
                     caf::replies_to<snapblock_atom, uint32_t, std::string>::with<bool>,
                     caf::replies_to<snapend_atom, uint32_t, std::string, uint64_t>::with<bool>>;

using persistence_actor = caf::typed_actor<
    // A shard batch's WAL records, and the batches whose replies wait for them.
    caf::reacts_to<wal_atom, WalWritePtr>,
    // A shard's snapshot at an LSN is done: (shard, lsn, ok, error).
    caf::reacts_to<snapdone_atom, uint32_t, uint64_t, bool, std::string>,
    // Flush, sync, snapshot every shard; answers once done (SIGTERM).
    caf::replies_to<finish_atom>::with<bool>,
    // Its own: the group commit after the queued writes, the periodic sync, the retry after a
    // failure, the snapshot timer.
    caf::reacts_to<flush_atom>, caf::reacts_to<sync_atom>, caf::reacts_to<retry_atom>,
    caf::reacts_to<snaptick_atom>>;

// Appends a spilled value to the shard's current segment; answers with the same request,
// filled in (as a message to the shard).
using tier_writer_actor = caf::typed_actor<
    caf::replies_to<tier_append_atom, TierAppendPtr>::with<tier_appended_atom, TierAppendPtr>,
    // fdatasyncs every open segment (before a snapshot that references them is made durable).
    caf::replies_to<tier_sync_atom>::with<bool>>;

// Loads cold values, reads segments for compaction; answers with the request, filled in.
using tier_reader_actor = caf::typed_actor<
    caf::replies_to<tier_read_atom, TierReadPtr>::with<tier_loaded_atom, TierReadPtr>,
    caf::replies_to<tier_scan_atom, TierScanPtr>::with<tier_scanned_atom, TierScanPtr>>;

using shard_actor = caf::typed_actor<
    // A batch of ops from an I/O loop (the hot path: one message per loop pass and shard).
    caf::reacts_to<run_atom, BatchPtr>,
    // Answer and drop a connection's blocked ops: (conn_id, seq), seq 0: all of them.
    caf::reacts_to<cancel_atom, uint64_t, uint64_t>,
    // From now on, log writes to this persistence actor.
    caf::reacts_to<attach_atom, persistence_actor>,
    // Write a snapshot at an LSN to the writer; tell the coordinator when done (snapdone).
    caf::reacts_to<snapshot_atom, uint64_t, snapshot_writer_actor, persistence_actor>,
    // The shard is responsive (/health).
    caf::replies_to<health_atom>::with<bool>,
    // Its tier's I/O results.
    caf::reacts_to<tier_appended_atom, TierAppendPtr>,
    caf::reacts_to<tier_loaded_atom, TierReadPtr>, caf::reacts_to<tier_scanned_atom, TierScanPtr>,
    // Its own: blocked commands' deadlines, expiry slices (tick: the periodic timer, re-armed;
    // otherwise the continuation of a slice that ran out of budget).
    caf::reacts_to<timer_atom>, caf::reacts_to<housekeep_atom, bool>>;

}  // namespace dbkv

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(dbkv::BatchPtr)

#endif  // DATABRIDGE_ACTORS_MESSAGES_H_
