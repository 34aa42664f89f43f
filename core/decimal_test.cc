#include "core/decimal.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>

namespace dbkv {
namespace {

using uint128 = Decimal::uint128;

// Parses text that must be valid.
Decimal D(std::string_view text) {
  auto d = Decimal::Parse(text);
  INFO("parsing '" << std::string(text) << "': " << d.status().ToString());
  REQUIRE(d.ok());
  return *d;
}

std::string RoundTrip(std::string_view text) { return D(text).ToString(); }

Code ParseCode(std::string_view text) { return Decimal::Parse(text).status().code(); }

// n copies of c.
std::string Repeat(char c, int n) { return std::string(static_cast<size_t>(n), c); }

}  // namespace

TEST_CASE("Decimal keeps the exponent as written", "[decimal]") {
  Decimal d = D("1.10");
  CHECK_FALSE(d.negative());
  CHECK(d.coefficient() == 110);
  CHECK(d.exponent() == -2);
  CHECK(d.ToString() == "1.10");
}

TEST_CASE("Decimal default is zero with exponent zero", "[decimal]") {
  Decimal d;
  CHECK(d.IsZero());
  CHECK_FALSE(d.negative());
  CHECK(d.exponent() == 0);
  CHECK(d.ToString() == "0");
}

TEST_CASE("Decimal prints like Python's str(Decimal)", "[decimal]") {
  // Expected strings produced by CPython's decimal module: str(Decimal(text)).
  const std::pair<const char*, const char*> cases[] = {
      {"1.10", "1.10"},
      {"0.000001", "0.000001"},
      {"0.0000001", "1E-7"},
      {"1E+3", "1E+3"},
      {"100", "100"},
      {"-0", "-0"},
      {"1.2e5", "1.2E+5"},
      {".5", "0.5"},
      {"5.", "5"},
      {"0.00", "0.00"},
      {"-1.23E-10", "-1.23E-10"},
      {"0E-7", "0E-7"},
      {"0E-6", "0.000000"},
      {"-0.0", "-0.0"},
      {"0E+2", "0E+2"},
      {"0.00000010", "1.0E-7"},
      {"123456e-2", "1234.56"},
      {"1.23E+2", "123"},
      {"1.230E+2", "123.0"},
      {"12345E+2", "1.2345E+6"},
      {"+5", "5"},
      {"00.5", "0.5"},
      {"-.5", "-0.5"},
      {"1e+5", "1E+5"},
      {"0000", "0"},
      {"1.000", "1.000"},
      {"-0.000001", "-0.000001"},
      {"-0.0000001", "-1E-7"},
      {"1E+1", "1E+1"},
      {"123.456E+3", "123456"},
      {"1e-6", "0.000001"},
      {"10e-8", "1.0E-7"},
      {"1E-999999", "1E-999999"},
      {"1E+999999", "1E+999999"},
  };
  for (const auto& [in, want] : cases) {
    INFO("input: " << in);
    CHECK(RoundTrip(in) == want);
  }
}

TEST_CASE("Decimal printed text parses back to the same representation", "[decimal]") {
  const char* inputs[] = {"1.10", "0.0000001", "1E+3",      "-0",       "1.2e5",
                          "0.00", "-1.23E-10", "0E-7",      "12345E+2", "0E+2",
                          "-0.0", "1E-999999", "1E+999999", "7"};
  for (const char* in : inputs) {
    INFO("input: " << in);
    Decimal once = D(in);
    Decimal twice = D(once.ToString());
    CHECK(twice == once);
    CHECK(twice.ToString() == once.ToString());
  }
}

TEST_CASE("Decimal parse sets sign, coefficient and exponent", "[decimal]") {
  Decimal d = D("-1.23E-10");
  CHECK(d.negative());
  CHECK(d.coefficient() == 123);
  CHECK(d.exponent() == -12);

  Decimal z = D("-0");
  CHECK(z.negative());
  CHECK(z.IsZero());

  Decimal e = D("1.2e5");
  CHECK(e.coefficient() == 12);
  CHECK(e.exponent() == 4);
}

TEST_CASE("Decimal accepts 38 significant digits and rejects 39", "[decimal]") {
  CHECK(RoundTrip(Repeat('9', 38)) == Repeat('9', 38));
  CHECK(D(Repeat('9', 38)).coefficient() == Decimal::MaxCoefficient());
  CHECK(RoundTrip("1" + Repeat('0', 37)) == "1" + Repeat('0', 37));
  CHECK(RoundTrip("0." + Repeat('1', 38)) == "0." + Repeat('1', 38));

  CHECK(ParseCode(Repeat('9', 39)) == Code::kOverflow);
  CHECK(ParseCode("1" + Repeat('0', 38)) == Code::kOverflow);
  CHECK(ParseCode("1." + Repeat('0', 38)) == Code::kOverflow);
  CHECK(ParseCode("-" + Repeat('1', 39)) == Code::kOverflow);
}

TEST_CASE("Decimal leading zeros are not significant digits", "[decimal]") {
  CHECK(RoundTrip(Repeat('0', 10) + Repeat('9', 38)) == Repeat('9', 38));
  CHECK(RoundTrip("0.0000" + Repeat('9', 38)) == "0.0000" + Repeat('9', 38));
  CHECK(RoundTrip("0.00000000" + Repeat('9', 38)) == "9." + Repeat('9', 37) + "E-9");
  CHECK(RoundTrip(Repeat('0', 60)) == "0");
  CHECK(RoundTrip("0." + Repeat('0', 60)) == "0E-60");
}

TEST_CASE("Decimal rejects malformed text with InvalidArgument", "[decimal]") {
  const char* inputs[] = {"",    "abc",  "1.2.3", "NaN", "Infinity", "inf", "1e",  "1E+",
                          "--1", " 1",   "1 ",    ".",   "-",        "+",   "e5",  "1e5.0",
                          "1x",  "1e5x", "0x10",  "1,5", "-.",       "1e-", "+-1", "1..2"};
  for (const char* in : inputs) {
    INFO("input: '" << in << "'");
    auto d = Decimal::Parse(in);
    CHECK_FALSE(d.ok());
    CHECK(d.status().code() == Code::kInvalidArgument);
  }
}

TEST_CASE("Decimal exponent limits are enforced", "[decimal]") {
  CHECK(D("1E+999999").exponent() == Decimal::kMaxExponent);
  CHECK(D("1E-999999").exponent() == Decimal::kMinExponent);
  CHECK(ParseCode("1E+1000000") == Code::kOverflow);
  CHECK(ParseCode("1E-1000000") == Code::kOverflow);
  // Digits after the point count towards the exponent.
  CHECK(ParseCode("0.1E-999999") == Code::kOverflow);
  CHECK(D("10E+999998").exponent() == 999998);
  // A huge exponent is rejected, not wrapped.
  CHECK(ParseCode("1E+99999999999999999999999") == Code::kOverflow);
  CHECK(ParseCode("1E-99999999999999999999999") == Code::kOverflow);

  CHECK(Decimal::FromParts(false, 1, Decimal::kMaxExponent).ok());
  CHECK(Decimal::FromParts(false, 1, Decimal::kMinExponent).ok());
  CHECK(Decimal::FromParts(false, 1, int64_t{Decimal::kMaxExponent} + 1).status().code() ==
        Code::kOverflow);
  CHECK(Decimal::FromParts(false, 1, int64_t{Decimal::kMinExponent} - 1).status().code() ==
        Code::kOverflow);
  CHECK(Decimal::FromParts(false, 1, int64_t{1} << 40).status().code() == Code::kOverflow);
}

TEST_CASE("Decimal FromParts checks the coefficient limit", "[decimal]") {
  auto max = Decimal::FromParts(true, Decimal::MaxCoefficient(), -5);
  REQUIRE(max.ok());
  CHECK(max->ToString() == "-" + Repeat('9', 33) + "." + Repeat('9', 5));
  CHECK(Decimal::FromParts(false, Decimal::MaxCoefficient() + 1, 0).status().code() ==
        Code::kOverflow);
}

TEST_CASE("Decimal digit helpers", "[decimal]") {
  CHECK(Decimal::DigitCount(0) == 1);
  CHECK(Decimal::DigitCount(9) == 1);
  CHECK(Decimal::DigitCount(10) == 2);
  CHECK(Decimal::DigitCount(Decimal::MaxCoefficient()) == 38);
  CHECK(Decimal::DigitCount(Decimal::MaxCoefficient() + 1) == 39);
  CHECK(Decimal::CoefficientToString(0) == "0");
  CHECK(Decimal::CoefficientToString(1234567890) == "1234567890");
  CHECK(Decimal::CoefficientToString(Decimal::MaxCoefficient()) == Repeat('9', 38));
  CHECK(Decimal::CoefficientToString(~uint128{0}) == "340282366920938463463374607431768211455");
}

TEST_CASE("Decimal FromInt handles the whole int64 range", "[decimal]") {
  Decimal min = Decimal::FromInt(std::numeric_limits<int64_t>::min());
  CHECK(min.negative());
  CHECK(min.coefficient() == uint128{1} << 63);
  CHECK(min.exponent() == 0);
  CHECK(min.ToString() == "-9223372036854775808");

  CHECK(Decimal::FromInt(std::numeric_limits<int64_t>::max()).ToString() == "9223372036854775807");
  CHECK(Decimal::FromInt(0).ToString() == "0");
  CHECK_FALSE(Decimal::FromInt(0).negative());
  CHECK(Decimal::FromInt(-1).ToString() == "-1");
  CHECK(Decimal::FromInt(-1) == D("-1"));
}

TEST_CASE("Decimal Add is exact and takes the smaller exponent", "[decimal]") {
  auto sum = D("1.10").Add(D("2.205"));
  REQUIRE(sum.ok());
  CHECK(sum->ToString() == "3.305");
  CHECK(sum->exponent() == -3);

  auto r = D("1E+3").Add(D("1"));
  REQUIRE(r.ok());
  CHECK(r->ToString() == "1001");

  r = D("0.1").Add(D("0.2"));
  REQUIRE(r.ok());
  CHECK(r->ToString() == "0.3");

  r = D("1.5").Add(D("-2.25"));
  REQUIRE(r.ok());
  CHECK(r->ToString() == "-0.75");

  r = D("-1.5").Add(D("-2.5"));
  REQUIRE(r.ok());
  CHECK(r->ToString() == "-4.0");

  r = D("0E+5").Add(D("1"));
  REQUIRE(r.ok());
  CHECK(r->ToString() == "1");

  // Trailing zeros are kept: 1.00 + 1 is 2.00, not 2.
  r = D("1.00").Add(D("1"));
  REQUIRE(r.ok());
  CHECK(r->ToString() == "2.00");
}

TEST_CASE("Decimal Sub is exact", "[decimal]") {
  auto r = D("3.305").Sub(D("2.205"));
  REQUIRE(r.ok());
  CHECK(r->ToString() == "1.100");

  r = D("1").Sub(D("0.001"));
  REQUIRE(r.ok());
  CHECK(r->ToString() == "0.999");

  r = D("-1").Sub(D("-1.5"));
  REQUIRE(r.ok());
  CHECK(r->ToString() == "0.5");

  r = D("1").Sub(D("2"));
  REQUIRE(r.ok());
  CHECK(r->ToString() == "-1");
}

TEST_CASE("Decimal zero results have IEEE signs", "[decimal]") {
  // Python: Decimal('1') + Decimal('-1') == Decimal('0'), and so on.
  auto r = D("1").Add(D("-1"));
  REQUIRE(r.ok());
  CHECK(r->ToString() == "0");
  CHECK_FALSE(r->negative());

  r = D("-1.5").Add(D("1.5"));
  REQUIRE(r.ok());
  CHECK(r->ToString() == "0.0");

  r = D("1.0").Add(D("-1.00"));
  REQUIRE(r.ok());
  CHECK(r->ToString() == "0.00");

  r = D("-0").Add(D("-0"));
  REQUIRE(r.ok());
  CHECK(r->ToString() == "-0");

  r = D("0").Add(D("-0"));
  REQUIRE(r.ok());
  CHECK(r->ToString() == "0");

  r = D("-0").Sub(D("0"));
  REQUIRE(r.ok());
  CHECK(r->ToString() == "-0");

  r = D("0").Sub(D("0"));
  REQUIRE(r.ok());
  CHECK(r->ToString() == "0");

  r = D("-2").Sub(D("-2"));
  REQUIRE(r.ok());
  CHECK(r->ToString() == "0");
}

TEST_CASE("Decimal arithmetic overflows rather than rounding", "[decimal]") {
  const Decimal max = D(Repeat('9', 38));
  CHECK(max.Add(D("1")).status().code() == Code::kOverflow);
  CHECK(max.Negated().Sub(D("1")).status().code() == Code::kOverflow);
  // Aligning 1E+38 with 1 would need 39 digits.
  CHECK(D("1E+38").Add(D("1")).status().code() == Code::kOverflow);
  CHECK(D("1E+37").Add(D("0.1")).status().code() == Code::kOverflow);
  CHECK(D("1").Add(D("1E-38")).status().code() == Code::kOverflow);
  CHECK(D("1E+999999").Add(D("1E-999999")).status().code() == Code::kOverflow);

  // Exactly 38 digits after alignment is fine.
  auto r = D("1E+37").Add(D("1"));
  REQUIRE(r.ok());
  CHECK(r->ToString() == "1" + Repeat('0', 36) + "1");
  r = D("1").Add(D("1E-37"));
  REQUIRE(r.ok());
  CHECK(r->ToString() == "1." + Repeat('0', 36) + "1");
  // The largest magnitude minus one stays in range; different signs never overflow the sum.
  r = max.Sub(D("1"));
  REQUIRE(r.ok());
  CHECK(r->ToString() == Repeat('9', 37) + "8");
  r = max.Add(max.Negated());
  REQUIRE(r.ok());
  CHECK(r->IsZero());
}

TEST_CASE("Decimal Negated flips only the sign", "[decimal]") {
  Decimal d = D("1.10").Negated();
  CHECK(d.ToString() == "-1.10");
  CHECK(d.Negated() == D("1.10"));
  CHECK(D("0").Negated().ToString() == "-0");
}

TEST_CASE("Decimal Compare is numeric, operator== is representational", "[decimal]") {
  CHECK(D("1.0").Compare(D("1.00")) == 0);
  CHECK(D("1.0") != D("1.00"));
  CHECK_FALSE(D("1.0") == D("1.00"));
  CHECK(D("1.0") == D("1.0"));
  CHECK(D("100").Compare(D("1E+2")) == 0);
  CHECK(D("100") != D("1E+2"));
  CHECK(D("0").Compare(D("-0")) == 0);
  CHECK(D("0") != D("-0"));
  CHECK(D("0E+5").Compare(D("0.000")) == 0);

  CHECK(D("1").Compare(D("2")) == -1);
  CHECK(D("2").Compare(D("1")) == 1);
  CHECK(D("-1").Compare(D("-2")) == 1);
  CHECK(D("-2").Compare(D("-1")) == -1);
  CHECK(D("-1").Compare(D("1")) == -1);
  CHECK(D("0").Compare(D("-0.001")) == 1);
  CHECK(D("0").Compare(D("0.001")) == -1);
  CHECK(D("1.5").Compare(D("1.49999")) == 1);
  CHECK(D("1E+10").Compare(D("9999999999")) == 1);
  CHECK(D("-1E+10").Compare(D("-9999999999")) == -1);
  CHECK(D("1E-999999").Compare(D("1E+999999")) == -1);
  CHECK(D("1E+999999").Compare(D(Repeat('9', 38))) == 1);
  // Same adjusted exponent, coefficients of very different lengths.
  CHECK(D("1").Compare(D("1." + Repeat('0', 36) + "1")) == -1);
  CHECK(D(Repeat('9', 38) + "E-37").Compare(D("9")) == 1);
}

}  // namespace dbkv
