// The client side of RESP: parsing the replies a RESP server sends (RESP2 and RESP3) back into
// Replies. The server never parses replies; this is for the tests that speak RESP to the
// server, the fuzzer (which checks that the encoder's output reads back) and any other RESP
// client. The request parser and the reply encoder are in protocol/resp.h; so is
// AppendRespCommand, which writes a request. Pure: no sockets, no state.
#ifndef DATABRIDGE_PROTOCOL_RESP_REPLY_PARSER_H_
#define DATABRIDGE_PROTOCOL_RESP_REPLY_PARSER_H_

#include <cstddef>
#include <string_view>

#include "core/reply.h"
#include "core/status.h"
#include "protocol/resp.h"

namespace dbkv::protocol {

// Parses one reply at the start of data into a Reply: simple string -> Reply::Simple; error ->
// Reply::Error (a known prefix maps back to its code and is removed from the text; an unknown
// one gives kInvalidArgument with the whole text); integer -> int; bulk and verbatim strings ->
// bytes; null bulk/array and RESP3 null -> nil; array, set and push -> list; map -> map;
// double -> double; boolean -> bool; big number -> string. Aggregates may nest 64 deep; an
// error inside an aggregate and attributes are refused.
// kCommand: a whole reply was parsed into *out and *consumed is its length in bytes.
// kNeedMore: data holds only the start of a reply (nothing is consumed). kError: not a valid
// reply; *error is kProtocol.
RespParse ParseRespReply(std::string_view data, Reply* out, size_t* consumed, Status* error);

}  // namespace dbkv::protocol

#endif  // DATABRIDGE_PROTOCOL_RESP_REPLY_PARSER_H_
