// One-letter Value builders for tests: S("text"), I(42), B(true), L({...}), D("1.10").
#ifndef DATABRIDGE_TESTS_VALUES_H_
#define DATABRIDGE_TESTS_VALUES_H_

#include <cstdint>
#include <string_view>
#include <utility>

#include "core/decimal.h"
#include "core/value.h"

namespace dbkv::testing {

inline Value S(std::string_view s) { return Value::String(s); }
inline Value I(int64_t i) { return Value::Int(i); }
inline Value B(bool b) { return Value::Bool(b); }
inline Value L(ValueList items) { return Value::List(std::move(items)); }
// s must be a valid decimal.
inline Value D(std::string_view s) { return Value::Dec(*Decimal::Parse(s)); }

}  // namespace dbkv::testing

#endif  // DATABRIDGE_TESTS_VALUES_H_
