#include "plugins/redis_text.h"

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

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

bool ToLongDouble(const Value& v, long double* out) {
  switch (v.type()) {
    case ValueType::kInt:
      *out = static_cast<long double>(v.AsInt());
      return true;
    case ValueType::kDouble:
      *out = v.AsDouble();
      return !std::isnan(*out);
    case ValueType::kDecimal:
      return ToLongDouble(Value::String(v.AsDecimal().ToString()), out);
    case ValueType::kString:
    case ValueType::kBytes: {
      const std::string text(v.AsStringView());
      if (text.empty() || text.size() > 5000 || std::isspace(static_cast<unsigned char>(text[0]))) {
        return false;
      }
      char* end = nullptr;
      errno = 0;
      *out = std::strtold(text.c_str(), &end);
      return end == text.c_str() + text.size() && errno != ERANGE && !std::isnan(*out);
    }
    default:
      return false;
  }
}

std::string HumanLongDouble(long double v) {
  char buf[5200];
  int n = std::snprintf(buf, sizeof(buf), "%.17Lf", v);
  if (n < 0 || static_cast<size_t>(n) >= sizeof(buf)) return "0";
  std::string out(buf, static_cast<size_t>(n));
  if (out.find('.') != std::string::npos) {
    while (!out.empty() && out.back() == '0') out.pop_back();
    if (!out.empty() && out.back() == '.') out.pop_back();
  }
  if (out == "-0") out = "0";
  return out;
}

bool RedisScanCursor(const Value& v, uint64_t* out) {
  if (v.type() == ValueType::kInt) {
    *out = static_cast<uint64_t>(v.AsInt());
    return true;
  }
  if (!v.is_string_like()) return false;
  const std::string text(v.AsStringView());
  if (!text.empty() && std::isspace(static_cast<unsigned char>(text[0]))) return false;
  char* end = nullptr;
  errno = 0;
  const unsigned long long n = std::strtoull(text.c_str(), &end, 10);
  if (*end != '\0' || errno == ERANGE || end != text.c_str() + text.size()) return false;
  *out = n;
  return true;
}

}  // namespace dbkv
