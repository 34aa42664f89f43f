// Binary frames (protocol/PROTOCOL.md, "Frames"): splitting a byte stream into frames, and
// encoding and decoding requests and responses. Pure functions: no sockets, no state.
#ifndef DATABRIDGE_PROTOCOL_FRAME_H_
#define DATABRIDGE_PROTOCOL_FRAME_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "core/reply.h"
#include "core/status.h"
#include "core/value.h"

namespace dbkv::protocol {

struct FrameHeader {
  uint32_t length = 0;  // bytes after the length field
  uint8_t version = 0;
  uint8_t code = 0;  // request: opcode; response: status code
  uint16_t flags = 0;
  uint32_t request_id = 0;
};

struct FrameView {
  FrameHeader header;
  std::string_view payload;
  size_t size() const { return 4 + header.length; }
};

enum class SplitResult {
  kFrame,     // *frame holds the next frame; it spans frame->size() bytes of the input
  kNeedMore,  // the input holds no complete frame yet
  kError,     // the stream is not a valid frame sequence: report *error and close
};

// Looks for a complete frame at the start of data. On kError, *error says why and, if the
// header was complete, frame->header holds it (so the error reply can carry the request id).
SplitResult SplitFrame(std::string_view data, size_t max_frame_bytes, FrameView* frame,
                       Status* error);

// A decoded request. argv[0] is the command name when opcode is kOpByName.
struct Request {
  uint32_t id = 0;
  uint8_t opcode = 0;
  ValueList argv;
};

// Decodes a request frame's payload. Errors are kProtocol: the frame boundaries were fine, so
// the connection can answer with an error and go on.
Status DecodeRequest(const FrameView& frame, Request* out);
// The same, into argv only (reusing its capacity); argv[0] is the name when the frame's code
// is kOpByName.
Status DecodeRequestArgs(const FrameView& frame, ValueList* argv);

// Appends a request frame. args are the command arguments (without the name); name is used
// (as the first payload element) when opcode is kOpByName.
void AppendRequest(std::string* out, uint32_t id, uint8_t opcode, std::string_view name,
                   const Value* args, size_t nargs);

// Appends a response frame for reply.
void AppendResponse(std::string* out, uint32_t id, const Reply& reply);

// Decodes a response frame into a Reply.
Status DecodeResponse(const FrameView& frame, Reply* out);

}  // namespace dbkv::protocol

#endif  // DATABRIDGE_PROTOCOL_FRAME_H_
