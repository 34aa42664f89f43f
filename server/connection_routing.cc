// Connection, routing: a key command goes to the shard of its keys, or is split into one part
// per shard whose replies the command's merge combines; an all-shards command runs everywhere.
// Key positions and the split itself are plugins/api/key_spec.h's.
#include "actors/shard_actor.h"
#include "core/ascii.h"
#include "server/connection.h"
#include "server/io_loop.h"

namespace dbkv {

namespace asio = boost::asio;
using boost::system::error_code;

void Connection::DispatchToShards(Pipeline& p, uint32_t index, CommandArgs args,
                                  std::string_view ns) {
  PendingRequest& r = p[index];
  const CommandSpec& cmd = *r.cmd;
  const uint32_t nshards = static_cast<uint32_t>(loop_->state()->shards.size());
  if (cmd.flags & kCmdBlocking) {
    r.seq = ++blocking_seq_;
    used_blocking_ = true;
  }
  auto send = [&](uint32_t shard, CommandArgs a, Reply* slot, int32_t part) {
    ShardOp op{&cmd, a, ns, slot, &p, index, part};
    op.conn_id = id_;
    op.seq = r.seq;
    loop_->AddOp(shard, op);
  };

  if (cmd.flags & kCmdAllShards) {
    r.split = std::make_unique<SplitState>();
    r.split->input.args = args;
    r.split->input.parts.resize(nshards);
    r.split->remaining = nshards;
    for (uint32_t s = 0; s < nshards; ++s) {
      r.split->part_shards.push_back(s);
      send(s, args, &r.split->input.parts[s], static_cast<int32_t>(s));
    }
    p.pending_ops += nshards;
    return;
  }

  KeyGroups keys;
  if (!ResolveKeys(cmd.keys, args.size(), &keys)) {
    r.cmd = nullptr;
    r.reply = Reply::Error(Code::kInvalidArgument,
                           "wrong number of arguments for '" + AsciiLower(cmd.name) + "' command");
    return;
  }
  Value* argv = r.argv.data() + r.arg_offset;
  Status s = NormalizeKeys(keys, argv);
  if (!s.ok()) {
    r.cmd = nullptr;
    r.reply = Reply::Error(s);
    return;
  }
  const uint32_t shard = CommonShard(keys, argv, nshards);
  if (shard != kSeveralShards) {
    send(shard, args, &r.reply, -1);
    ++p.pending_ops;
    return;
  }
  if (cmd.flags & kCmdSingleShard) {
    r.cmd = nullptr;
    r.reply = Reply::Error(Code::kCrossShard,
                           "the keys of '" + AsciiLower(cmd.name) +
                               "' must be on one shard: give them the same {hash tag}");
    return;
  }

  // Keys on several shards: one part per shard, each with the arguments before the first
  // key, its own key groups in the caller's order, and the arguments after the last group.
  ShardSplit split = SplitByShard(keys, argv, args.size(), nshards);
  auto state = std::make_unique<SplitState>();
  state->part_shards = std::move(split.shards);
  state->part_args = std::move(split.args);
  state->input.groups = std::move(split.groups);
  state->input.group_count = split.group_count;
  const uint32_t parts = static_cast<uint32_t>(state->part_args.size());
  state->input.parts.resize(parts);
  state->remaining = parts;
  r.split = std::move(state);
  for (uint32_t part = 0; part < parts; ++part) {
    const ValueList& pa = r.split->part_args[part];
    send(r.split->part_shards[part], CommandArgs(pa.data(), pa.size()), &r.split->input.parts[part],
         static_cast<int32_t>(part));
  }
  p.pending_ops += parts;
}

}  // namespace dbkv
