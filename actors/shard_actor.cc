#include "actors/shard_actor.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <string>

#include "core/clock.h"

namespace dbkv {

void RunBatch(Partition& partition, Waiters& waiters, ShardBatch& batch) {
  const int64_t now_ms = WallClockMs();
  size_t kept = 0;
  for (size_t i = 0; i < batch.ops.size(); ++i) {
    ShardOp& op = batch.ops[i];
    const bool parked = waiters.Run(op, batch.completion, now_ms);
    if (!parked) batch.ops[kept++] = op;
    // Blocked commands waiting on what this op wrote go before the next op (as in Redis, a
    // push is handed to a waiting BLPOP before anyone else can pop it).
    if (waiters.has_written()) waiters.ProcessWrites(now_ms);
  }
  batch.ops.resize(kept);
  (void)partition;
}

void RunBatch(Partition& partition, uint32_t shard_id, uint32_t shard_count, ShardBatch& batch) {
  ShardContext ctx(&partition, shard_id, shard_count);
  const int64_t now_ms = WallClockMs();
  for (ShardOp& op : batch.ops) {
    ctx.Reset(op.ns, now_ms);
    try {
      *op.reply = op.cmd->shard(ctx, op.args);
    } catch (const std::exception& e) {
      *op.reply = Reply::Error(Code::kInternal, op.cmd->name + " failed: " + e.what());
    }
    if (op.reply->blocked) *op.reply = Reply::Error(Code::kInternal, "blocking not supported");
  }
}

namespace {

// Makes sure a timer message arrives by the waiters' next deadline.
void ScheduleTimer(caf::stateful_actor<ShardState>* self) {
  ShardState& st = self->state;
  const int64_t next = st.waiters->next_timer();
  if (next == 0) return;
  if (st.timer_at_ms != 0 && st.timer_at_ms <= next) return;
  st.timer_at_ms = next;
  const int64_t delay = std::max<int64_t>(0, next - WallClockMs());
  self->delayed_send(self, std::chrono::milliseconds(delay), timer_atom::value);
}

caf::behavior ShardBehavior(caf::stateful_actor<ShardState>* self, uint32_t id, uint32_t count) {
  ShardState& st = self->state;
  st.id = id;
  st.count = count;
  st.waiters = std::make_unique<Waiters>(&st.partition, id, count);
  return {
      [self](run_atom, BatchPtr p) {
        ShardState& st = self->state;
        RunBatch(st.partition, *st.waiters, *p.batch);
        p.batch->completion->OnBatchDone(p.batch);
        if (st.waiters->size() != 0) ScheduleTimer(self);
      },
      [self](timer_atom) {
        ShardState& st = self->state;
        const int64_t now = WallClockMs();
        if (st.timer_at_ms <= now) st.timer_at_ms = 0;
        st.waiters->ProcessTimers(now);
        ScheduleTimer(self);
      },
      [self](cancel_atom, uint64_t conn_id, uint64_t seq) {
        ShardState& st = self->state;
        st.waiters->Cancel(conn_id, seq);
        ScheduleTimer(self);
      },
  };
}

}  // namespace
caf::actor SpawnShard(caf::actor_system& system, uint32_t id, uint32_t count) {
  return system.spawn(ShardBehavior, id, count);
}

}  // namespace dbkv
