#include "plugins/api/key_spec.h"

#include <algorithm>
#include <string_view>

#include "core/shard_hash.h"

namespace dbkv {

Status KeySpec::Validate(const std::string& name, int min_args) const {
  if (first < 0) return Status::OK();
  if (first >= min_args) {
    return Status::InvalidArgument(name + ": the first key must be a required argument");
  }
  if (step < 1) return Status::InvalidArgument(name + ": the key step must be >= 1");
  if (last >= 0 && last < first)
    return Status::InvalidArgument(name + ": the last key is before the first");
  return Status::OK();
}

KeySpec::RedisPositions KeySpec::redis_positions() const {
  if (first < 0) return {};
  return {first + 1, last >= 0 ? last + 1 : last, step};
}

Status NormalizeKeysFrom(const KeyGroups& g, Value* args, int from) {
  for (int k = from; k <= g.last; k += g.step) {
    Value& key = args[k];
    if (key.type() == ValueType::kInt) {
      key = Value::String(std::to_string(key.AsInt()));
    } else if (!key.is_string_like()) {
      return Status::InvalidArgument("key must be a string, bytes or an integer, not " +
                                     std::string(ValueTypeName(key.type())));
    }
  }
  return Status::OK();
}

ShardSplit SplitByShard(const KeyGroups& g, Value* args, size_t nargs, uint32_t nshards) {
  ShardSplit split;
  std::vector<int> part_of_shard(nshards, -1);
  uint32_t group = 0;
  for (int k = g.first; k <= g.last; k += g.step, ++group) {
    const uint32_t s = ShardOf(args[k].AsStringView(), nshards);
    if (part_of_shard[s] < 0) {
      part_of_shard[s] = static_cast<int>(split.args.size());
      split.shards.push_back(s);
      split.args.emplace_back(args, args + g.first);  // the prefix
      split.groups.emplace_back();
    }
    const int part = part_of_shard[s];
    ValueList& pa = split.args[part];
    for (int j = k; j < k + g.step; ++j) pa.push_back(std::move(args[j]));
    split.groups[part].push_back(group);
  }
  split.group_count = group;
  for (ValueList& pa : split.args) pa.insert(pa.end(), args + g.end + 1, args + nargs);
  return split;
}

}  // namespace dbkv
