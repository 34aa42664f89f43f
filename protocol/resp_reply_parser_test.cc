// The client-side RESP reply parser (protocol/resp_reply_parser.h): every reply type, replies
// in pieces, malformed replies, and replies the encoder (protocol/resp.h) writes.
#include "protocol/resp_reply_parser.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <string_view>

#include "protocol/resp.h"
#include "tests/values.h"

namespace dbkv::protocol {
namespace {

using testing::B;
using testing::I;
using testing::L;
using testing::S;

Value Bin(std::string_view s) { return Value::Bytes(s); }

Reply Decode(std::string_view data) {
  Reply r;
  size_t n = 0;
  Status error;
  REQUIRE(ParseRespReply(data, &r, &n, &error) == RespParse::kCommand);
  CHECK(n == data.size());
  return r;
}

TEST_CASE("the client-side reply parser reads what the encoder writes", "[resp]") {
  CHECK(Decode("+OK\r\n").simple);
  Reply err = Decode("-WRONGTYPE Operation against a key\r\n");
  CHECK(err.code == Code::kWrongType);
  CHECK(err.error == "Operation against a key");
  Reply other = Decode("-MOVED 3999 127.0.0.1:6381\r\n");
  CHECK(other.code == Code::kInvalidArgument);
  CHECK(other.error == "MOVED 3999 127.0.0.1:6381");
  CHECK(Decode(":-7\r\n").value == I(-7));
  CHECK(Decode("$-1\r\n").value.is_null());
  CHECK(Decode("*-1\r\n").value.is_null());
  CHECK(Decode("_\r\n").value.is_null());
  CHECK(Decode("$3\r\na\r\n\r\n").value == Bin("a\r\n"));
  CHECK(Decode("=8\r\ntxt:some\r\n").value == Bin("some"));
  CHECK(Decode("#f\r\n").value == B(false));
  CHECK(Decode(",inf\r\n").value == Value::Double(HUGE_VAL));
  CHECK(Decode(",-1.5\r\n").value == Value::Double(-1.5));
  CHECK(Decode("(12345678901234567890\r\n").value == S("12345678901234567890"));
  CHECK(Decode("*2\r\n+a\r\n:1\r\n").value == L({S("a"), I(1)}));
  CHECK(Decode("~1\r\n:1\r\n").value == L({I(1)}));
  CHECK(Decode("%1\r\n$1\r\nk\r\n_\r\n").value == Value::Map({{Bin("k"), Value::Null()}}));

  // Every prefix of a reply needs more; garbage is an error.
  const std::string whole = "*2\r\n$3\r\nabc\r\n%1\r\n:1\r\n,2.5\r\n";
  for (size_t n = 0; n < whole.size(); ++n) {
    Reply r;
    size_t used = 0;
    Status error;
    CHECK(ParseRespReply(whole.substr(0, n), &r, &used, &error) == RespParse::kNeedMore);
  }
  for (const char* bad : {"?\r\n", ":x\r\n", "*1\r\n-ERR x\r\n", "#x\r\n", "$1\r\nab\r\n"}) {
    Reply r;
    size_t used = 0;
    Status error;
    INFO(bad);
    CHECK(ParseRespReply(bad, &r, &used, &error) == RespParse::kError);
    CHECK(error.code() == Code::kProtocol);
  }
}

TEST_CASE("replies the encoder writes read back, in RESP2 and RESP3", "[resp]") {
  // What each version reads back: strings come back as bytes; RESP2 has no map, bool or
  // double, so those come back as a flat list, an integer and a bulk string.
  struct Case {
    Reply reply;
    Reply resp2;
    Reply resp3;
  };
  const Case cases[] = {
      {Reply::Simple("OK"), Reply::Simple("OK"), Reply::Simple("OK")},
      {Reply::Error(Code::kWrongType, "Operation against a key holding the wrong kind of value"),
       Reply::Error(Code::kWrongType, "Operation against a key holding the wrong kind of value"),
       Reply::Error(Code::kWrongType, "Operation against a key holding the wrong kind of value")},
      {Reply::Of(Value::Null()), Reply::Of(Value::Null()), Reply::Of(Value::Null())},
      {Reply::Of(B(true)), Reply::Of(I(1)), Reply::Of(B(true))},
      {Reply::Of(I(-42)), Reply::Of(I(-42)), Reply::Of(I(-42))},
      {Reply::Of(Value::Double(1.5)), Reply::Of(Bin("1.5")), Reply::Of(Value::Double(1.5))},
      {Reply::Of(S("h\xc3\xa9")), Reply::Of(Bin("h\xc3\xa9")), Reply::Of(Bin("h\xc3\xa9"))},
      {Reply::Of(L({I(1), L({}), Value::Null()})), Reply::Of(L({I(1), L({}), Value::Null()})),
       Reply::Of(L({I(1), L({}), Value::Null()}))},
      {Reply::Of(Value::Map({{S("a"), I(1)}})), Reply::Of(L({Bin("a"), I(1)})),
       Reply::Of(Value::Map({{Bin("a"), I(1)}}))},
  };
  for (const Case& c : cases) {
    for (int version : {2, 3}) {
      const Reply& want = version == 2 ? c.resp2 : c.resp3;
      std::string wire;
      AppendRespReply(&wire, c.reply, RespStyle{version, false});
      INFO("RESP" << version << ": " << wire);
      const Reply got = Decode(wire);
      CHECK(got.code == want.code);
      CHECK(got.error == want.error);
      CHECK(got.simple == want.simple);
      CHECK(got.value == want.value);
    }
  }
}

}  // namespace
}  // namespace dbkv::protocol
