// THROTTLE: a rate limiter as a plugin, after redis-cell's CL.THROTTLE (the generic cell rate
// algorithm, GCRA). Build //plugins/examples:throttle.so and start the server with
// --plugin bazel-bin/plugins/examples/throttle.so.
//
//   THROTTLE key max_burst count_per_period period_s [quantity]
//     -> [limited (0|1), limit, remaining, retry_after_s, reset_after_s]
//
// The key holds the "theoretical arrival time" (TAT) of the next request, in microseconds
// since the epoch, as an int, and expires when the bucket would be full again. Each request
// costs quantity emission intervals (period / count); a request is allowed while the TAT stays
// within the burst tolerance of now. retry_after_s is -1 when allowed; times round up.
#include <cmath>
#include <cstdint>

#include "plugins/api/plugin.h"

namespace {

using dbkv::CommandArgs;
using dbkv::Reply;
using dbkv::ShardContext;
using dbkv::Value;

int64_t CeilSeconds(int64_t us) { return us <= 0 ? 0 : (us + 999999) / 1000000; }

Reply Throttle(ShardContext& ctx, const CommandArgs& args) {
  int64_t max_burst, count, period_s, quantity = 1;
  if (!dbkv::ArgToInt(args[1], &max_burst) || !dbkv::ArgToInt(args[2], &count) ||
      !dbkv::ArgToInt(args[3], &period_s) ||
      (args.size() > 4 && !dbkv::ArgToInt(args[4], &quantity))) {
    return Reply::Error(dbkv::NotAnInteger());
  }
  if (max_burst < 0 || count <= 0 || period_s <= 0 || quantity < 0 || period_s > int64_t{1} << 31 ||
      max_burst > int64_t{1} << 31) {
    return Reply::Error(dbkv::Code::kInvalidArgument,
                        "max_burst >= 0, count_per_period > 0, period_s > 0, quantity >= 0");
  }
  const int64_t now = ctx.now_ms() * 1000;
  const int64_t emission = period_s * 1000000 / count;  // microseconds per request
  const int64_t tolerance = emission * (max_burst + 1);
  const int64_t increment = emission * quantity;
  const int64_t limit = max_burst + 1;

  std::string_view key = args[0].AsStringView();
  int64_t tat = now;
  if (dbkv::Entry* e = ctx.Peek(key)) {
    if (e->value.type() != dbkv::ValueType::kInt) return Reply::Error(dbkv::Status::WrongType());
    tat = std::max(e->value.AsInt(), now);
  }
  const int64_t new_tat = tat + increment;
  const int64_t allow_at = new_tat - tolerance;
  const int64_t diff = now - allow_at;
  int64_t limited, retry_after, ttl;
  if (diff < 0) {
    limited = 1;
    retry_after = increment > tolerance ? -1 : CeilSeconds(-diff);
    ttl = tat - now;
  } else {
    limited = 0;
    retry_after = -1;
    ttl = new_tat - now;
    // Keep the TAT until the bucket is full again; nothing to keep for a free request.
    if (ttl > 0) ctx.Put(key, Value::Int(new_tat), ctx.now_ms() + (ttl + 999) / 1000);
  }
  const int64_t next = tolerance - ttl;
  const int64_t remaining = next > -emission ? std::max<int64_t>(0, next / emission) : 0;
  return Reply::Of(Value::List({Value::Int(limited), Value::Int(limit), Value::Int(remaining),
                                Value::Int(retry_after), Value::Int(CeilSeconds(ttl))}));
}

dbkv::Status Register(dbkv::CommandRegistry* registry) {
  // Opcode 0: plugin commands are called by name.
  return registry->Register(
      dbkv::KeyCommand("THROTTLE", 0, dbkv::kCmdWrite, 4, 5, Throttle,
                       "THROTTLE key max_burst count_per_period period_s [quantity]"));
}

}  // namespace

DBKV_PLUGIN("throttle", Register)
