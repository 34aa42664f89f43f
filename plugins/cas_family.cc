#include "plugins/cas_family.h"

#include "plugins/api/args.h"
#include "plugins/api/contexts.h"
#include "protocol/opcodes.h"

namespace dbkv {
namespace {

namespace op = protocol::op;

Value VersionValue(uint64_t version) { return Value::Int(static_cast<int64_t>(version)); }

// GETV key -> [value, version], or nil if the key does not exist.
Reply Getv(ShardContext& ctx, const CommandArgs& args) {
  const Record* e = ctx.Find(args[0].AsStringView());
  if (e == nullptr) return Reply::Nil();
  return Reply::Of(Value::List({e->value().ToValue(), VersionValue(e->version())}));
}

// MGETV key [key ...] -> for each key, [value, version] or nil, in the caller's order.
Reply Mgetv(ShardContext& ctx, const CommandArgs& args) {
  ValueList out;
  out.reserve(args.size());
  for (const Value& k : args) {
    const Record* e = ctx.Find(k.AsStringView());
    out.push_back(e == nullptr ? Value()
                               : Value::List({e->value().ToValue(), VersionValue(e->version())}));
  }
  return Reply::Of(Value::List(std::move(out)));
}

// The expiry options of CAS, parsed.
struct CasExpiry {
  bool keep_ttl = false;
  int64_t expire_at_ms = kNoExpiry;
};

// [EX s | PX ms | KEEPTTL], the arguments after the value.
StatusOr<CasExpiry> ParseCasExpiry(const CommandArgs& opts, int64_t now_ms) {
  CasExpiry out;
  if (opts.empty()) return out;
  const Value& word = opts[0];
  if (ArgIs(word, "KEEPTTL") && opts.size() == 1) {
    out.keep_ttl = true;
    return out;
  }
  if ((ArgIs(word, "EX") || ArgIs(word, "PX")) && opts.size() == 2) {
    const int64_t unit_ms = ArgIs(word, "EX") ? 1000 : 1;
    if (!ArgToExpiry(opts[1], unit_ms, now_ms, &out.expire_at_ms)) {
      return Status::InvalidArgument("invalid expire time in 'cas' command");
    }
    return out;
  }
  return SyntaxError();
}

// CAS key version value [EX s | PX ms | KEEPTTL] -> the new version if the key's version was
// `version` (0: the key must not exist), else 0 and nothing changes. Without an option the
// key loses its expiry, as with SET.
Reply Cas(ShardContext& ctx, const CommandArgs& args) {
  int64_t expected;
  if (!ArgToInt(args[1], &expected)) return Reply::Error(NotAnInteger());
  if (expected < 0) {
    return Reply::Error(Code::kInvalidArgument, "value is out of range, must be positive");
  }
  StatusOr<CasExpiry> expiry = ParseCasExpiry(args.subspan(3), ctx.now_ms());
  if (!expiry.ok()) return Reply::Error(expiry.status());

  std::string_view key = args[0].AsStringView();
  const Record* e = ctx.Peek(key);
  const uint64_t current = e != nullptr ? e->version() : 0;
  if (current != static_cast<uint64_t>(expected)) return Reply::Of(Value::Int(0));
  int64_t expire_at = expiry->expire_at_ms;
  if (expiry->keep_ttl && e != nullptr) expire_at = e->expire_at_ms();
  const Record* written = ctx.Put(key, args[2], expire_at);
  return Reply::Of(VersionValue(written->version()));
}

// Every argument is a key; split over shards and put back in the caller's order.
CommandSpec AllKeys(CommandSpec s) {
  s.keys = KeySpec::Range(0, -1);
  s.merge = MergeInKeyOrder;
  return s;
}

}  // namespace

Status RegisterCasFamily(CommandRegistry* r) {
  return r->RegisterAll({
      KeyCommand("GETV", op::kGetv, kCmdReadOnly, 1, 1, Getv, "GETV key"),
      AllKeys(KeyCommand("MGETV", op::kMgetv, kCmdReadOnly, 1, -1, Mgetv, "MGETV key [key ...]")),
      KeyCommand("CAS", op::kCas, kCmdWrite | kCmdNoLoad, 3, 5, Cas,
                 "CAS key version value [EX s|PX ms|KEEPTTL]"),
  });
}

}  // namespace dbkv
