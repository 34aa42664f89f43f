#include "plugins/core_family.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "core/numeric.h"
#include "plugins/api/args.h"
#include "plugins/api/contexts.h"
#include "plugins/redis_text.h"
#include "protocol/opcodes.h"

namespace dbkv {
namespace {

namespace op = protocol::op;

std::string_view KeyArg(const CommandArgs& args, size_t i) { return args[i].AsStringView(); }

// GET key
Reply Get(ShardContext& ctx, const CommandArgs& args) {
  const Record* e = ctx.Find(KeyArg(args, 0));
  if (e == nullptr) return Reply::Nil();
  return Reply::Of(e->value().ToValue());
}

// SET key value [EX s | PX ms | EXAT unix-s | PXAT unix-ms | KEEPTTL] [NX | XX] [GET]
Reply Set(ShardContext& ctx, const CommandArgs& args) {
  enum { kNone, kNx, kXx } cond = kNone;
  bool keep_ttl = false, get = false, have_expiry = false;
  int64_t expire_at = kNoExpiry;
  for (size_t i = 2; i < args.size(); ++i) {
    const Value& a = args[i];
    const bool has_next = i + 1 < args.size();
    if (ArgIs(a, "NX") && cond == kNone) {
      cond = kNx;
    } else if (ArgIs(a, "XX") && cond == kNone) {
      cond = kXx;
    } else if (ArgIs(a, "GET")) {
      get = true;
    } else if (ArgIs(a, "KEEPTTL") && !have_expiry) {
      keep_ttl = true;
    } else if ((ArgIs(a, "EX") || ArgIs(a, "PX") || ArgIs(a, "EXAT") || ArgIs(a, "PXAT")) &&
               has_next && !have_expiry && !keep_ttl) {
      const bool seconds = ArgIs(a, "EX") || ArgIs(a, "EXAT");
      const bool absolute = ArgIs(a, "EXAT") || ArgIs(a, "PXAT");
      const Value& n = args[++i];
      if (!ArgToExpiry(n, seconds ? 1000 : 1, absolute ? 0 : ctx.now_ms(), &expire_at)) {
        return Reply::Error(Code::kInvalidArgument, "invalid expire time in 'set' command");
      }
      have_expiry = true;
    } else {
      return Reply::Error(SyntaxError());
    }
  }
  std::string_view key = KeyArg(args, 0);
  const Record* old = ctx.Peek(key);
  Reply reply = get ? (old ? Reply::Of(old->value().ToValue()) : Reply::Nil()) : Reply::Ok();
  if ((cond == kNx && old != nullptr) || (cond == kXx && old == nullptr)) {
    return get ? reply : Reply::Nil();
  }
  if (keep_ttl && old != nullptr) expire_at = old->expire_at_ms();
  if (have_expiry && expire_at <= ctx.now_ms()) {
    // An absolute time in the past: the key is written and immediately gone.
    ctx.Erase(key);
    return reply;
  }
  ctx.Put(key, args[1], expire_at);
  return reply;
}

// DEL key [key ...] -> number removed
Reply Del(ShardContext& ctx, const CommandArgs& args) {
  int64_t n = 0;
  for (const Value& k : args) n += ctx.Erase(k.AsStringView()) ? 1 : 0;
  return Reply::Of(Value::Int(n));
}

// EXISTS key [key ...] -> number existing (a key named twice counts twice, as in Redis)
Reply Exists(ShardContext& ctx, const CommandArgs& args) {
  int64_t n = 0;
  for (const Value& k : args) n += ctx.Peek(k.AsStringView()) != nullptr ? 1 : 0;
  return Reply::Of(Value::Int(n));
}

Reply IncrBy(ShardContext& ctx, const CommandArgs& args, bool negate) {
  Value delta = Value::Int(1);
  if (args.size() > 1) {
    auto n = ArgToNumber(args[1]);
    if (!n.ok()) return Reply::Error(n.status());
    delta = std::move(*n);
  }
  if (negate) {
    if (delta.type() == ValueType::kInt) {
      if (delta.AsInt() == std::numeric_limits<int64_t>::min()) {
        return Reply::Error(Code::kOverflow, "decrement would overflow");
      }
      delta = Value::Int(-delta.AsInt());
    } else {
      delta = Value::Dec(delta.AsDecimal().Negated());
    }
  }
  EntryRef ref = ctx.Upsert(KeyArg(args, 0));
  auto sum = AddNumbers(ref.entry->value, delta);
  if (!sum.ok()) {
    // Text that is not a number: still WRONGTYPE (the binary protocol's code), with Redis's
    // text, which RESP sends as "-ERR value is not an integer or out of range" (as Redis does
    // for a string that is not an integer; protocol/resp.cc RespErrorPrefix).
    const bool text = ref.entry->value.is_string_like();
    ctx.Abort(ref);
    if (text && sum.status().code() == Code::kWrongType) {
      return Reply::Error(Code::kWrongType, NotAnInteger().message());
    }
    return Reply::Error(sum.status());
  }
  ref.entry->value = *sum;
  ctx.Commit(ref);
  return Reply::Of(std::move(*sum));
}

// INCR key [by] / DECR key [by]: by is an integer or a Decimal; exact.
Reply Incr(ShardContext& ctx, const CommandArgs& args) { return IncrBy(ctx, args, false); }
Reply Decr(ShardContext& ctx, const CommandArgs& args) { return IncrBy(ctx, args, true); }

// INCRBY key increment / DECRBY key decrement: as Redis, the increment must be an integer; the
// stored value may be anything INCR takes.
Reply IncrByInt(ShardContext& ctx, const CommandArgs& args, bool negate) {
  int64_t by;
  if (!ArgToInt(args[1], &by)) return Reply::Error(NotAnInteger());
  return IncrBy(ctx, args, negate);
}
Reply IncrByCmd(ShardContext& ctx, const CommandArgs& args) { return IncrByInt(ctx, args, false); }
Reply DecrByCmd(ShardContext& ctx, const CommandArgs& args) { return IncrByInt(ctx, args, true); }

// INCRBYFLOAT key increment: as Redis: the sum in long double precision, stored and replied as
// Redis's text of it (a string: "10.5", "5200"). The stored value may be absent (0), an int, a
// double, a Decimal, or text holding a float.
Reply IncrByFloat(ShardContext& ctx, const CommandArgs& args) {
  long double by;
  if (!ToLongDouble(args[1], &by) || args[1].type() == ValueType::kBool) {
    return Reply::Error(Code::kInvalidArgument, "value is not a valid float");
  }
  EntryRef ref = ctx.Upsert(KeyArg(args, 0));
  const Value& cur = ref.entry->value;
  long double current = 0;
  if (cur.type() == ValueType::kList || cur.type() == ValueType::kMap ||
      cur.type() == ValueType::kBool) {
    ctx.Abort(ref);
    return Reply::Error(Status::WrongType());
  }
  if (!cur.is_null() && !ToLongDouble(cur, &current)) {
    ctx.Abort(ref);
    return Reply::Error(Code::kInvalidArgument, "value is not a valid float");
  }
  const long double sum = current + by;
  if (!std::isfinite(sum)) {
    ctx.Abort(ref);
    return Reply::Error(Code::kInvalidArgument, "increment would produce NaN or Infinity");
  }
  Value text = Value::String(HumanLongDouble(sum));
  ref.entry->value = text;
  ctx.Commit(ref);
  return Reply::Of(std::move(text));
}

// GETDEL key -> the value (nil if none), and the key is removed.
Reply GetDel(ShardContext& ctx, const CommandArgs& args) {
  std::string_view key = KeyArg(args, 0);
  const Record* e = ctx.Find(key);
  if (e == nullptr) return Reply::Nil();
  Reply reply = Reply::Of(e->value().ToValue());
  ctx.Erase(key);
  return reply;
}

// GETSET key value -> the old value (nil if none); stores value without expiry, as SET does
// (deprecated in Redis for SET key value GET, which it is).
Reply GetSet(ShardContext& ctx, const CommandArgs& args) {
  std::string_view key = KeyArg(args, 0);
  const Record* old = ctx.Find(key);
  Reply reply = old != nullptr ? Reply::Of(old->value().ToValue()) : Reply::Nil();
  ctx.Put(key, args[1], kNoExpiry);
  return reply;
}

// SETNX key value -> 1 if the key was set (it did not exist), else 0.
Reply SetNx(ShardContext& ctx, const CommandArgs& args) {
  std::string_view key = KeyArg(args, 0);
  if (ctx.Peek(key) != nullptr) return Reply::Of(Value::Int(0));
  ctx.Put(key, args[1], kNoExpiry);
  return Reply::Of(Value::Int(1));
}

// SETEX key seconds value / PSETEX key ms value -> OK.
Reply SetExIn(ShardContext& ctx, const CommandArgs& args, int64_t unit_ms, const char* name) {
  int64_t at;
  if (!ArgToExpiry(args[1], unit_ms, ctx.now_ms(), &at)) {
    int64_t n;
    if (!ArgToInt(args[1], &n)) return Reply::Error(NotAnInteger());
    return Reply::Error(Code::kInvalidArgument,
                        std::string("invalid expire time in '") + name + "' command");
  }
  ctx.Put(KeyArg(args, 0), args[2], at);
  return Reply::Ok();
}
Reply SetEx(ShardContext& ctx, const CommandArgs& args) {
  return SetExIn(ctx, args, 1000, "setex");
}
Reply PSetEx(ShardContext& ctx, const CommandArgs& args) { return SetExIn(ctx, args, 1, "psetex"); }

// TTL key / PTTL key -> remaining time; -1 without expiry; -2 if the key does not exist.
Reply TtlIn(ShardContext& ctx, const CommandArgs& args, int64_t unit_ms) {
  const Record* e = ctx.Peek(KeyArg(args, 0));
  if (e == nullptr) return Reply::Of(Value::Int(-2));
  if (!e->HasExpiry()) return Reply::Of(Value::Int(-1));
  int64_t left = e->expire_at_ms() - ctx.now_ms();
  return Reply::Of(Value::Int(unit_ms == 1 ? left : (left + unit_ms / 2) / unit_ms));
}
Reply Ttl(ShardContext& ctx, const CommandArgs& args) { return TtlIn(ctx, args, 1000); }
Reply Pttl(ShardContext& ctx, const CommandArgs& args) { return TtlIn(ctx, args, 1); }

// EXPIRE key seconds [NX | XX | GT | LT ...] / PEXPIRE key ms / EXPIREAT key unix-s /
// PEXPIREAT key unix-ms -> 1 if set, 0 if not. A time in the past deletes the key (as Redis
// does). Options combine as Redis allows (GT XX), with its errors for the rest.
Reply ExpireIn(ShardContext& ctx, const CommandArgs& args, int64_t unit_ms, bool absolute,
               const char* name) {
  bool nx = false, xx = false, gt = false, lt = false;
  for (size_t i = 2; i < args.size(); ++i) {
    const Value& c = args[i];
    if (ArgIs(c, "NX")) {
      nx = true;
    } else if (ArgIs(c, "XX")) {
      xx = true;
    } else if (ArgIs(c, "GT")) {
      gt = true;
    } else if (ArgIs(c, "LT")) {
      lt = true;
    } else {
      return Reply::Error(Code::kInvalidArgument, "Unsupported option " + std::string(ArgText(c)));
    }
  }
  if (nx && (xx || gt || lt)) {
    return Reply::Error(Code::kInvalidArgument,
                        "NX and XX, GT or LT options at the same time are not compatible");
  }
  if (gt && lt) {
    return Reply::Error(Code::kInvalidArgument,
                        "GT and LT options at the same time are not compatible");
  }
  int64_t n;
  if (!ArgToInt(args[1], &n)) return Reply::Error(NotAnInteger());
  int64_t at;
  if (__builtin_mul_overflow(n, unit_ms, &at) ||
      __builtin_add_overflow(at, absolute ? 0 : ctx.now_ms(), &at)) {
    return Reply::Error(Code::kInvalidArgument,
                        std::string("invalid expire time in '") + name + "' command");
  }
  std::string_view key = KeyArg(args, 0);
  const Record* e = ctx.Peek(key);
  if (e == nullptr) return Reply::Of(Value::Int(0));
  const bool has = e->HasExpiry();
  if ((nx && has) || (xx && !has)) return Reply::Of(Value::Int(0));
  // No expiry counts as infinite.
  if (gt && (!has || at <= e->expire_at_ms())) return Reply::Of(Value::Int(0));
  if (lt && has && at >= e->expire_at_ms()) return Reply::Of(Value::Int(0));
  if (at <= ctx.now_ms()) {
    ctx.Erase(key);
    return Reply::Of(Value::Int(1));
  }
  EntryRef ref = ctx.Upsert(key);
  ref.entry->expire_at_ms = at;
  ctx.Commit(ref);
  return Reply::Of(Value::Int(1));
}
Reply Expire(ShardContext& ctx, const CommandArgs& args) {
  return ExpireIn(ctx, args, 1000, false, "expire");
}
Reply Pexpire(ShardContext& ctx, const CommandArgs& args) {
  return ExpireIn(ctx, args, 1, false, "pexpire");
}
Reply ExpireAt(ShardContext& ctx, const CommandArgs& args) {
  return ExpireIn(ctx, args, 1000, true, "expireat");
}
Reply PexpireAt(ShardContext& ctx, const CommandArgs& args) {
  return ExpireIn(ctx, args, 1, true, "pexpireat");
}

// EXPIRETIME key / PEXPIRETIME key -> the absolute expiry (unix seconds / ms); -1 without one;
// -2 if the key does not exist.
Reply ExpireTimeIn(ShardContext& ctx, const CommandArgs& args, int64_t unit_ms) {
  const Record* e = ctx.Peek(KeyArg(args, 0));
  if (e == nullptr) return Reply::Of(Value::Int(-2));
  if (!e->HasExpiry()) return Reply::Of(Value::Int(-1));
  return Reply::Of(Value::Int(e->expire_at_ms() / unit_ms));
}
Reply ExpireTime(ShardContext& ctx, const CommandArgs& args) {
  return ExpireTimeIn(ctx, args, 1000);
}
Reply PexpireTime(ShardContext& ctx, const CommandArgs& args) { return ExpireTimeIn(ctx, args, 1); }

// TOUCH key [key ...] -> how many exist; their access clocks are brought up to now.
Reply Touch(ShardContext& ctx, const CommandArgs& args) {
  int64_t n = 0;
  for (const Value& k : args) n += ctx.Peek(k.AsStringView()) != nullptr ? 1 : 0;
  return Reply::Of(Value::Int(n));
}

// PERSIST key -> 1 if an expiry was removed, else 0.
Reply Persist(ShardContext& ctx, const CommandArgs& args) {
  std::string_view key = KeyArg(args, 0);
  const Record* e = ctx.Peek(key);
  if (e == nullptr || !e->HasExpiry()) return Reply::Of(Value::Int(0));
  EntryRef ref = ctx.Upsert(key);
  ref.entry->expire_at_ms = kNoExpiry;
  ctx.Commit(ref);
  return Reply::Of(Value::Int(1));
}

}  // namespace

Status RegisterCoreFamily(CommandRegistry* r) {
  std::vector<CommandSpec> specs = {
      KeyCommand("GET", op::kGet, kCmdReadOnly | kCmdStoredReply, 1, 1, Get, "GET key"),
      KeyCommand("SET", op::kSet, kCmdWrite | kCmdNoLoad | kCmdStoredReply, 2, 7, Set,
                 "SET key value [EX s|PX ms|EXAT t|PXAT t|KEEPTTL] [NX|XX] [GET]"),
      KeyCommand("DEL", op::kDel, kCmdWrite | kCmdAllowOom | kCmdNoLoad, 1, -1, Del,
                 "DEL key [key ...]"),
      KeyCommand("EXISTS", op::kExists, kCmdReadOnly | kCmdNoLoad, 1, -1, Exists,
                 "EXISTS key [key ...]"),
      KeyCommand("INCR", op::kIncr, kCmdWrite, 1, 2, Incr, "INCR key [by]"),
      KeyCommand("DECR", op::kDecr, kCmdWrite, 1, 2, Decr, "DECR key [by]"),
      KeyCommand("TTL", op::kTtl, kCmdReadOnly | kCmdNoLoad, 1, 1, Ttl, "TTL key"),
      KeyCommand("PTTL", op::kPttl, kCmdReadOnly | kCmdNoLoad, 1, 1, Pttl, "PTTL key"),
      KeyCommand("EXPIRE", op::kExpire, kCmdWrite | kCmdAllowOom | kCmdNoLoad, 2, -1, Expire,
                 "EXPIRE key seconds [NX|XX|GT|LT]"),
      KeyCommand("PEXPIRE", op::kPexpire, kCmdWrite | kCmdAllowOom | kCmdNoLoad, 2, -1, Pexpire,
                 "PEXPIRE key milliseconds [NX|XX|GT|LT]"),
      KeyCommand("PERSIST", op::kPersist, kCmdWrite | kCmdAllowOom | kCmdNoLoad, 1, 1, Persist,
                 "PERSIST key"),
      // By name only (no opcode): what Redis users expect beside the commands above.
      KeyCommand("UNLINK", 0, kCmdWrite | kCmdAllowOom | kCmdNoLoad, 1, -1, Del,
                 "UNLINK key [key ...]"),
      KeyCommand("GETDEL", 0, kCmdWrite | kCmdAllowOom | kCmdStoredReply, 1, 1, GetDel,
                 "GETDEL key"),
      KeyCommand("GETSET", 0, kCmdWrite | kCmdStoredReply, 2, 2, GetSet, "GETSET key value"),
      KeyCommand("SETNX", 0, kCmdWrite | kCmdNoLoad, 2, 2, SetNx, "SETNX key value"),
      KeyCommand("SETEX", 0, kCmdWrite | kCmdNoLoad, 3, 3, SetEx, "SETEX key seconds value"),
      KeyCommand("PSETEX", 0, kCmdWrite | kCmdNoLoad, 3, 3, PSetEx,
                 "PSETEX key milliseconds value"),
      KeyCommand("INCRBY", 0, kCmdWrite, 2, 2, IncrByCmd, "INCRBY key increment"),
      KeyCommand("DECRBY", 0, kCmdWrite, 2, 2, DecrByCmd, "DECRBY key decrement"),
      KeyCommand("INCRBYFLOAT", 0, kCmdWrite, 2, 2, IncrByFloat, "INCRBYFLOAT key increment"),
      KeyCommand("EXPIREAT", 0, kCmdWrite | kCmdAllowOom | kCmdNoLoad, 2, -1, ExpireAt,
                 "EXPIREAT key unix-time-seconds [NX|XX|GT|LT]"),
      KeyCommand("PEXPIREAT", 0, kCmdWrite | kCmdAllowOom | kCmdNoLoad, 2, -1, PexpireAt,
                 "PEXPIREAT key unix-time-milliseconds [NX|XX|GT|LT]"),
      KeyCommand("EXPIRETIME", 0, kCmdReadOnly | kCmdNoLoad, 1, 1, ExpireTime, "EXPIRETIME key"),
      KeyCommand("PEXPIRETIME", 0, kCmdReadOnly | kCmdNoLoad, 1, 1, PexpireTime, "PEXPIRETIME key"),
      KeyCommand("TOUCH", 0, kCmdReadOnly | kCmdNoLoad, 1, -1, Touch, "TOUCH key [key ...]"),
  };
  for (CommandSpec& s : specs) {
    if (s.name == "DEL" || s.name == "EXISTS" || s.name == "UNLINK" || s.name == "TOUCH") {
      s.keys = KeySpec::Range(0, -1);
      s.merge = MergeSum;
    }
    if (s.name == "SET") {
      // SET ... GET returns the old value: only then does it need it.
      s.reads_values = [](const CommandArgs& args) {
        for (size_t i = 2; i < args.size(); ++i) {
          if (ArgIs(args[i], "GET")) return true;
        }
        return false;
      };
    }
  }
  return r->RegisterAll(std::move(specs));
}

}  // namespace dbkv
