// libFuzzer target for the wire codec (protocol/PROTOCOL.md). Built outside Bazel by
// scripts/fuzz.sh with -fsanitize=fuzzer,address,undefined.
//
// The input is read as a connection reads a byte stream: SplitFrame, then DecodeRequest (and,
// as a client would, DecodeResponse) on every frame, until the stream needs more bytes or is
// refused. Besides crashes and sanitizer reports, it traps on broken invariants:
//  - SplitFrame never claims more bytes than it was given, and a prefix of a splittable stream
//    never yields an error (a frame that arrives piecemeal is not refused early);
//  - every error is a PROTOCOL or TOOBIG Status with a message;
//  - whatever decodes re-encodes to bytes that decode to an equal request or reply, and
//    re-encoding that gives the same bytes again (the encoder is canonical).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/reply.h"
#include "core/status.h"
#include "core/value.h"
#include "protocol/frame.h"
#include "protocol/value_codec.h"
#include "protocol/wire_format.h"

namespace dbkv::protocol {
namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

// A small limit makes TOOBIG reachable within -max_len; the default one covers the common path.
constexpr size_t kSmallMaxFrame = 512;

void CheckError(const Status& s) {
  Check(!s.ok());
  Check(s.code() == Code::kProtocol || s.code() == Code::kFrameTooLarge);
  Check(!s.message().empty());
}

// Splits bytes that must hold exactly one frame.
FrameView SplitExactly(std::string_view bytes) {
  FrameView f;
  Status error;
  Check(SplitFrame(bytes, kAbsoluteMaxFrameBytes, &f, &error) == SplitResult::kFrame);
  Check(f.size() == bytes.size());
  return f;
}

void CheckRequestRoundTrip(const Request& req) {
  const bool by_name = req.opcode == kOpByName;
  const size_t skip = by_name ? 1 : 0;
  std::string_view name = by_name ? req.argv[0].AsStringView() : std::string_view();
  std::string bytes;
  AppendRequest(&bytes, req.id, req.opcode, name, req.argv.data() + skip, req.argv.size() - skip);
  Request back;
  Check(DecodeRequest(SplitExactly(bytes), &back).ok());
  Check(back.id == req.id && back.opcode == req.opcode);
  Check(back.argv.size() == req.argv.size());
  // The name is re-encoded as str even if it came as bin: compare its text.
  if (by_name) Check(back.argv[0].AsStringView() == name);
  for (size_t i = skip; i < req.argv.size(); ++i) Check(back.argv[i] == req.argv[i]);
  std::string again;
  AppendRequest(&again, back.id, back.opcode, name, back.argv.data() + skip,
                back.argv.size() - skip);
  Check(again == bytes);
}

void CheckResponseRoundTrip(const FrameView& frame, const Reply& reply) {
  Check(static_cast<uint8_t>(reply.code) == frame.header.code);
  std::string bytes;
  AppendResponse(&bytes, frame.header.request_id, reply);
  Reply back;
  Check(DecodeResponse(SplitExactly(bytes), &back).ok());
  Check(back.code == reply.code && back.simple == reply.simple);
  Check(back.value == reply.value && back.error == reply.error);
  std::string again;
  AppendResponse(&again, frame.header.request_id, back);
  Check(again == bytes);
}

// What a connection does with a read buffer holding data.
void ConsumeStream(std::string_view data, size_t max_frame) {
  std::string_view rest = data;
  for (;;) {
    FrameView frame;
    Status error;
    const SplitResult r = SplitFrame(rest, max_frame, &frame, &error);
    if (r == SplitResult::kNeedMore) {
      Check(error.ok());
      if (rest.size() >= kHeaderSize) Check(frame.size() > rest.size());
      return;
    }
    if (r == SplitResult::kError) {
      CheckError(error);
      Check(rest.size() >= kLengthFieldSize);
      return;
    }
    Check(r == SplitResult::kFrame);
    Check(error.ok());
    Check(frame.size() >= kHeaderSize && frame.size() <= rest.size());
    Check(frame.size() <= max_frame);
    Check(frame.payload.size() == frame.size() - kHeaderSize);
    Check(frame.payload.data() == rest.data() + kHeaderSize);

    // The same frame arriving in pieces: never refused before it is complete.
    for (size_t n : {size_t{0}, size_t{3}, size_t{4}, size_t{11}, size_t{12}, frame.size() / 2,
                     frame.size() - 1}) {
      if (n >= frame.size()) continue;
      FrameView partial;
      Status partial_error;
      Check(SplitFrame(rest.substr(0, n), max_frame, &partial, &partial_error) ==
            SplitResult::kNeedMore);
    }

    Request req;
    Status s = DecodeRequest(frame, &req);
    Check(req.id == frame.header.request_id && req.opcode == frame.header.code);
    if (s.ok()) {
      if (req.opcode == kOpByName) Check(!req.argv.empty() && req.argv[0].is_string_like());
      CheckRequestRoundTrip(req);
    } else {
      CheckError(s);
      Check(s.code() == Code::kProtocol);  // a payload error never closes the connection
    }

    Reply reply;
    s = DecodeResponse(frame, &reply);
    if (s.ok()) {
      CheckResponseRoundTrip(frame, reply);
    } else {
      CheckError(s);
    }
    rest.remove_prefix(frame.size());
  }
}

// The whole input as one msgpack value, with and without simple statuses allowed.
void DecodeWhole(std::string_view data) {
  Value v;
  bool simple = false;
  Status s = DecodeValue(data, &v, &simple);
  if (!s.ok()) {
    CheckError(s);
    return;
  }
  Value plain;
  Status t = DecodeValue(data, &plain);
  Check(t.ok() == !simple);
  if (t.ok()) Check(plain == v);
  if (simple) return;
  std::string bytes;
  AppendValue(&bytes, v);
  Value back;
  Check(DecodeValue(bytes, &back).ok());
  Check(back == v);
}

}  // namespace
}  // namespace dbkv::protocol

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace dbkv::protocol;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  ConsumeStream(input, kDefaultMaxFrameBytes);
  ConsumeStream(input, kSmallMaxFrame);
  DecodeWhole(input);
  return 0;
}
