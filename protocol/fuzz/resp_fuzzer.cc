// libFuzzer target for the RESP codec (protocol/PROTOCOL.md, "RESP"). Built outside Bazel by
// scripts/fuzz.sh with -fsanitize=fuzzer,address,undefined.
//
// The input is read as a RESP connection reads its byte stream, and as a client reads replies.
// Besides crashes and sanitizer reports, it traps on broken invariants:
//  - DetectWire only answers kUnknown when it truly needs the fifth byte;
//  - the request parser gives the same requests and the same error whether the stream arrives
//    whole or in pieces of any size, never consumes more than it was given, and on kNeedMore
//    says it needs more than it has; errors are PROTOCOL or TOOBIG Statuses with a message;
//  - every parsed request re-encodes (AppendRespCommand) to bytes that parse to the same
//    arguments, and no request is longer than the limit;
//  - a parsed reply re-encodes to bytes that parse again, and from then on the encoding is stable;
//  - any value the msgpack codec accepts encodes as RESP (both versions, data or not) to bytes
//    that parse as exactly one reply.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/reply.h"
#include "core/status.h"
#include "core/value.h"
#include "protocol/resp.h"
#include "protocol/resp_reply_parser.h"
#include "protocol/value_codec.h"
#include "protocol/wire_format.h"

namespace dbkv::protocol {
namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

void CheckError(const Status& s) {
  Check(!s.ok());
  Check(s.code() == Code::kProtocol || s.code() == Code::kFrameTooLarge);
  Check(!s.message().empty());
}

struct Outcome {
  std::vector<ValueList> requests;
  Status error;
  size_t consumed = 0;
};

// Parses the stream fed in pieces whose sizes come from `sizes` (cycled; 0: everything left).
Outcome ParseStream(std::string_view data, const RespLimits& limits,
                    const std::vector<size_t>& sizes) {
  Outcome out;
  RespRequestParser parser;
  size_t have = 0;  // bytes delivered so far
  size_t next_size = 0;
  for (;;) {
    ValueList argv;
    size_t used = 0;
    Status error;
    std::string_view visible = data.substr(out.consumed, have - out.consumed);
    const RespParse r = parser.Parse(visible, limits, &argv, &used, &error);
    if (r == RespParse::kCommand) {
      Check(error.ok());
      Check(used > 0 && used <= visible.size());
      Check(used <= limits.max_request_bytes);
      out.consumed += used;
      if (!argv.empty()) out.requests.push_back(std::move(argv));
      continue;
    }
    if (r == RespParse::kError) {
      CheckError(error);
      out.error = error;
      return out;
    }
    Check(error.ok());
    Check(parser.needed() > visible.size());
    if (have == data.size()) return out;
    const size_t step = sizes.empty() ? 0 : sizes[next_size++ % sizes.size()];
    have = step == 0 ? data.size() : std::min(data.size(), have + step);
  }
}

void CheckRequests(const Outcome& o) {
  for (const ValueList& argv : o.requests) {
    std::vector<std::string_view> args;
    for (const Value& v : argv) {
      Check(v.type() == ValueType::kBytes);
      args.push_back(v.AsStringView());
    }
    std::string bytes;
    AppendRespCommand(&bytes, args);
    RespRequestParser p;
    ValueList back;
    size_t used = 0;
    Status error;
    RespLimits unlimited;
    unlimited.max_request_bytes = kAbsoluteMaxFrameBytes;
    Check(p.Parse(bytes, unlimited, &back, &used, &error) == RespParse::kCommand);
    Check(used == bytes.size());
    Check(back == argv);
  }
}

void ConsumeRequests(std::string_view data) {
  RespLimits small;
  small.max_request_bytes = 256;
  small.max_inline_bytes = 128;
  RespLimits unauthenticated;
  unauthenticated.unauthenticated = true;
  // Piece sizes from the input itself, so that the fuzzer explores them.
  std::vector<size_t> sizes;
  for (size_t i = 0; i < data.size() && sizes.size() < 8; i += 7) {
    sizes.push_back(static_cast<unsigned char>(data[i]) % 17);
  }
  for (const RespLimits& limits : {RespLimits(), small, unauthenticated}) {
    const Outcome whole = ParseStream(data, limits, {});
    const Outcome bytewise = ParseStream(data, limits, {1});
    const Outcome pieces = ParseStream(data, limits, sizes);
    for (const Outcome* o : {&bytewise, &pieces}) {
      Check(o->requests == whole.requests);
      Check(o->error == whole.error);
      Check(o->consumed == whole.consumed);
    }
    CheckRequests(whole);
  }
}

bool ParseOne(std::string_view data, Reply* out, size_t* used) {
  Status error;
  const RespParse r = ParseRespReply(data, out, used, &error);
  if (r == RespParse::kError) CheckError(error);
  if (r == RespParse::kCommand) Check(*used <= data.size());
  return r == RespParse::kCommand;
}

void ConsumeReplies(std::string_view data) {
  std::string_view rest = data;
  for (int n = 0; n < 64; ++n) {
    Reply first;
    size_t used = 0;
    if (!ParseOne(rest, &first, &used)) return;
    for (const RespStyle style : {RespStyle{2, false}, RespStyle{3, false}}) {
      std::string y;
      AppendRespReply(&y, first, style);
      Reply second;
      size_t used_y = 0;
      Check(ParseOne(y, &second, &used_y));
      Check(used_y == y.size());
      std::string z;
      AppendRespReply(&z, second, style);
      Check(z == y);
    }
    rest.remove_prefix(used);
  }
}

void EncodeValues(std::string_view data) {
  Value v;
  if (!DecodeValue(data, &v).ok()) return;
  for (const RespStyle style :
       {RespStyle{2, false}, RespStyle{2, true}, RespStyle{3, false}, RespStyle{3, true}}) {
    std::string bytes;
    AppendRespReply(&bytes, Reply::Of(v), style);
    Reply back;
    size_t used = 0;
    Check(ParseOne(bytes, &back, &used));
    Check(used == bytes.size());
    Check(back.ok());
  }
}

}  // namespace
}  // namespace dbkv::protocol

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace dbkv::protocol;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const Wire w = DetectWire(input, kDefaultMaxFrameBytes);
  Check(w != Wire::kUnknown || input.empty());
  const Wire big = DetectWire(input, kAbsoluteMaxFrameBytes);
  Check(big != Wire::kUnknown || input.size() <= kLengthFieldSize);
  ConsumeRequests(input);
  ConsumeReplies(input);
  EncodeValues(input);
  return 0;
}
