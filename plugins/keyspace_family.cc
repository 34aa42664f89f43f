#include "plugins/keyspace_family.h"

#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "plugins/api/args.h"
#include "plugins/api/contexts.h"
#include "plugins/glob.h"
#include "plugins/redis_text.h"

namespace dbkv {
namespace {

// Redis's name of the type of a stored value. Our scalars are all strings to Redis; a map
// (written by a typed client) is the nearest thing Redis has, a hash.
// t: the stored type (a value on disk keeps its type in memory).
std::string_view RedisTypeName(ValueType t) {
  switch (t) {
    case ValueType::kList:
      return "list";
    case ValueType::kMap:
      return "hash";
    default:
      return "string";
  }
}

bool IsUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t extra;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      extra = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= s.size()) return false;  // cut short
    for (size_t k = 1; k <= extra; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3f);
    }
    // Overlong forms, surrogates and code points past U+10FFFF are not UTF-8.
    if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

// A key as a reply element: a string, or bytes if it is not UTF-8 text (so that a typed
// client gets back exactly the key it can use again).
Value KeyValue(std::string_view key) {
  return IsUtf8(key) ? Value::String(key) : Value::Bytes(key);
}

// The connection's namespace's table on this shard, or null.
const KeyTable* NamespaceTable(ShardContext& ctx) {
  const auto& tables = ctx.partition().tables();
  auto it = tables.find(ctx.ns());
  return it == tables.end() ? nullptr : &it->second;
}

// TYPE key -> "string", "list", "hash", or "none" (a simple status, as Redis).
Reply Type(ShardContext& ctx, const CommandArgs& args) {
  const Record* e = ctx.Peek(args[0].AsStringView());
  if (e == nullptr) return Reply::Simple("none");
  return Reply::Simple(RedisTypeName(e->value().stored_type()));
}

struct ScanOptions {
  uint64_t cursor = 0;
  std::string_view match;  // empty: every key
  bool has_match = false;
  int64_t count = 10;
  std::string_view type;  // empty: every type
};

// Parses SCAN's arguments (every shard does, so that all of them fail alike).
Status ParseScan(const CommandArgs& args, ScanOptions* o) {
  if (!RedisScanCursor(args[0], &o->cursor)) return Status::InvalidArgument("invalid cursor");
  for (size_t i = 1; i < args.size(); i += 2) {
    if (i + 1 >= args.size()) return SyntaxError();
    const Value& value = args[i + 1];
    if (ArgIs(args[i], "MATCH") && value.is_string_like()) {
      o->match = value.AsStringView();
      o->has_match = !(o->match.size() == 1 && o->match[0] == '*');
    } else if (ArgIs(args[i], "COUNT")) {
      if (!ArgToInt(value, &o->count)) return NotAnInteger();
      if (o->count < 1) return SyntaxError();
    } else if (ArgIs(args[i], "TYPE") && value.is_string_like()) {
      o->type = value.AsStringView();
    } else {
      return SyntaxError();
    }
  }
  return Status::OK();
}

bool Wanted(const ScanOptions& o, std::string_view key, const Record& r) {
  if (o.has_match && !GlobMatch(o.match, key)) return false;
  return o.type.empty() || ArgIs(Value::String(o.type), RedisTypeName(r.value().stored_type()));
}

// SCAN cursor [MATCH pattern] [COUNT n] [TYPE type], on every shard. Only the shard the cursor
// names works: it returns whole segments of its table, from the cursor's segment on, until it
// has looked at `count` keys: [next segment (-1: this shard is done), [keys]]. Others reply nil.
// Segments are only appended (a split moves keys into a new segment at the end), so visiting
// every segment index up to the count at the time, each as a whole, returns every key that
// stays in the namespace for the whole scan at least once.
Reply ScanShard(ShardContext& ctx, const CommandArgs& args) {
  ScanOptions o;
  Status s = ParseScan(args, &o);
  if (!s.ok()) return Reply::Error(s);
  const uint64_t n = ctx.shard_count();
  if (o.cursor % n != ctx.shard_id()) return Reply::Nil();
  uint64_t segment = o.cursor / n;
  ValueList keys;
  const KeyTable* table = NamespaceTable(ctx);
  int64_t visited = 0;
  if (table != nullptr) {
    const int64_t now = ctx.now_ms();
    while (segment < table->segment_count() && visited < o.count) {
      for (const Record* r : table->segment(segment)) {
        ++visited;
        if (r->IsExpired(now)) continue;
        const KeyText key = r->key();
        if (Wanted(o, key.view(), *r)) keys.push_back(KeyValue(key.view()));
      }
      ++segment;
    }
  }
  const bool done = table == nullptr || segment >= table->segment_count();
  return Reply::Of(Value::List(
      {Value::Int(done ? -1 : static_cast<int64_t>(segment)), Value::List(std::move(keys))}));
}

// The working shard's keys, and the next cursor: the same shard's next segment, or the next
// shard's first, or 0 when the last shard is done.
Reply ScanMerge(MergeInput& in, ConnectionContext&) {
  const uint64_t n = in.parts.size();
  for (Reply& part : in.parts) {
    if (!part.ok()) return std::move(part);
  }
  for (uint64_t shard = 0; shard < n; ++shard) {
    Reply& part = in.parts[shard];
    if (part.value.is_null()) continue;
    if (part.value.type() != ValueType::kList || part.value.AsList().size() != 2) {
      return Reply::Error(Code::kInternal, "shard reply to SCAN is malformed");
    }
    ValueList& pair = part.value.MutableList();
    const int64_t next = pair[0].AsInt();
    uint64_t cursor;
    if (next >= 0) {
      cursor = EncodeScanCursor(shard, static_cast<uint64_t>(next), n);
    } else {
      cursor = shard + 1 < n ? EncodeScanCursor(shard + 1, 0, n) : 0;
    }
    return Reply::Of(Value::List({Value::String(std::to_string(cursor)), std::move(pair[1])}));
  }
  return Reply::Error(Code::kInternal, "no shard answered SCAN");
}

// KEYS pattern, on every shard: the matching keys of the namespace (Redis's warning applies:
// it looks at every key of the namespace at once; SCAN does it in steps).
Reply KeysShard(ShardContext& ctx, const CommandArgs& args) {
  if (!args[0].is_string_like()) return Reply::Error(SyntaxError());
  ScanOptions o;
  o.match = args[0].AsStringView();
  o.has_match = !(o.match.size() == 1 && o.match[0] == '*');
  ValueList keys;
  if (const KeyTable* table = NamespaceTable(ctx)) {
    const int64_t now = ctx.now_ms();
    for (size_t i = 0; i < table->segment_count(); ++i) {
      for (const Record* r : table->segment(i)) {
        if (r->IsExpired(now)) continue;
        const KeyText key = r->key();
        if (Wanted(o, key.view(), *r)) keys.push_back(KeyValue(key.view()));
      }
    }
  }
  return Reply::Of(Value::List(std::move(keys)));
}

Reply ConcatLists(MergeInput& in, ConnectionContext&) {
  ValueList out;
  for (Reply& part : in.parts) {
    if (!part.ok()) return std::move(part);
    if (part.value.type() != ValueType::kList) {
      return Reply::Error(Code::kInternal, "shard reply is not a list");
    }
    for (Value& v : part.value.MutableList()) out.push_back(std::move(v));
  }
  return Reply::Of(Value::List(std::move(out)));
}

// FLUSHDB [ASYNC | SYNC], on every shard: removes every key of the connection's namespace.
// Each removal is a write like DEL's (logged, seen by blocked commands); the shard does it in
// one go (ASYNC is accepted and does the same).
Reply FlushDbShard(ShardContext& ctx, const CommandArgs& args) {
  if (!args.empty() && !ArgIs(args[0], "ASYNC") && !ArgIs(args[0], "SYNC")) {
    return Reply::Error(SyntaxError());
  }
  std::vector<std::string> keys;
  if (const KeyTable* table = NamespaceTable(ctx)) {
    keys.reserve(table->size());
    for (size_t i = 0; i < table->segment_count(); ++i) {
      for (const Record* r : table->segment(i)) keys.push_back(r->key().str());
    }
  }
  for (const std::string& key : keys) ctx.Erase(key);
  return Reply::Ok();
}

// FLUSHALL [ASYNC | SYNC], on every shard: removes every key of every namespace (Redis's
// every database). Each removal is logged, as FLUSHDB's are.
Reply FlushAllShard(ShardContext& ctx, const CommandArgs& args) {
  if (!args.empty() && !ArgIs(args[0], "ASYNC") && !ArgIs(args[0], "SYNC")) {
    return Reply::Error(SyntaxError());
  }
  // The names and keys are copied first: a table emptied by the erases may go.
  std::vector<std::pair<std::string, std::vector<std::string>>> all;
  for (const auto& [ns, table] : ctx.partition().tables()) {
    std::vector<std::string> keys;
    keys.reserve(table.size());
    for (size_t i = 0; i < table.segment_count(); ++i) {
      for (const Record* r : table.segment(i)) keys.push_back(r->key().str());
    }
    all.emplace_back(ns, std::move(keys));
  }
  const std::string_view own = ctx.ns();
  // FLUSHALL is a write that loads nothing (kCmdNoLoad): the context is set so for each
  // namespace in turn, then back to the connection's.
  for (const auto& [ns, keys] : all) {
    ctx.Reset(ns, ctx.now_ms(), ctx.timed_out(), /*loads=*/false, /*write=*/true);
    for (const std::string& key : keys) ctx.Erase(key);
  }
  ctx.Reset(own, ctx.now_ms(), ctx.timed_out(), /*loads=*/false, /*write=*/true);
  return Reply::Ok();
}

// RANDOMKEY, on every shard: each part is [its key count in the namespace, a random key of
// them or nil]; the merge picks a part with probability proportional to its count, so every key
// is as likely (Redis: a random key, nil when there is none).
Reply RandomKeyShard(ShardContext& ctx, const CommandArgs&) {
  const KeyTable* table = NamespaceTable(ctx);
  if (table == nullptr || table->size() == 0) return Reply::Of(Value::List({Value::Int(0), {}}));
  thread_local std::mt19937_64 rng{std::random_device{}()};
  // A random segment weighted by its size, then a random record of it; expired keys are
  // skipped (a few tries, then the first live one found).
  const size_t n = table->size();
  for (int attempt = 0; attempt < 8; ++attempt) {
    size_t pick = std::uniform_int_distribution<size_t>(0, n - 1)(rng);
    for (size_t i = 0; i < table->segment_count(); ++i) {
      const size_t in_segment = table->segment(i).size();
      if (pick >= in_segment) {
        pick -= in_segment;
        continue;
      }
      for (const Record* r : table->segment(i)) {
        if (pick-- != 0) continue;
        if (r->IsExpired(ctx.now_ms())) break;
        const KeyText key = r->key();
        return Reply::Of(Value::List({Value::Int(static_cast<int64_t>(n)), KeyValue(key.view())}));
      }
      break;
    }
  }
  for (size_t i = 0; i < table->segment_count(); ++i) {
    for (const Record* r : table->segment(i)) {
      if (!r->IsExpired(ctx.now_ms())) {
        const KeyText key = r->key();
        return Reply::Of(Value::List({Value::Int(static_cast<int64_t>(n)), KeyValue(key.view())}));
      }
    }
  }
  return Reply::Of(Value::List({Value::Int(0), {}}));
}

Reply RandomKeyMerge(MergeInput& in, ConnectionContext&) {
  int64_t total = 0;
  for (const Reply& part : in.parts) {
    if (!part.ok()) return part;
    total += part.value.AsList()[0].AsInt();
  }
  if (total == 0) return Reply::Nil();
  thread_local std::mt19937_64 rng{std::random_device{}()};
  int64_t pick = std::uniform_int_distribution<int64_t>(0, total - 1)(rng);
  for (Reply& part : in.parts) {
    const int64_t count = part.value.AsList()[0].AsInt();
    if (pick < count) return Reply::Of(part.value.AsList()[1]);
    pick -= count;
  }
  return Reply::Nil();
}

// Redis's encoding name for a value (OBJECT ENCODING), by the shape Redis would give it.
const char* EncodingName(const Record& r) {
  const ValueRef v = r.value();
  switch (v.stored_type()) {
    case ValueType::kList:
      return "quicklist";  // Redis 7.0 says so for every list
    case ValueType::kMap: {
      // Redis 7.0's defaults: a listpack up to 512 fields of at most 64 bytes (it never goes
      // back to one once converted; a map has no history, so this looks at the map as it is).
      if (v.is_cold()) return "hashtable";
      const ValueMap& map = v.AsMap();
      if (map.size() > 512) return "hashtable";
      std::string scratch;
      for (const auto& [field, value] : map) {
        for (const Value* x : {&field, &value}) {
          const std::optional<std::string_view> text = RedisText(*x, &scratch);
          if (!text || text->size() > 64) return "hashtable";
        }
      }
      return "listpack";
    }
    case ValueType::kInt:
    case ValueType::kBool:
      return "int";
    case ValueType::kString:
    case ValueType::kBytes: {
      if (v.is_cold()) return "raw";
      const std::string_view s = v.AsStringView();
      int64_t n;
      // A canonical integer that fits in 64 bits ("10", not "010" or "+1"), as Redis tries.
      if (s.size() <= 20 && ArgToInt(Value::Bytes(s), &n) && std::to_string(n) == s) return "int";
      return s.size() <= 44 ? "embstr" : "raw";
    }
    default:
      return "raw";  // a Decimal, a double, a typed null: text to Redis
  }
}

// OBJECT ENCODING|IDLETIME|REFCOUNT|FREQ key (OBJECT HELP, which names no key, is not routed
// here: it answers a wrong number of arguments). IDLETIME is the seconds since the
// key was last read or written (kept in ms, 32 bits: it wraps after 49 days); reading it does
// not count as a use.
Reply Object(ShardContext& ctx, const CommandArgs& args) {
  const bool known = ArgIs(args[0], "ENCODING") || ArgIs(args[0], "IDLETIME") ||
                     ArgIs(args[0], "REFCOUNT") || ArgIs(args[0], "FREQ");
  if (!known) {
    return Reply::Error(
        Code::kInvalidArgument,
        "unknown subcommand '" + std::string(ArgText(args[0])) + "'. Try OBJECT HELP.");
  }
  const KeyTable* table = NamespaceTable(ctx);
  const std::string_view key = args[1].AsStringView();
  const Record* r = table != nullptr ? table->Find(key) : nullptr;
  if (r != nullptr && r->IsExpired(ctx.now_ms())) r = nullptr;
  if (r == nullptr) return Reply::Nil();
  if (ArgIs(args[0], "ENCODING")) return Reply::Of(Value::String(EncodingName(*r)));
  if (ArgIs(args[0], "REFCOUNT")) return Reply::Of(Value::Int(1));
  if (ArgIs(args[0], "FREQ")) {
    return Reply::Error(Code::kInvalidArgument,
                        "An LFU maxmemory policy is not selected, access frequency not tracked. "
                        "Please note that when switching between policies at runtime LRU and LFU "
                        "data will take some time to adjust.");
  }
  const uint32_t idle_ms = AccessClock(ctx.now_ms()) - r->access();
  return Reply::Of(Value::Int(idle_ms / 1000));
}

CommandSpec OnAllShards(std::string name, uint32_t flags, int min_args, int max_args,
                        ShardHandler h, MergeFunction merge, std::string summary) {
  CommandSpec s;
  s.name = std::move(name);
  s.flags = flags | kCmdAllShards;
  s.min_args = min_args;
  s.max_args = max_args;
  s.shard = std::move(h);
  s.merge = std::move(merge);
  s.summary = std::move(summary);
  return s;
}

}  // namespace

Status RegisterKeyspaceFamily(CommandRegistry* r) {
  CommandSpec object = KeyCommand("OBJECT", 0, kCmdReadOnly | kCmdNoLoad, 2, 2, Object,
                                  "OBJECT ENCODING|IDLETIME|REFCOUNT|FREQ key");
  object.keys = KeySpec::One(1);
  return r->RegisterAll({
      KeyCommand("TYPE", 0, kCmdReadOnly | kCmdNoLoad, 1, 1, Type, "TYPE key"),
      std::move(object),
      OnAllShards("SCAN", kCmdReadOnly | kCmdNoLoad, 1, 7, ScanShard, ScanMerge,
                  "SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]"),
      OnAllShards("KEYS", kCmdReadOnly | kCmdNoLoad, 1, 1, KeysShard, ConcatLists, "KEYS pattern"),
      OnAllShards("FLUSHDB", kCmdWrite | kCmdAllowOom | kCmdNoLoad, 0, 1, FlushDbShard,
                  MergeFirstError, "FLUSHDB [ASYNC|SYNC]"),
      OnAllShards("FLUSHALL", kCmdWrite | kCmdAllowOom | kCmdNoLoad, 0, 1, FlushAllShard,
                  MergeFirstError, "FLUSHALL [ASYNC|SYNC]"),
      OnAllShards("RANDOMKEY", kCmdReadOnly | kCmdNoLoad, 0, 0, RandomKeyShard, RandomKeyMerge,
                  "RANDOMKEY"),
  });
}

}  // namespace dbkv
