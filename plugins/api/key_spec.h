// Where a command's keys are among its arguments, and how a call is split over shards by them.
//
// The one place that knows key positions: the registry validates a KeySpec, COMMAND reports
// it in Redis's terms, the connection routes by it and the tier finds the keys whose values
// it must load by it. Pure functions, no I/O, no state (key_spec_test.cc).
#ifndef DATABRIDGE_PLUGINS_API_KEY_SPEC_H_
#define DATABRIDGE_PLUGINS_API_KEY_SPEC_H_

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "core/shard_hash.h"
#include "core/status.h"
#include "core/value.h"
#include "core/value_list.h"

namespace dbkv {

// Key positions among a command's arguments (after the name), 0-based: `first`, then every
// `step`-th argument up to the key at `last`. A negative `last` counts from the end: the key
// groups run up to the argument at (count + last), so -1 is "to the last argument", -2 "all
// but the last". `first` -1: the command takes no key. A key group is a key and the step - 1
// arguments after it (MSET: key, value); the arguments before `first` and after the last
// group are the prefix and the suffix.
struct KeySpec {
  int first = -1;
  int last = -1;
  int step = 1;

  static KeySpec None() { return KeySpec{}; }
  // One key, at position `at`.
  static KeySpec One(int at = 0) { return KeySpec{at, at, 1}; }
  // Keys from `first` up to `last` (negative: from the end), in groups of `step`.
  static KeySpec Range(int first, int last, int step = 1) { return KeySpec{first, last, step}; }

  bool has_keys() const { return first >= 0; }
  // Several key positions: the keys of one call can fall on several shards.
  bool multiple() const { return first >= 0 && last != first; }

  // A spec the registry accepts for a command called `name` whose first min_args arguments
  // are required: the first key is one of them, step >= 1, last not before first.
  Status Validate(const std::string& name, int min_args) const;

  // COMMAND's (first key, last key, step): 1-based counting the name, a negative last as is;
  // (0, 0, 0) without keys.
  struct RedisPositions {
    int64_t first = 0;
    int64_t last = 0;
    int64_t step = 0;
  };
  RedisPositions redis_positions() const;
};

// The keys of one call: the key at `first`, every `step`-th argument up to the key at `last`.
// `end` is the last argument of the last group (the suffix starts after it).
struct KeyGroups {
  int first = 0;
  int last = -1;
  int step = 1;
  int end = -1;

  uint32_t count() const {
    return last < first ? 0 : static_cast<uint32_t>((last - first) / step + 1);
  }
};

// The functions on every request's path (ResolveKeys, NormalizeKeys, CommonShard) are inline:
// out of line they cost about 70 instructions per request (callgrind, SET pipelined).

// The key groups of a call with nargs arguments. False when the arguments do not hold whole
// key groups (fewer than one, or a group cut short): the call has a wrong number of arguments.
inline bool ResolveKeys(const KeySpec& spec, size_t nargs, KeyGroups* out) {
  if (spec.first < 0 || spec.step < 1) return false;
  const int n = static_cast<int>(nargs);
  const int step = spec.step;
  const int end = spec.last >= 0 ? std::min(spec.last + step - 1, n - 1) : n + spec.last;
  if (end < spec.first || (end - spec.first + 1) % step != 0) return false;
  out->first = spec.first;
  out->step = step;
  out->end = end;
  out->last = end - step + 1;
  return true;
}

// NormalizeKeys from the first key that is not text (key_spec.cc).
Status NormalizeKeysFrom(const KeyGroups& g, Value* args, int from);

// Keys must be text: integers (binary protocol) stand for their decimal text and are rewritten
// in place; any other type is refused with an error naming it.
inline Status NormalizeKeys(const KeyGroups& g, Value* args) {
  for (int k = g.first; k <= g.last; k += g.step) {
    if (!args[k].is_string_like()) return NormalizeKeysFrom(g, args, k);
  }
  return Status::OK();
}

// The shard of every key of the call, or kSeveralShards. Keys must be text (NormalizeKeys).
constexpr uint32_t kSeveralShards = UINT32_MAX;
inline uint32_t CommonShard(const KeyGroups& g, const Value* args, uint32_t nshards) {
  const uint32_t shard = ShardOf(args[g.first].AsStringView(), nshards);
  for (int k = g.first + g.step; k <= g.last; k += g.step) {
    if (ShardOf(args[k].AsStringView(), nshards) != shard) return kSeveralShards;
  }
  return shard;
}

// A call whose keys are on several shards, as one part per shard.
struct ShardSplit {
  // The shard of part i, in the order the shards first appear among the keys.
  std::vector<uint32_t> shards;
  // The key groups (indexes in the caller's order) of part i.
  std::vector<std::vector<uint32_t>> groups;
  // The arguments of part i: the prefix, its key groups in the caller's order, the suffix.
  std::vector<ValueList> args;
  uint32_t group_count = 0;
};

// Splits the nargs arguments at args by the shards of their keys. Moves the key groups' values
// out of args (the prefix and the suffix are copied into every part).
ShardSplit SplitByShard(const KeyGroups& g, Value* args, size_t nargs, uint32_t nshards);

// Calls fn(key) for each text key of a call (keys that are not text are skipped: the
// connection has turned integer keys into text and refused the rest).
template <class Args, class Fn>
void ForEachKey(const KeySpec& spec, const Args& args, Fn&& fn) {
  KeyGroups g;
  if (!ResolveKeys(spec, args.size(), &g)) return;
  for (int k = g.first; k <= g.last; k += g.step) {
    if (args[k].is_string_like()) fn(args[k].AsStringView());
  }
}

}  // namespace dbkv

#endif  // DATABRIDGE_PLUGINS_API_KEY_SPEC_H_
