// data-bridge-kv-cli against the real server: one-shot commands, piped stdin, options.
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <future>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"
#include "tests/server_process.h"
#include "tests/test_util.h"

namespace dbkv::testing {
namespace {

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

std::string Cli() { return RunfilePath("tools/data-bridge-kv-cli"); }

// Runs the CLI against port with args; logs what it printed on failure.
ProgramResult RunCli(uint16_t port, std::vector<std::string> args, const std::string& input = "") {
  args.insert(args.begin(), {"-p", std::to_string(port)});
  ProgramResult r = RunProgram(Cli(), args, input, 20000);
  std::string cmd;
  for (const std::string& a : args) cmd += " " + a;
  UNSCOPED_INFO("data-bridge-kv-cli" << cmd << "\n  exit " << r.exit_code << "\n  stdout: " << r.out
                                     << "\n  stderr: " << r.err);
  return r;
}

// The command's stdout, requiring exit code 0 and a quiet stderr.
std::string Out(uint16_t port, std::vector<std::string> args) {
  ProgramResult r = RunCli(port, std::move(args));
  CHECK(r.exit_code == 0);
  CHECK(r.err.empty());
  return r.out;
}

TEST_CASE("one-shot commands print replies as redis-cli does", "[integration][cli]") {
  ServerProcess server;
  const uint16_t p = server.port();
  CHECK(Out(p, {"PING"}) == "PONG\n");
  CHECK(Out(p, {"ping", "hello"}) == "\"hello\"\n");
  CHECK(Out(p, {"SET", "k", "v"}) == "OK\n");
  CHECK(Out(p, {"GET", "k"}) == "\"v\"\n");
  CHECK(Out(p, {"GET", "missing"}) == "(nil)\n");
  CHECK(Out(p, {"INCR", "n"}) == "(integer) 1\n");
  CHECK(Out(p, {"INCR", "n", "41"}) == "(integer) 42\n");
  CHECK(Out(p, {"DECR", "n", "-8"}) == "(integer) 50\n");
  CHECK(Out(p, {"SET", "price", "1.10"}) == "OK\n");
  CHECK(Out(p, {"GET", "price"}) == "(decimal) 1.10\n");
  CHECK(Out(p, {"INCR", "price", "2"}) == "(decimal) 3.10\n");
  CHECK(Out(p, {"INCR", "price", "-0.15"}) == "(decimal) 2.95\n");
  CHECK(Out(p, {"SET", "text", "hello world"}) == "OK\n");
  CHECK(Out(p, {"GET", "text"}) == "\"hello world\"\n");
  CHECK(Out(p, {"EXISTS", "k", "n", "missing"}) == "(integer) 2\n");
  CHECK(Out(p, {"DEL", "k", "missing"}) == "(integer) 1\n");
  CHECK(Out(p, {"TTL", "n"}) == "(integer) -1\n");
  CHECK(Out(p, {"DBSIZE"}) == "(integer) 3\n");
  // Negative numbers are arguments, not options.
  CHECK(Out(p, {"SET", "neg", "-5"}) == "OK\n");
  CHECK(Out(p, {"GET", "neg"}) == "(integer) -5\n");
  // "--" ends the options.
  CHECK(Out(p, {"--", "GET", "neg"}) == "(integer) -5\n");
}

TEST_CASE("errors print (error) ... and exit 1", "[integration][cli]") {
  ServerProcess server;
  const uint16_t p = server.port();
  CHECK(Out(p, {"SET", "k", "v"}) == "OK\n");

  ProgramResult r = RunCli(p, {"INCR", "k"});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, StartsWith("(error) WRONGTYPE "));

  r = RunCli(p, {"NOSUCHCOMMAND", "x"});
  CHECK(r.exit_code == 1);
  CHECK(r.out == "(error) UNKNOWN unknown command 'NOSUCHCOMMAND'\n");

  r = RunCli(p, {"GET"});
  CHECK(r.exit_code == 1);
  CHECK(r.out == "(error) ERR wrong number of arguments for 'get' command\n");

  r = RunCli(p, {"SET", "k", "v", "EX", "0"});
  CHECK(r.exit_code == 1);
  CHECK(r.out == "(error) ERR invalid expire time in 'set' command\n");
  // The failed command changed nothing.
  CHECK(Out(p, {"GET", "k"}) == "\"v\"\n");
}

TEST_CASE("-n selects a namespace", "[integration][cli]") {
  ServerProcess server;
  const uint16_t p = server.port();
  CHECK(Out(p, {"SET", "k", "default"}) == "OK\n");
  CHECK(Out(p, {"-n", "ns1", "SET", "k", "one"}) == "OK\n");
  CHECK(Out(p, {"-n", "ns1", "GET", "k"}) == "\"one\"\n");
  CHECK(Out(p, {"GET", "k"}) == "\"default\"\n");
  CHECK(Out(p, {"-n", "ns2", "GET", "k"}) == "(nil)\n");
  CHECK(Out(p, {"-n", "ns2", "DBSIZE"}) == "(integer) 0\n");
  CHECK(Out(p, {"-n", "ns1", "DBSIZE"}) == "(integer) 1\n");
}

TEST_CASE("-a authenticates against a server with --password-file", "[integration][cli]") {
  const std::string dir = MakeTempDir("cli-auth");
  const std::string password_file = dir + "/password";
  std::ofstream(password_file) << "s3cret pass\n";
  ServerProcess server({"--password-file", password_file});
  const uint16_t p = server.port();

  ProgramResult r = RunCli(p, {"GET", "k"});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, StartsWith("(error) NOAUTH "));

  r = RunCli(p, {"-a", "wrong", "SET", "k", "v"});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, StartsWith("(error) NOAUTH "));

  CHECK(Out(p, {"-a", "s3cret pass", "SET", "k", "v"}) == "OK\n");
  CHECK(Out(p, {"-a", "s3cret pass", "GET", "k"}) == "\"v\"\n");
  // PING needs no password.
  CHECK(Out(p, {"PING"}) == "PONG\n");
  // The password in a URL, %-escaped.
  CHECK(Out(p, {"-u", "databridge://:s3cret%20pass@127.0.0.1:" + std::to_string(p), "GET", "k"}) ==
        "\"v\"\n");
}

TEST_CASE("piped stdin runs one command per line", "[integration][cli]") {
  ServerProcess server;
  const std::string input =
      "SET a 1\n"
      "GET a\n"
      "\n"
      "SET s \"hello world\"\n"
      "GET s\n"
      "SET q '42'\n"
      "GET q\n"
      "INCR a\n"
      "SET esc \"tab\\there \\\"quoted\\\"\"\n"
      "GET esc\n"
      "  get   a  \n"
      "SET d 1.10\n"
      "GET d\n";
  ProgramResult r = RunCli(server.port(), {}, input);
  CHECK(r.exit_code == 0);
  CHECK(r.out ==
        "OK\n"
        "(integer) 1\n"
        "OK\n"
        "\"hello world\"\n"
        "OK\n"
        "\"42\"\n"  // quoted: a string, not an integer
        "(integer) 2\n"
        "OK\n"
        "\"tab\\there \\\"quoted\\\"\"\n"
        "(integer) 2\n"
        "OK\n"
        "(decimal) 1.10\n");
  CHECK(r.err.empty());
}

TEST_CASE("piped stdin goes on after an error, and exits 1", "[integration][cli]") {
  ServerProcess server;
  ProgramResult r = RunCli(server.port(), {},
                           "SET k v\n"
                           "INCR k\n"
                           "SET broken \"unbalanced\n"
                           "GET k\n");
  CHECK(r.exit_code == 1);
  std::vector<std::string> lines;
  std::string line;
  for (char c : r.out) {
    if (c == '\n') {
      lines.push_back(line);
      line.clear();
    } else {
      line += c;
    }
  }
  REQUIRE(lines.size() == 4);
  CHECK(lines[0] == "OK");
  CHECK_THAT(lines[1], StartsWith("(error) WRONGTYPE"));
  CHECK(lines[2] == "Invalid argument(s): unbalanced quotes");
  CHECK(lines[3] == "\"v\"");
  // Nothing was sent for the unbalanced line.
  CHECK(Out(server.port(), {"EXISTS", "broken"}) == "(integer) 0\n");
}

TEST_CASE("-s sends every argument as a string", "[integration][cli]") {
  ServerProcess server;
  const uint16_t p = server.port();
  CHECK(Out(p, {"-s", "SET", "n", "5"}) == "OK\n");
  CHECK(Out(p, {"GET", "n"}) == "\"5\"\n");
  CHECK(Out(p, {"-s", "SET", "d", "1.10"}) == "OK\n");
  CHECK(Out(p, {"GET", "d"}) == "\"1.10\"\n");
  // Without -s the same words are typed.
  CHECK(Out(p, {"SET", "n2", "5"}) == "OK\n");
  CHECK(Out(p, {"GET", "n2"}) == "(integer) 5\n");
  // A string holding a number still counts for INCR.
  CHECK(Out(p, {"INCR", "n"}) == "(integer) 6\n");
  // In piped mode too.
  ProgramResult r = RunCli(p, {"-s"}, "SET piped 7\nGET piped\n");
  CHECK(r.exit_code == 0);
  CHECK(r.out == "OK\n\"7\"\n");
}

TEST_CASE("-u takes a URL with host, port and namespace", "[integration][cli]") {
  ServerProcess server;
  const std::string port = std::to_string(server.port());
  auto run = [&](const std::vector<std::string>& args) {
    ProgramResult r = RunProgram(Cli(), args, "", 20000);
    INFO("exit " << r.exit_code << " stdout " << r.out << " stderr " << r.err);
    CHECK(r.exit_code == 0);
    return r.out;
  };
  CHECK(run({"-u", "databridge://127.0.0.1:" + port + "/ns", "SET", "k", "in-ns"}) == "OK\n");
  CHECK(run({"-u", "databridge://127.0.0.1:" + port + "/ns", "GET", "k"}) == "\"in-ns\"\n");
  CHECK(run({"-u", "127.0.0.1:" + port + "/ns", "GET", "k"}) == "\"in-ns\"\n");
  CHECK(run({"-p", port, "-n", "ns", "GET", "k"}) == "\"in-ns\"\n");
  CHECK(run({"-u", "127.0.0.1:" + port, "GET", "k"}) == "(nil)\n");
  CHECK(run({"-u", "localhost:" + port + "/ns", "GET", "k"}) == "\"in-ns\"\n");
  // -n before -u: a URL without a path keeps the namespace.
  CHECK(run({"-n", "ns", "-u", "127.0.0.1:" + port, "GET", "k"}) == "\"in-ns\"\n");

  ProgramResult bad = RunProgram(Cli(), {"-u", "redis://127.0.0.1:" + port, "PING"}, "", 20000);
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.err, Contains("unknown scheme"));
  CHECK(bad.out.empty());
}

// A port nobody listens on: bound, then released.
uint16_t ClosedPort() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(
      io, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

TEST_CASE("a refused connection exits non-zero with a message on stderr", "[integration][cli]") {
  const uint16_t port = ClosedPort();
  ProgramResult r = RunProgram(Cli(), {"-p", std::to_string(port), "-t", "5", "PING"}, "", 20000);
  CHECK(r.exit_code != 0);
  CHECK(r.out.empty());
  CHECK_THAT(r.err, Contains("Could not connect") && Contains(std::to_string(port)));

  // Piped mode reports it too.
  r = RunProgram(Cli(), {"-p", std::to_string(port)}, "PING\n", 20000);
  CHECK(r.exit_code != 0);
  CHECK_THAT(r.err, Contains("Could not connect"));
}

TEST_CASE("INFO prints a numbered map", "[integration][cli]") {
  ServerProcess server({"--shards", "3"});
  const std::string out = Out(server.port(), {"INFO"});
  CHECK_THAT(out, StartsWith(" 1# \"server\" => \"data-bridge-kv\"\n"));
  CHECK(std::regex_search(out, std::regex(R"(\n *\d+# "version" => "[^"]+"\n)")));
  CHECK(std::regex_search(out, std::regex(R"(\n *\d+# "connections" => \(integer\) [1-9]\d*\n)")));
  CHECK(std::regex_search(out, std::regex(R"(\n *\d+# "shards" => \(integer\) 3\n)")));
  CHECK(std::regex_search(out, std::regex(R"(\n *\d+# "keys" => \(integer\) 0\n)")));
  // Every line is one numbered entry, numbered from 1 without gaps.
  int expected = 1;
  for (size_t at = 0; at < out.size();) {
    const size_t end = out.find('\n', at);
    REQUIRE(end != std::string::npos);
    std::smatch m;
    const std::string line = out.substr(at, end - at);
    INFO(line);
    REQUIRE(std::regex_match(line, m, std::regex(R"( *(\d+)# .+ => .+)")));
    CHECK(std::stoi(m[1]) == expected++);
    at = end + 1;
  }
  CHECK(expected > 10);
}

TEST_CASE("--help prints usage and exits 0; bad options exit 2", "[integration][cli]") {
  ProgramResult r = RunProgram(Cli(), {"--help"});
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, StartsWith("usage: data-bridge-kv-cli"));
  CHECK_THAT(r.out, Contains("-u URL") && Contains("-a PASSWORD") && Contains("-n NAMESPACE"));

  r = RunProgram(Cli(), {"--version"});
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, StartsWith("data-bridge-kv-cli "));

  r = RunProgram(Cli(), {"--bogus", "PING"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Contains("unknown option --bogus"));

  r = RunProgram(Cli(), {"-p", "70000", "PING"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Contains("-p"));

  r = RunProgram(Cli(), {"-p"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Contains("-p needs a value"));
}

TEST_CASE("--help lists every flag, one per line, and nothing on stderr", "[integration][cli]") {
  ProgramResult r = RunProgram(Cli(), {"--help"});
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.empty());
  // Each flag (with its value's name) starts a line of the list, after the usage lines.
  for (const char* flag :
       {"-h HOST", "-p PORT", "-a PASSWORD", "-n NAMESPACE", "-u URL", "--tls", "--cacert FILE",
        "--cert FILE", "--key FILE", "--sni NAME", "-s", "-t TIMEOUT_S", "--help", "--version"}) {
    INFO(flag);
    CHECK(std::regex_search(r.out, std::regex("\n  " + std::string(flag) + " ")));
  }
  CHECK_THAT(r.out, Contains("KV_PASSWORD") && Contains("COMMAND"));
  // Help wins wherever it is among the flags; after COMMAND it is an argument (see below).
  r = RunProgram(Cli(), {"-p", "1", "-s", "--help"});
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, StartsWith("usage: data-bridge-kv-cli"));
  // -h is the host, not help.
  r = RunProgram(Cli(), {"-h"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Contains("-h needs a value"));
  CHECK(r.out.empty());
}

TEST_CASE("unknown and malformed flags are refused before anything is sent", "[integration][cli]") {
  ServerProcess server;
  const std::string port = std::to_string(server.port());
  auto refused = [&](const std::vector<std::string>& args, const std::string& message) {
    ProgramResult r = RunProgram(Cli(), args, "", 20000);
    INFO("args ending " << args.back() << "\n  stdout: " << r.out << "\n  stderr: " << r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK_THAT(r.err, StartsWith("data-bridge-kv-cli: ") && Contains(message));
  };
  refused({"-p", port, "--bogus", "SET", "k", "v"}, "unknown option --bogus (see --help)");
  refused({"-p", port, "-x", "SET", "k", "v"}, "unknown option -x (see --help)");
  refused({"--bogus", "-p", port, "SET", "k", "v"}, "unknown option --bogus");
  refused({"-p", port, "-x", "--y", "SET", "k", "v"}, "unknown options -x --y");
  refused({"-p", port, "--bogus", "--", "SET", "k", "v"}, "unknown option --bogus");
  refused({"-p", port, "--Tls", "SET", "k", "v"}, "unknown option --Tls");
  refused({"-p", port, "--tls=yes", "SET", "k", "v"}, "tls");
  refused({"-p", "0", "SET", "k", "v"}, "-p: bad port '0'");
  refused({"-p", "http", "SET", "k", "v"}, "-p: bad port 'http'");
  refused({"-p", port, "-t", "soon", "SET", "k", "v"}, "-t: bad timeout 'soon'");
  refused({"-u", "127.0.0.1:" + port + "?nosuch=1", "SET", "k", "v"}, "-u: invalid URL");
  refused({"-p", port, "--cacert"}, "--cacert needs a value");
  refused({"-p", port, "-u"}, "-u needs a value");
  // Nothing reached the server.
  CHECK(Out(server.port(), {"EXISTS", "k"}) == "(integer) 0\n");
}

TEST_CASE("words after COMMAND reach the server as they are, even if they look like flags",
          "[integration][cli]") {
  ServerProcess server;
  const uint16_t p = server.port();
  CHECK(Out(p, {"SET", "k", "-1"}) == "OK\n");
  CHECK(Out(p, {"GET", "k"}) == "(integer) -1\n");
  CHECK(Out(p, {"SET", "k", "-1.5"}) == "OK\n");
  CHECK(Out(p, {"GET", "k"}) == "(decimal) -1.5\n");
  for (const char* word : {"-h", "-p", "--help", "--version", "-s", "--tls", "--bogus", "-x", "-",
                           "--", "-u=1", "--cacert=x", ""}) {
    INFO("argument '" << word << "'");
    CHECK(Out(p, {"SET", "k", word}) == "OK\n");
    CHECK(Out(p, {"GET", "k"}) == "\"" + std::string(word) + "\"\n");
    CHECK(Out(p, {"PING", word}) == "\"" + std::string(word) + "\"\n");
  }
  // More than one, after a value, and after flags: each is one argument.
  CHECK(Out(p, {"-s", "RPUSH", "l", "-a", "x", "-n", "--", "-5"}) == "(integer) 5\n");
  CHECK(Out(p, {"LRANGE", "l", "0", "-1"}) ==
        "1) \"-a\"\n2) \"x\"\n3) \"-n\"\n4) \"--\"\n5) \"-5\"\n");
  // -s applies to words that look like numbers; the flags before COMMAND still apply.
  CHECK(Out(p, {"-s", "SET", "n", "-5"}) == "OK\n");
  CHECK(Out(p, {"GET", "n"}) == "\"-5\"\n");
  CHECK(Out(p, {"-n", "other", "SET", "k", "-n"}) == "OK\n");
  CHECK(Out(p, {"-n", "other", "GET", "k"}) == "\"-n\"\n");
  // After "--", the first word is COMMAND even if it looks like a flag: here an unknown command.
  ProgramResult r = RunCli(p, {"--", "-h", "x"});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, StartsWith("(error) UNKNOWN unknown command '-h'"));
  // A word that starts with '-' and a digit is COMMAND, not a flag, as before.
  r = RunCli(p, {"-5"});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, StartsWith("(error) UNKNOWN unknown command '-5'"));
}

TEST_CASE("flags apply in order, the last one winning; values may start with '-'",
          "[integration][cli]") {
  const std::string dir = MakeTempDir("cli-flags");
  const std::string password_file = dir + "/password";
  std::ofstream(password_file) << "-p 1\n";  // a password that looks like a flag
  ServerProcess server({"--password-file", password_file});
  const std::string port = std::to_string(server.port());
  const std::string closed = std::to_string(ClosedPort());
  auto run = [&](const std::vector<std::string>& args) {
    ProgramResult r = RunProgram(Cli(), args, "", 20000);
    INFO("stdout " << r.out << " stderr " << r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.err.empty());
    return r.out;
  };
  CHECK(run({"-p", port, "-a", "-p 1", "SET", "k", "default"}) == "OK\n");
  CHECK(run({"-a", "-p 1", "-p", port, "-n", "ns", "SET", "k", "in-ns"}) == "OK\n");
  // -p after -u overrides the URL's port, and -u after -p the other way round.
  CHECK(run({"-a", "-p 1", "-u", "127.0.0.1:" + closed, "-p", port, "GET", "k"}) ==
        "\"default\"\n");
  CHECK(run({"-a", "-p 1", "-p", closed, "-u", "127.0.0.1:" + port, "GET", "k"}) ==
        "\"default\"\n");
  // The same for -n and the URL's namespace, and for -h and the URL's host.
  CHECK(run({"-a", "-p 1", "-u", "127.0.0.1:" + port + "/other", "-n", "ns", "GET", "k"}) ==
        "\"in-ns\"\n");
  CHECK(run({"-a", "-p 1", "-n", "other", "-u", "127.0.0.1:" + port + "/ns", "GET", "k"}) ==
        "\"in-ns\"\n");
  CHECK(run({"-a", "-p 1", "-u", "nosuchhost.invalid:" + port, "-h", "127.0.0.1", "GET", "k"}) ==
        "\"default\"\n");
  // A flag given twice: the last one counts.
  CHECK(run({"-a", "wrong", "-a", "-p 1", "-p", closed, "-p", port, "-n", "other", "-n", "ns",
             "GET", "k"}) == "\"in-ns\"\n");
  // The URL's password replaces -a's, and -a after the URL replaces the URL's.
  CHECK(run({"-p", port, "-a", "wrong", "-u", "databridge://:-p%201@127.0.0.1:" + port, "GET",
             "k"}) == "\"default\"\n");
  ProgramResult r =
      RunProgram(Cli(), {"-u", "databridge://:-p%201@127.0.0.1:" + port, "-a", "wrong", "GET", "k"},
                 "", 20000);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, StartsWith("(error) NOAUTH "));
  // KV_PASSWORD is the default; -a and a URL's password override it.
  const std::string env = "/usr/bin/env";
  r = RunProgram(env, {"KV_PASSWORD=-p 1", Cli(), "-p", port, "GET", "k"}, "", 20000);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "\"default\"\n");
  r = RunProgram(env, {"KV_PASSWORD=-p 1", Cli(), "-p", port, "-a", "wrong", "GET", "k"}, "",
                 20000);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, StartsWith("(error) NOAUTH "));
  r = RunProgram(env,
                 {"KV_PASSWORD=wrong", Cli(), "-u", "kv://:-p%201@127.0.0.1:" + port, "GET", "k"},
                 "", 20000);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "\"default\"\n");
  // -s, -t and "--" before COMMAND, in any order; and in piped mode.
  CHECK(run({"-a", "-p 1", "-t", "5", "-p", port, "-s", "--", "SET", "s", "5"}) == "OK\n");
  CHECK(run({"-a", "-p 1", "-p", port, "GET", "s"}) == "\"5\"\n");
  r = RunProgram(Cli(), {"-p", port, "-a", "-p 1", "-s", "-t", "5", "--"}, "SET t 6\nGET t\n",
                 20000);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "OK\n\"6\"\n");
}

// ---------------------------------------------------------------------------------------------
// Locks, waits, blocking pops and a plugin's command through the CLI.

using Clock = std::chrono::steady_clock;

// Waits (bounded) until the server reports n blocked commands.
void AwaitBlocked(client::Client& c, int64_t n) {
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (InfoInt(c, "blocked") != n) {
    REQUIRE(Clock::now() < deadline);
    std::this_thread::yield();
  }
}

// The CLI with args, run in the background.
std::future<ProgramResult> CliInBackground(uint16_t port, std::vector<std::string> args) {
  args.insert(args.begin(), {"-p", std::to_string(port)});
  return std::async(std::launch::async, [args] { return RunProgram(Cli(), args, "", 20000); });
}

TEST_CASE("LOCK, UNLOCK and LOCKEXTEND through the CLI", "[integration][cli]") {
  ServerProcess server;
  const uint16_t p = server.port();
  CHECK(Out(p, {"LOCK", "job", "tok", "10000"}) == "(integer) 1\n");
  CHECK(Out(p, {"LOCK", "job", "other", "10000"}) == "(integer) 0\n");
  CHECK(Out(p, {"LOCKEXTEND", "job", "tok", "20000"}) == "(integer) 1\n");
  ProgramResult r = RunCli(p, {"UNLOCK", "job", "other"});
  CHECK(r.exit_code == 1);
  CHECK(r.out == "(error) NOTOWNER lock is held by another owner\n");
  CHECK(Out(p, {"UNLOCK", "job", "tok"}) == "(integer) 1\n");
  r = RunCli(p, {"UNLOCK", "job", "tok"});
  CHECK(r.exit_code == 1);
  CHECK(r.out == "(error) NOTOWNER lock is not held\n");
  // Locks are per namespace in the CLI too.
  CHECK(Out(p, {"-n", "a", "LOCK", "job", "tokA", "10000"}) == "(integer) 1\n");
  CHECK(Out(p, {"-n", "b", "LOCK", "job", "tokB", "10000"}) == "(integer) 1\n");
  CHECK(Out(p, {"-n", "a", "GET", "job"}) == "\"tokA\"\n");
}

TEST_CASE("the CLI waits for a blocked LOCK past -t, as redis-cli does", "[integration][cli]") {
  ServerProcess server;
  const uint16_t p = server.port();
  CHECK(Out(p, {"LOCK", "job", "holder", "60000"}) == "(integer) 1\n");
  client::Client c(Opts(server, 30));
  // -t 0.2, and the lock is released only after 0.6 s: the CLI must not give up at -t.
  auto waiting = CliInBackground(p, {"-t", "0.2", "LOCK", "job", "waiter", "10000", "0"});
  AwaitBlocked(c, 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  CHECK(Ok(c, "UNLOCK", {S("job"), S("holder")}) == I(1));
  ProgramResult r = waiting.get();
  INFO("stderr: " << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "(integer) 1\n");
  CHECK(Out(p, {"GET", "job"}) == "\"waiter\"\n");
  // A LOCK timeout longer than -t: the server's 0 at the timeout, not the CLI's TIMEOUT.
  r = RunCli(p, {"-t", "0.1", "LOCK", "job", "late", "1000", "0.4"});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "(integer) 0\n");
}

TEST_CASE("WAIT through the CLI: at once, or woken by a write past -t", "[integration][cli]") {
  ServerProcess server;
  const uint16_t p = server.port();
  CHECK(Out(p, {"SET", "ready", "yes"}) == "OK\n");
  CHECK(Out(p, {"WAIT", "ready", "5"}) == "\"yes\"\n");
  client::Client c(Opts(server, 30));
  auto waiting = CliInBackground(p, {"-t", "0.2", "WAIT", "result", "0"});
  AwaitBlocked(c, 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  Ok(c, "SET", {S("result"), I(42)});
  ProgramResult r = waiting.get();
  INFO("stderr: " << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "(integer) 42\n");
  // A WAIT that times out prints (nil) after its own timeout, even past -t.
  r = RunCli(p, {"-t", "0.1", "WAIT", "never", "0.4"});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "(nil)\n");
  // Interactive (piped) lines get the same deadlines.
  r = RunCli(p, {"-t", "0.1"}, "WAIT never 0.3\nMWAIT 0.3 ready never\n");
  CHECK(r.exit_code == 0);
  CHECK(r.out == "(nil)\n1) \"yes\"\n2) (nil)\n");
  // A timeout the server refuses is answered at once.
  r = RunCli(p, {"WAIT", "k", "soon"});
  CHECK(r.exit_code == 1);
  CHECK(r.out == "(error) ERR timeout is not a number of seconds >= 0\n");
}

TEST_CASE("BLPOP q 0 through the CLI waits for the push", "[integration][cli]") {
  ServerProcess server;
  const uint16_t p = server.port();
  CHECK(Out(p, {"RPUSH", "q", "first"}) == "(integer) 1\n");
  CHECK(Out(p, {"BLPOP", "q", "0"}) == "1) \"q\"\n2) \"first\"\n");
  client::Client c(Opts(server, 30));
  auto waiting = CliInBackground(p, {"-t", "0.2", "BLPOP", "q", "0"});
  AwaitBlocked(c, 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  Ok(c, "RPUSH", {S("q"), S("job")});
  ProgramResult r = waiting.get();
  INFO("stderr: " << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "1) \"q\"\n2) \"job\"\n");
  CHECK(Out(p, {"LLEN", "q"}) == "(integer) 0\n");
  r = RunCli(p, {"-t", "0.1", "BRPOP", "q", "0.3"});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "(nil)\n");
}

std::string PluginPath(const std::string& label) {
  for (std::string path : {label, "bazel-bin/" + label}) {
    if (access(path.c_str(), R_OK) == 0) return path;
  }
  const char* srcdir = std::getenv("TEST_SRCDIR");
  if (srcdir != nullptr) return std::string(srcdir) + "/data_bridge_kv/" + label;
  return label;
}

TEST_CASE("THROTTLE through the CLI with the plugin loaded", "[integration][cli][plugin]") {
  ServerProcess server({"--plugin", PluginPath("plugins/examples/throttle.so")});
  const uint16_t p = server.port();
  CHECK(Out(p, {"THROTTLE", "user", "1", "10", "60"}) ==
        "1) (integer) 0\n2) (integer) 2\n3) (integer) 1\n4) (integer) -1\n5) (integer) 6\n");
  CHECK(Out(p, {"throttle", "user", "1", "10", "60"}) ==
        "1) (integer) 0\n2) (integer) 2\n3) (integer) 0\n4) (integer) -1\n5) (integer) 12\n");
  const std::string limited = Out(p, {"THROTTLE", "user", "1", "10", "60"});
  CHECK_THAT(limited, StartsWith("1) (integer) 1\n2) (integer) 2\n3) (integer) 0\n4) (integer) "));
  // A quantity no bucket can hold is limited for good (retry_after -1), whatever its size.
  CHECK(Out(p, {"THROTTLE", "big", "4", "10", "60", "9223372036854775807"}) ==
        "1) (integer) 1\n2) (integer) 5\n3) (integer) 5\n4) (integer) -1\n5) (integer) 0\n");
  ProgramResult r = RunCli(p, {"THROTTLE", "user", "1", "0", "60"});
  CHECK(r.exit_code == 1);
  CHECK(r.out == "(error) ERR count_per_period must be > 0\n");
  r = RunCli(p, {"THROTTLE", "user"});
  CHECK(r.exit_code == 1);
  CHECK(r.out == "(error) ERR wrong number of arguments for 'throttle' command\n");
}

TEST_CASE("THROTTLE is an unknown command in the CLI without the plugin", "[integration][cli]") {
  ServerProcess server;
  ProgramResult r = RunCli(server.port(), {"THROTTLE", "user", "1", "10", "60"});
  CHECK(r.exit_code == 1);
  CHECK(r.out == "(error) UNKNOWN unknown command 'THROTTLE'\n");
}

}  // namespace
}  // namespace dbkv::testing
