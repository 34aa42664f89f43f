// The RESP codec (protocol/PROTOCOL.md, "RESP"): detection, the request parser (whole, in
// pieces, at its limits), the reply encoder for every value type in RESP2 and RESP3, and
// AppendRespCommand. The client-side reply parser: protocol/resp_reply_parser_test.cc.
#include "protocol/resp.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "protocol/wire_format.h"
#include "tests/values.h"

namespace dbkv::protocol {
namespace {

using namespace std::string_literals;  // NOLINT: "...\0..."s keeps its NUL bytes

using testing::B;
using testing::D;
using testing::I;
using testing::L;
using testing::S;

Value Bin(std::string_view s) { return Value::Bytes(s); }

constexpr uint64_t k64MiB = uint64_t{64} << 20;
constexpr uint64_t kMax = kAbsoluteMaxFrameBytes;

TEST_CASE("the first byte tells RESP from binary frames", "[resp]") {
  CHECK(DetectWire("", k64MiB) == Wire::kUnknown);
  CHECK(DetectWire("*", k64MiB) == Wire::kResp);
  CHECK(DetectWire("P", k64MiB) == Wire::kResp);
  CHECK(DetectWire("get k\r\n", k64MiB) == Wire::kResp);
  CHECK(DetectWire(std::string("\0", 1), k64MiB) == Wire::kBinary);
  CHECK(DetectWire("\x1f", k64MiB) == Wire::kBinary);
  // Neither '*' nor a letter: binary (and then refused as a frame).
  CHECK(DetectWire("{\"get\": 1}", k64MiB) == Wire::kBinary);
  CHECK(DetectWire(" PING", k64MiB) == Wire::kBinary);
  CHECK(DetectWire("\xff\xff\xff\xff", k64MiB) == Wire::kBinary);
}

TEST_CASE("with --max-frame-bytes above 704 MiB the fifth byte breaks the tie", "[resp]") {
  // 0x2A << 24 + 4 bytes: the smallest binary frame starting with '*'.
  const uint64_t tie = (uint64_t{0x2A} << 24) + kLengthFieldSize;
  CHECK(DetectWire("*1\r\n", tie - 1) == Wire::kResp);
  CHECK(DetectWire("*1\r\n", tie) == Wire::kUnknown);
  CHECK(DetectWire("*1\r\n$4\r\nPING\r\n", tie) == Wire::kResp);
  CHECK(DetectWire(std::string("*\0\0\0\x01\x10", 6), tie) == Wire::kBinary);
  CHECK(DetectWire("PING\r\n", kMax) == Wire::kResp);
  CHECK(DetectWire(std::string("P\0\0\0\x01", 5), kMax) == Wire::kBinary);
  // 'z' (0x7A) frames start at 2 GiB: under a 1 GiB limit a 'z' is always RESP.
  CHECK(DetectWire("z", uint64_t{1} << 30) == Wire::kResp);
}

// Parses data as a stream of requests, fed whole.
struct Parsed {
  std::vector<ValueList> commands;
  Status error;
  size_t consumed = 0;
};

Parsed ParseAll(std::string_view data, RespLimits limits = RespLimits()) {
  Parsed out;
  RespRequestParser p;
  for (;;) {
    ValueList argv;
    size_t n = 0;
    Status error;
    RespParse r = p.Parse(data.substr(out.consumed), limits, &argv, &n, &error);
    if (r == RespParse::kNeedMore) return out;
    if (r == RespParse::kError) {
      out.error = error;
      return out;
    }
    out.consumed += n;
    if (!argv.empty()) out.commands.push_back(std::move(argv));
  }
}

// The same, fed one more byte at a time, as a slow client sends it.
Parsed ParseByteByByte(std::string_view data, RespLimits limits = RespLimits()) {
  Parsed out;
  RespRequestParser p;
  for (size_t have = out.consumed; have <= data.size();) {
    ValueList argv;
    size_t n = 0;
    Status error;
    RespParse r =
        p.Parse(data.substr(out.consumed, have - out.consumed), limits, &argv, &n, &error);
    if (r == RespParse::kNeedMore) {
      ++have;
      continue;
    }
    if (r == RespParse::kError) {
      out.error = error;
      return out;
    }
    out.consumed += n;
    if (!argv.empty()) out.commands.push_back(std::move(argv));
  }
  return out;
}

TEST_CASE("multibulk requests parse into byte arguments, whole or byte by byte", "[resp]") {
  const std::string data =
      "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nv\r\nv\0\r\n"
      "*2\r\n$3\r\nGET\r\n$0\r\n\r\n"
      "*0\r\n*-1\r\n"
      "*1\r\n$4\r\nPING\r\n"s;
  for (const Parsed& p : {ParseAll(data), ParseByteByByte(data)}) {
    REQUIRE(p.error.ok());
    CHECK(p.consumed == data.size());
    REQUIRE(p.commands.size() == 3);
    CHECK(p.commands[0] == ValueList{Bin("SET"), Bin("k"), Bin(std::string("v\r\nv\0", 5))});
    CHECK(p.commands[0][0].type() == ValueType::kBytes);
    CHECK(p.commands[1] == ValueList{Bin("GET"), Bin("")});
    CHECK(p.commands[2] == ValueList{Bin("PING")});
  }
}

TEST_CASE("a partial request is never consumed and says how much it needs", "[resp]") {
  RespRequestParser p;
  ValueList argv;
  size_t n = 0;
  Status error;
  const std::string head = "*2\r\n$3\r\nSET\r\n$100000\r\n";
  CHECK(p.Parse(head, RespLimits(), &argv, &n, &error) == RespParse::kNeedMore);
  CHECK(p.in_request());
  CHECK(p.needed() == head.size() + 100000 + 2);
  const std::string whole = head + std::string(100000, 'x') + "\r\n";
  REQUIRE(p.Parse(whole, RespLimits(), &argv, &n, &error) == RespParse::kCommand);
  CHECK(n == whole.size());
  CHECK(argv.size() == 2);
  CHECK(argv[1].AsStringView().size() == 100000);
  CHECK_FALSE(p.in_request());
}

TEST_CASE("inline commands split like redis-cli's", "[resp]") {
  const std::string data =
      "PING\r\n"
      "\r\n"
      "   \n"
      "set  k \"a b\\x41\\n\" 'it\\'s'\n"
      "GET \"\"\r\n";
  for (const Parsed& p : {ParseAll(data), ParseByteByByte(data)}) {
    REQUIRE(p.error.ok());
    CHECK(p.consumed == data.size());
    REQUIRE(p.commands.size() == 3);
    CHECK(p.commands[0] == ValueList{Bin("PING")});
    CHECK(p.commands[1] == ValueList{Bin("set"), Bin("k"), Bin("a bA\n"), Bin("it's")});
    CHECK(p.commands[2] == ValueList{Bin("GET"), Bin("")});
  }
  std::vector<std::string> words;
  CHECK_FALSE(SplitInlineArgs("SET k \"open", &words));
  CHECK_FALSE(SplitInlineArgs("SET k 'open", &words));
  CHECK_FALSE(SplitInlineArgs("SET k \"a\"b", &words));
  REQUIRE(SplitInlineArgs("  ", &words));
  CHECK(words.empty());
}

TEST_CASE("malformed requests are errors with Redis's texts", "[resp]") {
  struct Case {
    std::string data;
    Code code;
    std::string text;
  };
  const Case cases[] = {
      {"*x\r\n", Code::kProtocol, "invalid multibulk length"},
      {"*1\n$4\r\nPING\r\n", Code::kProtocol, "invalid multibulk length"},
      {"*" + std::string(40, '1'), Code::kProtocol, "invalid multibulk length"},
      {"*2\r\n:1\r\n", Code::kProtocol, "expected '$', got ':'"},
      {"*1\r\n$-1\r\n", Code::kProtocol, "invalid bulk length"},
      {"*1\r\n$01\r\nx\r\n", Code::kProtocol, "invalid bulk length"},
      {"*1\r\n$1\r\nxyz", Code::kProtocol, "bulk string not followed by CRLF"},
      {"SET k \"x\r\n", Code::kProtocol, "unbalanced quotes in request"},
      {"*1\r\n\x01", Code::kProtocol, "expected '$', got '\\x1'"},
  };
  for (const Case& c : cases) {
    INFO(c.data);
    Parsed p = ParseAll(c.data);
    CHECK(p.commands.empty());
    CHECK(p.error.code() == c.code);
    CHECK(p.error.message() == c.text);
    // Fed byte by byte: the same error, never an earlier or a different one.
    CHECK(ParseByteByByte(c.data).error == p.error);
  }
}

TEST_CASE("limits: --max-frame-bytes, inline length, unauthenticated clients", "[resp]") {
  RespLimits small;
  small.max_request_bytes = 1024;
  // A bulk that cannot fit is refused at its header, before its bytes arrive.
  Parsed big = ParseAll("*2\r\n$3\r\nSET\r\n$2000\r\n", small);
  CHECK(big.error.code() == Code::kFrameTooLarge);
  CHECK_THAT(big.error.message(), Catch::Matchers::StartsWith("invalid bulk length"));
  // So is a count of arguments that cannot fit.
  Parsed many = ParseAll("*200\r\n", small);
  CHECK(many.error.code() == Code::kFrameTooLarge);
  CHECK_THAT(many.error.message(), Catch::Matchers::StartsWith("invalid multibulk length"));
  // A request of exactly the limit passes.
  const std::string head = "*1\r\n$1011\r\n";
  const std::string exact = head + std::string(1024 - head.size() - 2, 'x') + "\r\n";
  REQUIRE(exact.size() == 1024);
  CHECK(ParseAll(exact, small).commands.size() == 1);
  CHECK(ParseAll(exact + "*1\r\n$1012\r\n", small).error.code() == Code::kFrameTooLarge);

  // Inline lines: at most 64 KiB (or the request limit, if smaller).
  Parsed line = ParseAll(std::string(64 * 1024, 'a'));
  CHECK(line.error.code() == Code::kFrameTooLarge);
  CHECK(line.error.message() == "too big inline request");
  CHECK(ParseAll(std::string(1024, 'a'), small).error.code() == Code::kFrameTooLarge);
  CHECK(ParseAll(std::string(1000, 'a') + "\n", small).commands.size() == 1);

  RespLimits unauth;
  unauth.unauthenticated = true;
  CHECK(ParseAll("*11\r\n", unauth).error.message() == "unauthenticated multibulk length");
  CHECK(ParseAll("*1\r\n$16385\r\n", unauth).error.message() == "unauthenticated bulk length");
  CHECK(ParseAll("*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n", unauth).commands.size() == 1);
}

std::string Encode(const Reply& r, int version, bool stored = false) {
  std::string out;
  AppendRespReply(&out, r, RespStyle{version, stored});
  return out;
}

TEST_CASE("replies: every value type in RESP2 and RESP3", "[resp]") {
  struct Case {
    Value v;
    const char* resp2;
    const char* resp3;
  };
  const Case cases[] = {
      {Value::Null(), "$-1\r\n", "_\r\n"},
      {B(true), ":1\r\n", "#t\r\n"},
      {I(-42), ":-42\r\n", ":-42\r\n"},
      {Value::Double(1.5), "$3\r\n1.5\r\n", ",1.5\r\n"},
      {D("1.10"), "$4\r\n1.10\r\n", "$4\r\n1.10\r\n"},
      {S("h\xc3\xa9"), "$3\r\nh\xc3\xa9\r\n", "$3\r\nh\xc3\xa9\r\n"},
      {Bin(""), "$0\r\n\r\n", "$0\r\n\r\n"},
      {L({I(1), L({}), Value::Null()}), "*3\r\n:1\r\n*0\r\n$-1\r\n", "*3\r\n:1\r\n*0\r\n_\r\n"},
      {Value::Map({{S("a"), I(1)}}), "*2\r\n$1\r\na\r\n:1\r\n", "%1\r\n$1\r\na\r\n:1\r\n"},
  };
  for (const Case& c : cases) {
    INFO(c.v.DebugString());
    CHECK(Encode(Reply::Of(c.v), 2) == c.resp2);
    CHECK(Encode(Reply::Of(c.v), 3) == c.resp3);
  }
}

TEST_CASE("a missing array is *-1 in RESP2 and nil in RESP3", "[resp]") {
  CHECK(Encode(Reply::NilArray(), 2) == "*-1\r\n");
  CHECK(Encode(Reply::NilArray(), 3) == "_\r\n");
  CHECK(Encode(Reply::Nil(), 2) == "$-1\r\n");
}

TEST_CASE("a cold value that leaks to the encoder is an error in its place", "[resp]") {
  ColdRef ref;
  ref.segment = 1;
  ref.length = 10;
  ref.type = ValueType::kString;
  const Value cold = Value::Cold(ref);
  for (int version : {2, 3}) {
    CHECK(Encode(Reply::Of(cold), version) == "-INTERNAL value not loaded from disk\r\n");
    // Inside a list it takes exactly its element's place: the reply stays parseable.
    CHECK(Encode(Reply::Of(L({I(1), cold})), version) ==
          "*2\r\n:1\r\n-INTERNAL value not loaded from disk\r\n");
  }
}

TEST_CASE("stored data goes out as bulk strings, as Redis shows it", "[resp]") {
  CHECK(Encode(Reply::Of(I(10)), 2, true) == "$2\r\n10\r\n");
  CHECK(Encode(Reply::Of(I(10)), 3, true) == "$2\r\n10\r\n");
  CHECK(Encode(Reply::Of(B(false)), 3, true) == "$1\r\n0\r\n");
  CHECK(Encode(Reply::Of(Value::Double(0.1)), 3, true) == "$3\r\n0.1\r\n");
  CHECK(Encode(Reply::Of(Value::Null()), 2, true) == "$-1\r\n");
  // Lists and maps keep their shape; their scalars become strings.
  CHECK(Encode(Reply::Of(L({I(1), D("2.50"), Value::Null()})), 2, true) ==
        "*3\r\n$1\r\n1\r\n$4\r\n2.50\r\n$-1\r\n");
  CHECK(Encode(Reply::Of(Value::Map({{I(1), B(true)}})), 3, true) ==
        "%1\r\n$1\r\n1\r\n$1\r\n1\r\n");
  // Simple statuses and errors are not data.
  CHECK(Encode(Reply::Ok(), 2, true) == "+OK\r\n");
}

TEST_CASE("errors carry Redis's prefixes, on one line", "[resp]") {
  CHECK(Encode(Reply::Error(Status::WrongType()), 2) ==
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
  // INCR of text that is not a number: WRONGTYPE on the binary protocol, ERR in Redis.
  CHECK(Encode(Reply::Error(Code::kWrongType, "value is not an integer or out of range"), 2) ==
        "-ERR value is not an integer or out of range\r\n");
  CHECK(Encode(Reply::Error(Code::kInvalidArgument, "syntax error"), 3) == "-ERR syntax error\r\n");
  CHECK(Encode(Reply::Error(Code::kUnknownCommand, "unknown command 'FOO'"), 2) ==
        "-ERR unknown command 'FOO'\r\n");
  CHECK(Encode(Reply::Error(Code::kAuth, "Authentication required."), 2) ==
        "-NOAUTH Authentication required.\r\n");
  CHECK(Encode(Reply::Error(Code::kAuth, "invalid password"), 2) ==
        "-WRONGPASS invalid password\r\n");
  CHECK(Encode(Reply::Error(Code::kOutOfMemory, "no room"), 2) == "-OOM no room\r\n");
  CHECK(Encode(Reply::Error(Code::kCrossShard, "x"), 2) == "-CROSSSLOT x\r\n");
  CHECK(Encode(Reply::Error(Code::kProtocol, "invalid bulk length"), 2) ==
        "-ERR Protocol error: invalid bulk length\r\n");
  CHECK(Encode(Reply::Error(Code::kUnknownCommand, "unknown command 'a\r\nb'"), 2) ==
        "-ERR unknown command 'a  b'\r\n");
  CHECK(Encode(Reply::Simple("PONG"), 3) == "+PONG\r\n");
}

TEST_CASE("doubles print as the shortest text that reads back the same", "[resp]") {
  CHECK(FormatDouble(0.1) == "0.1");
  CHECK(FormatDouble(1.0) == "1");
  CHECK(FormatDouble(-2.5) == "-2.5");
  CHECK(FormatDouble(1e300) == "1e+300");
  CHECK(FormatDouble(1.0 / 3) == "0.3333333333333333");
  CHECK(FormatDouble(0.1 + 0.2) == "0.30000000000000004");
  CHECK(FormatDouble(HUGE_VAL) == "inf");
  CHECK(FormatDouble(-HUGE_VAL) == "-inf");
  CHECK(FormatDouble(std::nan("")) == "nan");
}

TEST_CASE("AppendRespCommand writes a multibulk the request parser reads", "[resp]") {
  std::string cmd;
  AppendRespCommand(&cmd, {"SET", "k", std::string_view("\0\r\n", 3)});
  CHECK(cmd == std::string("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\n\0\r\n\r\n", 29));
  Parsed p = ParseAll(cmd);
  REQUIRE(p.commands.size() == 1);
  CHECK(p.commands[0][2] == Bin(std::string_view("\0\r\n", 3)));
}

}  // namespace
}  // namespace dbkv::protocol
