#include "actors/wal_syncer.h"

#include <string>

#include "core/clock.h"

namespace dbkv {
namespace {

struct SyncerState {
  static inline const char* name = "dbkv.wal-syncer";
};

wal_syncer_actor::behavior_type SyncerBehavior(wal_syncer_actor::stateful_pointer<SyncerState>,
                                               PersistenceState* shared) {
  return {
      // Answers the error, or "" once the file's written data is durable.
      [shared](sync_atom, const WalFileRef& ref) -> std::string {
        const int64_t start = MonotonicNs();
        Status s = ref.file->SyncWritten();
        if (!s.ok()) return s.message();
        shared->RecordSync(MonotonicNs() - start);
        return std::string();
      },
  };
}

}  // namespace

wal_syncer_actor SpawnWalSyncer(caf::actor_system& system, PersistenceState* state) {
  return system.spawn<caf::detached>(SyncerBehavior, state);
}

}  // namespace dbkv
