// Helpers for handlers to read their arguments. Arguments arrive typed from the binary
// protocol (an int is an int) and as bytes from text protocols (RESP), so numeric helpers
// accept both forms.
#ifndef DATABRIDGE_PLUGINS_API_ARGS_H_
#define DATABRIDGE_PLUGINS_API_ARGS_H_

#include <cstdint>
#include <string_view>

#include "core/status.h"
#include "core/value.h"

namespace dbkv {

// An int64 from an int argument or from text holding a canonical integer.
bool ArgToInt(const Value& v, int64_t* out);
// An int or a Decimal from an int/Decimal argument or from text ("5", "1.10").
StatusOr<Value> ArgToNumber(const Value& v);
// A timeout in seconds (int, Decimal, double, or their text: "1.5") as milliseconds, rounded
// up; 0 means "no timeout". Negative or absurd values are errors.
Status ArgToTimeoutMs(const Value& v, int64_t* out_ms);
// The absolute time, in ms, n units of unit_ms after now_ms (now_ms 0: n is itself an absolute
// time in units since the epoch), for options such as EX, PX and PXAT. False if n is not a
// positive integer (an int, or text holding one) or the time overflows.
bool ArgToExpiry(const Value& n, int64_t unit_ms, int64_t now_ms, int64_t* out);
// Whether v is text equal to word, ignoring ASCII case ("ex" matches "EX").
bool ArgIs(const Value& v, std::string_view word);
// The text of a string or bytes argument; empty for other types.
std::string_view ArgText(const Value& v);

// Standard error replies, with Redis's texts where Redis has one.
Status NotAnInteger();  // "value is not an integer or out of range"
Status SyntaxError();   // "syntax error"
// "wrong number of arguments for '<command>' command"; command as the client sees it ("mset").
Status WrongArity(std::string_view command);

}  // namespace dbkv

#endif  // DATABRIDGE_PLUGINS_API_ARGS_H_
