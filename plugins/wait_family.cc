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
  if (const Record* e = ctx.Peek(key)) return Reply::Of(e->value().ToValue());
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
    const Record* e = ctx.Peek(key);
    if (e == nullptr) {
      b.keys.push_back(key);
      values.emplace_back();
    } else {
      values.push_back(e->value().ToValue());
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
    if (const Record* e = ctx.Peek(key)) {
      return Reply::Of(Value::List({args[i], e->value().ToValue()}));
    }
    b.keys.push_back(key);
  }
  if (ctx.timed_out()) return Reply::Nil();
  b.deadline_ms = deadline;
  return ctx.Block(std::move(b));
}

// WAITANYV timeout key version [key version ...] -> [key, value, version] of the first key
// (in the given order) that exists with a version other than the one given (0: any), as soon
// as one does; nil at the timeout. "Tell me when this changes": a client that has seen a key at
// some version waits for the next write.
Reply WaitAnyV(ShardContext& ctx, const CommandArgs& args) {
  int64_t deadline;
  Reply error;
  if (!Deadline(ctx, args[0], &deadline, &error)) return error;
  BlockRequest b;
  for (size_t i = 1; i + 1 < args.size(); i += 2) {
    int64_t seen;
    if (!ArgToInt(args[i + 1], &seen) || seen < 0) {
      return Reply::Error(Code::kInvalidArgument, "version must be an integer >= 0");
    }
    std::string_view key = args[i].AsStringView();
    const Record* e = ctx.Peek(key);
    if (e != nullptr && e->version() != static_cast<uint64_t>(seen)) {
      return Reply::Of(Value::List(
          {args[i], e->value().ToValue(), Value::Int(static_cast<int64_t>(e->version()))}));
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

// timeout key [key ...]: the keys from the second argument on, their shards' replies merged.
// WAITANYV: the timeout, then (key, version) pairs.
CommandSpec KeyPairsAfterTimeout(CommandSpec s, MergeFunction merge) {
  s.keys = KeySpec::Range(1, -1, 2);
  s.merge = std::move(merge);
  return s;
}

CommandSpec TimeoutThenKeys(CommandSpec s, MergeFunction merge) {
  s.keys = KeySpec::Range(1, -1);
  s.merge = std::move(merge);
  return s;
}

}  // namespace

Status RegisterWaitFamily(CommandRegistry* r) {
  constexpr uint32_t kWaitFlags = kCmdReadOnly | kCmdBlocking;
  // WAIT, MWAIT and WAITANY answer stored values; WAITANYV's versions stay numbers.
  constexpr uint32_t kStored = kCmdStoredReply;
  return r->RegisterAll({
      KeyCommand("WAIT", op::kWait, kWaitFlags | kStored, 2, 2, Wait, "WAIT key timeout"),
      TimeoutThenKeys(KeyCommand("MWAIT", op::kMWait, kWaitFlags | kStored, 2, -1, MWait,
                                 "MWAIT timeout key [key ...]"),
                      MergeInKeyOrder),
      TimeoutThenKeys(KeyCommand("WAITANY", op::kWaitAny, kWaitFlags | kCmdFirstPartWins | kStored,
                                 2, -1, WaitAny, "WAITANY timeout key [key ...]"),
                      WaitAnyMerge),
      KeyPairsAfterTimeout(
          KeyCommand("WAITANYV", op::kWaitAnyV, kWaitFlags | kCmdFirstPartWins, 3, -1, WaitAnyV,
                     "WAITANYV timeout key version [key version ...]"),
          WaitAnyMerge),
  });
}

}  // namespace dbkv
