// Decimal: an exact decimal number, sign × coefficient × 10^exponent.
//
// The representation is kept exactly as written: "1.10" is coefficient 110, exponent -2, and
// prints back as "1.10" (not "1.1"). Text form follows the General Decimal Arithmetic
// specification's to-scientific-string, which is what Python's str(Decimal) prints, so values
// round-trip through Python unchanged.
//
// Limits: at most kMaxDigits (38) significant digits in the coefficient, and an exponent within
// [kMinExponent, kMaxExponent]. Anything else (NaN, Infinity, more digits, an arithmetic result
// that would need rounding) is rejected with a Status, never rounded silently.
#ifndef DATABRIDGE_CORE_DECIMAL_H_
#define DATABRIDGE_CORE_DECIMAL_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace dbkv {

class Decimal {
 public:
  using uint128 = unsigned __int128;

  static constexpr int kMaxDigits = 38;
  static constexpr int32_t kMinExponent = -999999;
  static constexpr int32_t kMaxExponent = 999999;

  Decimal() = default;  // 0 (coefficient 0, exponent 0)

  // "1.10", "-0.5", "1E+3", "2.5e-7", ".5", "5.". Leading/trailing spaces are not accepted.
  static StatusOr<Decimal> Parse(std::string_view text);
  static StatusOr<Decimal> FromParts(bool negative, uint128 coefficient, int64_t exponent);
  static Decimal FromInt(int64_t v);

  bool negative() const { return negative_; }
  uint128 coefficient() const { return coefficient_; }
  int32_t exponent() const { return exponent_; }
  bool IsZero() const { return coefficient_ == 0; }

  // to-scientific-string: "1.10", "0.000001", "1E-7", "1.2E+3", "-0".
  std::string ToString() const;

  // Exact arithmetic: the result's exponent is the smaller of the two; a result that needs more
  // than kMaxDigits digits is an Overflow error.
  StatusOr<Decimal> Add(const Decimal& other) const;
  StatusOr<Decimal> Sub(const Decimal& other) const;
  Decimal Negated() const;

  // Numeric comparison (1.0 == 1.00): -1, 0, 1.
  int Compare(const Decimal& other) const;

  // Same number and same representation (1.0 != 1.00 here). This is what equality of stored
  // values means.
  bool operator==(const Decimal& o) const {
    return negative_ == o.negative_ && coefficient_ == o.coefficient_ && exponent_ == o.exponent_;
  }
  bool operator!=(const Decimal& o) const { return !(*this == o); }

  // Number of decimal digits of a coefficient (1 for 0).
  static int DigitCount(uint128 v);
  // Decimal digits of v, no sign, no leading zeros ("0" for 0).
  static std::string CoefficientToString(uint128 v);
  // The largest coefficient allowed: 10^38 - 1.
  static uint128 MaxCoefficient();

 private:
  Decimal(bool negative, uint128 coefficient, int32_t exponent)
      : negative_(negative), exponent_(exponent), coefficient_(coefficient) {}

  bool negative_ = false;
  int32_t exponent_ = 0;
  uint128 coefficient_ = 0;
};

}  // namespace dbkv

#endif  // DATABRIDGE_CORE_DECIMAL_H_
