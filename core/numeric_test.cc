#include "core/numeric.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>

namespace dbkv {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

Value Dec(std::string_view text) {
  auto d = Decimal::Parse(text);
  REQUIRE(d.ok());
  return Value::Dec(*d);
}

// current + delta, which must succeed.
Value Sum(const Value& current, const Value& delta) {
  auto r = AddNumbers(current, delta);
  INFO(current.DebugString() << " + " << delta.DebugString() << ": " << r.status().ToString());
  REQUIRE(r.ok());
  return *r;
}

Code SumCode(const Value& current, const Value& delta) {
  auto r = AddNumbers(current, delta);
  return r.ok() ? Code::kOk : r.status().code();
}

}  // namespace

TEST_CASE("AddNumbers adds ints to ints", "[numeric]") {
  CHECK(Sum(Value::Int(1), Value::Int(2)) == Value::Int(3));
  CHECK(Sum(Value::Int(5), Value::Int(-7)) == Value::Int(-2));
  CHECK(Sum(Value::Int(-5), Value::Int(5)) == Value::Int(0));
  CHECK(Sum(Value::Int(kMax - 1), Value::Int(1)) == Value::Int(kMax));
  CHECK(Sum(Value::Int(kMin + 1), Value::Int(-1)) == Value::Int(kMin));
  CHECK(Sum(Value::Int(kMax), Value::Int(kMin)) == Value::Int(-1));
  CHECK(Sum(Value::Int(kMin), Value::Int(kMax)) == Value::Int(-1));
}

TEST_CASE("AddNumbers reports int64 overflow instead of wrapping", "[numeric]") {
  CHECK(SumCode(Value::Int(kMax), Value::Int(1)) == Code::kOverflow);
  CHECK(SumCode(Value::Int(kMin), Value::Int(-1)) == Code::kOverflow);
  CHECK(SumCode(Value::Int(kMax), Value::Int(kMax)) == Code::kOverflow);
  CHECK(SumCode(Value::Int(kMin), Value::Int(kMin)) == Code::kOverflow);
  CHECK(SumCode(Value::Null(), Value::Int(kMax)) == Code::kOk);
  CHECK(SumCode(Value::String("9223372036854775807"), Value::Int(1)) == Code::kOverflow);
  CHECK(SumCode(Value::String("-9223372036854775808"), Value::Int(-1)) == Code::kOverflow);
}

TEST_CASE("AddNumbers counts null as int zero", "[numeric]") {
  CHECK(Sum(Value::Null(), Value::Int(5)) == Value::Int(5));
  CHECK(Sum(Value::Null(), Value::Int(-5)) == Value::Int(-5));
  CHECK(Sum(Value::Null(), Value::Int(kMin)) == Value::Int(kMin));
  CHECK(Sum(Value::Null(), Dec("1.50")) == Dec("1.50"));
}

TEST_CASE("AddNumbers mixes Decimal and int exactly", "[numeric]") {
  Value r = Sum(Dec("1.10"), Value::Int(1));
  REQUIRE(r.type() == ValueType::kDecimal);
  CHECK(r.AsDecimal().ToString() == "2.10");

  r = Sum(Value::Int(1), Dec("1.10"));
  REQUIRE(r.type() == ValueType::kDecimal);
  CHECK(r.AsDecimal().ToString() == "2.10");

  r = Sum(Dec("1.10"), Dec("2.205"));
  CHECK(r.AsDecimal().ToString() == "3.305");

  r = Sum(Dec("0.5"), Value::Int(-1));
  CHECK(r.AsDecimal().ToString() == "-0.5");

  // An integral Decimal stays a Decimal.
  r = Sum(Dec("2"), Value::Int(3));
  REQUIRE(r.type() == ValueType::kDecimal);
  CHECK(r.AsDecimal().ToString() == "5");

  r = Sum(Dec("1E+3"), Value::Int(1));
  CHECK(r.AsDecimal().ToString() == "1001");

  r = Sum(Value::Int(kMin), Dec("0.0"));
  CHECK(r.AsDecimal().ToString() == "-9223372036854775808.0");

  r = Sum(Value::Int(kMax), Dec("1"));
  CHECK(r.AsDecimal().ToString() == "9223372036854775808");
}

TEST_CASE("AddNumbers Decimal results that need more than 38 digits overflow", "[numeric]") {
  const std::string nines(38, '9');
  CHECK(SumCode(Dec(nines), Value::Int(1)) == Code::kOverflow);
  CHECK(SumCode(Value::Int(1), Dec("1E-38")) == Code::kOverflow);
  CHECK(SumCode(Dec("0." + std::string(37, '0') + "1"), Value::Int(10)) == Code::kOverflow);
  CHECK(SumCode(Dec(nines), Value::Int(-1)) == Code::kOk);
}

TEST_CASE("AddNumbers reads numeric strings and bytes", "[numeric]") {
  CHECK(Sum(Value::String("42"), Value::Int(1)) == Value::Int(43));
  CHECK(Sum(Value::String("-7"), Value::Int(7)) == Value::Int(0));
  CHECK(Sum(Value::Bytes("42"), Value::Int(-2)) == Value::Int(40));
  CHECK(Sum(Value::String("0"), Value::Int(0)) == Value::Int(0));

  Value r = Sum(Value::String("1.5"), Value::Int(1));
  REQUIRE(r.type() == ValueType::kDecimal);
  CHECK(r.AsDecimal().ToString() == "2.5");

  r = Sum(Value::Bytes("1.10"), Dec("0.01"));
  CHECK(r.AsDecimal().ToString() == "1.11");

  r = Sum(Value::String("42"), Dec("0.5"));
  CHECK(r.AsDecimal().ToString() == "42.5");

  // A string integer beyond int64 is still a number: a Decimal.
  r = Sum(Value::String("9223372036854775808"), Value::Int(1));
  REQUIRE(r.type() == ValueType::kDecimal);
  CHECK(r.AsDecimal().ToString() == "9223372036854775809");
}

TEST_CASE("AddNumbers rejects non-numeric current values with WrongType", "[numeric]") {
  const Value bad[] = {
      Value::String("abc"),  Value::String(""),
      Value::String(" 42"),  Value::String("42 "),
      Value::String("NaN"),  Value::String("Infinity"),
      Value::Bytes("1.2.3"), Value::String("0x10"),
      Value::Double(1.0),    Value::Double(0.0),
      Value::Bool(true),     Value::Bool(false),
      Value::List({}),       Value::List({Value::Int(1)}),
      Value::Map({}),        Value::String(std::string(100, '1')),
  };
  for (const Value& current : bad) {
    INFO("current: " << current.DebugString());
    auto r = AddNumbers(current, Value::Int(1));
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kWrongType);
    CHECK(r.status().ToString().rfind("WRONGTYPE ", 0) == 0);
    CHECK(SumCode(current, Dec("1.5")) == Code::kWrongType);
  }
}

TEST_CASE("AddNumbers rejects a delta that is not an int or a Decimal", "[numeric]") {
  const Value bad[] = {Value::Null(),      Value::Double(1.0), Value::Bool(true),
                       Value::String("1"), Value::Bytes("1"),  Value::List({Value::Int(1)}),
                       Value::Map({})};
  for (const Value& delta : bad) {
    INFO("delta: " << delta.DebugString());
    CHECK(SumCode(Value::Int(1), delta) == Code::kInvalidArgument);
    CHECK(SumCode(Value::Null(), delta) == Code::kInvalidArgument);
    // The delta is checked first, even when the current value is of the wrong type.
    CHECK(SumCode(Value::Double(1.0), delta) == Code::kInvalidArgument);
  }
}

TEST_CASE("AddNumbers leaves its inputs unchanged", "[numeric]") {
  const Value current = Dec("1.10");
  const Value delta = Value::Int(1);
  Sum(current, delta);
  CHECK(current == Dec("1.10"));
  CHECK(delta == Value::Int(1));
}

TEST_CASE("ParseInt64 accepts canonical integers", "[numeric]") {
  const std::pair<const char*, int64_t> cases[] = {
      {"0", 0},
      {"1", 1},
      {"-1", -1},
      {"42", 42},
      {"-12", -12},
      {"1000000", 1000000},
      {"9223372036854775807", kMax},
      {"-9223372036854775808", kMin},
  };
  for (const auto& [text, want] : cases) {
    INFO("text: " << text);
    int64_t out = 12345;
    CHECK(ParseInt64(text, &out));
    CHECK(out == want);
  }
}

TEST_CASE("ParseInt64 rejects non-canonical text", "[numeric]") {
  const char* malformed[] = {"",   "-",   "+1",  "01",  "-01", "00",  "-0", " 1",
                             "1 ", "1.0", "1e3", "abc", "1a",  "0x1", "--1"};
  const char* out_of_range[] = {"9223372036854775808", "-9223372036854775809",
                                "99999999999999999999", "123456789012345678901"};
  for (const char* text : malformed) {
    INFO("text: '" << text << "'");
    int64_t out = 0;
    CHECK_FALSE(ParseInt64(text, &out));
  }
  for (const char* text : out_of_range) {
    INFO("text: '" << text << "'");
    int64_t out = 0;
    CHECK_FALSE(ParseInt64(text, &out));
  }
  const std::string nul_after("1\0", 2), nul_before("\0001", 2);
  int64_t out = 0;
  CHECK_FALSE(ParseInt64(nul_after, &out));
  CHECK_FALSE(ParseInt64(nul_before, &out));
}

}  // namespace dbkv
