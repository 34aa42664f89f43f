#include "plugins/wait_family.h"

#include "plugins/api/args.h"
#include "plugins/api/contexts.h"
#include "protocol/opcodes.h"

namespace dbkv {
namespace {

namespace op = protocol::op;

// The absolute deadline of a timeout argument (seconds; 0: none), or an error reply.
bool Deadline(const ShardContext& ctx, const Value& arg, int64_t* deadline, Reply* error) {
  int64_t ms;
  Status s = ArgToTimeoutMs(arg, &ms);
  if (!s.ok()) {
    *error = Reply::Error(s);
    return false;
  }
  *deadline = ms == 0 ? 0 : ctx.now_ms() + ms;
  return true;
}

// WAIT key timeout -> the key's value as soon as it exists, or nil at the timeout.
Reply Wait(ShardContext& ctx, const CommandArgs& args) {
  int64_t deadline;
  Reply error;
  if (!Deadline(ctx, args[1], &deadline, &error)) return error;
  std::string_view key = args[0].AsStringView();
  if (Entry* e = ctx.Peek(key)) return Reply::Of(e->value);
  if (ctx.timed_out()) return Reply::Nil();
  BlockRequest b;
  b.keys = {key};
  b.deadline_ms = deadline;
  return ctx.Block(std::move(b));
}

// MWAIT timeout key [key ...] -> the keys' values once all exist; at the timeout, the values
// of those that do (nil for the others).
Reply MWait(ShardContext& ctx, const CommandArgs& args) {
  int64_t deadline;
  Reply error;
  if (!Deadline(ctx, args[0], &deadline, &error)) return error;
  ValueList values;
  BlockRequest b;
  for (size_t i = 1; i < args.size(); ++i) {
    std::string_view key = args[i].AsStringView();
    Entry* e = ctx.Peek(key);
    if (e == nullptr) {
      b.keys.push_back(key);
      values.emplace_back();
    } else {
      values.push_back(e->value);
    }
  }
  if (b.keys.empty() || ctx.timed_out()) return Reply::Of(Value::List(std::move(values)));
  b.deadline_ms = deadline;
  return ctx.Block(std::move(b));
}

// WAITANY timeout key [key ...] -> [key, value] of a key that exists (the first in the given
// order, when several do), as soon as one does; nil at the timeout.
Reply WaitAny(ShardContext& ctx, const CommandArgs& args) {
  int64_t deadline;
  Reply error;
  if (!Deadline(ctx, args[0], &deadline, &error)) return error;
  BlockRequest b;
  for (size_t i = 1; i < args.size(); ++i) {
    std::string_view key = args[i].AsStringView();
    if (Entry* e = ctx.Peek(key)) {
      return Reply::Of(Value::List({args[i], e->value}));
    }
    b.keys.push_back(key);
  }
  if (ctx.timed_out()) return Reply::Nil();
  b.deadline_ms = deadline;
  return ctx.Block(std::move(b));
}

// Keys on several shards: the first part with a key wins (the others were cancelled and
// answered nil).
Reply WaitAnyMerge(MergeInput& in, ConnectionContext&) {
  for (Reply& part : in.parts) {
    if (!part.ok()) return std::move(part);
    if (!part.value.is_null()) return std::move(part);
  }
  return Reply::Nil();
}

CommandSpec Spec(std::string name, uint8_t opcode, int min_args, int max_args, int first_key,
                 int last_key, ShardHandler h, MergeFunction merge, uint32_t extra_flags,
                 std::string summary) {
  CommandSpec s;
  s.name = std::move(name);
  s.opcode = opcode;
  s.flags = kCmdReadOnly | kCmdBlocking | extra_flags;
  s.min_args = min_args;
  s.max_args = max_args;
  s.first_key = first_key;
  s.last_key = last_key;
  s.shard = std::move(h);
  s.merge = std::move(merge);
  s.summary = std::move(summary);
  return s;
}

}  // namespace

Status RegisterWaitFamily(CommandRegistry* r) {
  CommandSpec specs[] = {
      Spec("WAIT", op::kWait, 2, 2, 0, 0, Wait, nullptr, 0, "WAIT key timeout"),
      Spec("MWAIT", op::kMWait, 2, -1, 1, -1, MWait, MergeInKeyOrder, 0,
           "MWAIT timeout key [key ...]"),
      Spec("WAITANY", op::kWaitAny, 2, -1, 1, -1, WaitAny, WaitAnyMerge, kCmdFirstPartWins,
           "WAITANY timeout key [key ...]"),
  };
  for (CommandSpec& s : specs) {
    Status st = r->Register(std::move(s));
    if (!st.ok()) return st;
  }
  return Status::OK();
}

}  // namespace dbkv
