// Redis's own tools against the real server (Debian's redis-tools, installed by
// scripts/setup.sh): redis-cli one-shot, piped and --pipe, and redis-benchmark running to
// completion. These check that the tools work, not how fast (bench/results/resp.md has numbers).
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "client/client.h"
#include "protocol/resp.h"
#include "tests/server_process.h"
#include "tests/test_util.h"

namespace dbkv::testing {
namespace {

using Catch::Matchers::Contains;

// The tool's path on $PATH (or /usr/bin); fails the test if it is not installed.
std::string Tool(const std::string& name) {
  std::string dirs = std::getenv("PATH") != nullptr ? std::getenv("PATH") : "";
  dirs += ":/usr/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string candidate = dirs.substr(start, end - start) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  FAIL(name << " not found: install redis-tools (scripts/setup.sh)");
  return "";
}

ProgramResult Cli(const ServerProcess& server, std::vector<std::string> args,
                  const std::string& stdin_data = "") {
  args.insert(args.begin(), {"-h", "127.0.0.1", "-p", std::to_string(server.port())});
  ProgramResult r = RunProgram(Tool("redis-cli"), args, stdin_data);
  INFO("redis-cli stderr: " << r.err);
  CHECK(r.exit_code == 0);
  return r;
}

TEST_CASE("redis-cli: one command per run", "[integration][resp][tools]") {
  ServerProcess server({"--shards", "2"});
  CHECK(Cli(server, {"PING"}).out == "PONG\n");
  CHECK(Cli(server, {"SET", "greeting", "hello world"}).out == "OK\n");
  CHECK(Cli(server, {"GET", "greeting"}).out == "hello world\n");
  CHECK(Cli(server, {"--no-raw", "GET", "greeting"}).out == "\"hello world\"\n");
  CHECK(Cli(server, {"--no-raw", "GET", "missing"}).out == "(nil)\n");
  CHECK(Cli(server, {"--no-raw", "INCR", "visits"}).out == "(integer) 1\n");
  CHECK(Cli(server, {"--no-raw", "RPUSH", "l", "a", "b"}).out == "(integer) 2\n");
  CHECK(Cli(server, {"--no-raw", "LRANGE", "l", "0", "-1"}).out == "1) \"a\"\n2) \"b\"\n");
  CHECK(Cli(server, {"--no-raw", "LPUSH", "greeting", "x"}).out ==
        "(error) WRONGTYPE Operation against a key holding the wrong kind of value\n");
  CHECK(Cli(server, {"DBSIZE"}).out == "3\n");
  CHECK_THAT(Cli(server, {"INFO"}).out, Contains("redis_version:"));
  // -n selects a database: a namespace of its own.
  CHECK(Cli(server, {"-n", "2", "SET", "greeting", "other"}).out == "OK\n");
  CHECK(Cli(server, {"-n", "2", "GET", "greeting"}).out == "other\n");
  CHECK(Cli(server, {"GET", "greeting"}).out == "hello world\n");
  // RESP3 (-3 sends HELLO 3 first).
  CHECK(Cli(server, {"-3", "--no-raw", "GET", "missing"}).out == "(nil)\n");
  CHECK(Cli(server, {"-3", "--no-raw", "CONFIG", "GET", "save"}).out == "1# \"save\" => \"\"\n");
  // Typed values written by our own client read in Redis's representation.
  client::Client c(Opts(server, 10));
  Ok(c, "SET", {S("price"), D("1.10")});
  CHECK(Cli(server, {"GET", "price"}).out == "1.10\n");
  CHECK(Cli(server, {"--no-raw", "INCRBY", "price", "2"}).out == "\"3.10\"\n");
}

TEST_CASE("redis-cli: commands piped on stdin, and --pipe mass insertion",
          "[integration][resp][tools]") {
  ServerProcess server({"--shards", "3"});
  const std::string script =
      "SET a 1\n"
      "INCR a\n"
      "GET a\n"
      "MSET b 2 c 3\n"
      "MGET a b c nope\n"
      "DEL a b c\n"
      "EXISTS a\n";
  ProgramResult r = Cli(server, {}, script);
  CHECK(r.out == "OK\n2\n2\nOK\n2\n2\n3\n\n3\n0\n");

  // --pipe sends raw RESP and counts the replies (it ends with an ECHO of its own).
  std::string raw;
  for (int i = 0; i < 5000; ++i) {
    protocol::AppendRespCommand(&raw, {"SET", "mass:" + std::to_string(i), std::to_string(i)});
  }
  ProgramResult pipe = Cli(server, {"--pipe"}, raw);
  CHECK_THAT(pipe.out, Contains("errors: 0, replies: 5000"));
  CHECK(Cli(server, {"DBSIZE"}).out == "5000\n");
  CHECK(Cli(server, {"GET", "mass:4999"}).out == "4999\n");
}

TEST_CASE("redis-cli -a authenticates with the server's password", "[integration][resp][tools]") {
  const std::string dir = MakeTempDir("tools-auth");
  std::ofstream(dir + "/password") << "pw with spaces\n";
  ServerProcess server({"--password-file", dir + "/password"});
  // (redis-cli prints an error reply followed by an empty line, against Redis too.)
  CHECK(Cli(server, {"GET", "k"}).out == "NOAUTH Authentication required.\n\n");
  CHECK(Cli(server, {"--no-auth-warning", "-a", "pw with spaces", "SET", "k", "v"}).out == "OK\n");
  CHECK(Cli(server, {"--no-auth-warning", "-a", "pw with spaces", "GET", "k"}).out == "v\n");
  ProgramResult wrong = Cli(server, {"--no-auth-warning", "-a", "nope", "GET", "k"});
  CHECK(wrong.err ==
        "AUTH failed: WRONGPASS invalid username-password pair or user is disabled.\n");
  CHECK(wrong.out == "NOAUTH Authentication required.\n\n");
}

TEST_CASE("redis-cli over --max-connections prints Redis's error, as against Redis",
          "[integration][resp][tools]") {
  ServerProcess server({"--max-connections", "1"});
  RespConnection held(server.port());
  CHECK(held.Call({"PING"}) == "+PONG\r\n");
  // Redis 7's redis-cli prints exactly this against a full Redis (an error reply, then an empty
  // line), where the binary BUSY frame made it print "Protocol error".
  CHECK(Cli(server, {"PING"}).out == "ERR max number of clients reached\n\n");
  CHECK(Cli(server, {"SET", "a", "b"}).out == "ERR max number of clients reached\n\n");
  CHECK(held.Call({"EXISTS", "a"}) == ":0\r\n");
}

TEST_CASE("redis-benchmark runs to completion against the server", "[integration][resp][tools]") {
  ServerProcess server({"--shards", "2"});
  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{}, std::vector<std::string>{"-P", "16"}}) {
    std::vector<std::string> args = {"-h", "127.0.0.1",
                                     "-p", std::to_string(server.port()),
                                     "-t", "get,set,incr,lpush,lpop,mset",
                                     "-n", "20000",
                                     "-q"};
    args.insert(args.end(), extra.begin(), extra.end());
    ProgramResult r = RunProgram(Tool("redis-benchmark"), args, "", 120000);
    INFO(r.out << "\nstderr: " << r.err);
    CHECK(r.exit_code == 0);
    for (const char* test : {"SET: ", "GET: ", "INCR: ", "LPUSH: ", "LPOP: ", "MSET (10 keys): "}) {
      CHECK_THAT(r.out, Contains(test));
    }
    CHECK_THAT(r.out, !Contains("ERROR") && !Contains("WARNING"));
    CHECK_THAT(r.err, !Contains("ERROR") && !Contains("WARNING"));
  }
  // It did what it said: the counter took every INCR.
  RespConnection resp(server.port());
  CHECK(resp.Call({"GET", "counter:__rand_int__"}) == "$5\r\n40000\r\n");
}

}  // namespace
}  // namespace dbkv::testing
