#include "actors/shard_actor.h"

#include <exception>
#include <string>

#include "core/clock.h"

namespace dbkv {

void RunBatch(Partition& partition, uint32_t shard_id, uint32_t shard_count, ShardBatch& batch) {
  ShardContext ctx(&partition, shard_id, shard_count);
  const int64_t now_ms = WallClockMs();
  for (ShardOp& op : batch.ops) {
    ctx.Reset(op.ns, now_ms);
    try {
      *op.reply = op.cmd->shard(ctx, op.args);
    } catch (const std::exception& e) {
      // A handler (a plugin's, most likely) threw: answer with an error, keep the shard alive.
      *op.reply = Reply::Error(Code::kInternal, op.cmd->name + " failed: " + e.what());
    }
  }
}

namespace {

caf::behavior ShardBehavior(caf::stateful_actor<ShardState>* self, uint32_t id, uint32_t count) {
  self->state.id = id;
  self->state.count = count;
  return {
      [self](run_atom, BatchPtr p) {
        ShardState& st = self->state;
        RunBatch(st.partition, st.id, st.count, *p.batch);
        p.batch->completion->OnBatchDone(p.batch);
      },
  };
}

}  // namespace

caf::actor SpawnShard(caf::actor_system& system, uint32_t id, uint32_t count) {
  return system.spawn(ShardBehavior, id, count);
}

}  // namespace dbkv
