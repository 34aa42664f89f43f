// Tests of frame splitting and of request/response encoding: the worked example of
// protocol/PROTOCOL.md byte for byte, round trips, and one test per malformed-input rule.
#include "protocol/frame.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/opcodes.h"
#include "protocol/test_util.h"
#include "protocol/value_codec.h"
#include "protocol/wire_format.h"

namespace dbkv::protocol {
namespace {

using testing::D;
using testing::Hex;

// A header: length, version, code, flags, request id.
std::string Header(uint32_t length, uint8_t version, uint8_t code, uint16_t flags, uint32_t id) {
  std::string h;
  for (int s = 24; s >= 0; s -= 8) h.push_back(static_cast<char>(length >> s));
  h.push_back(static_cast<char>(version));
  h.push_back(static_cast<char>(code));
  h.push_back(static_cast<char>(flags >> 8));
  h.push_back(static_cast<char>(flags));
  for (int s = 24; s >= 0; s -= 8) h.push_back(static_cast<char>(id >> s));
  return h;
}

// A well-formed frame around payload.
std::string Frame(uint8_t code, uint32_t id, std::string_view payload) {
  return Header(static_cast<uint32_t>(8 + payload.size()), kVersion, code, 0, id) +
         std::string(payload);
}

std::string EncodeRequest(uint32_t id, uint8_t opcode, std::string_view name,
                          const ValueList& args) {
  std::string out;
  AppendRequest(&out, id, opcode, name, args.data(), args.size());
  return out;
}

std::string EncodeResponse(uint32_t id, const Reply& reply) {
  std::string out;
  AppendResponse(&out, id, reply);
  return out;
}

// Splits data, which must hold exactly one frame.
FrameView SplitOne(std::string_view data, size_t max = kDefaultMaxFrameBytes) {
  FrameView f;
  Status error;
  SplitResult r = SplitFrame(data, max, &f, &error);
  INFO(error.ToString());
  REQUIRE(r == SplitResult::kFrame);
  REQUIRE(f.size() == data.size());
  return f;
}

// Splits data expecting kError; returns the error.
Status SplitError(std::string_view data, FrameView* f, size_t max = kDefaultMaxFrameBytes) {
  Status error;
  SplitResult r = SplitFrame(data, max, f, &error);
  REQUIRE(r == SplitResult::kError);
  REQUIRE_FALSE(error.ok());
  return error;
}

Status DecodeRequestBytes(std::string_view frame, Request* req) {
  return DecodeRequest(SplitOne(frame), req);
}

Reply DecodeResponseBytes(std::string_view frame) {
  Reply r;
  Status s = DecodeResponse(SplitOne(frame), &r);
  INFO(s.ToString());
  REQUIRE(s.ok());
  return r;
}

}  // namespace

TEST_CASE("the worked example of PROTOCOL.md encodes byte for byte", "[frame]") {
  // SET k1 1.10 by opcode, request id 1.
  std::string set = EncodeRequest(1, op::kSet, "", {Value::String("k1"), Value::Dec(D("1.10"))});
  CHECK(set == Hex("00000012 01 11 0000 00000001  92 a2 6b31 d6 01 312e3130"));
  // Its reply: the simple status OK.
  CHECK(EncodeResponse(1, Reply::Ok()) == Hex("0000000c 01 00 0000 00000001  d5 02 4f4b"));
  // GET k1 by name, request id 2, and its reply, the Decimal 1.10.
  std::string get = EncodeRequest(2, kOpByName, "GET", {Value::String("k1")});
  CHECK(get == Hex("00000010 01 00 0000 00000002  92 a3 474554 a2 6b31"));
  CHECK(EncodeResponse(2, Reply::Of(Value::Dec(D("1.10")))) ==
        Hex("0000000e 01 00 0000 00000002  d6 01 312e3130"));
  // An error reply: code 2 (UNKNOWN), payload the text.
  CHECK(EncodeResponse(3, Reply::Error(Code::kUnknownCommand, "unknown command 'FOO'")) ==
        Hex("0000001e 01 02 0000 00000003  b5 756e6b6e6f776e20636f6d6d616e642027464f4f27"));
}

TEST_CASE("the header is big-endian: length, version, code, flags, request id", "[frame]") {
  std::string f = EncodeRequest(0x01020304, op::kPing, "", {});
  REQUIRE(f.size() == kHeaderSize + 1);
  FrameView v = SplitOne(f);
  CHECK(v.header.length == 9);  // bytes after the length field
  CHECK(v.header.version == kVersion);
  CHECK(v.header.code == op::kPing);
  CHECK(v.header.flags == 0);
  CHECK(v.header.request_id == 0x01020304);
  CHECK(v.payload == Hex("90"));
  CHECK(v.size() == f.size());
}

TEST_CASE("requests round trip by name and by opcode", "[frame]") {
  ValueMap m;
  m.emplace_back(Value::String("a"), Value::List({Value::Int(1), Value::Bytes("x")}));
  const ValueList args = {Value::String("key"),
                          Value(),
                          Value::Bool(true),
                          Value::Int(std::numeric_limits<int64_t>::min()),
                          Value::Double(2.5),
                          Value::Dec(D("1.10")),
                          Value::Bytes(std::string("\0\1", 2)),
                          Value::List({}),
                          Value::Map(m)};

  SECTION("by opcode") {
    Request req;
    REQUIRE(DecodeRequestBytes(EncodeRequest(42, op::kSet, "ignored", args), &req).ok());
    CHECK(req.id == 42);
    CHECK(req.opcode == op::kSet);
    CHECK(req.argv == args);  // no name: argv holds the arguments only
  }
  SECTION("by name") {
    Request req;
    REQUIRE(DecodeRequestBytes(EncodeRequest(0xffffffff, kOpByName, "sEt", args), &req).ok());
    CHECK(req.id == 0xffffffff);
    CHECK(req.opcode == kOpByName);
    REQUIRE(req.argv.size() == args.size() + 1);
    CHECK(req.argv[0] == Value::String("sEt"));  // the decoder keeps the case; lookup ignores it
    CHECK(ValueList(req.argv.begin() + 1, req.argv.end()) == args);
  }
  SECTION("no arguments") {
    Request req;
    REQUIRE(DecodeRequestBytes(EncodeRequest(1, op::kPing, "", {}), &req).ok());
    CHECK(req.argv.empty());
    REQUIRE(DecodeRequestBytes(EncodeRequest(1, kOpByName, "PING", {}), &req).ok());
    CHECK(req.argv == ValueList{Value::String("PING")});
  }
  SECTION("a command name may be bin as well as str") {
    Request req;
    REQUIRE(DecodeRequestBytes(Frame(kOpByName, 5, Hex("91 c4 04 50494e47")), &req).ok());
    CHECK(req.argv[0] == Value::Bytes("PING"));
  }
}

TEST_CASE("responses round trip: values, simple statuses, nil, errors", "[frame]") {
  SECTION("a value") {
    Value v = Value::List({Value::Int(1), Value::Dec(D("-0.5")), Value::String("x")});
    Reply r = DecodeResponseBytes(EncodeResponse(9, Reply::Of(v)));
    CHECK(r.ok());
    CHECK_FALSE(r.simple);
    CHECK(r.value == v);
  }
  SECTION("nil") {
    std::string f = EncodeResponse(9, Reply::Nil());
    CHECK(f == Hex("00000009 01 00 0000 00000009 c0"));
    Reply r = DecodeResponseBytes(f);
    CHECK(r.ok());
    CHECK(r.value.is_null());
  }
  SECTION("a simple status differs from the same text as a string") {
    Reply pong = DecodeResponseBytes(EncodeResponse(1, Reply::Simple("PONG")));
    CHECK(pong.simple);
    CHECK(pong.value == Value::String("PONG"));
    Reply text = DecodeResponseBytes(EncodeResponse(1, Reply::Of(Value::String("PONG"))));
    CHECK_FALSE(text.simple);
    CHECK(text.value == Value::String("PONG"));
  }
  SECTION("every error code, with its text") {
    for (int c = 1; c <= static_cast<int>(Code::kNotFound); ++c) {
      const Code code = static_cast<Code>(c);
      INFO(CodeName(code));
      std::string f = EncodeResponse(77, Reply::Error(code, "went wrong"));
      CHECK(static_cast<uint8_t>(f[5]) == c);
      Reply r = DecodeResponseBytes(f);
      CHECK(r.code == code);
      CHECK(r.error == "went wrong");
      CHECK(r.value.is_null());
    }
  }
  SECTION("an empty error text") {
    Reply r = DecodeResponseBytes(EncodeResponse(1, Reply::Error(Code::kInternal, "")));
    CHECK(r.code == Code::kInternal);
    CHECK(r.error.empty());
  }
  SECTION("an error text sent as bin is accepted") {
    Reply r = DecodeResponseBytes(Frame(1, 1, Hex("c4 03 626164")));
    CHECK(r.code == Code::kInvalidArgument);
    CHECK(r.error == "bad");
  }
}

TEST_CASE("frames appended to one buffer split back in order", "[frame]") {
  std::string stream;
  ValueList args = {Value::String("k")};
  AppendRequest(&stream, 1, op::kGet, "", args.data(), args.size());
  AppendRequest(&stream, 2, kOpByName, "EXISTS", args.data(), args.size());
  AppendResponse(&stream, 3, Reply::Ok());
  std::string_view rest = stream;
  std::vector<uint32_t> ids;
  for (;;) {
    FrameView f;
    Status error;
    SplitResult r = SplitFrame(rest, kDefaultMaxFrameBytes, &f, &error);
    if (r == SplitResult::kNeedMore) break;
    REQUIRE(r == SplitResult::kFrame);
    ids.push_back(f.header.request_id);
    rest.remove_prefix(f.size());
  }
  CHECK(ids == std::vector<uint32_t>{1, 2, 3});
  CHECK(rest.empty());
}

TEST_CASE("a truncated header or payload needs more bytes", "[frame]") {
  const std::string f = EncodeRequest(3, op::kGet, "", {Value::String("some key")});
  for (size_t n = 0; n < f.size(); ++n) {
    INFO(n << " of " << f.size() << " bytes");
    FrameView v;
    Status error;
    CHECK(SplitFrame(std::string_view(f).substr(0, n), kDefaultMaxFrameBytes, &v, &error) ==
          SplitResult::kNeedMore);
    CHECK(error.ok());
  }
  // Once the header is in, it is available (the connection sizes its buffer from it).
  FrameView v;
  Status error;
  REQUIRE(SplitFrame(std::string_view(f).substr(0, kHeaderSize + 1), kDefaultMaxFrameBytes, &v,
                     &error) == SplitResult::kNeedMore);
  CHECK(v.header.length == f.size() - kLengthFieldSize);
  CHECK(v.header.request_id == 3);
}

TEST_CASE("a length shorter than the rest of the header is a PROTOCOL error", "[frame]") {
  for (uint32_t length : {0u, 1u, 7u}) {
    INFO(length);
    FrameView f;
    Status e = SplitError(Header(length, kVersion, op::kPing, 0, 99) + Hex("90"), &f);
    CHECK(e.code() == Code::kProtocol);
    CHECK(e.message() == "frame length " + std::to_string(length) + " is shorter than the header");
    CHECK(f.header.request_id == 99);  // the error reply can carry the id
  }
  // Length 8: a frame with an empty payload splits fine; decoding it fails (below).
  SplitOne(Header(8, kVersion, op::kPing, 0, 1));
}

TEST_CASE("a frame over the limit is TOOBIG, detected from its length field alone", "[frame]") {
  SECTION("at the limit and one byte over") {
    const size_t max = 64;
    std::string at_limit = Frame(op::kPing, 1, Hex("91") + std::string(max - kHeaderSize - 1, 1));
    REQUIRE(at_limit.size() == max);
    FrameView f = SplitOne(at_limit, max);
    CHECK(f.size() == max);
    std::string over = Frame(op::kPing, 1, Hex("91") + std::string(max - kHeaderSize, 1));
    Status e = SplitError(over, &f, max);
    CHECK(e.code() == Code::kFrameTooLarge);
    CHECK(e.message() == "frame of 65 bytes exceeds the limit of 64");
  }
  SECTION("the default limit is 64 MiB, header included") {
    FrameView f;
    Status error;
    std::string ok = Header(static_cast<uint32_t>(kDefaultMaxFrameBytes - 4), 1, 1, 0, 1);
    CHECK(SplitFrame(ok, kDefaultMaxFrameBytes, &f, &error) == SplitResult::kNeedMore);
    std::string over = Header(static_cast<uint32_t>(kDefaultMaxFrameBytes - 3), 1, 1, 0, 1);
    CHECK(SplitError(over, &f).code() == Code::kFrameTooLarge);
  }
  SECTION("a 4 GiB claim is refused with only its 4 length bytes present") {
    for (size_t max : {kDefaultMaxFrameBytes, kAbsoluteMaxFrameBytes}) {
      FrameView f;
      Status error;
      CHECK(SplitFrame(Hex("ffffff"), max, &f, &error) == SplitResult::kNeedMore);
      Status e = SplitError(Hex("ffffffff"), &f, max);
      CHECK(e.code() == Code::kFrameTooLarge);
      CHECK(e.message() == "frame of 4294967299 bytes exceeds the limit of " + std::to_string(max));
    }
  }
  SECTION("the version is checked before the size, the size before the flags") {
    FrameView f;
    Status e = SplitError(Header(1000, 9, 0, 0xffff, 5), &f, 64);
    CHECK(e.code() == Code::kProtocol);
    CHECK(f.header.request_id == 5);
    e = SplitError(Header(1000, 1, 0, 0xffff, 6), &f, 64);
    CHECK(e.code() == Code::kFrameTooLarge);
    CHECK(f.header.request_id == 6);
  }
  SECTION("garbage such as a text command is a PROTOCOL error at once") {
    FrameView f;
    CHECK(SplitError("GET foo\r\n", &f).code() == Code::kProtocol);
    CHECK(SplitError("*1\r\n$4\r\nPING\r\n", &f).code() == Code::kProtocol);
    CHECK(SplitError("GET f", &f).code() == Code::kProtocol);  // 5 bytes are enough
  }
}

TEST_CASE("a wrong version is a PROTOCOL error once the header is in", "[frame]") {
  for (uint8_t version : {uint8_t{0}, uint8_t{2}, uint8_t{0xff}}) {
    INFO(int{version});
    FrameView f;
    // The payload need not have arrived: the header alone condemns the stream.
    Status e = SplitError(Header(100, version, op::kPing, 0, 12), &f);
    CHECK(e.code() == Code::kProtocol);
    CHECK(e.message() ==
          "unsupported protocol version " + std::to_string(version) + " (this server speaks 1)");
    CHECK(f.header.request_id == 12);
  }
}

TEST_CASE("nonzero flags are a PROTOCOL error", "[frame]") {
  for (uint16_t flags : {uint16_t{1}, uint16_t{0x8000}, uint16_t{0xffff}}) {
    INFO(flags);
    FrameView f;
    Status e = SplitError(Header(9, kVersion, op::kPing, flags, 13) + Hex("90"), &f);
    CHECK(e.code() == Code::kProtocol);
    CHECK(e.message() == "reserved flags must be zero");
    CHECK(f.header.request_id == 13);
  }
}

TEST_CASE("a bad payload in a well-formed frame fails that request only", "[frame]") {
  // Three frames: good, bad msgpack, good. Splitting goes on past the bad one.
  std::string stream = EncodeRequest(1, op::kPing, "", {}) + Frame(op::kGet, 2, Hex("92 c1 01")) +
                       EncodeRequest(3, op::kPing, "", {});
  std::string_view rest = stream;
  std::vector<Code> codes;
  while (!rest.empty()) {
    FrameView f;
    Status error;
    REQUIRE(SplitFrame(rest, kDefaultMaxFrameBytes, &f, &error) == SplitResult::kFrame);
    Request req;
    Status s = DecodeRequest(f, &req);
    CHECK(req.id == f.header.request_id);  // the error reply can carry the id
    codes.push_back(s.code());
    rest.remove_prefix(f.size());
  }
  CHECK(codes == std::vector<Code>{Code::kOk, Code::kProtocol, Code::kOk});
}

TEST_CASE("DecodeRequest rejects each malformed payload with PROTOCOL", "[frame]") {
  struct Case {
    uint8_t opcode;
    const char* payload_hex;
    const char* message;
  };
  const Case cases[] = {
      {op::kPing, "", "empty payload"},
      {kOpByName, "", "empty payload"},
      {op::kGet, "a1 6b", "request payload must be an array"},
      {op::kGet, "81 a1 6b 01", "request payload must be an array"},
      {op::kGet, "c0", "request payload must be an array"},
      {op::kGet, "91 a1 6b 00", "trailing bytes after the payload value"},
      {op::kGet, "91 a1 6b 91", "trailing bytes after the payload value"},
      {op::kGet, "92 a1 6b", "truncated msgpack value"},
      {op::kGet, "91 c1", "malformed msgpack at offset 1"},
      {kOpByName, "90", "a request by name must start with the command name"},
      {kOpByName, "91 01", "a request by name must start with the command name"},
      {kOpByName, "92 c0 a1 6b", "a request by name must start with the command name"},
      {kOpByName, "91 91 a3 474554", "a request by name must start with the command name"},
      {op::kIncr, "92 a1 6b cf 8000000000000000", "integer out of the signed 64-bit range"},
      {op::kSet, "92 a1 6b d4 07 00", "unsupported ext type 7"},
      {op::kSet, "92 a1 6b c7 03 01 78 78 78", "bad decimal: invalid decimal: 'xxx'"},
      {kOpByName, "91 d5 02 4f4b", "unsupported ext type 2"},
      {op::kSet, "92 a1 6b 91 d5 02 4f4b", "unsupported ext type 2"},
      {op::kGet, "dd ffffffff", "array length exceeds the frame"},
      {op::kSet, "92 a1 6b df ffffffff", "map length exceeds the frame"},
  };
  for (const Case& c : cases) {
    INFO("opcode " << int{c.opcode} << " payload " << c.payload_hex);
    Request req;
    Status s = DecodeRequestBytes(Frame(c.opcode, 4, Hex(c.payload_hex)), &req);
    CHECK(s.code() == Code::kProtocol);
    CHECK(s.message() == c.message);
    CHECK(req.id == 4);
    CHECK(req.opcode == c.opcode);
  }
}

TEST_CASE("request arguments may nest 63 deep: the argument array is the 64th level", "[frame]") {
  auto nested = [](int depth) {
    Value v = Value::Int(1);
    for (int i = 0; i < depth; ++i) v = Value::List({v});
    return v;
  };
  Request req;
  ValueList ok = {Value::String("k"), nested(kMaxNestingDepth - 1)};
  REQUIRE(DecodeRequestBytes(EncodeRequest(1, op::kSet, "", ok), &req).ok());
  CHECK(req.argv == ok);
  ValueList deep = {Value::String("k"), nested(kMaxNestingDepth)};
  Status s = DecodeRequestBytes(EncodeRequest(1, op::kSet, "", deep), &req);
  CHECK(s.code() == Code::kProtocol);
  CHECK(s.message() == "values nested deeper than 64");
}

TEST_CASE("DecodeResponse rejects malformed replies with PROTOCOL", "[frame]") {
  struct Case {
    uint8_t code;
    const char* payload_hex;
    const char* message;
  };
  const Case cases[] = {
      {0, "", "empty payload"},
      {0, "01 02", "trailing bytes after the payload value"},
      {0, "91 d5 02 4f4b", "unsupported ext type 2"},
      {0, "81 a1 6b d5 02 4f4b", "unsupported ext type 2"},
      {0, "d4 09 00", "unsupported ext type 9"},
      {1, "", "empty payload"},
      {1, "01", "error payload must be a string"},
      {1, "c0", "error payload must be a string"},
      {1, "d5 02 4f4b", "unsupported ext type 2"},
      {5, "a1 78 00", "trailing bytes after the payload value"},
  };
  for (const Case& c : cases) {
    INFO("code " << int{c.code} << " payload " << c.payload_hex);
    Reply r;
    Status s = DecodeResponse(SplitOne(Frame(c.code, 4, Hex(c.payload_hex))), &r);
    CHECK(s.code() == Code::kProtocol);
    CHECK(s.message() == c.message);
  }
}

}  // namespace dbkv::protocol
