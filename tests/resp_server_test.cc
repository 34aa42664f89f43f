// RESP through the real server, over raw sockets: detection on the shared port, replies byte for
// byte, typed values written by the binary protocol read through RESP (and back), pipelining,
// RESP3, AUTH, namespaces, SCAN, blocking pops, limits and malformed input. After every bad
// input case another client must still be served.
#include <sys/socket.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"
#include "core/decimal.h"
#include "protocol/opcodes.h"
#include "protocol/resp.h"
#include "tests/server_process.h"
#include "tests/test_util.h"

namespace dbkv::testing {
namespace {

using Catch::Matchers::StartsWith;
using client::Client;

std::string Bulk(std::string_view s) {
  return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n";
}

// Another RESP client and a binary client are served.
void RequireServed(const ServerProcess& server) {
  RespConnection resp(server.port());
  CHECK(resp.Call({"PING"}) == "+PONG\r\n");
  Client c(Opts(server, 10));
  CHECK(Ok(c, "PING") == S("PONG"));
}

TEST_CASE("RESP and binary clients share the port", "[integration][resp]") {
  ServerProcess server({"--shards", "3"});
  RespConnection inline_conn(server.port());
  // An inline command, as telnet sends it.
  inline_conn.Send("GET foo\r\n");
  CHECK(inline_conn.ReadRaw() == "$-1\r\n");
  inline_conn.Send("SET foo \"hello world\"\r\n");
  CHECK(inline_conn.ReadRaw() == "+OK\r\n");

  RespConnection resp(server.port());
  CHECK(resp.Call({"GET", "foo"}) == Bulk("hello world"));
  CHECK(resp.Call({"ping"}) == "+PONG\r\n");
  CHECK(resp.Call({"PING", "hi"}) == Bulk("hi"));
  CHECK(resp.Call({"ECHO", "x y"}) == Bulk("x y"));
  CHECK(resp.Call({"NOSUCH", "a"}) == "-ERR unknown command 'NOSUCH'\r\n");
  CHECK(resp.Call({"GET"}) == "-ERR wrong number of arguments for 'get' command\r\n");

  // The binary client sees what RESP wrote: bytes.
  Client c(Opts(server, 10));
  CHECK(Ok(c, "GET", {S("foo")}) == Value::Bytes("hello world"));
}

TEST_CASE("with --max-frame-bytes over 704 MiB, the fifth byte tells '*' requests from frames",
          "[integration][resp]") {
  ServerProcess server({"--max-frame-bytes", "1GiB"});
  RespConnection resp(server.port());
  // '*' could begin a frame of 704 MiB or more: the server waits for the fifth byte.
  resp.Send("*1\r\n");
  resp.Send("$4\r\nPING\r\n");
  CHECK(resp.ReadRaw() == "+PONG\r\n");
  // 'P' (0x50) could only begin a frame of 1.25 GiB: RESP at once.
  RespConnection inline_conn(server.port());
  CHECK(inline_conn.Call({"PING"}) == "+PONG\r\n");
  Client c(Opts(server, 10));
  CHECK(Ok(c, "PING") == S("PONG"));
}

TEST_CASE("RESP commands with Redis's replies", "[integration][resp]") {
  ServerProcess server({"--shards", "4"});
  RespConnection r(server.port());
  CHECK(r.Call({"SET", "k", "v", "EX", "100"}) == "+OK\r\n");
  CHECK(r.Call({"TTL", "k"}) == ":100\r\n");
  CHECK(r.Call({"SET", "k", "w", "NX"}) == "$-1\r\n");
  CHECK(r.Call({"SET", "k", "w", "XX", "GET", "KEEPTTL"}) == Bulk("v"));
  CHECK(r.Call({"PERSIST", "k"}) == ":1\r\n");
  CHECK(r.Call({"PTTL", "k"}) == ":-1\r\n");
  CHECK(r.Call({"PEXPIRE", "k", "100000"}) == ":1\r\n");
  CHECK(r.Call({"EXPIRE", "k", "0"}) == ":1\r\n");
  CHECK(r.Call({"EXISTS", "k"}) == ":0\r\n");
  CHECK(r.Call({"SET", "k", "v", "EX", "0"}) == "-ERR invalid expire time in 'set' command\r\n");
  CHECK(r.Call({"SETNX", "n", "10"}) == ":1\r\n");
  CHECK(r.Call({"SETNX", "n", "11"}) == ":0\r\n");
  CHECK(r.Call({"INCR", "n"}) == ":11\r\n");
  CHECK(r.Call({"INCRBY", "n", "5"}) == ":16\r\n");
  CHECK(r.Call({"DECRBY", "n", "20"}) == ":-4\r\n");
  CHECK(r.Call({"DECR", "n"}) == ":-5\r\n");
  CHECK(r.Call({"GET", "n"}) == Bulk("-5"));  // a stored int reads as Redis shows it
  CHECK(r.Call({"INCRBY", "n", "x"}) == "-ERR value is not an integer or out of range\r\n");
  CHECK(r.Call({"INCRBYFLOAT", "f", "10.5"}) == Bulk("10.5"));
  CHECK(r.Call({"INCRBYFLOAT", "f", "0.1"}) == Bulk("10.6"));
  CHECK(r.Call({"SETEX", "e", "100", "v"}) == "+OK\r\n");
  CHECK(r.Call({"GETDEL", "e"}) == Bulk("v"));
  CHECK(r.Call({"GETDEL", "e"}) == "$-1\r\n");
  CHECK(r.Call({"MSET", "a", "1", "b", "2", "c", "3"}) == "+OK\r\n");
  CHECK(r.Call({"MGET", "a", "b", "nope", "c"}) ==
        "*4\r\n" + Bulk("1") + Bulk("2") + "$-1\r\n" + Bulk("3"));
  CHECK(r.Call({"MSET", "a"}) == "-ERR wrong number of arguments for 'mset' command\r\n");
  CHECK(r.Call({"DEL", "a", "b", "nope"}) == ":2\r\n");
  CHECK(r.Call({"UNLINK", "c"}) == ":1\r\n");
  CHECK(r.Call({"RPUSH", "l", "a", "b"}) == ":2\r\n");
  CHECK(r.Call({"LPUSH", "l", "z"}) == ":3\r\n");
  CHECK(r.Call({"LRANGE", "l", "0", "-1"}) == "*3\r\n" + Bulk("z") + Bulk("a") + Bulk("b"));
  CHECK(r.Call({"LLEN", "l"}) == ":3\r\n");
  CHECK(r.Call({"LPOP", "l"}) == Bulk("z"));
  CHECK(r.Call({"RPOP", "l", "5"}) == "*2\r\n" + Bulk("b") + Bulk("a"));
  CHECK(r.Call({"LPOP", "l"}) == "$-1\r\n");
  CHECK(r.Call({"TYPE", "n"}) == "+string\r\n");
  CHECK(r.Call({"RPUSH", "l2", "x"}) == ":1\r\n");
  CHECK(r.Call({"TYPE", "l2"}) == "+list\r\n");
  CHECK(r.Call({"TYPE", "nope"}) == "+none\r\n");
  CHECK(r.Call({"GET", "l2"}) == "*1\r\n" + Bulk("x"));
  CHECK(r.Call({"LPUSH", "n", "x"}) ==
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
  CHECK(r.Call({"DBSIZE"}) == ":3\r\n");  // n, f, l2
  CHECK(r.Call({"KEYS", "l*"}) == "*1\r\n" + Bulk("l2"));
  CHECK(r.Call({"CLIENT", "SETNAME", "tester"}) == "+OK\r\n");
  CHECK(r.Call({"CLIENT", "GETNAME"}) == Bulk("tester"));
  CHECK(r.Call({"CONFIG", "GET", "appendonly"}) == "*2\r\n" + Bulk("appendonly") + Bulk("no"));
  CHECK_THAT(r.Call({"INFO", "server"}), StartsWith("$"));
  CHECK_THAT(r.Call({"COMMAND", "COUNT"}), StartsWith(":"));
  CHECK(r.Call({"FLUSHDB"}) == "+OK\r\n");
  CHECK(r.Call({"DBSIZE"}) == ":0\r\n");
  CHECK(r.Call({"QUIT"}) == "+OK\r\n");
  r.ExpectClosed();
}

TEST_CASE("typed values read through RESP in Redis's representation, and back",
          "[integration][resp]") {
  ServerProcess server({"--shards", "2"});
  Client c(Opts(server, 10));
  const std::pair<const char*, Value> typed[] = {
      {"int", I(10)},
      {"neg", I(-7)},
      {"dec", D("1.10")},
      {"sci", D("1E+3")},
      {"dbl", Value::Double(0.1)},
      {"true", B(true)},
      {"null", Value::Null()},
      {"str", S("text")},
      {"bytes", Value::Bytes(std::string("\0\xff", 2))},
      {"list", L({I(1), S("a"), D("2.50")})},
      {"map", Value::Map({{S("k"), I(1)}})},
  };
  for (const auto& [key, value] : typed) Ok(c, "SET", {S(key), value});
  RespConnection r(server.port());
  CHECK(r.Call({"GET", "int"}) == Bulk("10"));
  CHECK(r.Call({"GET", "neg"}) == Bulk("-7"));
  CHECK(r.Call({"GET", "dec"}) == Bulk("1.10"));
  CHECK(r.Call({"GET", "sci"}) == Bulk("1E+3"));
  CHECK(r.Call({"GET", "dbl"}) == Bulk("0.1"));
  CHECK(r.Call({"GET", "true"}) == Bulk("1"));
  CHECK(r.Call({"GET", "null"}) == "$-1\r\n");
  CHECK(r.Call({"EXISTS", "null"}) == ":1\r\n");
  CHECK(r.Call({"GET", "str"}) == Bulk("text"));
  CHECK(r.Call({"GET", "bytes"}) == Bulk(std::string("\0\xff", 2)));
  CHECK(r.Call({"GET", "list"}) == "*3\r\n" + Bulk("1") + Bulk("a") + Bulk("2.50"));
  CHECK(r.Call({"LRANGE", "list", "0", "-1"}) == "*3\r\n" + Bulk("1") + Bulk("a") + Bulk("2.50"));
  CHECK(r.Call({"GET", "map"}) == "*2\r\n" + Bulk("k") + Bulk("1"));
  CHECK(r.Call({"MGET", "int", "dec"}) == "*2\r\n" + Bulk("10") + Bulk("1.10"));
  CHECK(r.Call({"TYPE", "map"}) == "+hash\r\n");
  // Arithmetic keeps working on typed values; replies are RESP integers (or the decimal's text).
  CHECK(r.Call({"INCR", "int"}) == ":11\r\n");
  CHECK(r.Call({"INCRBY", "dec", "2"}) == Bulk("3.10"));
  CHECK(Ok(c, "GET", {S("dec")}) == D("3.10"));
  // RESP writes bytes; INCR on them makes an int, which both protocols read.
  CHECK(r.Call({"SET", "counter", "41"}) == "+OK\r\n");
  CHECK(Ok(c, "GET", {S("counter")}) == Value::Bytes("41"));
  CHECK(r.Call({"INCR", "counter"}) == ":42\r\n");
  CHECK(Ok(c, "GET", {S("counter")}) == I(42));
  // RESP3: the same stored data, still strings; replies that are not data get RESP3 types.
  CHECK_THAT(r.Call({"HELLO", "3"}), StartsWith("%8\r\n"));
  CHECK(r.Call({"GET", "int"}) == Bulk("11"));
  CHECK(r.Call({"GET", "null"}) == "_\r\n");
  CHECK(r.Call({"GET", "nope"}) == "_\r\n");
  CHECK(r.Call({"GET", "map"}) == "%1\r\n" + Bulk("k") + Bulk("1"));
  CHECK(r.Call({"MEXISTS", "int", "nope"}) == "*2\r\n#t\r\n#f\r\n");
  CHECK(r.Call({"CONFIG", "GET", "save"}) == "%1\r\n" + Bulk("save") + Bulk(""));
  CHECK_THAT(r.Call({"HELLO", "2"}), StartsWith("*16\r\n"));
  CHECK(r.Call({"MEXISTS", "int", "nope"}) == "*2\r\n:1\r\n:0\r\n");
}

TEST_CASE("pipelined RESP requests are answered in order, across shards", "[integration][resp]") {
  ServerProcess server({"--shards", "4"});
  RespConnection r(server.port());
  std::string batch, expected;
  for (int i = 0; i < 2000; ++i) {
    const std::string k = "key:" + std::to_string(i);
    const std::string v = std::to_string(i);
    protocol::AppendRespCommand(&batch, {"SET", k, v});
    expected += "+OK\r\n";
    protocol::AppendRespCommand(&batch, {"INCR", k});
    expected += ":" + std::to_string(i + 1) + "\r\n";
    protocol::AppendRespCommand(&batch, {"GET", k});
    expected += Bulk(std::to_string(i + 1));
    if (i % 100 == 99) {
      protocol::AppendRespCommand(&batch, {"MGET", "key:0", k, "missing"});
      expected += "*3\r\n" + Bulk("1") + Bulk(std::to_string(i + 1)) + "$-1\r\n";
    }
  }
  protocol::AppendRespCommand(&batch, {"DBSIZE"});
  expected += ":2000\r\n";
  r.Send(batch);
  std::string got;
  while (got.size() < expected.size()) got += r.ReadRaw();
  CHECK(got == expected);

  // The same pipeline, one byte per write: a slow client gets the same answers.
  RespConnection slow(server.port());
  std::string small;
  protocol::AppendRespCommand(&small, {"SET", "slow", "1"});
  small += "INCR slow\r\n";
  protocol::AppendRespCommand(&small, {"GET", "slow"});
  for (char ch : small) slow.Send(std::string_view(&ch, 1));
  CHECK(slow.ReadRaw() == "+OK\r\n");
  CHECK(slow.ReadRaw() == ":2\r\n");
  CHECK(slow.ReadRaw() == Bulk("2"));
}

TEST_CASE("SELECT maps databases to namespaces", "[integration][resp]") {
  ServerProcess server;
  RespConnection r(server.port());
  CHECK(r.Call({"SET", "k", "db0"}) == "+OK\r\n");
  CHECK(r.Call({"SELECT", "3"}) == "+OK\r\n");
  CHECK(r.Call({"GET", "k"}) == "$-1\r\n");
  CHECK(r.Call({"SET", "k", "db3"}) == "+OK\r\n");
  CHECK(r.Call({"DBSIZE"}) == ":1\r\n");
  // Database 3 is the namespace "3" of the binary protocol.
  Client three(Opts(server, 10, "3"));
  CHECK(Ok(three, "GET", {S("k")}) == Value::Bytes("db3"));
  CHECK(r.Call({"SELECT", "0"}) == "+OK\r\n");
  CHECK(r.Call({"GET", "k"}) == Bulk("db0"));
  CHECK(r.Call({"SELECT", "-1"}) == "-ERR DB index is out of range\r\n");
}

TEST_CASE("SCAN walks every key of a namespace across shards", "[integration][resp]") {
  ServerProcess server({"--shards", "4"});
  RespConnection r(server.port());
  std::string batch;
  std::set<std::string> all;
  // 30000 keys on 4 shards: several segments (at most 3584 keys each) per shard.
  for (int i = 0; i < 30000; ++i) {
    const std::string k = "s:" + std::to_string(i);
    protocol::AppendRespCommand(&batch, {"SET", k, "v"});
    all.insert(k);
  }
  r.Send(batch);
  for (int i = 0; i < 30000; ++i) REQUIRE(r.ReadRaw() == "+OK\r\n");
  std::multiset<std::string> seen;
  std::string cursor = "0";
  int calls = 0;
  do {
    r.Command({"SCAN", cursor, "COUNT", "500"});
    Reply reply = r.Read();
    REQUIRE(reply.ok());
    const ValueList& pair = reply.value.AsList();
    REQUIRE(pair.size() == 2);
    cursor = std::string(pair[0].AsStringView());
    for (const Value& k : pair[1].AsList()) seen.insert(std::string(k.AsStringView()));
    REQUIRE(++calls < 1000);
  } while (cursor != "0");
  CHECK(std::set<std::string>(seen.begin(), seen.end()) == all);
  CHECK(seen.size() == all.size());
  CHECK(calls > 8);
  r.Command({"SCAN", "0", "MATCH", "s:999?", "COUNT", "1000000"});
  Reply some = r.Read();
  REQUIRE(some.ok());
  CHECK(some.value.AsList()[1].AsList().size() <= 10);
  CHECK(r.Call({"SCAN", "x"}) == "-ERR invalid cursor\r\n");
}

TEST_CASE("BLPOP over RESP waits for a push", "[integration][resp]") {
  ServerProcess server;
  RespConnection waiter(server.port());
  waiter.Command({"BLPOP", "jobs", "0"});
  Client c(Opts(server, 10));
  // Parked on the shard before the push (INFO counts it; bounded wait).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (InfoInt(c, "blocked") != 1) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::yield();
  }
  RespConnection pusher(server.port());
  CHECK(pusher.Call({"RPUSH", "jobs", "j1"}) == ":1\r\n");
  CHECK(waiter.ReadRaw() == "*2\r\n" + Bulk("jobs") + Bulk("j1"));
  CHECK(waiter.Call({"BLPOP", "jobs", "0.05"}) == "*-1\r\n");  // a missing array, as Redis

  // A client that leaves while blocked: its BLPOP is dropped and never takes an element.
  auto await_blocked = [&](int64_t n) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (InfoInt(c, "blocked") != n) {
      REQUIRE(std::chrono::steady_clock::now() < until);
      std::this_thread::yield();
    }
  };
  {
    RespConnection gone(server.port());
    gone.Command({"BLPOP", "left", "0"});
    await_blocked(1);
  }
  await_blocked(0);
  CHECK(pusher.Call({"RPUSH", "left", "x"}) == ":1\r\n");
  CHECK(pusher.Call({"LLEN", "left"}) == ":1\r\n");
}

TEST_CASE("AUTH on RESP: NOAUTH, WRONGPASS, then served", "[integration][resp]") {
  const std::string dir = MakeTempDir("resp-auth");
  std::ofstream(dir + "/password") << "s3cret\n";
  ServerProcess server({"--password-file", dir + "/password"});
  RespConnection r(server.port());
  CHECK(r.Call({"PING"}) == "+PONG\r\n");
  CHECK(r.Call({"GET", "k"}) == "-NOAUTH Authentication required.\r\n");
  CHECK(r.Call({"HELLO", "3"}) == "-NOAUTH Authentication required.\r\n");
  CHECK(r.Call({"AUTH", "wrong"}) ==
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
  CHECK(r.Call({"AUTH", "default", "s3cret"}) == "+OK\r\n");
  CHECK(r.Call({"SET", "k", std::string(20000, 'x')}) == "+OK\r\n");
  CHECK_THAT(r.Call({"HELLO", "3", "AUTH", "default", "s3cret"}), StartsWith("%8\r\n"));

  // An AUTH followed by a large request in the same write: the request is parsed after AUTH.
  RespConnection pipelined(server.port());
  std::string batch;
  protocol::AppendRespCommand(&batch, {"AUTH", "s3cret"});
  protocol::AppendRespCommand(&batch, {"SET", "big", std::string(100000, 'y')});
  protocol::AppendRespCommand(&batch, {"STRLEN", "big"});
  pipelined.Send(batch);
  CHECK(pipelined.ReadRaw() == "+OK\r\n");
  CHECK(pipelined.ReadRaw() == "+OK\r\n");
  CHECK(pipelined.ReadRaw() == ":100000\r\n");

  // Before AUTH, Redis's stricter limits: more than 10 arguments is refused, and closed.
  RespConnection bold(server.port());
  bold.Send("*11\r\n");
  CHECK(bold.ReadRaw() == "-ERR Protocol error: unauthenticated multibulk length\r\n");
  bold.ExpectClosed();
}

TEST_CASE("RESP requests over --max-frame-bytes get an error, then a close",
          "[integration][resp]") {
  ServerProcess server({"--max-frame-bytes", "1KiB"});
  RespConnection r(server.port());
  std::string batch;
  protocol::AppendRespCommand(&batch, {"SET", "a", "1"});
  batch += "*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$2000\r\n";  // refused at its header
  r.Send(batch);
  CHECK(r.ReadRaw() == "+OK\r\n");  // what came before is answered first
  CHECK_THAT(r.ReadRaw(), StartsWith("-ERR Protocol error: invalid bulk length"));
  r.ExpectClosed();

  RespConnection many(server.port());
  many.Send("*1000\r\n");
  CHECK_THAT(many.ReadRaw(), StartsWith("-ERR Protocol error: invalid multibulk length"));
  many.ExpectClosed();

  RespConnection line(server.port());
  line.Send("GET " + std::string(2000, 'k'));
  CHECK(line.ReadRaw() == "-ERR Protocol error: too big inline request\r\n");
  line.ExpectClosed();
  RequireServed(server);
}

TEST_CASE("malformed RESP gets -ERR Protocol error and a close, never a crash",
          "[integration][resp]") {
  ServerProcess server({"--shards", "2"});
  const std::pair<std::string, std::string> cases[] = {
      {"*1\r\n:1\r\n", "-ERR Protocol error: expected '$', got ':'\r\n"},
      {"*x\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
      {"*1\r\n$-3\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
      {"*1\r\n$2\r\nabcd", "-ERR Protocol error: bulk string not followed by CRLF\r\n"},
      {"SET k \"unbalanced\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n"},
  };
  for (const auto& [input, reply] : cases) {
    INFO(input);
    RespConnection r(server.port());
    r.Command({"SET", "before", "1"});
    r.Send(input);
    CHECK(r.ReadRaw() == "+OK\r\n");
    CHECK(r.ReadRaw() == reply);
    r.ExpectClosed();
  }
  // Half a request, then the client closes its side: the complete ones are answered.
  RespConnection half(server.port());
  half.Send("*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$5\r\nab");
  shutdown(half.fd(), SHUT_WR);
  CHECK(half.ReadRaw() == "+PONG\r\n");
  half.ExpectClosed();
  // QUIT: nothing after it is answered.
  RespConnection quit(server.port());
  quit.Send("PING\r\nQUIT\r\nPING\r\n");
  CHECK(quit.ReadRaw() == "+PONG\r\n");
  CHECK(quit.ReadRaw() == "+OK\r\n");
  quit.ExpectClosed();
  RequireServed(server);
}

TEST_CASE("a large value through RESP", "[integration][resp]") {
  ServerProcess server;
  RespConnection r(server.port());
  std::string value(3 << 20, 'v');
  for (size_t i = 0; i < value.size(); i += 4096) value[i] = static_cast<char>('a' + i % 26);
  CHECK(r.Call({"SET", "big", value}) == "+OK\r\n");
  CHECK(r.Call({"GET", "big"}) == Bulk(value));
}

TEST_CASE("INCR of text that is not a number is Redis's -ERR on RESP, WRONGTYPE on binary",
          "[integration][resp]") {
  ServerProcess server({"--shards", "2"});
  RespConnection r(server.port());
  CHECK(r.Call({"SET", "t", "abc"}) == "+OK\r\n");
  const std::string not_int = "-ERR value is not an integer or out of range\r\n";
  CHECK(r.Call({"INCR", "t"}) == not_int);
  CHECK(r.Call({"DECR", "t"}) == not_int);
  CHECK(r.Call({"INCRBY", "t", "2"}) == not_int);
  CHECK(r.Call({"DECRBY", "t", "2"}) == not_int);
  CHECK(r.Call({"INCRBYFLOAT", "t", "1"}) == "-ERR value is not a valid float\r\n");
  CHECK(r.Call({"GET", "t"}) == Bulk("abc"));  // unchanged
  // A list is WRONGTYPE in Redis too.
  CHECK(r.Call({"RPUSH", "l", "x"}) == ":1\r\n");
  CHECK(r.Call({"INCR", "l"}) ==
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
  // The binary protocol keeps its documented code.
  Client c(Opts(server, 10));
  const Reply e = Err(c, "INCR", {S("t")});
  CHECK(e.code == Code::kWrongType);
  CHECK(e.error == "value is not an integer or out of range");
  CHECK(Err(c, "INCR", {S("l")}).code == Code::kWrongType);
}

TEST_CASE("GETSET over RESP and the binary protocol", "[integration][resp]") {
  ServerProcess server({"--shards", "2"});
  RespConnection r(server.port());
  CHECK(r.Call({"GETSET", "g", "1"}) == "$-1\r\n");
  CHECK(r.Call({"GETSET", "g", "2"}) == Bulk("1"));
  CHECK(r.Call({"GET", "g"}) == Bulk("2"));
  CHECK(r.Call({"SET", "e", "v", "EX", "100"}) == "+OK\r\n");
  CHECK(r.Call({"GETSET", "e", "w"}) == Bulk("v"));
  CHECK(r.Call({"TTL", "e"}) == ":-1\r\n");  // as SET, without KEEPTTL
  CHECK(r.Call({"GETSET", "g"}) == "-ERR wrong number of arguments for 'getset' command\r\n");
  // A typed value stored by the binary protocol reads back as Redis shows it (kCmdStoredReply).
  Client c(Opts(server, 10));
  CHECK(Ok(c, "SET", {S("n"), I(10)}) == S("OK"));
  CHECK(r.Call({"GETSET", "n", "x"}) == Bulk("10"));
  CHECK(Ok(c, "GETSET", {S("n"), D("1.10")}) == Value::Bytes("x"));
  CHECK(Ok(c, "GETSET", {S("n"), I(1)}) == D("1.10"));
  CHECK(r.Call({"INCR", "n"}) == ":2\r\n");
}

TEST_CASE("a RESP client over --max-connections gets Redis's -ERR, a binary one BUSY",
          "[integration][resp]") {
  ServerProcess server({"--max-connections", "2"});
  RespConnection a(server.port());
  CHECK(a.Call({"PING"}) == "+PONG\r\n");
  RawConnection b(server.port());
  b.Send(Request(1, protocol::op::kPing, {}));
  REQUIRE(b.Read().reply.ok());

  const std::string refused = "-ERR max number of clients reached\r\n";
  {
    // A multibulk request, as redis-cli and redis-py send.
    RespConnection over(server.port());
    over.Command({"PING"});
    CHECK(over.ReadRaw() == refused);
    over.ExpectClosed();
  }
  {
    // An inline command, as telnet sends.
    RespConnection over(server.port());
    over.Send("GET k\r\n");
    CHECK(over.ReadRaw() == refused);
    over.ExpectClosed();
  }
  {
    // A pipeline the server never reads whole: the answer still arrives (no reset).
    RespConnection over(server.port());
    std::string many;
    for (int i = 0; i < 2000; ++i) protocol::AppendRespCommand(&many, {"SET", "k", "v"});
    over.Send(many);
    CHECK(over.ReadRaw() == refused);
    over.ExpectClosed();
  }
  {
    // The first byte alone decides (the rest comes later).
    RespConnection over(server.port());
    over.Send("*");
    CHECK(over.ReadRaw() == refused);
    over.ExpectClosed();
  }
  {
    // A binary client gets the BUSY frame, with or without a request first.
    RawConnection over(server.port());
    over.Send(Request(9, protocol::op::kPing, {}));
    const Frame f = over.Read();
    CHECK(f.reply.code == Code::kBusy);
    CHECK(f.reply.error == "max number of clients reached");
    over.ExpectClosed();
    RawConnection silent(server.port());
    CHECK(silent.Read().reply.code == Code::kBusy);
    silent.ExpectClosed();
  }
  // The two admitted clients were never disturbed.
  CHECK(a.Call({"PING"}) == "+PONG\r\n");
  b.Send(Request(2, protocol::op::kPing, {}));
  CHECK(b.Read().reply.ok());
  CHECK(a.Call({"INFO", "clients"}).find("connected_clients:2\r\n") != std::string::npos);
}

}  // namespace
}  // namespace dbkv::testing
