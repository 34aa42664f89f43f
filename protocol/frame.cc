#include "protocol/frame.h"

#include <cstring>

#include "protocol/value_codec.h"
#include "protocol/wire_format.h"

namespace dbkv::protocol {
namespace {

uint32_t LoadBE32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | u[3];
}

void StoreBE32(char* p, uint32_t v) {
  p[0] = static_cast<char>(v >> 24);
  p[1] = static_cast<char>(v >> 16);
  p[2] = static_cast<char>(v >> 8);
  p[3] = static_cast<char>(v);
}

// Reserves room for a header at the end of out; returns its offset. FinishFrame fills it once
// the payload is appended.
size_t BeginFrame(std::string* out) {
  size_t at = out->size();
  out->append(kHeaderSize, '\0');
  return at;
}

void FinishFrame(std::string* out, size_t at, uint8_t code, uint32_t id) {
  char* h = out->data() + at;
  StoreBE32(h, static_cast<uint32_t>(out->size() - at - kLengthFieldSize));
  h[4] = static_cast<char>(kVersion);
  h[5] = static_cast<char>(code);
  h[6] = 0;
  h[7] = 0;
  StoreBE32(h + 8, id);
}

}  // namespace

SplitResult SplitFrame(std::string_view data, size_t max_frame_bytes, FrameView* frame,
                       Status* error) {
  // Each check runs as soon as the bytes it needs are in, so that garbage and impossible
  // lengths are refused at once rather than after a wait for bytes that never come.
  FrameHeader& h = frame->header;
  if (data.size() >= kHeaderSize) {
    h.length = LoadBE32(data.data());
    h.version = static_cast<uint8_t>(data[4]);
    h.code = static_cast<uint8_t>(data[5]);
    h.flags = static_cast<uint16_t>((static_cast<unsigned char>(data[6]) << 8) |
                                    static_cast<unsigned char>(data[7]));
    h.request_id = LoadBE32(data.data() + 8);
  }
  // The version byte first: text sent to this port ("GET foo") is a PROTOCOL error, not a
  // frame of 1.1 GB.
  if (data.size() > kLengthFieldSize && static_cast<uint8_t>(data[4]) != kVersion) {
    const unsigned v = static_cast<uint8_t>(data[4]);
    *error = Status::Protocol("unsupported protocol version " + std::to_string(v) +
                              " (this server speaks " + std::to_string(kVersion) + ")");
    return SplitResult::kError;
  }
  if (data.size() < kLengthFieldSize) return SplitResult::kNeedMore;
  const uint64_t total = uint64_t{LoadBE32(data.data())} + kLengthFieldSize;
  if (total > max_frame_bytes) {
    *error = Status(Code::kFrameTooLarge, "frame of " + std::to_string(total) +
                                              " bytes exceeds the limit of " +
                                              std::to_string(max_frame_bytes));
    return SplitResult::kError;
  }
  if (data.size() < kHeaderSize) return SplitResult::kNeedMore;
  if (total < kHeaderSize) {
    *error = Status::Protocol("frame length " + std::to_string(h.length) +
                              " is shorter than the header");
    return SplitResult::kError;
  }
  if (h.flags != 0) {
    *error = Status::Protocol("reserved flags must be zero");
    return SplitResult::kError;
  }
  if (data.size() < total) return SplitResult::kNeedMore;
  frame->payload = data.substr(kHeaderSize, total - kHeaderSize);
  return SplitResult::kFrame;
}

Status DecodeRequestArgs(const FrameView& frame, ValueList* argv) {
  Status s = DecodeArray(frame.payload, argv);
  if (!s.ok()) return s;
  if (frame.header.code == kOpByName && (argv->empty() || !(*argv)[0].is_string_like())) {
    return Status::Protocol("a request by name must start with the command name");
  }
  return Status::OK();
}

Status DecodeRequest(const FrameView& frame, Request* out) {
  out->id = frame.header.request_id;
  out->opcode = frame.header.code;
  return DecodeRequestArgs(frame, &out->argv);
}

void AppendRequest(std::string* out, uint32_t id, uint8_t opcode, std::string_view name,
                   const Value* args, size_t nargs) {
  size_t at = BeginFrame(out);
  const bool by_name = opcode == kOpByName;
  AppendArrayHeader(out, static_cast<uint32_t>(nargs + (by_name ? 1 : 0)));
  if (by_name) AppendString(out, name);
  for (size_t i = 0; i < nargs; ++i) AppendValue(out, args[i]);
  FinishFrame(out, at, opcode, id);
}

void AppendResponse(std::string* out, uint32_t id, const Reply& reply) {
  size_t at = BeginFrame(out);
  if (!reply.ok()) {
    AppendString(out, reply.error);
  } else if (reply.simple) {
    AppendSimple(out, reply.value.AsStringView());
  } else {
    AppendValue(out, reply.value);
  }
  if (out->size() - at - kLengthFieldSize > 0xffffffffu) {
    // The length field cannot describe it: answer with an error instead.
    out->resize(at);
    AppendResponse(
        out, id, Reply::Error(Code::kFrameTooLarge, "reply larger than 4 GiB; fetch less at once"));
    return;
  }
  FinishFrame(out, at, static_cast<uint8_t>(reply.code), id);
}

Status DecodeResponse(const FrameView& frame, Reply* out) {
  *out = Reply();
  out->code = static_cast<Code>(frame.header.code);
  if (frame.header.code != 0) {
    Value text;
    Status s = DecodeValue(frame.payload, &text);
    if (!s.ok()) return s;
    if (!text.is_string_like()) return Status::Protocol("error payload must be a string");
    out->error = std::string(text.AsStringView());
    return Status::OK();
  }
  return DecodeValue(frame.payload, &out->value, &out->simple);
}

}  // namespace dbkv::protocol
