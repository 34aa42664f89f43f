// The tier reader actor: loads a shard's cold values back and reads its segments for
// compaction.
#include <memory>

#include "actors/tier_actors.h"

namespace dbkv {
namespace {

struct ReaderState {
  static inline const char* name = "dbkv.tier_reader";
  std::unique_ptr<TierReaderFiles> files;
};

tier_reader_actor::behavior_type TierReader(tier_reader_actor::stateful_pointer<ReaderState> self,
                                            storage::Env* env, const std::string& dir) {
  self->state.files = std::make_unique<TierReaderFiles>(env, dir);
  // The answers go to the shard as messages of their own (it sent, not requested).
  return {
      [self](tier_read_atom, TierReadPtr r) -> caf::result<tier_loaded_atom, TierReadPtr> {
        self->state.files->Read(r.p);
        return {tier_loaded_atom::value, r};
      },
      [self](tier_scan_atom, TierScanPtr s) -> caf::result<tier_scanned_atom, TierScanPtr> {
        self->state.files->Scan(s.p);
        return {tier_scanned_atom::value, s};
      },
  };
}

}  // namespace

tier_reader_actor SpawnTierReader(caf::actor_system& system, storage::Env* env,
                                  const std::string& dir) {
  return system.spawn<caf::detached>(TierReader, env, dir);
}

}  // namespace dbkv
