#include "plugins/api/command.h"

namespace dbkv {

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
