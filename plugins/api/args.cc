#include "plugins/api/args.h"

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

bool ArgIs(const Value& v, std::string_view word) {
  if (!v.is_string_like()) return false;
  std::string_view s = v.AsStringView();
  if (s.size() != word.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char a = s[i], b = word[i];
    if (a >= 'a' && a <= 'z') a = static_cast<char>(a - 'a' + 'A');
    if (b >= 'a' && b <= 'z') b = static_cast<char>(b - 'a' + 'A');
    if (a != b) return false;
  }
  return true;
}

std::string_view ArgText(const Value& v) {
  return v.is_string_like() ? v.AsStringView() : std::string_view();
}

Status NotAnInteger() { return Status::InvalidArgument("value is not an integer or out of range"); }
Status SyntaxError() { return Status::InvalidArgument("syntax error"); }

}  // namespace dbkv
