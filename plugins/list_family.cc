#include "plugins/list_family.h"

#include <algorithm>
#include <iterator>
#include <vector>

#include "plugins/api/args.h"
#include "plugins/api/contexts.h"
#include "plugins/redis_text.h"
#include "protocol/opcodes.h"

namespace dbkv {
namespace {

namespace op = protocol::op;

std::string_view KeyArg(const CommandArgs& args) { return args[0].AsStringView(); }

bool IsList(const Entry& e) { return e.value.type() == ValueType::kList; }
bool IsList(const Record& r) { return r.value().type() == ValueType::kList; }

Reply WrongType() { return Reply::Error(Status::WrongType()); }

Reply Count(size_t n) { return Reply::Of(Value::Int(static_cast<int64_t>(n))); }

enum class End { kLeft, kRight };

// RPUSH / LPUSH key value [value ...] -> the list's new length. Creates the list if absent.
// O(values pushed), whatever the list's length: memory is accounted by the change.
Reply Push(ShardContext& ctx, const CommandArgs& args, End end) {
  EntryRef ref = ctx.UpsertUnmeasured(KeyArg(args));
  if (ref.created) {
    ref.entry->value = Value::List({});
  } else if (!IsList(*ref.entry)) {
    ctx.Abort(ref);  // untouched: Abort leaves an entry it did not create as it is
    return WrongType();
  }
  ValueList& list = ref.entry->value.MutableList();
  const int64_t shell_before = ref.created ? 0 : Value::ListShellBytes(list.capacity());
  const CommandArgs values = args.subspan(1);
  int64_t delta = 0;
  for (const Value& v : values) delta += static_cast<int64_t>(v.HeapBytes());
  if (end == End::kRight) {
    list.insert(list.end(), values.begin(), values.end());
  } else {
    // LPUSH a b c gives [c, b, a]: each value goes in front of the previous one.
    list.insert(list.begin(), std::make_reverse_iterator(values.end()),
                std::make_reverse_iterator(values.begin()));
  }
  delta += static_cast<int64_t>(Value::ListShellBytes(list.capacity())) - shell_before;
  const size_t size = list.size();
  ListChange change;
  change.push = true;
  change.tail = end == End::kRight;
  change.values = values.begin();
  change.count = values.size();
  ctx.CommitDelta(ref, delta, &change);
  return Count(size);
}
Reply Rpush(ShardContext& ctx, const CommandArgs& args) { return Push(ctx, args, End::kRight); }
Reply Lpush(ShardContext& ctx, const CommandArgs& args) { return Push(ctx, args, End::kLeft); }

// Takes up to n elements from one end of the list at key (a live list entry), in pop order.
// A list left empty is deleted.
ValueList Take(ShardContext& ctx, std::string_view key, size_t n, End end) {
  EntryRef ref = ctx.UpsertUnmeasured(key);
  ValueList& list = ref.entry->value.MutableList();
  n = std::min(n, list.size());
  ValueList taken;
  taken.reserve(n);
  if (end == End::kLeft) {
    std::move(list.begin(), list.begin() + n, std::back_inserter(taken));
    list.erase(list.begin(), list.begin() + n);
  } else {
    // RPOP returns the last element first.
    std::move(list.rbegin(), list.rbegin() + n, std::back_inserter(taken));
    list.erase(list.end() - n, list.end());
  }
  int64_t delta = 0;
  for (const Value& v : taken) delta -= static_cast<int64_t>(v.HeapBytes());
  const bool emptied = list.empty();
  ListChange change;
  change.push = false;
  change.tail = end == End::kRight;
  change.count = taken.size();
  // Commit first, so that the partition accounts the shrunken entry it then erases.
  ctx.CommitDelta(ref, delta, &change);
  if (emptied) ctx.Erase(key);
  return taken;
}

// LPOP / RPOP key [count]. Without count: the element, or nil if the key does not exist.
// With count (>= 0): a list of up to count elements in pop order, or nil if the key does not
// exist. A list left empty is deleted.
Reply Pop(ShardContext& ctx, const CommandArgs& args, End end) {
  const bool has_count = args.size() > 1;
  int64_t count = 1;
  if (has_count) {
    if (!ArgToInt(args[1], &count)) return Reply::Error(NotAnInteger());
    if (count < 0) {
      return Reply::Error(Code::kInvalidArgument, "value is out of range, must be positive");
    }
  }
  std::string_view key = KeyArg(args);
  const Record* e = ctx.Peek(key);
  if (e == nullptr) return has_count ? Reply::NilArray() : Reply::Nil();
  if (!IsList(*e)) return WrongType();
  const size_t n = std::min<size_t>(static_cast<uint64_t>(count), e->value().AsList().size());
  if (n == 0) {
    // LPOP key 0, or a list stored empty by SET: nothing to take, nothing changes.
    return has_count ? Reply::Of(Value::List({})) : Reply::Nil();
  }
  ValueList taken = Take(ctx, key, n, end);
  if (!has_count) return Reply::Of(std::move(taken.front()));
  return Reply::Of(Value::List(std::move(taken)));
}

// BLPOP / BRPOP key [key ...] timeout -> [key, element] from the first non-empty list, in the
// order given; if all are empty, waits (seconds; 0: forever) for a push, then nil at the
// timeout. The keys must be on one shard (same hash tag). Waiters are served in arrival order.
Reply BlockingPop(ShardContext& ctx, const CommandArgs& args, End end) {
  int64_t timeout_ms;
  Status st = ArgToTimeoutMs(args[args.size() - 1], &timeout_ms);
  if (!st.ok()) return Reply::Error(st);
  BlockRequest b;
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    std::string_view key = args[i].AsStringView();
    const Record* e = ctx.Peek(key);
    if (e != nullptr && !IsList(*e)) return WrongType();
    if (e != nullptr && !e->value().AsList().empty()) {
      ValueList taken = Take(ctx, key, 1, end);
      return Reply::Of(Value::List({args[i], std::move(taken.front())}));
    }
    b.keys.push_back(key);
  }
  if (ctx.timed_out()) return Reply::NilArray();
  b.deadline_ms = timeout_ms == 0 ? 0 : ctx.now_ms() + timeout_ms;
  return ctx.Block(std::move(b));
}
Reply Blpop(ShardContext& ctx, const CommandArgs& args) {
  return BlockingPop(ctx, args, End::kLeft);
}
Reply Brpop(ShardContext& ctx, const CommandArgs& args) {
  return BlockingPop(ctx, args, End::kRight);
}

Reply Lpop(ShardContext& ctx, const CommandArgs& args) { return Pop(ctx, args, End::kLeft); }
Reply Rpop(ShardContext& ctx, const CommandArgs& args) { return Pop(ctx, args, End::kRight); }

// LRANGE key start stop -> the elements from start to stop, both included. Negative indexes
// count from the end (-1 is the last); out-of-range indexes are clamped; an empty range (or
// a missing key) is an empty list.
Reply Lrange(ShardContext& ctx, const CommandArgs& args) {
  int64_t start, stop;
  if (!ArgToInt(args[1], &start) || !ArgToInt(args[2], &stop)) {
    return Reply::Error(NotAnInteger());
  }
  const Record* e = ctx.Find(KeyArg(args));
  if (e == nullptr) return Reply::Of(Value::List({}));
  if (!IsList(*e)) return WrongType();
  const ValueList& list = e->value().AsList();
  const int64_t len = static_cast<int64_t>(list.size());
  if (start < 0) start += len;  // cannot overflow: len >= 0 and start < 0
  if (stop < 0) stop += len;
  if (start < 0) start = 0;
  if (start > stop || start >= len) return Reply::Of(Value::List({}));
  if (stop >= len) stop = len - 1;
  return Reply::Of(Value::List(ValueList(list.begin() + start, list.begin() + stop + 1)));
}

// LLEN key -> the list's length, 0 if the key does not exist.
Reply Llen(ShardContext& ctx, const CommandArgs& args) {
  const Record* e = ctx.Find(KeyArg(args));
  if (e == nullptr) return Count(0);
  if (!IsList(*e)) return WrongType();
  return Count(e->value().AsList().size());
}

// LPUSHX / RPUSHX key value [value ...] -> the new length; 0 (nothing pushed) if the key does
// not exist.
Reply PushX(ShardContext& ctx, const CommandArgs& args, End end) {
  const Record* e = ctx.Peek(KeyArg(args));
  if (e == nullptr) return Count(0);
  if (!IsList(*e)) return WrongType();
  return Push(ctx, args, end);
}
Reply Rpushx(ShardContext& ctx, const CommandArgs& args) { return PushX(ctx, args, End::kRight); }
Reply Lpushx(ShardContext& ctx, const CommandArgs& args) { return PushX(ctx, args, End::kLeft); }

// An index into a list of len elements (negative from the end), or -1 if out of range.
int64_t ResolveIndex(int64_t index, int64_t len) {
  if (index < 0) index += len;
  return index < 0 || index >= len ? -1 : index;
}

// LINDEX key index -> the element, or nil (out of range, or no key).
Reply Lindex(ShardContext& ctx, const CommandArgs& args) {
  // As Redis: the key is looked up before the index is read.
  const Record* e = ctx.Find(KeyArg(args));
  if (e == nullptr) return Reply::Nil();
  if (!IsList(*e)) return WrongType();
  int64_t index;
  if (!ArgToInt(args[1], &index)) return Reply::Error(NotAnInteger());
  const ValueRef v = e->value();
  const ValueList& list = v.AsList();
  const int64_t at = ResolveIndex(index, static_cast<int64_t>(list.size()));
  if (at < 0) return Reply::Nil();
  return Reply::Of(list[static_cast<size_t>(at)]);
}

// LSET key index element -> OK.
Reply Lset(ShardContext& ctx, const CommandArgs& args) {
  std::string_view key = KeyArg(args);
  const Record* e = ctx.Peek(key);
  if (e == nullptr) return Reply::Error(Code::kNotFound, "no such key");
  if (!IsList(*e)) return WrongType();
  int64_t index;
  if (!ArgToInt(args[1], &index)) return Reply::Error(NotAnInteger());
  const int64_t at = ResolveIndex(index, static_cast<int64_t>(e->value().AsList().size()));
  if (at < 0) return Reply::Error(Code::kInvalidArgument, "index out of range");
  EntryRef ref = ctx.UpsertUnmeasured(key);
  Value& slot = ref.entry->value.MutableList()[static_cast<size_t>(at)];
  const int64_t delta =
      static_cast<int64_t>(args[2].HeapBytes()) - static_cast<int64_t>(slot.HeapBytes());
  slot = args[2];
  ctx.CommitDelta(ref, delta);
  return Reply::Ok();
}

// LINSERT key BEFORE|AFTER pivot element -> the new length; -1 if pivot is not in the list;
// 0 if the key does not exist. Elements match by their text, as Redis compares them.
Reply Linsert(ShardContext& ctx, const CommandArgs& args) {
  bool after;
  if (ArgIs(args[1], "AFTER")) {
    after = true;
  } else if (ArgIs(args[1], "BEFORE")) {
    after = false;
  } else {
    return Reply::Error(SyntaxError());
  }
  std::string_view key = KeyArg(args);
  const Record* e = ctx.Peek(key);
  if (e == nullptr) return Count(0);
  if (!IsList(*e)) return WrongType();
  int64_t found = -1;
  {
    const ValueRef v = e->value();
    const ValueList& list = v.AsList();
    for (size_t i = 0; i < list.size(); ++i) {
      if (SameRedisText(list[i], args[2])) {
        found = static_cast<int64_t>(i);
        break;
      }
    }
  }
  if (found < 0) return Reply::Of(Value::Int(-1));
  EntryRef ref = ctx.UpsertUnmeasured(key);
  ValueList& list = ref.entry->value.MutableList();
  const int64_t shell_before = Value::ListShellBytes(list.capacity());
  list.insert(list.begin() + found + (after ? 1 : 0), args[3]);
  const int64_t delta = static_cast<int64_t>(args[3].HeapBytes()) +
                        static_cast<int64_t>(Value::ListShellBytes(list.capacity())) - shell_before;
  const size_t size = list.size();
  ctx.CommitDelta(ref, delta);
  return Count(size);
}

// LREM key count element -> how many were removed: the first count matches from the head
// (count > 0), from the tail (count < 0), or all (0). A list left empty is deleted.
Reply Lrem(ShardContext& ctx, const CommandArgs& args) {
  int64_t count;
  if (!ArgToInt(args[1], &count)) return Reply::Error(NotAnInteger());
  std::string_view key = KeyArg(args);
  const Record* e = ctx.Peek(key);
  if (e == nullptr) return Count(0);
  if (!IsList(*e)) return WrongType();
  const uint64_t limit =
      count == 0 ? UINT64_MAX
                 : (count < 0 ? 0 - static_cast<uint64_t>(count) : static_cast<uint64_t>(count));
  std::vector<bool> remove;
  size_t removed = 0;
  {
    const ValueRef v = e->value();
    const ValueList& list = v.AsList();
    remove.assign(list.size(), false);
    for (size_t k = 0; k < list.size() && removed < limit; ++k) {
      const size_t i = count < 0 ? list.size() - 1 - k : k;
      if (SameRedisText(list[i], args[2])) {
        remove[i] = true;
        ++removed;
      }
    }
  }
  if (removed == 0) return Count(0);
  EntryRef ref = ctx.UpsertUnmeasured(key);
  ValueList& list = ref.entry->value.MutableList();
  int64_t delta = 0;
  size_t out = 0;
  for (size_t i = 0; i < list.size(); ++i) {
    if (remove[i]) {
      delta -= static_cast<int64_t>(list[i].HeapBytes());
    } else {
      if (out != i) list[out] = std::move(list[i]);
      ++out;
    }
  }
  list.erase(list.begin() + static_cast<std::ptrdiff_t>(out), list.end());
  const bool emptied = list.empty();
  ctx.CommitDelta(ref, delta);
  if (emptied) ctx.Erase(key);
  return Count(removed);
}

// LTRIM key start stop -> OK; keeps the elements from start to stop (as LRANGE picks them). A
// list left empty is deleted.
Reply Ltrim(ShardContext& ctx, const CommandArgs& args) {
  int64_t start, stop;
  if (!ArgToInt(args[1], &start) || !ArgToInt(args[2], &stop)) {
    return Reply::Error(NotAnInteger());
  }
  std::string_view key = KeyArg(args);
  const Record* e = ctx.Peek(key);
  if (e == nullptr) return Reply::Ok();
  if (!IsList(*e)) return WrongType();
  const int64_t len = static_cast<int64_t>(e->value().AsList().size());
  if (start < 0) start += len;
  if (stop < 0) stop += len;
  if (start < 0) start = 0;
  int64_t keep_from = 0, keep_to = 0;  // [keep_from, keep_to)
  if (start <= stop && start < len) {
    if (stop >= len) stop = len - 1;
    keep_from = start;
    keep_to = stop + 1;
  }
  if (keep_from == 0 && keep_to == len) return Reply::Ok();
  if (keep_from == keep_to) {
    ctx.Erase(key);
    return Reply::Ok();
  }
  EntryRef ref = ctx.UpsertUnmeasured(key);
  ValueList& list = ref.entry->value.MutableList();
  int64_t delta = 0;
  for (int64_t i = 0; i < len; ++i) {
    if (i < keep_from || i >= keep_to) delta -= static_cast<int64_t>(list[i].HeapBytes());
  }
  list.erase(list.begin() + keep_to, list.end());
  list.erase(list.begin(), list.begin() + keep_from);
  ctx.CommitDelta(ref, delta);
  return Reply::Ok();
}

// LPOS key element [RANK rank] [COUNT num] [MAXLEN len] -> the index of the rank-th match
// (negative rank: from the tail), or nil; with COUNT, a list of up to num indexes (0: all).
// MAXLEN bounds the elements compared (0: all).
Reply Lpos(ShardContext& ctx, const CommandArgs& args) {
  int64_t rank = 1, count = -1, maxlen = 0;
  for (size_t i = 2; i < args.size(); ++i) {
    const Value& a = args[i];
    const bool has_next = i + 1 < args.size();
    int64_t n;
    if (!has_next || !(ArgIs(a, "RANK") || ArgIs(a, "COUNT") || ArgIs(a, "MAXLEN"))) {
      return Reply::Error(SyntaxError());
    }
    // As Redis: COUNT's and MAXLEN's own message for a non-integer too.
    if (!ArgToInt(args[++i], &n)) {
      if (ArgIs(a, "COUNT")) return Reply::Error(Code::kInvalidArgument, "COUNT can't be negative");
      if (ArgIs(a, "MAXLEN")) {
        return Reply::Error(Code::kInvalidArgument, "MAXLEN can't be negative");
      }
      return Reply::Error(NotAnInteger());
    }
    if (ArgIs(a, "RANK")) {
      if (n == 0) {
        return Reply::Error(Code::kInvalidArgument,
                            "RANK can't be zero: use 1 to start from the first match, 2 from the "
                            "second ... or use negative to start from the end of the list");
      }
      if (n == INT64_MIN) {
        return Reply::Error(Code::kInvalidArgument,
                            "value is out of range, value must between -9223372036854775807 and "
                            "9223372036854775807");
      }
      rank = n;
    } else if (ArgIs(a, "COUNT")) {
      if (n < 0) return Reply::Error(Code::kInvalidArgument, "COUNT can't be negative");
      count = n;
    } else {
      if (n < 0) return Reply::Error(Code::kInvalidArgument, "MAXLEN can't be negative");
      maxlen = n;
    }
  }
  const Record* e = ctx.Find(KeyArg(args));
  if (e == nullptr) return count >= 0 ? Reply::Of(Value::List({})) : Reply::Nil();
  if (!IsList(*e)) return WrongType();
  const ValueRef v = e->value();
  const ValueList& list = v.AsList();
  const auto len = static_cast<int64_t>(list.size());
  const int64_t want = count < 0 ? 1 : (count == 0 ? INT64_MAX : count);
  int64_t skip = (rank > 0 ? rank : -rank) - 1;
  ValueList found;
  for (int64_t k = 0; k < len && (maxlen == 0 || k < maxlen); ++k) {
    const int64_t i = rank > 0 ? k : len - 1 - k;
    if (!SameRedisText(list[static_cast<size_t>(i)], args[1])) continue;
    if (skip > 0) {
      --skip;
      continue;
    }
    found.push_back(Value::Int(i));
    if (static_cast<int64_t>(found.size()) >= want) break;
  }
  if (count >= 0) return Reply::Of(Value::List(std::move(found)));
  if (found.empty()) return Reply::Nil();
  return Reply::Of(std::move(found.front()));
}

}  // namespace

Status RegisterListFamily(CommandRegistry* r) {
  std::vector<CommandSpec> specs = {
      KeyCommand("RPUSH", op::kRpush, kCmdWrite, 2, -1, Rpush, "RPUSH key value [value ...]"),
      KeyCommand("LPUSH", op::kLpush, kCmdWrite, 2, -1, Lpush, "LPUSH key value [value ...]"),
      KeyCommand("LPOP", op::kLpop, kCmdWrite | kCmdStoredReply | kCmdAllowOom, 1, 2, Lpop,
                 "LPOP key [count]"),
      KeyCommand("RPOP", op::kRpop, kCmdWrite | kCmdStoredReply | kCmdAllowOom, 1, 2, Rpop,
                 "RPOP key [count]"),
      KeyCommand("LRANGE", op::kLrange, kCmdReadOnly | kCmdStoredReply, 3, 3, Lrange,
                 "LRANGE key start stop"),
      KeyCommand("LLEN", op::kLlen, kCmdReadOnly, 1, 1, Llen, "LLEN key"),
      // By name only.
      KeyCommand("RPUSHX", 0, kCmdWrite, 2, -1, Rpushx, "RPUSHX key value [value ...]"),
      KeyCommand("LPUSHX", 0, kCmdWrite, 2, -1, Lpushx, "LPUSHX key value [value ...]"),
      KeyCommand("LINDEX", 0, kCmdReadOnly | kCmdStoredReply, 2, 2, Lindex, "LINDEX key index"),
      KeyCommand("LSET", 0, kCmdWrite, 3, 3, Lset, "LSET key index element"),
      KeyCommand("LINSERT", 0, kCmdWrite, 4, 4, Linsert, "LINSERT key BEFORE|AFTER pivot element"),
      KeyCommand("LREM", 0, kCmdWrite | kCmdAllowOom, 3, 3, Lrem, "LREM key count element"),
      KeyCommand("LTRIM", 0, kCmdWrite | kCmdAllowOom, 3, 3, Ltrim, "LTRIM key start stop"),
      KeyCommand("LPOS", 0, kCmdReadOnly, 2, -1, Lpos,
                 "LPOS key element [RANK rank] [COUNT num] [MAXLEN len]"),
      KeyCommand("BLPOP", op::kBlpop,
                 kCmdWrite | kCmdStoredReply | kCmdAllowOom | kCmdBlocking | kCmdSingleShard, 2, -1,
                 Blpop, "BLPOP key [key ...] timeout"),
      KeyCommand("BRPOP", op::kBrpop,
                 kCmdWrite | kCmdStoredReply | kCmdAllowOom | kCmdBlocking | kCmdSingleShard, 2, -1,
                 Brpop, "BRPOP key [key ...] timeout"),
  };
  // The blocking pops take every argument but the last (the timeout) as a key.
  for (CommandSpec& s : specs) {
    if (s.flags & kCmdBlocking) s.keys = KeySpec::Range(0, -2);
  }
  return r->RegisterAll(std::move(specs));
}

}  // namespace dbkv
