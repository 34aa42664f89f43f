// Plugins loaded with --plugin: the example THROTTLE called by name, and the start-up errors
// of libraries that are not plugins, were built for another ABI or API version, take a
// command's name, or claim an opcode.
#include <catch2/catch.hpp>
#include <limits>
#include <stdexcept>
#include <string>

#include "client/client.h"
#include "tests/server_process.h"
#include "tests/test_util.h"

namespace dbkv::testing {
namespace {

using client::Client;

std::string Plugin(const std::string& label) {
  // Shared libraries are data files, not executables: find them through the runfiles tree.
  for (std::string p : {label, "bazel-bin/" + label}) {
    if (access(p.c_str(), R_OK) == 0) return p;
  }
  const char* srcdir = std::getenv("TEST_SRCDIR");
  if (srcdir != nullptr) return std::string(srcdir) + "/data_bridge_kv/" + label;
  return label;
}

TEST_CASE("THROTTLE is an unknown command without its plugin", "[integration][plugin]") {
  ServerProcess server;
  Client c(Opts(server));
  Reply r = c.Call("THROTTLE", {S("k"), I(1), I(1), I(1)});
  CHECK(r.code == Code::kUnknownCommand);
}

TEST_CASE("the THROTTLE plugin limits as GCRA does", "[integration][plugin]") {
  ServerProcess server({"--plugin", Plugin("plugins/examples/throttle.so")});
  Client c(Opts(server));
  // max_burst 4: 5 requests pass at once, the 6th is limited.
  for (int i = 0; i < 5; ++i) {
    Reply r = c.Call("throttle", {S("user:1"), I(4), I(5), I(60)});
    REQUIRE(r.ok());
    const ValueList& v = r.value.AsList();
    REQUIRE(v.size() == 5);
    CHECK(v[0] == I(0));      // allowed
    CHECK(v[1] == I(5));      // limit = max_burst + 1
    CHECK(v[2] == I(4 - i));  // remaining
    CHECK(v[3] == I(-1));     // retry_after
    CHECK(v[4].AsInt() > 0);  // reset_after
  }
  Reply r = c.Call("THROTTLE", {S("user:1"), I(4), I(5), I(60)});
  REQUIRE(r.ok());
  const ValueList& v = r.value.AsList();
  CHECK(v[0] == I(1));  // limited
  CHECK(v[2] == I(0));
  CHECK(v[3].AsInt() > 0);
  CHECK(v[3].AsInt() <= 12);  // one emission interval: 60 s / 5
  // Another key has its own bucket; a quantity counts several requests.
  r = c.Call("THROTTLE", {S("user:2"), I(4), I(5), I(60), I(5)});
  REQUIRE(r.ok());
  CHECK(r.value.AsList()[0] == I(0));
  CHECK(r.value.AsList()[2] == I(0));
  CHECK(c.Call("THROTTLE", {S("k"), I(-1), I(5), I(60)}).code == Code::kInvalidArgument);
  CHECK(c.Call("THROTTLE", {S("k"), I(1)}).code == Code::kInvalidArgument);
  CHECK(c.Call("THROTTLE", {S("k"), S("x"), I(5), I(60)}).code == Code::kInvalidArgument);
  Client(Opts(server)).Call("SET", {S("text"), S("not a tat")});
  CHECK(c.Call("THROTTLE", {S("text"), I(1), I(1), I(1)}).code == Code::kWrongType);
}

TEST_CASE("THROTTLE with huge arguments: limited or refused, never overflowed",
          "[integration][plugin]") {
  ServerProcess server({"--plugin", Plugin("plugins/examples/throttle.so")});
  Client c(Opts(server));
  const int64_t max = std::numeric_limits<int64_t>::max();
  // A quantity over the burst can never pass: limited, retry_after -1, the bucket untouched.
  Reply r = c.Call("THROTTLE", {S("t2"), I(4), I(10), I(60), I(max)});
  REQUIRE(r.ok());
  CHECK(r.value == Value::List({I(1), I(5), I(5), I(-1), I(0)}));
  CHECK(Ok(c, "EXISTS", {S("t2")}) == I(0));
  // The same through RESP, where the numbers arrive as text.
  RespConnection resp(server.port());
  CHECK(resp.Call({"THROTTLE", "t2", "4", "10", "60", "9223372036854775807"}) ==
        "*5\r\n:1\r\n:5\r\n:5\r\n:-1\r\n:0\r\n");
  CHECK(resp.Call({"THROTTLE", "t2", "4", "10", "60", "9223372036854775808"}) ==
        "-ERR value is not an integer or out of range\r\n");
  // Windows no bucket can hold are refused.
  for (ValueList args :
       {ValueList{S("k"), I(max), I(1), I(1)}, ValueList{S("k"), I(0), I(1), I(max)},
        ValueList{S("k"), I(max), I(max), I(max)}}) {
    r = c.Call("THROTTLE", std::move(args));
    CHECK(r.code == Code::kInvalidArgument);
    CHECK_THAT(r.error, Catch::Matchers::Contains("2^40 ms"));
  }
  r = c.Call("THROTTLE", {S("k"), I(1), I(2000000), I(1)});
  CHECK(r.code == Code::kInvalidArgument);
  CHECK_THAT(r.error, Catch::Matchers::Contains("one per microsecond"));
  CHECK(Ok(c, "DBSIZE") == I(0));
}

// Starting the server must fail, with the reason in its log.
std::string StartupError(const std::vector<std::string>& flags) {
  try {
    ServerProcess server(flags);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  FAIL("the server started");
  return "";
}

TEST_CASE("a plugin built for API version 1 is refused, never run with its old flags",
          "[integration][plugin]") {
  using Catch::Matchers::Contains;
  // Version 1 had kCmdStoredReply at bit 10, which is kCmdNoLoad now.
  const std::string error = StartupError({"--plugin", Plugin("tests/plugins/old_api.so")});
  CHECK_THAT(error, Contains("--plugin ") && Contains("old_api.so: ABI mismatch") &&
                        Contains("plugin built for API version 1") &&
                        Contains("server has version 5"));
  // With a good plugin before it, the server still stops: nothing half-loaded runs.
  CHECK_THAT(StartupError({"--plugin", Plugin("plugins/examples/throttle.so"), "--plugin",
                           Plugin("tests/plugins/old_api.so")}),
             Contains("ABI mismatch"));
}

TEST_CASE("plugins that cannot load stop the server at start-up", "[integration][plugin]") {
  using Catch::Matchers::Contains;
  CHECK_THAT(StartupError({"--plugin", "/nonexistent/lib.so"}),
             Contains("--plugin /nonexistent/lib.so"));
  CHECK_THAT(StartupError({"--plugin", Plugin("tests/plugins/no_entry.so")}),
             Contains("missing entry point"));
  // Same API version, other headers: refused.
  // The whole message (a fixed buffer once cut its end off: -Wformat-truncation).
  CHECK_THAT(StartupError({"--plugin", Plugin("tests/plugins/bad_abi.so")}),
             Contains("ABI mismatch") && Contains("built for API version 5") &&
                 Contains("); rebuild the plugin against this server's headers"));
  CHECK_THAT(StartupError({"--plugin", Plugin("tests/plugins/clash.so")}),
             Contains("GET is already registered"));
  // Plugin commands are called by name: the binary protocol's opcodes are the built-ins'.
  CHECK_THAT(StartupError({"--plugin", Plugin("tests/plugins/opcode.so")}),
             Contains("MYGET: opcode 240 is reserved for built-in commands"));
  // The same plugin twice clashes with itself.
  const std::string throttle = Plugin("plugins/examples/throttle.so");
  CHECK_THAT(StartupError({"--plugin", throttle, "--plugin", throttle}),
             Contains("THROTTLE is already registered"));
}

}  // namespace
}  // namespace dbkv::testing
