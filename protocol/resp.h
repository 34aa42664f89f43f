// RESP, the Redis serialization protocol (versions 2 and 3), spoken beside the binary protocol
// on the same port (protocol/PROTOCOL.md, "RESP"): telling the two apart from a connection's
// first bytes, a resumable request parser (multibulk and inline commands), and the reply
// encoder that maps typed values to Redis's representation. Pure: no sockets, no state beyond a
// parser's. The client side's reply parser is protocol/resp_reply_parser.h.
#ifndef DATABRIDGE_PROTOCOL_RESP_H_
#define DATABRIDGE_PROTOCOL_RESP_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/reply.h"
#include "core/status.h"
#include "core/value.h"

namespace dbkv::protocol {

// Which protocol a connection speaks, decided once from its first bytes.
enum class Wire : uint8_t {
  kUnknown,  // not enough bytes yet
  kBinary,   // length-prefixed frames
  kResp,     // RESP (multibulk or inline commands)
};

// RESP when the first byte is '*' (a multibulk request) or an ASCII letter (an inline command
// such as "PING\r\n"); binary otherwise. A binary frame starts with the high byte of its length,
// so it can start with one of those bytes only if it is at least 704 MiB long (0x2A << 24);
// when max_frame_bytes allows such a frame, the fifth byte decides: a binary frame has its
// version (1) there, which no RESP request has. kUnknown: call again with more bytes.
Wire DetectWire(std::string_view first_bytes, uint64_t max_frame_bytes);

struct RespLimits {
  // A request (all its bytes) may not be longer than this (--max-frame-bytes).
  uint64_t max_request_bytes = uint64_t{64} << 20;
  // An inline command's line, newline included, as Redis's PROTO_INLINE_MAX_SIZE.
  size_t max_inline_bytes = 64 * 1024;
  // Before the connection has authenticated (on a server with a password), Redis's stricter
  // limits apply: at most kUnauthenticatedMaxArgs arguments, each at most
  // kUnauthenticatedMaxBulk bytes.
  bool unauthenticated = false;
};
constexpr int64_t kUnauthenticatedMaxArgs = 10;
constexpr int64_t kUnauthenticatedMaxBulk = 16384;

// The outcome of parsing a request (RespRequestParser), or a reply (ParseRespReply in
// protocol/resp_reply_parser.h, where kCommand means a whole reply).
enum class RespParse {
  kCommand,   // a request: *argv holds it (argv[0] the name; empty: a blank line or "*0")
  kNeedMore,  // the request is not complete yet
  kError,     // not RESP, or over a limit: reply *error, then close the connection
};

// Parses the RESP requests of one connection, one at a time, resuming where it stopped: a
// request that arrives in pieces is parsed in time linear in its size.
class RespRequestParser {
 public:
  // Parses the request at the start of data. data must begin where the previous complete
  // request ended, and hold at least the bytes it held at the previous call (the buffer may have
  // moved). kCommand: *argv receives the arguments (as bytes values; its old content is
  // dropped) and *consumed the request's length in bytes. kError: *error is a kProtocol or
  // kFrameTooLarge Status whose message is Redis's ("invalid bulk length", ...); the parser must
  // not be used again.
  RespParse Parse(std::string_view data, const RespLimits& limits, ValueList* argv,
                  size_t* consumed, Status* error);

  // After kNeedMore: the request is known to need at least this many bytes (from its start), so
  // that a reader can make room for a large bulk string at once.
  size_t needed() const { return needed_; }
  // Whether a request has been started (bytes of it were seen).
  bool in_request() const { return state_ != State::kStart; }

 private:
  enum class State { kStart, kMultibulk, kInline };
  RespParse ParseMultibulk(std::string_view data, const RespLimits& limits, ValueList* argv,
                           size_t* consumed, Status* error);
  RespParse ParseInline(std::string_view data, const RespLimits& limits, ValueList* argv,
                        size_t* consumed, Status* error);
  RespParse Finish(ValueList* argv, size_t* consumed);

  State state_ = State::kStart;
  int64_t remaining_ = 0;  // bulk strings of the multibulk still to read
  size_t pos_ = 0;         // bytes of the request already parsed
  size_t scanned_ = 0;     // inline: bytes already searched for the newline
  size_t needed_ = 0;
  ValueList args_;
};

// Splits an inline command line (without its newline) into arguments the way redis-cli and
// Redis's sdssplitargs do: blanks separate arguments; "double quotes" understand \n \r \t \b \a
// \\ \" and \xHH; 'single quotes' understand \'. False on unbalanced quotes (or a closing quote
// followed by something other than a blank).
bool SplitInlineArgs(std::string_view line, std::vector<std::string>* out);

// -- Replies.

// How a reply is encoded for a RESP connection.
struct RespStyle {
  int version = 2;  // 2 or 3
  // The reply is stored data (GET, MGET, LRANGE ...: commands flagged kCmdStoredReply): every
  // scalar in it goes out as a bulk string, the way Redis shows stored values (an int 10 as
  // "10"). Otherwise ints are RESP integers, bools integers (RESP2) or booleans (RESP3), and
  // doubles doubles (RESP3).
  bool stored = false;
};

// Appends the RESP encoding of reply. Errors become "-PREFIX text" (see RespErrorPrefix), with
// CR and LF in the text replaced by spaces; simple statuses "+TEXT".
void AppendRespReply(std::string* out, const Reply& reply, RespStyle style);
// Appends one value (a reply or a part of one).
void AppendRespValue(std::string* out, const Value& v, RespStyle style);
// The first word of a RESP error for a status code: ERR, WRONGTYPE, NOAUTH, WRONGPASS, OOM ...
// (text decides between NOAUTH, "Authentication required.", and WRONGPASS, any other kAuth;
// and between WRONGTYPE, "Operation against a key holding the wrong kind of value", and ERR, any
// other kWrongType text).
std::string_view RespErrorPrefix(Code code, std::string_view text);

// The text a double is shown as: the shortest that reads back as the same double ("0.1",
// "1e+300"), "inf", "-inf" or "nan".
std::string FormatDouble(double d);

// -- The client side (tests, benchmarks, the fuzzer). Its reply parser, ParseRespReply, is in
// protocol/resp_reply_parser.h.

// Appends a request as a multibulk of bulk strings.
void AppendRespCommand(std::string* out, const std::vector<std::string_view>& args);

}  // namespace dbkv::protocol

#endif  // DATABRIDGE_PROTOCOL_RESP_H_
