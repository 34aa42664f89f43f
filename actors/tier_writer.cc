// The tier writer actor: appends a shard's spilled values to its cold segments.
#include <spdlog/spdlog.h>

#include <memory>

#include "actors/tier_actors.h"

namespace dbkv {
namespace {

struct WriterState {
  static inline const char* name = "dbkv.tier_writer";
  std::unique_ptr<TierWriterFiles> files;
};

tier_writer_actor::behavior_type TierWriter(tier_writer_actor::stateful_pointer<WriterState> self,
                                            storage::Env* env, const std::string& dir) {
  self->state.files = std::make_unique<TierWriterFiles>(env, dir);
  return {
      // The answer goes to the shard as a message of its own (it sent, not requested).
      [self](tier_append_atom, TierAppendPtr a) -> caf::result<tier_appended_atom, TierAppendPtr> {
        self->state.files->Append(a.p);
        if (!a.p->status.ok()) spdlog::error("tier: {}", a.p->status.message());
        return {tier_appended_atom::value, a};
      },
      [self](tier_sync_atom) {
        Status s = self->state.files->Sync();
        if (!s.ok()) spdlog::error("tier: syncing segments: {}", s.message());
        return s.ok();
      },
  };
}

}  // namespace

tier_writer_actor SpawnTierWriter(caf::actor_system& system, storage::Env* env,
                                  const std::string& dir) {
  return system.spawn<caf::detached>(TierWriter, env, dir);
}

}  // namespace dbkv
