// A value's text as Redis sees it, for the families that compare or edit text: a string or
// bytes value as it is, a number as RESP shows it (the int 10 is "10", a Decimal its digits, a
// double its shortest round-trip form), a bool as "1"/"0", a typed null as "".
#ifndef DATABRIDGE_PLUGINS_REDIS_TEXT_H_
#define DATABRIDGE_PLUGINS_REDIS_TEXT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/value.h"

namespace dbkv {

// v's text; nothing for a list, a map or a cold reference. *scratch holds the text when it is
// not v's own bytes (the view lives as long as v and *scratch).
std::optional<std::string_view> RedisText(const Value& v, std::string* scratch);

// Whether a and b have the same text (so a list element the typed int 5 matches RESP's "5");
// false when either has none.
bool SameRedisText(const Value& a, const Value& b);

// A number as Redis's INCRBYFLOAT reads one: an int, double or Decimal, or text holding a float
// ("1.5", "5e3", "-inf"; strtold, no spaces, no NaN).
bool ToLongDouble(const Value& v, long double* out);

// Redis's text of a long double (ld2string, LD_STR_HUMAN): 17 decimals, trailing zeros cut.
std::string HumanLongDouble(long double v);

// A SCAN-family cursor as Redis reads one (strtoul: no leading space, an optional sign, digits
// to the end; "" is 0 and "-1" wraps to 2^64 - 1): false for anything else ("invalid cursor").
bool RedisScanCursor(const Value& v, uint64_t* out);

}  // namespace dbkv

#endif  // DATABRIDGE_PLUGINS_REDIS_TEXT_H_
