#include "core/decimal.h"

#include <algorithm>

namespace dbkv {
namespace {

using uint128 = Decimal::uint128;

uint128 Pow10(int n) {
  uint128 r = 1;
  for (int i = 0; i < n; ++i) r *= 10;
  return r;
}

// Multiplies v by 10^n if the result stays within the coefficient limit.
bool ScaleUp(uint128 v, int n, uint128* out) {
  if (v == 0) {
    *out = 0;
    return true;
  }
  if (n > Decimal::kMaxDigits) return false;
  if (Decimal::DigitCount(v) + n > Decimal::kMaxDigits) return false;
  *out = v * Pow10(n);
  return true;
}

}  // namespace

uint128 Decimal::MaxCoefficient() { return Pow10(kMaxDigits) - 1; }

int Decimal::DigitCount(uint128 v) {
  int n = 1;
  while (v >= 10) {
    v /= 10;
    ++n;
  }
  return n;
}

std::string Decimal::CoefficientToString(uint128 v) {
  if (v == 0) return "0";
  char buf[48];
  int pos = sizeof(buf);
  while (v != 0) {
    buf[--pos] = static_cast<char>('0' + static_cast<int>(v % 10));
    v /= 10;
  }
  return std::string(buf + pos, sizeof(buf) - pos);
}

StatusOr<Decimal> Decimal::FromParts(bool negative, uint128 coefficient, int64_t exponent) {
  if (coefficient > MaxCoefficient()) {
    return Status::Overflow("decimal has more than 38 significant digits");
  }
  if (exponent < kMinExponent || exponent > kMaxExponent) {
    return Status::Overflow("decimal exponent out of range");
  }
  return Decimal(negative, coefficient, static_cast<int32_t>(exponent));
}

Decimal Decimal::FromInt(int64_t v) {
  bool neg = v < 0;
  uint128 mag = neg ? static_cast<uint128>(-(v + 1)) + 1 : static_cast<uint128>(v);
  return Decimal(neg, mag, 0);
}

StatusOr<Decimal> Decimal::Parse(std::string_view s) {
  size_t i = 0;
  bool neg = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    neg = s[i] == '-';
    ++i;
  }
  uint128 coef = 0;
  int digits = 0;  // significant digits accumulated (after leading zeros)
  int64_t exponent = 0;
  bool any_digit = false;
  bool seen_point = false;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c == '.') {
      if (seen_point) return Status::InvalidArgument("invalid decimal: '" + std::string(s) + "'");
      seen_point = true;
      continue;
    }
    if (c < '0' || c > '9') break;
    any_digit = true;
    if (seen_point) --exponent;
    if (coef == 0 && c == '0') continue;  // leading zero: not significant
    if (++digits > kMaxDigits)
      return Status::Overflow("decimal has more than 38 significant digits");
    coef = coef * 10 + static_cast<unsigned>(c - '0');
  }
  if (!any_digit) return Status::InvalidArgument("invalid decimal: '" + std::string(s) + "'");
  if (i < s.size()) {
    if (s[i] != 'e' && s[i] != 'E') {
      return Status::InvalidArgument("invalid decimal: '" + std::string(s) + "'");
    }
    ++i;
    bool eneg = false;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
      eneg = s[i] == '-';
      ++i;
    }
    if (i == s.size()) return Status::InvalidArgument("invalid decimal: '" + std::string(s) + "'");
    int64_t e = 0;
    for (; i < s.size(); ++i) {
      char c = s[i];
      if (c < '0' || c > '9') {
        return Status::InvalidArgument("invalid decimal: '" + std::string(s) + "'");
      }
      e = e * 10 + (c - '0');
      if (e > 100000000) return Status::Overflow("decimal exponent out of range");
    }
    exponent += eneg ? -e : e;
  }
  return FromParts(neg, coef, exponent);
}

std::string Decimal::ToString() const {
  std::string c = CoefficientToString(coefficient_);
  const int64_t len = static_cast<int64_t>(c.size());
  const int64_t adjusted = exponent_ + len - 1;
  std::string out;
  if (negative_) out += '-';
  if (exponent_ <= 0 && adjusted >= -6) {
    if (exponent_ == 0) {
      out += c;
    } else if (len > -exponent_) {
      out.append(c, 0, len + exponent_);
      out += '.';
      out.append(c, len + exponent_, std::string::npos);
    } else {
      out += "0.";
      out.append(static_cast<size_t>(-exponent_ - len), '0');
      out += c;
    }
    return out;
  }
  out += c[0];
  if (len > 1) {
    out += '.';
    out.append(c, 1, std::string::npos);
  }
  out += 'E';
  out += adjusted >= 0 ? '+' : '-';
  out += std::to_string(adjusted >= 0 ? adjusted : -adjusted);
  return out;
}

Decimal Decimal::Negated() const { return Decimal(!negative_, coefficient_, exponent_); }

StatusOr<Decimal> Decimal::Add(const Decimal& o) const {
  const int32_t exp = std::min(exponent_, o.exponent_);
  uint128 a, b;
  if (!ScaleUp(coefficient_, exponent_ - exp, &a) ||
      !ScaleUp(o.coefficient_, o.exponent_ - exp, &b)) {
    return Status::Overflow("decimal result needs more than 38 significant digits");
  }
  bool neg;
  uint128 sum;
  if (negative_ == o.negative_) {
    sum = a + b;  // both < 10^38, no 128-bit wrap (10^38 * 2 < 2^128)
    neg = negative_;
  } else if (a >= b) {
    sum = a - b;
    neg = negative_;
  } else {
    sum = b - a;
    neg = o.negative_;
  }
  if (sum == 0) neg = negative_ && o.negative_;  // x + (-x) is +0, as in IEEE 754 decimal
  if (sum > MaxCoefficient()) {
    return Status::Overflow("decimal result needs more than 38 significant digits");
  }
  return Decimal(neg, sum, exp);
}

StatusOr<Decimal> Decimal::Sub(const Decimal& o) const { return Add(o.Negated()); }

int Decimal::Compare(const Decimal& o) const {
  const bool za = IsZero(), zb = o.IsZero();
  if (za && zb) return 0;
  const int sa = za ? 0 : (negative_ ? -1 : 1);
  const int sb = zb ? 0 : (o.negative_ ? -1 : 1);
  if (sa != sb) return sa < sb ? -1 : 1;
  // Same sign, both non-zero: compare magnitudes by adjusted exponent, then aligned digits.
  const int64_t adj_a = exponent_ + DigitCount(coefficient_) - 1;
  const int64_t adj_b = o.exponent_ + DigitCount(o.coefficient_) - 1;
  int mag;
  if (adj_a != adj_b) {
    mag = adj_a < adj_b ? -1 : 1;
  } else {
    // Same adjusted exponent: the exponent difference equals the digit-count difference, which
    // is at most 37, so scaling the shorter coefficient fits.
    const int32_t exp = std::min(exponent_, o.exponent_);
    uint128 a = coefficient_ * Pow10(exponent_ - exp);
    uint128 b = o.coefficient_ * Pow10(o.exponent_ - exp);
    mag = a == b ? 0 : (a < b ? -1 : 1);
  }
  return sa > 0 ? mag : -mag;
}

}  // namespace dbkv
