// --check-config: the real server binary validates its flags and environment, prints the
// verdict and exits 0 or 1, without binding a port or writing a file.
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "tests/server_process.h"

namespace dbkv::testing {
namespace {

struct Outcome {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

std::string Quote(const std::string& arg) {
  std::string out = "'";
  for (char c : arg) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

// Runs the server with env (NAME=value words) and args; waits for it to exit.
Outcome Run(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
  std::string cmd = "env -u KV_CHECK_CONFIG";
  for (const std::string& e : env) cmd += " " + Quote(e);
  cmd += " " + Quote(RunfilePath("server/data-bridge-kv-server"));
  for (const std::string& a : args) cmd += " " + Quote(a);
  cmd += " 2>&1";
  Outcome o;
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) o.output.append(buf.data(), n);
  const int status = pclose(p);
  if (WIFEXITED(status)) o.exit_code = WEXITSTATUS(status);
  return o;
}

// A listening socket on a free port, held for the test: a server that tried to bind the port
// would fail.
struct HeldPort {
  int fd = -1;
  uint16_t port = 0;
  HeldPort() {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
    REQUIRE(listen(fd, 1) == 0);
    socklen_t len = sizeof(a);
    REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    port = ntohs(a.sin_port);
  }
  ~HeldPort() { close(fd); }
  std::string hostport() const { return "127.0.0.1:" + std::to_string(port); }
};

std::string TempDir() {
  char tmpl[] = "/tmp/dbkv-check-config-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  return tmpl;
}

using Catch::Matchers::Contains;

TEST_CASE("--check-config accepts a good configuration without binding or writing anything",
          "[integration][check_config]") {
  HeldPort data, http;
  const std::string dir = TempDir() + "/not/yet/there";
  const Outcome o = Run({"--check-config", "--bind", data.hostport(), "--http-bind",
                         http.hostport(), "--data-dir", dir, "--plugin",
                         RunfilePath("plugins/examples/throttle.so"), "--max-memory", "64MiB"});
  INFO(o.output);
  CHECK(o.exit_code == 0);
  CHECK_THAT(o.output, Contains("configuration OK") && Contains("bind " + data.hostport()) &&
                           Contains("with plugins throttle") && Contains(dir));
  struct stat st {};
  CHECK(stat(dir.c_str(), &st) != 0);  // the data dir was not created
  // The environment is read as at start-up, and KV_CHECK_CONFIG asks for the check too.
  const Outcome env = Run({"--bind", data.hostport(), "--http-bind", "none"},
                          {"KV_CHECK_CONFIG=1", "KV_FSYNC=always", "KV_DATA_DIR=" + dir});
  INFO(env.output);
  CHECK(env.exit_code == 0);
  CHECK_THAT(env.output, Contains("fsync always"));
}

TEST_CASE("--check-config refuses, with exit 1 and the reason, what start-up would refuse",
          "[integration][check_config]") {
  struct Case {
    std::vector<std::string> args;
    std::vector<std::string> env;
    std::string message;
  };
  const std::string dir = TempDir();
  const std::string file = dir + "/a-file";
  std::ofstream(file) << "x";
  const std::vector<Case> cases = {
      {{"--fsync", "sometimes"}, {}, "--fsync"},
      {{"--no-such-flag"}, {}, "no-such-flag"},
      {{}, {"KV_FSYNC=sometimes"}, "--fsync"},
      {{"--bind", "nonsense"}, {}, "--bind"},
      {{"--max-memory", "12 apples"}, {}, "--max-memory"},
      {{"--tls-cert", dir + "/missing.pem", "--tls-key", dir + "/missing.key"}, {}, "--tls-cert"},
      {{"--tls-cert", file, "--tls-key", file}, {}, "--tls-cert"},
      {{"--plugin", RunfilePath("tests/plugins/old_api.so")}, {}, "ABI mismatch"},
      {{"--plugin", "/nonexistent/lib.so"}, {}, "--plugin /nonexistent/lib.so"},
      {{"--data-dir", file}, {}, "is not a directory"},
      {{"--data-dir", file + "/below"}, {}, "is not a directory"},
      {{"--password-file", dir + "/no-password"}, {}, "--password-file"},
      // A flag's value CLI11 refuses is still a refusal (exit 1), with --check-config=VALUE.
      {{"--check-config=maybe"}, {}, "check-config"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"--check-config", "--http-bind", "none"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    const Outcome o = Run(args, c.env);
    INFO(o.output);
    CHECK(o.exit_code == 1);
    CHECK_THAT(o.output, Contains(c.message));
  }
}

TEST_CASE("--check-config refuses a data dir it could not write", "[integration][check_config]") {
  if (geteuid() == 0) {
    SUCCEED("root writes anywhere: nothing to refuse");
    return;
  }
  const std::string dir = TempDir();
  REQUIRE(chmod(dir.c_str(), 0500) == 0);
  const Outcome o = Run({"--check-config", "--data-dir", dir + "/data"});
  CHECK(o.exit_code == 1);
  CHECK_THAT(o.output, Contains("cannot create it in " + dir));
}

}  // namespace
}  // namespace dbkv::testing
