#include "core/numeric.h"

#include <charconv>

namespace dbkv {

bool ParseInt64(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  size_t digits_at = s[0] == '-' ? 1 : 0;
  if (digits_at == s.size()) return false;
  if (s[digits_at] == '0' && s.size() > digits_at + 1) return false;  // leading zero
  if (s == "-0") return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

namespace {

// The number a stored value stands for: an int or a Decimal, else WrongType.
StatusOr<Value> AsNumber(const Value& v) {
  switch (v.type()) {
    case ValueType::kNull:
      return Value::Int(0);
    case ValueType::kInt:
    case ValueType::kDecimal:
      return v;
    case ValueType::kString:
    case ValueType::kBytes: {
      std::string_view s = v.AsStringView();
      int64_t i;
      if (ParseInt64(s, &i)) return Value::Int(i);
      auto d = Decimal::Parse(s);
      if (d.ok()) return Value::Dec(*d);
      return Status::WrongType();
    }
    default:
      return Status::WrongType();
  }
}

}  // namespace

StatusOr<Value> AddNumbers(const Value& current, const Value& delta) {
  if (delta.type() != ValueType::kInt && delta.type() != ValueType::kDecimal) {
    return Status::InvalidArgument("increment must be an integer or a decimal");
  }
  auto base = AsNumber(current);
  if (!base.ok()) return base.status();
  if (base->type() == ValueType::kInt && delta.type() == ValueType::kInt) {
    int64_t r;
    if (__builtin_add_overflow(base->AsInt(), delta.AsInt(), &r)) {
      return Status::Overflow("increment or decrement would overflow");
    }
    return Value::Int(r);
  }
  Decimal a = base->type() == ValueType::kInt ? Decimal::FromInt(base->AsInt()) : base->AsDecimal();
  Decimal b = delta.type() == ValueType::kInt ? Decimal::FromInt(delta.AsInt()) : delta.AsDecimal();
  auto sum = a.Add(b);
  if (!sum.ok()) return sum.status();
  return Value::Dec(*sum);
}

}  // namespace dbkv
