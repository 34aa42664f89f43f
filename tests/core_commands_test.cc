// The core and server command families through the real server, over the binary protocol,
// with the C++ client.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <thread>

#include "client/client.h"
#include "core/clock.h"
#include "tests/server_process.h"
#include "tests/test_util.h"

namespace dbkv::testing {
namespace {

using client::Client;
using client::ClientOptions;

TEST_CASE("PING answers PONG, or echoes its argument", "[integration]") {
  ServerProcess server;
  Client c(Opts(server));
  Reply r = c.Call("PING");
  REQUIRE(r.ok());
  CHECK(r.simple);
  CHECK(r.value == S("PONG"));
  CHECK(Ok(c, "ping", {S("hi")}) == S("hi"));
}

TEST_CASE("SET and GET keep every value type exactly", "[integration]") {
  ServerProcess server({"--shards", "4"});
  Client c(Opts(server));
  ValueList nested{I(1), S("two"), D("3.000"), Value::List({Value::Null(), Value::Bool(true)})};
  ValueMap map;
  map.emplace_back(S("a"), I(-1));
  map.emplace_back(I(7), Value::Bytes(std::string("\0\xff", 2)));
  const Value values[] = {
      Value::Null(),
      Value::Bool(false),
      I(INT64_MIN),
      I(INT64_MAX),
      Value::Double(2.5),
      D("1.10"),
      D("-0.000"),
      D("12345678901234567890123456789012345678"),
      S(""),
      S("h\xc3\xa9llo w\xc3\xb6rld, a string longer than fourteen bytes"),
      Value::Bytes(std::string("\0\1\2", 3)),
      Value::List(nested),
      Value::Map(map),
      S(std::string(1 << 20, 'x')),
  };
  int n = 0;
  for (const Value& v : values) {
    const std::string key = "k" + std::to_string(n++);
    Reply set = c.Call("SET", {S(key), v});
    REQUIRE(set.ok());
    CHECK(set.simple);
    CHECK(Ok(c, "GET", {S(key)}) == v);
  }
  CHECK(Ok(c, "GET", {S("missing")}).is_null());
  CHECK(Ok(c, "DBSIZE") == I(n));
}

TEST_CASE("SET options NX, XX, GET, EX, PX, KEEPTTL", "[integration]") {
  ServerProcess server;
  Client c(Opts(server));
  CHECK(Ok(c, "SET", {S("k"), S("v1"), S("XX")}).is_null());
  CHECK(Ok(c, "GET", {S("k")}).is_null());
  CHECK(Ok(c, "SET", {S("k"), S("v1"), S("NX")}) == S("OK"));
  CHECK(Ok(c, "SET", {S("k"), S("v2"), S("NX")}).is_null());
  CHECK(Ok(c, "GET", {S("k")}) == S("v1"));
  CHECK(Ok(c, "SET", {S("k"), S("v2"), S("XX"), S("GET")}) == S("v1"));
  CHECK(Ok(c, "SET", {S("k"), S("v3"), S("ex"), I(100)}) == S("OK"));
  int64_t ttl = Ok(c, "TTL", {S("k")}).AsInt();
  CHECK(ttl >= 99);
  CHECK(ttl <= 100);
  CHECK(Ok(c, "SET", {S("k"), S("v4"), S("KEEPTTL")}) == S("OK"));
  CHECK(Ok(c, "TTL", {S("k")}).AsInt() >= 99);
  CHECK(Ok(c, "SET", {S("k"), S("v5")}) == S("OK"));
  CHECK(Ok(c, "TTL", {S("k")}) == I(-1));
  CHECK(Ok(c, "SET", {S("k"), S("v6"), S("PX"), S("250000")}) == S("OK"));
  int64_t pttl = Ok(c, "PTTL", {S("k")}).AsInt();
  CHECK(pttl > 240000);
  CHECK(pttl <= 250000);

  CHECK(Err(c, "SET", {S("k"), S("v"), S("EX"), I(0)}).error ==
        "invalid expire time in 'set' command");
  CHECK(Err(c, "SET", {S("k"), S("v"), S("EX"), S("abc")}).code == Code::kInvalidArgument);
  CHECK(Err(c, "SET", {S("k"), S("v"), S("NX"), S("XX")}).error == "syntax error");
  CHECK(Err(c, "SET", {S("k"), S("v"), S("EX")}).error == "syntax error");
  CHECK(Err(c, "SET", {S("k"), S("v"), S("BOGUS")}).error == "syntax error");
}

TEST_CASE("expired keys are never returned", "[integration]") {
  ServerProcess server;
  Client c(Opts(server));
  // An absolute expiry in the past: written and gone at once.
  CHECK(Ok(c, "SET", {S("past"), S("v"), S("PXAT"), I(WallClockMs() - 1000)}) == S("OK"));
  CHECK(Ok(c, "GET", {S("past")}).is_null());
  CHECK(Ok(c, "EXISTS", {S("past")}) == I(0));
  // A short expiry: present, then gone once its time has passed.
  CHECK(Ok(c, "SET", {S("soon"), S("v"), S("PX"), I(30)}) == S("OK"));
  CHECK(Ok(c, "SET", {S("soon2"), S("v"), S("PX"), I(30)}) == S("OK"));
  const int64_t written = WallClockMs();
  Value early = Ok(c, "GET", {S("soon")});
  if (WallClockMs() - written < 30) CHECK(early == S("v"));
  std::this_thread::sleep_for(std::chrono::milliseconds(60));  // the expiry time must pass
  CHECK(Ok(c, "GET", {S("soon")}).is_null());
  CHECK(Ok(c, "TTL", {S("soon2")}) == I(-2));
  CHECK(Ok(c, "EXISTS", {S("soon2")}) == I(0));
  CHECK(Ok(c, "INCR", {S("soon2")}) == I(1));  // an expired key counts as absent
}

TEST_CASE("DEL and EXISTS count keys across shards", "[integration]") {
  ServerProcess server({"--shards", "8"});
  Client c(Opts(server));
  ValueList keys;
  for (int i = 0; i < 50; ++i) {
    keys.push_back(S("key:" + std::to_string(i)));
    Ok(c, "SET", {keys.back(), I(i)});
  }
  ValueList probe = keys;
  probe.push_back(S("absent"));
  probe.push_back(keys[0]);  // named twice, counted twice (as Redis)
  CHECK(Ok(c, "EXISTS", probe) == I(51));
  ValueList del(keys.begin(), keys.begin() + 20);
  del.push_back(S("absent"));
  CHECK(Ok(c, "DEL", del) == I(20));
  CHECK(Ok(c, "EXISTS", probe) == I(30));
  CHECK(Ok(c, "DBSIZE") == I(30));
  CHECK(Ok(c, "DEL", {I(12345)}) == I(0));  // integer keys stand for their text
  Ok(c, "SET", {I(12345), S("int key")});
  CHECK(Ok(c, "GET", {S("12345")}) == S("int key"));
  CHECK(Err(c, "GET", {Value::List({})}).code == Code::kInvalidArgument);
  CHECK(Err(c, "DEL", {}).code == Code::kInvalidArgument);
}

TEST_CASE("INCR and DECR are exact for integers and Decimals", "[integration]") {
  ServerProcess server;
  Client c(Opts(server));
  CHECK(Ok(c, "INCR", {S("n")}) == I(1));
  CHECK(Ok(c, "INCR", {S("n"), I(41)}) == I(42));
  CHECK(Ok(c, "DECR", {S("n")}) == I(41));
  CHECK(Ok(c, "DECR", {S("n"), I(-9)}) == I(50));
  CHECK(Ok(c, "INCR", {S("n"), D("0.10")}) == D("50.10"));
  CHECK(Ok(c, "GET", {S("n")}) == D("50.10"));
  CHECK(Ok(c, "DECR", {S("n"), D("0.1")}) == D("50.00"));
  CHECK(Ok(c, "INCR", {S("d"), D("1.10")}) == D("1.10"));
  CHECK(Ok(c, "INCR", {S("d"), S("2.205")}) == D("3.305"));
  // Text written by RESP-style clients counts when it is a number.
  Ok(c, "SET", {S("t"), S("10")});
  CHECK(Ok(c, "INCR", {S("t")}) == I(11));
  // Overflow is an error and leaves the value alone.
  Ok(c, "SET", {S("big"), I(INT64_MAX)});
  CHECK(Err(c, "INCR", {S("big")}).code == Code::kOverflow);
  CHECK(Ok(c, "GET", {S("big")}) == I(INT64_MAX));
  CHECK(Err(c, "DECR", {S("small"), I(INT64_MIN)}).code == Code::kOverflow);
  CHECK(Ok(c, "EXISTS", {S("small")}) == I(0));  // a failed INCR creates nothing
  CHECK(Err(c, "INCR", {S("d"), D("1E+40")}).code == Code::kOverflow);
  // Wrong types.
  Ok(c, "SET", {S("s"), S("hello")});
  CHECK(Err(c, "INCR", {S("s")}).code == Code::kWrongType);
  Ok(c, "SET", {S("f"), Value::Double(1.5)});
  CHECK(Err(c, "INCR", {S("f")}).code == Code::kWrongType);
  Ok(c, "SET", {S("l"), Value::List({I(1)})});
  CHECK(Err(c, "DECR", {S("l")}).code == Code::kWrongType);
  CHECK(Err(c, "INCR", {S("n"), S("abc")}).code == Code::kInvalidArgument);
  CHECK(Err(c, "INCR", {S("n"), Value::Double(1.5)}).code == Code::kInvalidArgument);
  // INCR keeps the expiry.
  Ok(c, "SET", {S("e"), I(1), S("EX"), I(100)});
  CHECK(Ok(c, "INCR", {S("e")}) == I(2));
  CHECK(Ok(c, "TTL", {S("e")}).AsInt() > 0);
}

TEST_CASE("TTL, PTTL, EXPIRE, PEXPIRE and PERSIST follow Redis", "[integration]") {
  ServerProcess server;
  Client c(Opts(server));
  CHECK(Ok(c, "TTL", {S("nope")}) == I(-2));
  CHECK(Ok(c, "PTTL", {S("nope")}) == I(-2));
  CHECK(Ok(c, "EXPIRE", {S("nope"), I(10)}) == I(0));
  Ok(c, "SET", {S("k"), S("v")});
  CHECK(Ok(c, "TTL", {S("k")}) == I(-1));
  CHECK(Ok(c, "PERSIST", {S("k")}) == I(0));
  CHECK(Ok(c, "EXPIRE", {S("k"), I(100)}) == I(1));
  CHECK(Ok(c, "TTL", {S("k")}) == I(100));
  CHECK(Ok(c, "EXPIRE", {S("k"), I(50), S("NX")}) == I(0));
  CHECK(Ok(c, "EXPIRE", {S("k"), I(50), S("GT")}) == I(0));
  CHECK(Ok(c, "EXPIRE", {S("k"), I(50), S("LT")}) == I(1));
  CHECK(Ok(c, "TTL", {S("k")}) == I(50));
  CHECK(Ok(c, "PEXPIRE", {S("k"), I(200000), S("XX")}) == I(1));
  CHECK(Ok(c, "TTL", {S("k")}) == I(200));
  CHECK(Ok(c, "PERSIST", {S("k")}) == I(1));
  CHECK(Ok(c, "TTL", {S("k")}) == I(-1));
  CHECK(Ok(c, "EXPIRE", {S("k"), I(10), S("XX")}) == I(0));
  CHECK(Ok(c, "EXPIRE", {S("k"), I(50), S("GT")}) == I(0));  // no expiry counts as infinite
  // A time <= 0 deletes the key.
  CHECK(Ok(c, "EXPIRE", {S("k"), I(0)}) == I(1));
  CHECK(Ok(c, "EXISTS", {S("k")}) == I(0));
  Ok(c, "SET", {S("k"), S("v")});
  CHECK(Ok(c, "PEXPIRE", {S("k"), I(-5)}) == I(1));
  CHECK(Ok(c, "GET", {S("k")}).is_null());
  CHECK(Err(c, "EXPIRE", {S("k"), S("soon")}).code == Code::kInvalidArgument);
  CHECK(Err(c, "EXPIRE", {S("k"), I(1), S("SOMETIMES")}).code == Code::kInvalidArgument);
  CHECK(Err(c, "EXPIRE", {S("k"), I(INT64_MAX)}).code == Code::kInvalidArgument);
}

TEST_CASE("namespaces are isolated from each other and from the default", "[integration]") {
  ServerProcess server({"--shards", "3"});
  Client def(Opts(server));
  Client a(Opts(server, "tenant-a"));
  Client b(Opts(server, "tenant-b"));
  Ok(def, "SET", {S("k"), S("default")});
  Ok(a, "SET", {S("k"), S("a")});
  CHECK(Ok(b, "GET", {S("k")}).is_null());
  CHECK(Ok(a, "GET", {S("k")}) == S("a"));
  CHECK(Ok(def, "GET", {S("k")}) == S("default"));
  Ok(b, "INCR", {S("k")});
  CHECK(Ok(b, "DBSIZE") == I(1));
  CHECK(Ok(a, "DEL", {S("k")}) == I(1));
  CHECK(Ok(def, "GET", {S("k")}) == S("default"));
  CHECK(Ok(b, "GET", {S("k")}) == I(1));
  // HELLO switches the namespace of a live connection.
  Value hello = Ok(def, "HELLO", {I(1), S("NAMESPACE"), S("tenant-b")});
  REQUIRE(hello.type() == ValueType::kMap);
  CHECK(Ok(def, "GET", {S("k")}) == I(1));
  CHECK(Err(def, "HELLO", {I(2)}).code == Code::kInvalidArgument);
  CHECK(Err(def, "HELLO", {I(1), S("NAMESPACE"), S(std::string(256, 'n'))}).code ==
        Code::kInvalidArgument);
}

TEST_CASE("INFO reports the server and its keys", "[integration]") {
  ServerProcess server({"--shards", "4"});
  Client c(Opts(server));
  for (int i = 0; i < 100; ++i) Ok(c, "SET", {S("k" + std::to_string(i)), S("value")});
  Value info = Ok(c, "INFO");
  REQUIRE(info.type() == ValueType::kMap);
  auto field = [&](std::string_view name) {
    for (const auto& kv : info.AsMap()) {
      if (kv.first == S(name)) return kv.second;
    }
    FAIL("INFO has no field " << name);
    return Value();
  };
  CHECK(field("version").is_string_like());
  CHECK(field("uptime_s").type() == ValueType::kInt);
  CHECK(field("keys") == I(100));
  CHECK(field("memory_bytes").AsInt() > 100 * 5);
  CHECK(field("connections") == I(1));
  CHECK(field("shards") == I(4));
}

TEST_CASE("unknown commands and wrong arity are errors that leave the connection usable",
          "[integration]") {
  ServerProcess server;
  Client c(Opts(server));
  Reply r = Err(c, "NOSUCHCOMMAND", {I(1)});
  CHECK(r.code == Code::kUnknownCommand);
  CHECK(r.error == "unknown command 'NOSUCHCOMMAND'");
  CHECK(Err(c, "THROTTLE", {S("k"), I(1), I(1), I(1)}).code == Code::kUnknownCommand);
  r = Err(c, "GET", {S("a"), S("b")});
  CHECK(r.error == "wrong number of arguments for 'get' command");
  CHECK(Err(c, "SET", {S("a")}).code == Code::kInvalidArgument);
  CHECK(Ok(c, "PING") == S("PONG"));
}

TEST_CASE("AUTH is required when the server has a password", "[integration]") {
  std::string dir = MakeTempDir("auth");
  std::string file = dir + "/password";
  FILE* f = fopen(file.c_str(), "w");
  fputs("s3cret\n", f);
  fclose(f);
  ServerProcess server({"--password-file", file});
  {
    Client anon(Opts(server));
    CHECK(Ok(anon, "PING") == S("PONG"));
    CHECK(Err(anon, "GET", {S("k")}).code == Code::kAuth);
    CHECK(Err(anon, "AUTH", {S("wrong")}).code == Code::kAuth);
    CHECK(Err(anon, "SET", {S("k"), S("v")}).code == Code::kAuth);
    CHECK(Ok(anon, "AUTH", {S("s3cret")}) == S("OK"));
    CHECK(Ok(anon, "SET", {S("k"), S("v")}) == S("OK"));
  }
  ClientOptions o = Opts(server);
  o.password = "s3cret";
  Client authed(o);
  CHECK(Ok(authed, "GET", {S("k")}) == S("v"));
  o.password = "nope";
  Client wrong(o);
  CHECK(wrong.Connect().code() == Code::kAuth);
  CHECK(Err(wrong, "GET", {S("k")}).code == Code::kAuth);
}

TEST_CASE("the client reconnects after the server restarts", "[integration]") {
  auto server = std::make_unique<ServerProcess>(std::vector<std::string>{});
  const uint16_t port = server->port();
  ClientOptions o = Opts(*server, "ns1");
  Client c(o);
  Ok(c, "SET", {S("k"), S("before")});
  const int status = server->Stop();
  REQUIRE((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  server.reset();
  // Down: calls fail with a connection error, never hang.
  Reply down = c.Call("GET", {S("k")});
  CHECK(down.code == Code::kIoError);
  server = std::make_unique<ServerProcess>(std::vector<std::string>{}, port);
  // Up again: the next call reconnects (a request written before the client noticed the old
  // connection's end may still fail once), with the same namespace.
  Reply r = c.Call("SET", {S("k"), S("after")});
  if (!r.ok()) r = c.Call("SET", {S("k"), S("after")});
  REQUIRE(r.ok());
  Client other(Opts(*server, "ns1"));
  CHECK(Ok(other, "GET", {S("k")}) == S("after"));
  Client def(Opts(*server));
  CHECK(Ok(def, "GET", {S("k")}).is_null());
}

}  // namespace
}  // namespace dbkv::testing
