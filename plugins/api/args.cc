#include "plugins/api/args.h"

#include <cmath>
#include <cstdlib>
#include <string>

#include "core/ascii.h"
#include "core/numeric.h"

namespace dbkv {

bool ArgToInt(const Value& v, int64_t* out) {
  if (v.type() == ValueType::kInt) {
    *out = v.AsInt();
    return true;
  }
  if (v.is_string_like()) return ParseInt64(v.AsStringView(), out);
  return false;
}

StatusOr<Value> ArgToNumber(const Value& v) {
  if (v.type() == ValueType::kInt || v.type() == ValueType::kDecimal) return v;
  if (v.is_string_like()) {
    int64_t i;
    if (ParseInt64(v.AsStringView(), &i)) return Value::Int(i);
    auto d = Decimal::Parse(v.AsStringView());
    if (d.ok()) return Value::Dec(*d);
    if (d.status().code() == Code::kOverflow) return d.status();
  }
  return Status::InvalidArgument("value is not an integer or decimal");
}

Status ArgToTimeoutMs(const Value& v, int64_t* out_ms) {
  constexpr int64_t kMaxSeconds = int64_t{10} * 365 * 24 * 3600;  // ten years
  Status bad = Status::InvalidArgument("timeout is not a number of seconds >= 0");
  double seconds;
  if (v.type() == ValueType::kDouble) {
    seconds = v.AsDouble();
  } else {
    auto n = ArgToNumber(v);
    if (!n.ok()) {
      // Text such as "0.5e1" that is neither an integer nor a plain decimal.
      if (!v.is_string_like()) return bad;
      std::string text(v.AsStringView());
      char* end = nullptr;
      seconds = std::strtod(text.c_str(), &end);
      if (text.empty() || end != text.c_str() + text.size()) return bad;
    } else if (n->type() == ValueType::kInt) {
      if (n->AsInt() < 0 || n->AsInt() > kMaxSeconds) return bad;
      *out_ms = n->AsInt() * 1000;
      return Status::OK();
    } else {
      seconds = std::strtod(n->AsDecimal().ToString().c_str(), nullptr);
    }
  }
  if (!(seconds >= 0) || seconds > static_cast<double>(kMaxSeconds)) return bad;
  *out_ms = static_cast<int64_t>(std::ceil(seconds * 1000.0));
  return Status::OK();
}

bool ArgToExpiry(const Value& n, int64_t unit_ms, int64_t now_ms, int64_t* out) {
  int64_t count;
  if (!ArgToInt(n, &count)) return false;
  if (count <= 0) return false;
  int64_t ms;
  if (__builtin_mul_overflow(count, unit_ms, &ms)) return false;
  if (__builtin_add_overflow(ms, now_ms, out)) return false;
  return true;
}

bool ArgIs(const Value& v, std::string_view word) {
  if (!v.is_string_like()) return false;
  std::string_view s = v.AsStringView();
  return EqualsIgnoreCase(s, word);
}

std::string_view ArgText(const Value& v) {
  return v.is_string_like() ? v.AsStringView() : std::string_view();
}

Status NotAnInteger() { return Status::InvalidArgument("value is not an integer or out of range"); }
Status SyntaxError() { return Status::InvalidArgument("syntax error"); }
Status WrongArity(std::string_view command) {
  return Status::InvalidArgument("wrong number of arguments for '" + std::string(command) +
                                 "' command");
}

}  // namespace dbkv
