#include "plugins/batch_family.h"

#include "plugins/api/args.h"
#include "plugins/api/contexts.h"
#include "protocol/opcodes.h"

namespace dbkv {
namespace {

namespace op = protocol::op;

// MGET key [key ...] -> one value per key, nil for a missing key.
Reply Mget(ShardContext& ctx, const CommandArgs& args) {
  ValueList out;
  out.reserve(args.size());
  for (const Value& k : args) {
    const Record* e = ctx.Find(k.AsStringView());
    out.push_back(e != nullptr ? e->value().ToValue() : Value::Null());
  }
  return Reply::Of(Value::List(std::move(out)));
}

// Writes the key/value pairs of args, from `from` on, each with the same expiry.
void PutPairs(ShardContext& ctx, const CommandArgs& args, size_t from, int64_t expire_at_ms) {
  for (size_t i = from; i + 1 < args.size(); i += 2) {
    ctx.Put(args[i].AsStringView(), args[i + 1], expire_at_ms);
  }
}

// MSET key value [key value ...] -> OK. Every key loses its expiry (as with SET).
Reply Mset(ShardContext& ctx, const CommandArgs& args) {
  // The dispatcher checks the pairing already; a direct caller may not have.
  if (args.empty() || args.size() % 2 != 0) return Reply::Error(WrongArity("mset"));
  PutPairs(ctx, args, 0, kNoExpiry);
  return Reply::Ok();
}

// MSETPX milliseconds key value [key value ...] -> OK. Every key expires after milliseconds.
// Each shard gets the milliseconds argument and checks it: a bad one fails every part, so
// nothing is written anywhere.
Reply Msetpx(ShardContext& ctx, const CommandArgs& args) {
  if (args.size() < 3 || (args.size() - 1) % 2 != 0) return Reply::Error(WrongArity("msetpx"));
  int64_t at;
  if (!ArgToExpiry(args[0], 1, ctx.now_ms(), &at)) {
    return Reply::Error(Code::kInvalidArgument, "invalid expire time in 'msetpx' command");
  }
  PutPairs(ctx, args, 1, at);
  return Reply::Ok();
}

// MDEL key [key ...] -> number of keys removed (a key named twice counts once).
Reply Mdel(ShardContext& ctx, const CommandArgs& args) {
  int64_t n = 0;
  for (const Value& k : args) n += ctx.Erase(k.AsStringView()) ? 1 : 0;
  return Reply::Of(Value::Int(n));
}

// MEXISTS key [key ...] -> one bool per key.
Reply Mexists(ShardContext& ctx, const CommandArgs& args) {
  ValueList out;
  out.reserve(args.size());
  for (const Value& k : args) out.push_back(Value::Bool(ctx.Peek(k.AsStringView()) != nullptr));
  return Reply::Of(Value::List(std::move(out)));
}

// Keys from first_key to the last argument, in groups of key_step.
CommandSpec BatchCommand(std::string name, uint8_t opcode, uint32_t flags, int min_args,
                         int first_key, int key_step, ShardHandler handler, MergeFunction merge,
                         std::string summary) {
  CommandSpec s = KeyCommand(std::move(name), opcode, flags, min_args, -1, std::move(handler),
                             std::move(summary));
  s.keys = KeySpec::Range(first_key, -1, key_step);
  s.merge = std::move(merge);
  return s;
}

}  // namespace

Status RegisterBatchFamily(CommandRegistry* r) {
  return r->RegisterAll({
      BatchCommand("MGET", op::kMget, kCmdReadOnly | kCmdStoredReply, 1, 0, 1, Mget,
                   MergeInKeyOrder, "MGET key [key ...]"),
      BatchCommand("MSET", op::kMset, kCmdWrite | kCmdNoLoad, 2, 0, 2, Mset, MergeFirstError,
                   "MSET key value [key value ...]"),
      BatchCommand("MSETPX", op::kMsetpx, kCmdWrite | kCmdNoLoad, 3, 1, 2, Msetpx, MergeFirstError,
                   "MSETPX milliseconds key value [key value ...]"),
      BatchCommand("MDEL", op::kMdel, kCmdWrite | kCmdAllowOom | kCmdNoLoad, 1, 0, 1, Mdel,
                   MergeSum, "MDEL key [key ...]"),
      BatchCommand("MEXISTS", op::kMexists, kCmdReadOnly | kCmdNoLoad, 1, 0, 1, Mexists,
                   MergeInKeyOrder, "MEXISTS key [key ...]"),
  });
}

}  // namespace dbkv
