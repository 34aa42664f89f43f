#include "plugins/redis_text.h"

#include <charconv>

#include "protocol/resp.h"

namespace dbkv {

std::optional<std::string_view> RedisText(const Value& v, std::string* scratch) {
  switch (v.type()) {
    case ValueType::kString:
    case ValueType::kBytes:
      return v.AsStringView();
    case ValueType::kNull:
      return std::string_view();
    case ValueType::kBool:
      return std::string_view(v.AsBool() ? "1" : "0");
    case ValueType::kInt: {
      char buf[24];
      const auto r = std::to_chars(buf, buf + sizeof(buf), v.AsInt());
      scratch->assign(buf, r.ptr);
      return std::string_view(*scratch);
    }
    case ValueType::kDouble:
      *scratch = protocol::FormatDouble(v.AsDouble());
      return std::string_view(*scratch);
    case ValueType::kDecimal:
      *scratch = v.AsDecimal().ToString();
      return std::string_view(*scratch);
    default:
      return std::nullopt;
  }
}

bool SameRedisText(const Value& a, const Value& b) {
  if (a.is_string_like() && b.is_string_like()) return a.AsStringView() == b.AsStringView();
  std::string sa, sb;
  const std::optional<std::string_view> ta = RedisText(a, &sa);
  const std::optional<std::string_view> tb = RedisText(b, &sb);
  return ta && tb && *ta == *tb;
}

}  // namespace dbkv
