#include "plugins/hash_family.h"

#include <cmath>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "plugins/api/args.h"
#include "plugins/api/contexts.h"
#include "plugins/glob.h"
#include "plugins/redis_text.h"

namespace dbkv {
namespace {

std::string_view KeyArg(const CommandArgs& args) { return args[0].AsStringView(); }

Reply WrongType() { return Reply::Error(Status::WrongType()); }
Reply Int(int64_t n) { return Reply::Of(Value::Int(n)); }

bool IsHash(const Value& v) { return v.type() == ValueType::kMap; }

// The index of field in map, or -1.
int64_t FieldIndex(const ValueMap& map, const Value& field) {
  for (size_t i = 0; i < map.size(); ++i) {
    if (SameRedisText(map[i].first, field)) return static_cast<int64_t>(i);
  }
  return -1;
}

// A field must have text (a string, bytes or a number): not a list or a map.
bool ValidField(const Value& field) {
  std::string scratch;
  return RedisText(field, &scratch).has_value();
}

Reply BadField() {
  return Reply::Error(Code::kInvalidArgument, "hash field must be a string or a number");
}

// Points *out at the map of key's hash, for reading (valid until the key is written; nullptr
// if the key does not exist); a WRONGTYPE error if the key holds another type. Nothing is
// copied: a reply copies what it gives.
std::optional<Reply> ReadHash(ShardContext& ctx, std::string_view key, const ValueMap** out) {
  *out = nullptr;
  const Record* r = ctx.Find(key);
  if (r == nullptr) return std::nullopt;
  const ValueRef v = r->value();  // a map is boxed: AsMap is the record's own
  if (v.type() != ValueType::kMap) return WrongType();
  *out = &v.AsMap();
  return std::nullopt;
}

// Opens key's hash for a change (*ref), creating an empty one if the key does not exist; a
// WRONGTYPE error (the change aborted) if the key holds another type.
std::optional<Reply> OpenHash(ShardContext& ctx, std::string_view key, EntryRef* ref) {
  *ref = ctx.Upsert(key);
  if (ref->created) {
    ref->entry->value = Value::Map({});
  } else if (!IsHash(ref->entry->value)) {
    ctx.Abort(*ref);
    return WrongType();
  }
  return std::nullopt;
}

// HSET key field value [field value ...] -> the number of fields added. HMSET: the same,
// replying OK. Fields are written in order; a field named twice takes its last value.
Reply SetFields(ShardContext& ctx, const CommandArgs& args, bool reply_ok, const char* name) {
  if (args.size() < 3 || args.size() % 2 == 0) return Reply::Error(WrongArity(name));
  for (size_t i = 1; i < args.size(); i += 2) {
    if (!ValidField(args[i])) return BadField();
  }
  EntryRef ref;
  if (std::optional<Reply> err = OpenHash(ctx, KeyArg(args), &ref)) return std::move(*err);
  ValueMap& map = ref.entry->value.MutableMap();
  int64_t added = 0;
  for (size_t i = 1; i < args.size(); i += 2) {
    const int64_t at = FieldIndex(map, args[i]);
    if (at >= 0) {
      map[static_cast<size_t>(at)].second = args[i + 1];
    } else {
      map.emplace_back(args[i], args[i + 1]);
      ++added;
    }
  }
  ctx.Commit(ref);
  return reply_ok ? Reply::Ok() : Int(added);
}
Reply Hset(ShardContext& ctx, const CommandArgs& args) {
  return SetFields(ctx, args, false, "hset");
}
Reply Hmset(ShardContext& ctx, const CommandArgs& args) {
  return SetFields(ctx, args, true, "hmset");
}

// HSETNX key field value -> 1 if the field was added, 0 if it existed (unchanged).
Reply Hsetnx(ShardContext& ctx, const CommandArgs& args) {
  if (!ValidField(args[1])) return BadField();
  const std::string_view key = KeyArg(args);
  if (const Record* r = ctx.Peek(key)) {
    const ValueRef v = r->value();
    if (v.type() != ValueType::kMap) return WrongType();
    if (FieldIndex(v.AsMap(), args[1]) >= 0) return Int(0);
  }
  EntryRef ref = ctx.Upsert(key);
  if (ref.created) ref.entry->value = Value::Map({});
  ref.entry->value.MutableMap().emplace_back(args[1], args[2]);
  ctx.Commit(ref);
  return Int(1);
}

// HGET key field -> the value, or nil.
Reply Hget(ShardContext& ctx, const CommandArgs& args) {
  const ValueMap* hash;
  if (std::optional<Reply> err = ReadHash(ctx, KeyArg(args), &hash)) return std::move(*err);
  if (hash == nullptr) return Reply::Nil();
  const int64_t at = FieldIndex(*hash, args[1]);
  if (at < 0) return Reply::Nil();
  return Reply::Of((*hash)[static_cast<size_t>(at)].second);
}

// HMGET key field [field ...] -> a list of the values, nil for each missing one.
Reply Hmget(ShardContext& ctx, const CommandArgs& args) {
  const ValueMap* hash;
  if (std::optional<Reply> err = ReadHash(ctx, KeyArg(args), &hash)) return std::move(*err);
  ValueList out;
  out.reserve(args.size() - 1);
  for (size_t i = 1; i < args.size(); ++i) {
    const int64_t at = hash == nullptr ? -1 : FieldIndex(*hash, args[i]);
    out.push_back(at < 0 ? Value() : (*hash)[static_cast<size_t>(at)].second);
  }
  return Reply::Of(Value::List(std::move(out)));
}

// HGETALL key -> the map (RESP3: a map; RESP2: field, value, field, value ...); empty if none.
Reply Hgetall(ShardContext& ctx, const CommandArgs& args) {
  const ValueMap* hash;
  if (std::optional<Reply> err = ReadHash(ctx, KeyArg(args), &hash)) return std::move(*err);
  return Reply::Of(Value::Map(hash == nullptr ? ValueMap() : *hash));
}

// HKEYS key / HVALS key -> the fields / the values, in order.
Reply Hpart(ShardContext& ctx, const CommandArgs& args, bool keys) {
  const ValueMap* hash;
  if (std::optional<Reply> err = ReadHash(ctx, KeyArg(args), &hash)) return std::move(*err);
  ValueList out;
  if (hash != nullptr) {
    out.reserve(hash->size());
    for (const auto& [field, value] : *hash) out.push_back(keys ? field : value);
  }
  return Reply::Of(Value::List(std::move(out)));
}
Reply Hkeys(ShardContext& ctx, const CommandArgs& args) { return Hpart(ctx, args, true); }
Reply Hvals(ShardContext& ctx, const CommandArgs& args) { return Hpart(ctx, args, false); }

// HLEN key -> the number of fields (0 if none).
Reply Hlen(ShardContext& ctx, const CommandArgs& args) {
  const ValueMap* hash;
  if (std::optional<Reply> err = ReadHash(ctx, KeyArg(args), &hash)) return std::move(*err);
  return Int(hash == nullptr ? 0 : static_cast<int64_t>(hash->size()));
}

// HEXISTS key field -> 1 or 0.
Reply Hexists(ShardContext& ctx, const CommandArgs& args) {
  const ValueMap* hash;
  if (std::optional<Reply> err = ReadHash(ctx, KeyArg(args), &hash)) return std::move(*err);
  return Int(hash != nullptr && FieldIndex(*hash, args[1]) >= 0 ? 1 : 0);
}

// HSTRLEN key field -> the length of the value's text (0 if none).
Reply Hstrlen(ShardContext& ctx, const CommandArgs& args) {
  const ValueMap* hash;
  if (std::optional<Reply> err = ReadHash(ctx, KeyArg(args), &hash)) return std::move(*err);
  const int64_t at = hash == nullptr ? -1 : FieldIndex(*hash, args[1]);
  if (at < 0) return Int(0);
  std::string scratch;
  const std::optional<std::string_view> text =
      RedisText((*hash)[static_cast<size_t>(at)].second, &scratch);
  return Int(text ? static_cast<int64_t>(text->size()) : 0);
}

// HDEL key field [field ...] -> the number of fields removed. An emptied hash is deleted.
Reply Hdel(ShardContext& ctx, const CommandArgs& args) {
  const std::string_view key = KeyArg(args);
  const Record* r = ctx.Peek(key);
  if (r == nullptr) return Int(0);
  {
    const ValueRef v = r->value();
    if (v.type() != ValueType::kMap) return WrongType();
    bool any = false;
    for (size_t i = 1; i < args.size() && !any; ++i) any = FieldIndex(v.AsMap(), args[i]) >= 0;
    if (!any) return Int(0);
  }
  EntryRef ref = ctx.Upsert(key);
  ValueMap& map = ref.entry->value.MutableMap();
  int64_t removed = 0;
  for (size_t i = 1; i < args.size(); ++i) {
    const int64_t at = FieldIndex(map, args[i]);
    if (at < 0) continue;
    map.erase(map.begin() + at);
    ++removed;
  }
  const bool emptied = map.empty();
  ctx.Commit(ref);
  if (emptied) ctx.Erase(key);
  return Int(removed);
}

// The field's value as an int64 for HINCRBY: an int, or text holding a canonical integer.
bool FieldInt(const Value& v, int64_t* out) {
  if (v.type() == ValueType::kInt) {
    *out = v.AsInt();
    return true;
  }
  return v.is_string_like() && ArgToInt(v, out);
}

// HINCRBY key field increment -> the new value (an int). A missing field counts as 0.
Reply Hincrby(ShardContext& ctx, const CommandArgs& args) {
  int64_t by;
  if (!ArgToInt(args[2], &by)) return Reply::Error(NotAnInteger());
  if (!ValidField(args[1])) return BadField();
  EntryRef ref;
  if (std::optional<Reply> err = OpenHash(ctx, KeyArg(args), &ref)) return std::move(*err);
  ValueMap& map = ref.entry->value.MutableMap();
  const int64_t at = FieldIndex(map, args[1]);
  int64_t current = 0;
  if (at >= 0 && !FieldInt(map[static_cast<size_t>(at)].second, &current)) {
    ctx.Abort(ref);
    return Reply::Error(Code::kInvalidArgument, "hash value is not an integer");
  }
  int64_t sum;
  if (__builtin_add_overflow(current, by, &sum)) {
    ctx.Abort(ref);
    return Reply::Error(Code::kOverflow, "increment or decrement would overflow");
  }
  if (at >= 0) {
    map[static_cast<size_t>(at)].second = Value::Int(sum);
  } else {
    map.emplace_back(args[1], Value::Int(sum));
  }
  ctx.Commit(ref);
  return Int(sum);
}

// HINCRBYFLOAT key field increment -> the new value, as Redis writes it ("10.6"), stored as
// that text.
Reply Hincrbyfloat(ShardContext& ctx, const CommandArgs& args) {
  long double by;
  if (!ToLongDouble(args[2], &by) || args[2].type() == ValueType::kBool) {
    return Reply::Error(Code::kInvalidArgument, "value is not a valid float");
  }
  if (!std::isfinite(by)) return Reply::Error(Code::kInvalidArgument, "value is NaN or Infinity");
  if (!ValidField(args[1])) return BadField();
  EntryRef ref;
  if (std::optional<Reply> err = OpenHash(ctx, KeyArg(args), &ref)) return std::move(*err);
  ValueMap& map = ref.entry->value.MutableMap();
  const int64_t at = FieldIndex(map, args[1]);
  long double current = 0;
  if (at >= 0) {
    const Value& v = map[static_cast<size_t>(at)].second;
    if (v.type() == ValueType::kBool || !ToLongDouble(v, &current)) {
      ctx.Abort(ref);
      return Reply::Error(Code::kInvalidArgument, "hash value is not a float");
    }
  }
  const long double sum = current + by;
  if (!std::isfinite(sum)) {
    ctx.Abort(ref);
    return Reply::Error(Code::kInvalidArgument, "increment would produce NaN or Infinity");
  }
  Value text = Value::String(HumanLongDouble(sum));
  if (at >= 0) {
    map[static_cast<size_t>(at)].second = text;
  } else {
    map.emplace_back(args[1], text);
  }
  ctx.Commit(ref);
  return Reply::Of(std::move(text));
}

// HSCAN key cursor [MATCH pattern] [COUNT count] -> ["0", [field, value, ...]]: the whole
// hash in one step, as Redis answers for a hash in its compact encoding (COUNT is a hint it
// ignores there too). MATCH filters by the field's text.
Reply Hscan(ShardContext& ctx, const CommandArgs& args) {
  // Redis's order: the cursor, then the key (missing: an empty scan; another type: WRONGTYPE),
  // then the options.
  uint64_t cursor;
  if (!RedisScanCursor(args[1], &cursor)) {
    return Reply::Error(Code::kInvalidArgument, "invalid cursor");
  }
  const ValueMap* hash;
  if (std::optional<Reply> err = ReadHash(ctx, KeyArg(args), &hash)) return std::move(*err);
  if (hash == nullptr) return Reply::Of(Value::List({Value::String("0"), Value::List({})}));
  std::string_view pattern;
  bool match = false;
  for (size_t i = 2; i < args.size(); i += 2) {
    if (i + 1 >= args.size()) return Reply::Error(SyntaxError());
    if (ArgIs(args[i], "MATCH")) {
      pattern = ArgText(args[i + 1]);
      match = pattern != "*";
    } else if (ArgIs(args[i], "COUNT")) {
      int64_t count;
      if (!ArgToInt(args[i + 1], &count)) return Reply::Error(NotAnInteger());
      if (count < 1) return Reply::Error(SyntaxError());
    } else {
      return Reply::Error(SyntaxError());
    }
  }
  ValueList out;
  if (hash != nullptr) {
    std::string scratch;
    for (const auto& [field, value] : *hash) {
      if (match) {
        const std::optional<std::string_view> text = RedisText(field, &scratch);
        if (!text || !GlobMatch(pattern, *text)) continue;
      }
      out.push_back(field);
      out.push_back(value);
    }
  }
  return Reply::Of(Value::List({Value::String("0"), Value::List(std::move(out))}));
}

constexpr int64_t kMaxRandomRepeats = int64_t{1} << 24;

// HRANDFIELD key [count [WITHVALUES]] -> a random field (nil if none); with count >= 0, up to
// count distinct fields; with count < 0, -count fields that may repeat; WITHVALUES puts each
// value after its field (flat, as RESP2 shows it; RESP3 clients get the same flat list).
Reply Hrandfield(ShardContext& ctx, const CommandArgs& args) {
  bool with_count = args.size() >= 2, with_values = false;
  int64_t count = 1;
  if (with_count) {
    if (!ArgToInt(args[1], &count)) return Reply::Error(NotAnInteger());
    if (count == INT64_MIN) {
      return Reply::Error(Code::kInvalidArgument,
                          "value is out of range, value must between -9223372036854775807 and "
                          "9223372036854775807");
    }
    if (args.size() == 3) {
      if (!ArgIs(args[2], "WITHVALUES")) return Reply::Error(SyntaxError());
      with_values = true;
    } else if (args.size() > 3) {
      return Reply::Error(SyntaxError());
    }
  }
  const ValueMap* hash;
  if (std::optional<Reply> err = ReadHash(ctx, KeyArg(args), &hash)) return std::move(*err);
  if (hash == nullptr) return with_count ? Reply::Of(Value::List({})) : Reply::Nil();
  const ValueMap& map = *hash;
  thread_local std::mt19937_64 rng{std::random_device{}()};
  auto pick = [&] { return std::uniform_int_distribution<size_t>(0, map.size() - 1)(rng); };
  if (!with_count) return Reply::Of(map[pick()].first);
  std::vector<size_t> chosen;
  if (count < 0) {
    // A reply of -count elements is built whole: refused past a bound rather than exhausting
    // memory (Redis 7.0 would try).
    if (-count > kMaxRandomRepeats) {
      return Reply::Error(Code::kInvalidArgument, "value is out of range");
    }
    for (int64_t i = 0; i < -count; ++i) chosen.push_back(pick());
  } else if (static_cast<uint64_t>(count) >= map.size()) {
    for (size_t i = 0; i < map.size(); ++i) chosen.push_back(i);
  } else {
    // count distinct indexes: a partial shuffle.
    std::vector<size_t> all(map.size());
    for (size_t i = 0; i < all.size(); ++i) all[i] = i;
    for (size_t i = 0; i < static_cast<size_t>(count); ++i) {
      std::swap(all[i], all[std::uniform_int_distribution<size_t>(i, all.size() - 1)(rng)]);
      chosen.push_back(all[i]);
    }
  }
  ValueList out;
  out.reserve(chosen.size() * (with_values ? 2 : 1));
  for (size_t i : chosen) {
    out.push_back(map[i].first);
    if (with_values) out.push_back(map[i].second);
  }
  return Reply::Of(Value::List(std::move(out)));
}

}  // namespace

Status RegisterHashFamily(CommandRegistry* r) {
  std::vector<CommandSpec> specs = {
      KeyCommand("HSET", 0, kCmdWrite, 3, -1, Hset, "HSET key field value [field value ...]"),
      KeyCommand("HMSET", 0, kCmdWrite, 3, -1, Hmset, "HMSET key field value [field value ...]"),
      KeyCommand("HSETNX", 0, kCmdWrite, 3, 3, Hsetnx, "HSETNX key field value"),
      KeyCommand("HGET", 0, kCmdReadOnly | kCmdStoredReply, 2, 2, Hget, "HGET key field"),
      KeyCommand("HMGET", 0, kCmdReadOnly | kCmdStoredReply, 2, -1, Hmget,
                 "HMGET key field [field ...]"),
      KeyCommand("HGETALL", 0, kCmdReadOnly | kCmdStoredReply, 1, 1, Hgetall, "HGETALL key"),
      KeyCommand("HKEYS", 0, kCmdReadOnly | kCmdStoredReply, 1, 1, Hkeys, "HKEYS key"),
      KeyCommand("HVALS", 0, kCmdReadOnly | kCmdStoredReply, 1, 1, Hvals, "HVALS key"),
      KeyCommand("HLEN", 0, kCmdReadOnly, 1, 1, Hlen, "HLEN key"),
      KeyCommand("HEXISTS", 0, kCmdReadOnly, 2, 2, Hexists, "HEXISTS key field"),
      KeyCommand("HSTRLEN", 0, kCmdReadOnly, 2, 2, Hstrlen, "HSTRLEN key field"),
      KeyCommand("HDEL", 0, kCmdWrite | kCmdAllowOom, 2, -1, Hdel, "HDEL key field [field ...]"),
      KeyCommand("HINCRBY", 0, kCmdWrite, 3, 3, Hincrby, "HINCRBY key field increment"),
      KeyCommand("HINCRBYFLOAT", 0, kCmdWrite, 3, 3, Hincrbyfloat,
                 "HINCRBYFLOAT key field increment"),
      KeyCommand("HSCAN", 0, kCmdReadOnly | kCmdStoredReply, 2, -1, Hscan,
                 "HSCAN key cursor [MATCH pattern] [COUNT count]"),
      KeyCommand("HRANDFIELD", 0, kCmdReadOnly | kCmdStoredReply, 1, -1, Hrandfield,
                 "HRANDFIELD key [count [WITHVALUES]]"),
  };
  return r->RegisterAll(std::move(specs));
}

}  // namespace dbkv
