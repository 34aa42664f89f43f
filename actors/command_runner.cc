#include "actors/command_runner.h"

#include <exception>
#include <string>
#include <utility>

namespace dbkv {

CommandRunner::CommandRunner(Partition* partition, uint32_t shard_id, uint32_t shard_count)
    : partition_(partition),
      ctx_(partition, shard_id, shard_count, this),
      waiters_(shard_id, this) {}

CommandRunner::~CommandRunner() = default;

void CommandRunner::Block(BlockRequest request) {
  blocked_ = true;
  pending_ = std::move(request);
}

void CommandRunner::OnWrite(std::string_view ns, std::string_view key, const Record* record,
                            uint64_t version, const ListChange* change) {
  if (listener_ != nullptr) listener_->OnWrite(ns, key, record, version, change);
  waiters_.OnKeyWritten(ns, key);
}

Reply CallHandler(const CommandSpec& cmd, ShardContext& ctx, Partition* partition,
                  const CommandArgs& args) {
  Reply reply;
  try {
    reply = cmd.shard(ctx, args);
  } catch (const std::exception& e) {
    // A handler (a plugin's, most likely) threw: answer with an error, keep the shard alive.
    reply = Reply::Error(Code::kInternal, cmd.name + " failed: " + e.what());
  }
  if (partition->HasOpenChange()) {
    // Upsert without Commit or Abort (it threw, or forgot): the key goes back as it was.
    partition->AbortOpenChange();
    if (reply.ok()) reply = Reply::Error(Code::kInternal, cmd.name + " left a change unfinished");
  }
  return reply;
}

Reply CommandRunner::Invoke(ShardOp& op, int64_t now_ms, bool timed_out, BlockRequest* block) {
  ctx_.Reset(op.ns, now_ms, timed_out, ReadsValues(*op.cmd, op.args),
             (op.cmd->flags & kCmdWrite) != 0);
  blocked_ = false;
  Reply reply = CallHandler(*op.cmd, ctx_, partition_, op.args);
  if (reply.blocked && !blocked_) {
    reply = Reply::Error(Code::kInternal, op.cmd->name + " returned blocked without blocking");
  } else if (!reply.blocked && blocked_) {
    blocked_ = false;  // Block() called, then answered anyway: the answer wins
  }
  if (reply.blocked && (op.cmd->flags & kCmdBlocking) == 0) {
    reply = Reply::Error(Code::kInternal, op.cmd->name + " may not block");
    blocked_ = false;
  }
  if (blocked_) {
    *block = std::move(pending_);
    pending_ = BlockRequest();
    blocked_ = false;
  }
  return reply;
}

bool CommandRunner::Run(ShardOp& op, BatchCompletion* completion, int64_t now_ms) {
  BlockRequest block;
  Reply reply = Invoke(op, now_ms, false, &block);
  if (!reply.blocked) {
    *op.reply = std::move(reply);
    return false;
  }
  waiters_.Park(op, completion, block);
  return true;
}

}  // namespace dbkv
