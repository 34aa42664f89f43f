#include "plugins/lock_family.h"

#include "plugins/api/args.h"
#include "plugins/api/contexts.h"
#include "protocol/opcodes.h"

namespace dbkv {
namespace {

namespace op = protocol::op;

// A lock is a key holding its owner's token (a string), with the lease as its expiry.
bool ParseLease(const CommandArgs& args, std::string_view* token, int64_t* ttl_ms, Reply* err) {
  if (!args[1].is_string_like() || args[1].AsStringView().empty()) {
    *err = Reply::Error(Code::kInvalidArgument, "lock token must be a non-empty string");
    return false;
  }
  *token = args[1].AsStringView();
  if (!ArgToInt(args[2], ttl_ms) || *ttl_ms <= 0 || *ttl_ms > int64_t{1} << 40) {
    *err = Reply::Error(Code::kInvalidArgument, "lock ttl must be a positive number of ms");
    return false;
  }
  return true;
}

// LOCK name token ttl_ms [timeout] -> 1 if token now holds the lock, 0 if not. Without a
// timeout it tries once; with one it waits (seconds; 0: forever) for a release or an expiry.
// The owner locking again renews its lease.
Reply Lock(ShardContext& ctx, const CommandArgs& args) {
  std::string_view token;
  int64_t ttl_ms;
  Reply err;
  if (!ParseLease(args, &token, &ttl_ms, &err)) return err;
  int64_t deadline = -1;  // -1: do not wait
  if (args.size() > 3) {
    int64_t timeout_ms;
    Status s = ArgToTimeoutMs(args[3], &timeout_ms);
    if (!s.ok()) return Reply::Error(s);
    deadline = timeout_ms == 0 ? 0 : ctx.now_ms() + timeout_ms;
  }
  std::string_view name = args[0].AsStringView();
  const Record* e = ctx.Peek(name);
  if (e != nullptr && !e->value().is_string_like()) return Reply::Error(Status::WrongType());
  bool free_or_ours = e == nullptr;
  if (e != nullptr) {
    const ValueRef held = e->value();
    free_or_ours = held.AsStringView() == token;
  }
  if (free_or_ours) {
    ctx.Put(name, Value::String(token), ctx.now_ms() + ttl_ms);
    return Reply::Of(Value::Int(1));
  }
  if (deadline < 0 || ctx.timed_out()) return Reply::Of(Value::Int(0));
  BlockRequest b;
  b.keys = {name};
  b.deadline_ms = deadline;
  b.recheck_ms = e->expire_at_ms();  // the holder's lease runs out
  return ctx.Block(std::move(b));
}

// The held lock's entry if token owns it, else the NOTOWNER reply in *err.
const Record* Owned(ShardContext& ctx, std::string_view name, std::string_view token, Reply* err) {
  const Record* e = ctx.Peek(name);
  if (e == nullptr) {
    *err = Reply::Error(Code::kNotOwner, "lock is not held");
    return nullptr;
  }
  if (!e->value().is_string_like()) {
    *err = Reply::Error(Status::WrongType());
    return nullptr;
  }
  const ValueRef held = e->value();
  if (held.AsStringView() != token) {
    *err = Reply::Error(Code::kNotOwner, "lock is held by another owner");
    return nullptr;
  }
  return e;
}

// UNLOCK name token -> 1; NOTOWNER if token does not hold the lock.
Reply Unlock(ShardContext& ctx, const CommandArgs& args) {
  if (!args[1].is_string_like()) return Reply::Error(Code::kNotOwner, "lock is not held");
  Reply err;
  std::string_view name = args[0].AsStringView();
  if (Owned(ctx, name, args[1].AsStringView(), &err) == nullptr) return err;
  ctx.Erase(name);  // wakes the next waiter
  return Reply::Of(Value::Int(1));
}

// LOCKEXTEND name token ttl_ms -> 1, the lease now ends ttl_ms from now; NOTOWNER if token
// does not hold the lock.
Reply LockExtend(ShardContext& ctx, const CommandArgs& args) {
  std::string_view token;
  int64_t ttl_ms;
  Reply err;
  if (!ParseLease(args, &token, &ttl_ms, &err)) return err;
  std::string_view name = args[0].AsStringView();
  if (Owned(ctx, name, token, &err) == nullptr) return err;
  EntryRef ref = ctx.Upsert(name);
  ref.entry->expire_at_ms = ctx.now_ms() + ttl_ms;
  ctx.Commit(ref);
  return Reply::Of(Value::Int(1));
}

}  // namespace

Status RegisterLockFamily(CommandRegistry* r) {
  return r->RegisterAll({
      KeyCommand("LOCK", op::kLock, kCmdWrite | kCmdBlocking, 3, 4, Lock,
                 "LOCK name token ttl_ms [timeout]"),
      KeyCommand("UNLOCK", op::kUnlock, kCmdWrite | kCmdAllowOom, 2, 2, Unlock,
                 "UNLOCK name token"),
      KeyCommand("LOCKEXTEND", op::kLockExtend, kCmdWrite, 3, 3, LockExtend,
                 "LOCKEXTEND name token ttl_ms"),
  });
}

}  // namespace dbkv
