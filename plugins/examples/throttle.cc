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
// within the burst tolerance of now. retry_after_s is -1 when allowed, and when the request can
// never pass (quantity > max_burst + 1); times round up.
//
// Arguments that no bucket can honour are errors: a negative burst or quantity, a count or
// period <= 0, more than one request per microsecond, or a window ((max_burst + 1) emission
// intervals) longer than kMaxWindowUs. The arithmetic is done in 128 bits, so no argument can
// overflow it, whatever the TAT stored in the key.
#include <algorithm>
#include <cstdint>
#include <string_view>

#include "plugins/api/plugin.h"

namespace {

using dbkv::CommandArgs;
using dbkv::Reply;
using dbkv::ShardContext;
using dbkv::Value;

using Int128 = __int128;

// The longest window a bucket may span: 2^40 ms (about 34 years), as LOCK's longest lease.
constexpr Int128 kMaxWindowUs = (Int128{1} << 40) * 1000;

int64_t CeilSeconds(Int128 us) {
  return us <= 0 ? 0 : static_cast<int64_t>((us + 999999) / 1000000);
}

Reply Invalid(const char* why) { return Reply::Error(dbkv::Code::kInvalidArgument, why); }

Reply Throttle(ShardContext& ctx, const CommandArgs& args) {
  int64_t max_burst, count, period_s, quantity = 1;
  if (!dbkv::ArgToInt(args[1], &max_burst) || !dbkv::ArgToInt(args[2], &count) ||
      !dbkv::ArgToInt(args[3], &period_s) ||
      (args.size() > 4 && !dbkv::ArgToInt(args[4], &quantity))) {
    return Reply::Error(dbkv::NotAnInteger());
  }
  if (max_burst < 0) return Invalid("max_burst must be >= 0");
  if (count <= 0) return Invalid("count_per_period must be > 0");
  if (period_s <= 0) return Invalid("period_s must be > 0");
  if (quantity < 0) return Invalid("quantity must be >= 0");
  const Int128 emission = Int128{period_s} * 1000000 / count;  // microseconds per request
  if (emission == 0) {
    return Invalid("count_per_period must be at most period_s * 1000000 (one per microsecond)");
  }
  // emission first, so that the product below stays far inside 128 bits.
  const Int128 tolerance = emission > kMaxWindowUs ? emission : emission * (Int128{max_burst} + 1);
  if (tolerance > kMaxWindowUs) {
    return Invalid(
        "(max_burst + 1) * period_s / count_per_period must be at most 2^40 ms (about 34 years)");
  }
  const int64_t limit = max_burst + 1;  // max_burst < 2^40 * 1000 here
  // A quantity over the limit costs more than the tolerance: never allowed.
  const Int128 increment = emission * std::min<Int128>(quantity, Int128{limit} + 1);

  const Int128 now = Int128{ctx.now_ms()} * 1000;
  std::string_view key = args[0].AsStringView();
  Int128 tat = now;
  if (const dbkv::Record* e = ctx.Peek(key)) {
    if (e->value().type() != dbkv::ValueType::kInt) return Reply::Error(dbkv::Status::WrongType());
    tat = std::max<Int128>(e->value().AsInt(), now);
  }
  const Int128 new_tat = tat + increment;
  const Int128 allow_at = new_tat - tolerance;
  const Int128 diff = now - allow_at;
  int64_t limited, retry_after;
  Int128 ttl;
  if (diff < 0) {
    limited = 1;
    retry_after = increment > tolerance ? -1 : CeilSeconds(-diff);
    ttl = tat - now;
  } else {
    limited = 0;
    retry_after = -1;
    ttl = new_tat - now;  // <= tolerance, so new_tat fits in an int64
    // Keep the TAT until the bucket is full again; a free request (quantity 0) changes nothing.
    if (increment > 0) {
      ctx.Put(key, Value::Int(static_cast<int64_t>(new_tat)),
              ctx.now_ms() + static_cast<int64_t>((ttl + 999) / 1000));
    }
  }
  const Int128 next = tolerance - ttl;
  const int64_t remaining = next > 0 ? static_cast<int64_t>(next / emission) : 0;
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
