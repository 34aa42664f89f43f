#include "plugins/api/command.h"

#include <utility>

namespace dbkv {

CommandSpec KeyCommand(std::string name, uint8_t opcode, uint32_t flags, int min_args, int max_args,
                       ShardHandler handler, std::string summary) {
  CommandSpec s;
  s.name = std::move(name);
  s.opcode = opcode;
  s.flags = flags;
  s.min_args = min_args;
  s.max_args = max_args;
  s.keys = KeySpec::One(0);
  s.shard = std::move(handler);
  s.summary = std::move(summary);
  return s;
}

Reply MergeInKeyOrder(MergeInput& in, ConnectionContext&) {
  ValueList out(in.group_count);
  for (size_t p = 0; p < in.parts.size(); ++p) {
    Reply& part = in.parts[p];
    if (!part.ok()) return std::move(part);
    if (part.value.type() != ValueType::kList ||
        part.value.AsList().size() != in.groups[p].size()) {
      return Reply::Error(Code::kInternal, "shard reply does not match its keys");
    }
    ValueList& items = part.value.MutableList();
    for (size_t i = 0; i < items.size(); ++i) out[in.groups[p][i]] = std::move(items[i]);
  }
  return Reply::Of(Value::List(std::move(out)));
}

Reply MergeSum(MergeInput& in, ConnectionContext&) {
  int64_t sum = 0;
  for (Reply& part : in.parts) {
    if (!part.ok()) return std::move(part);
    if (part.value.type() != ValueType::kInt) {
      return Reply::Error(Code::kInternal, "shard reply is not an integer");
    }
    sum += part.value.AsInt();
  }
  return Reply::Of(Value::Int(sum));
}

Reply MergeFirstError(MergeInput& in, ConnectionContext&) {
  for (Reply& part : in.parts) {
    if (!part.ok()) return std::move(part);
  }
  if (in.parts.empty()) return Reply::Ok();
  return std::move(in.parts.front());
}

}  // namespace dbkv
