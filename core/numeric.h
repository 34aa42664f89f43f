// Exact arithmetic on stored values, for INCR/DECR and friends.
#ifndef DATABRIDGE_CORE_NUMERIC_H_
#define DATABRIDGE_CORE_NUMERIC_H_

#include "core/status.h"
#include "core/value.h"

namespace dbkv {

// current + delta, exactly.
//  - int + int -> int (an int64 overflow is an Overflow error, never a wrap);
//  - Decimal + int, int + Decimal, Decimal + Decimal -> Decimal (exact, or Overflow);
//  - null (absent key) counts as int 0;
//  - a string or bytes value holding a canonical integer ("42", "-7") or a decimal ("1.10")
//    counts as that number, as Redis does for strings written by RESP clients;
//  - anything else (double, bool, list, map, other text) is a WrongType error.
// delta must be an int or a Decimal (InvalidArgument otherwise).
StatusOr<Value> AddNumbers(const Value& current, const Value& delta);

// Parses a canonical int64 ("0", "-12"; no '+', no leading zeros, no spaces).
bool ParseInt64(std::string_view s, int64_t* out);

}  // namespace dbkv

#endif  // DATABRIDGE_CORE_NUMERIC_H_
