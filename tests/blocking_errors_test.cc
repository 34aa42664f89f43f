// The wait, lock and blocking-pop families through the real server: wrong argument counts,
// wrong types and limits (on the binary protocol and on RESP), and namespace isolation of locks
// and blocking pops.
#include <catch2/catch.hpp>
#include <cctype>
#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"
#include "tests/server_process.h"
#include "tests/test_util.h"

namespace dbkv::testing {
namespace {

using client::Client;
using Clock = std::chrono::steady_clock;

constexpr double kTimeoutS = 30;

// Waits (bounded) until the server reports n blocked commands.
void AwaitBlocked(Client& c, int64_t n) {
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (InfoInt(c, "blocked") != n) {
    REQUIRE(Clock::now() < deadline);
    std::this_thread::yield();
  }
}

// Runs a blocking call on its own client in namespace ns, in the background.
std::future<Reply> Background(const ServerProcess& server, const std::string& ns,
                              const std::string& cmd, ValueList args) {
  return std::async(std::launch::async, [&server, ns, cmd, args]() mutable {
    Client c(Opts(server, kTimeoutS, ns));
    return c.Call(cmd, std::move(args));
  });
}

std::string Lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

// Argument lists of the wrong length, per command (the connection refuses them before any
// handler runs).
struct BadArity {
  const char* cmd;
  std::vector<std::vector<std::string>> args;
};
const BadArity kBadArities[] = {
    {"WAIT", {{}, {"k"}, {"k", "1", "x"}}},
    {"MWAIT", {{}, {"1"}}},
    {"WAITANY", {{}, {"1"}}},
    // key, version pairs after the timeout: a key without its version is a wrong count.
    {"WAITANYV", {{}, {"1"}, {"1", "k"}, {"1", "k", "0", "k2"}}},
    {"LOCK", {{}, {"l"}, {"l", "t"}, {"l", "t", "10", "1", "x"}}},
    {"UNLOCK", {{}, {"l"}, {"l", "t", "x"}}},
    {"LOCKEXTEND", {{}, {"l"}, {"l", "t"}, {"l", "t", "10", "x"}}},
    {"BLPOP", {{}, {"q"}}},
    {"BRPOP", {{}, {"q"}}},
    {"MGETV", {{}}},
};

TEST_CASE("wait, lock and blocking pop commands check their argument counts",
          "[integration][blocking]") {
  ServerProcess server;
  Client c(Opts(server, kTimeoutS));
  Ok(c, "RPUSH", {S("q"), S("kept")});
  Ok(c, "SET", {S("k"), S("v")});
  for (const BadArity& bad : kBadArities) {
    for (const std::vector<std::string>& words : bad.args) {
      ValueList args;
      for (const std::string& w : words) args.push_back(S(w));
      INFO(bad.cmd << " with " << words.size() << " arguments");
      Reply r = c.Call(bad.cmd, std::move(args));
      CHECK(r.code == Code::kInvalidArgument);
      CHECK(r.error == "wrong number of arguments for '" + Lower(bad.cmd) + "' command");
    }
  }
  // Nothing blocked, nothing changed, and the connection goes on.
  CHECK(InfoInt(c, "blocked") == 0);
  CHECK(Ok(c, "LLEN", {S("q")}) == I(1));
  CHECK(Ok(c, "GET", {S("k")}) == S("v"));
  CHECK(Ok(c, "EXISTS", {S("l")}) == I(0));
}

TEST_CASE("the same argument counts are refused on RESP", "[integration][blocking][resp]") {
  ServerProcess server;
  RespConnection resp(server.port());
  for (const BadArity& bad : kBadArities) {
    for (const std::vector<std::string>& words : bad.args) {
      std::vector<std::string_view> cmd = {bad.cmd};
      for (const std::string& w : words) cmd.push_back(w);
      INFO(bad.cmd << " with " << words.size() << " arguments");
      CHECK(resp.Call(cmd) ==
            "-ERR wrong number of arguments for '" + Lower(bad.cmd) + "' command\r\n");
    }
  }
  CHECK(resp.Call({"PING"}) == "+PONG\r\n");
}

TEST_CASE("blocking pops and lock commands on the wrong type are WRONGTYPE",
          "[integration][blocking]") {
  ServerProcess server;
  Client c(Opts(server, kTimeoutS));
  Ok(c, "SET", {S("s"), S("text")});
  Ok(c, "RPUSH", {S("{t}list"), S("a"), S("b")});
  // BRPOP as BLPOP: a string among the keys is an error, before any list is popped.
  CHECK(c.Call("BRPOP", {S("s"), I(1)}).code == Code::kWrongType);
  CHECK(c.Call("BLPOP", {S("s"), I(0)}).code == Code::kWrongType);
  Ok(c, "SET", {S("{t}s"), S("text")});
  CHECK(c.Call("BRPOP", {S("{t}s"), S("{t}list"), I(1)}).code == Code::kWrongType);
  CHECK(Ok(c, "LLEN", {S("{t}list")}) == I(2));
  // A list key is not a lock.
  CHECK(c.Call("LOCK", {S("{t}list"), S("a"), I(1000)}).code == Code::kWrongType);
  CHECK(c.Call("UNLOCK", {S("{t}list"), S("a")}).code == Code::kWrongType);
  CHECK(c.Call("LOCKEXTEND", {S("{t}list"), S("a"), I(1000)}).code == Code::kWrongType);
  CHECK(Ok(c, "LRANGE", {S("{t}list"), I(0), I(-1)}) == Value::List({S("a"), S("b")}));
  CHECK(Ok(c, "PTTL", {S("{t}list")}) == I(-1));  // LOCKEXTEND set no lease
  // Nor is an integer.
  Ok(c, "SET", {S("n"), I(5)});
  CHECK(c.Call("UNLOCK", {S("n"), S("5")}).code == Code::kWrongType);
  CHECK(c.Call("LOCKEXTEND", {S("n"), S("5"), I(10)}).code == Code::kWrongType);
  CHECK(Ok(c, "GET", {S("n")}) == I(5));
  CHECK(InfoInt(c, "blocked") == 0);
}

TEST_CASE("LOCK leases and timeouts have limits", "[integration][lock]") {
  ServerProcess server;
  Client c(Opts(server, kTimeoutS));
  const std::string bad_ttl = "lock ttl must be a positive number of ms";
  const std::string bad_timeout = "timeout is not a number of seconds >= 0";
  auto err = [&](const char* cmd, ValueList args) {
    Reply r = c.Call(cmd, std::move(args));
    CHECK(r.code == Code::kInvalidArgument);
    return r.error;
  };
  // Leases: 1 ms to 2^40 ms.
  CHECK(err("LOCK", {S("l"), S("t"), I((int64_t{1} << 40) + 1)}) == bad_ttl);
  CHECK(err("LOCK", {S("l"), S("t"), S("9223372036854775807")}) == bad_ttl);
  CHECK(err("LOCK", {S("l"), S("t"), S("99999999999999999999")}) == bad_ttl);
  CHECK(err("LOCK", {S("l"), S("t"), I(-1)}) == bad_ttl);
  CHECK(err("LOCK", {S("l"), S("t"), S("1.5")}) == bad_ttl);
  CHECK(err("LOCKEXTEND", {S("l"), S("t"), I((int64_t{1} << 40) + 1)}) == bad_ttl);
  // Timeouts: seconds >= 0, at most ten years.
  CHECK(err("LOCK", {S("l"), S("t"), I(1000), I(-1)}) == bad_timeout);
  CHECK(err("LOCK", {S("l"), S("t"), I(1000), S("-0.5")}) == bad_timeout);
  CHECK(err("LOCK", {S("l"), S("t"), I(1000), S("abc")}) == bad_timeout);
  CHECK(err("LOCK", {S("l"), S("t"), I(1000), I(315360001)}) == bad_timeout);
  CHECK(err("WAIT", {S("k"), I(315360001)}) == bad_timeout);
  CHECK(err("BLPOP", {S("q"), S("1e30")}) == bad_timeout);
  CHECK(err("MWAIT", {S("nan"), S("k")}) == bad_timeout);
  CHECK(Ok(c, "EXISTS", {S("l")}) == I(0));  // no failed LOCK took it
  // The limits themselves are accepted.
  CHECK(Ok(c, "LOCK", {S("l"), S("t"), I(int64_t{1} << 40), I(315360000)}) == I(1));
  CHECK(Ok(c, "PTTL", {S("l")}).AsInt() > (int64_t{1} << 40) - 60000);
  CHECK(Ok(c, "LOCKEXTEND", {S("l"), S("t"), I(1)}) == I(1));
  // On RESP the same texts.
  RespConnection resp(server.port());
  CHECK(resp.Call({"LOCK", "r", "t", "1099511627777"}) == "-ERR " + bad_ttl + "\r\n");
  CHECK(resp.Call({"LOCK", "r", "t", "100", "-1"}) == "-ERR " + bad_timeout + "\r\n");
  CHECK(resp.Call({"LOCK", "r", "", "100"}) == "-ERR lock token must be a non-empty string\r\n");
}

TEST_CASE("locks are per namespace", "[integration][lock]") {
  ServerProcess server;
  Client a(Opts(server, kTimeoutS, "a"));
  Client b(Opts(server, kTimeoutS, "b"));
  Client d(Opts(server, kTimeoutS));  // the default namespace
  CHECK(Ok(a, "LOCK", {S("L"), S("tokA"), I(60000)}) == I(1));
  // The same name elsewhere is another lock.
  CHECK(Ok(b, "LOCK", {S("L"), S("tokB"), I(60000)}) == I(1));
  Reply r = b.Call("UNLOCK", {S("L"), S("tokA")});
  CHECK(r.code == Code::kNotOwner);
  CHECK(r.error == "lock is held by another owner");
  CHECK(b.Call("LOCKEXTEND", {S("L"), S("tokA"), I(10)}).code == Code::kNotOwner);
  CHECK(d.Call("UNLOCK", {S("L"), S("tokA")}).code == Code::kNotOwner);
  CHECK(Ok(d, "EXISTS", {S("L")}) == I(0));
  // a's lock is still held by a's owner.
  CHECK(Ok(a, "GET", {S("L")}) == S("tokA"));
  CHECK(Ok(a, "LOCK", {S("L"), S("intruder"), I(1000)}) == I(0));

  // A waiter in b is not woken by a release in a.
  auto waiter = Background(server, "b", "LOCK", {S("L"), S("waiter"), I(60000), S("0.5")});
  AwaitBlocked(d, 1);
  CHECK(Ok(a, "UNLOCK", {S("L"), S("tokA")}) == I(1));
  Reply got = waiter.get();
  REQUIRE(got.ok());
  CHECK(got.value == I(0));  // timed out: b's lock is still b's
  CHECK(Ok(b, "GET", {S("L")}) == S("tokB"));
  // A release in b hands b's lock over.
  auto next = Background(server, "b", "LOCK", {S("L"), S("next"), I(60000), I(30)});
  AwaitBlocked(d, 1);
  CHECK(Ok(b, "UNLOCK", {S("L"), S("tokB")}) == I(1));
  got = next.get();
  REQUIRE(got.ok());
  CHECK(got.value == I(1));
  CHECK(Ok(b, "GET", {S("L")}) == S("next"));
  CHECK(Ok(a, "EXISTS", {S("L")}) == I(0));
}

TEST_CASE("BLPOP in one namespace is not woken by a push in another", "[integration][list]") {
  ServerProcess server({"--shards", "2"});
  Client a(Opts(server, kTimeoutS, "a"));
  Client b(Opts(server, kTimeoutS, "b"));
  Client d(Opts(server, kTimeoutS));
  auto waiting = Background(server, "a", "BLPOP", {S("q"), S("0.5")});
  AwaitBlocked(d, 1);
  CHECK(Ok(b, "RPUSH", {S("q"), S("for b")}) == I(1));
  CHECK(Ok(d, "RPUSH", {S("q"), S("for default")}) == I(1));
  Reply r = waiting.get();
  REQUIRE(r.ok());
  CHECK(r.value.is_null());  // timed out
  // The other namespaces' lists are intact.
  CHECK(Ok(b, "LRANGE", {S("q"), I(0), I(-1)}) == Value::List({S("for b")}));
  CHECK(Ok(d, "LRANGE", {S("q"), I(0), I(-1)}) == Value::List({S("for default")}));
  CHECK(Ok(a, "EXISTS", {S("q")}) == I(0));
  // A push in its own namespace does wake it; BRPOP in b takes b's element.
  auto woken = Background(server, "a", "BRPOP", {S("q"), I(30)});
  AwaitBlocked(d, 1);
  CHECK(Ok(a, "RPUSH", {S("q"), S("for a")}) == I(1));
  r = woken.get();
  REQUIRE(r.ok());
  CHECK(r.value == Value::List({S("q"), S("for a")}));
  CHECK(Ok(b, "BRPOP", {S("q"), I(1)}) == Value::List({S("q"), S("for b")}));
  CHECK(Ok(d, "LLEN", {S("q")}) == I(1));
}

}  // namespace
}  // namespace dbkv::testing
