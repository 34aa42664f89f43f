#include "server/options.h"

#include <stdlib.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace dbkv {
namespace {

using Catch::Matchers::Contains;

// Every variable ParseServerOptions reads. Each test starts from a clean environment and
// restores it on exit, so tests cannot leak settings into one another.
constexpr const char* kEnvVars[] = {
    "KV_BIND",
    "KV_SHARDS",
    "KV_WORKERS",
    "KV_IO_THREADS",
    "KV_MAX_FRAME_BYTES",
    "KV_MAX_CONNECTIONS",
    "KV_PASSWORD_FILE",
    "KV_LOG_LEVEL",
    "KV_PORT_FILE",
    "KV_SHUTDOWN_TIMEOUT_MS",
    "KV_PASSWORD",
};

class CleanEnv {
 public:
  CleanEnv() {
    for (const char* name : kEnvVars) {
      if (const char* v = getenv(name); v != nullptr) saved_.emplace_back(name, v);
      unsetenv(name);
    }
  }
  ~CleanEnv() {
    for (const char* name : kEnvVars) unsetenv(name);
    for (const auto& [name, value] : saved_) setenv(name.c_str(), value.c_str(), 1);
  }
  void Set(const char* name, const std::string& value) { setenv(name, value.c_str(), 1); }

 private:
  std::vector<std::pair<std::string, std::string>> saved_;
};

struct Parsed {
  Status status;
  ServerOptions options;
  bool exit_now = false;
  int exit_code = -1;
};

Parsed Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "data-bridge-kv-server");
  std::vector<char*> argv;
  argv.reserve(args.size());
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  Parsed p;
  p.status = ParseServerOptions(static_cast<int>(args.size()), argv.data(), &p.options, &p.exit_now,
                                &p.exit_code);
  return p;
}

// A parse that must succeed and go on to serve.
ServerOptions ParseOk(std::vector<std::string> args) {
  Parsed p = Parse(std::move(args));
  INFO(p.status.ToString());
  REQUIRE(p.status.ok());
  REQUIRE_FALSE(p.exit_now);
  return p.options;
}

std::string WriteTempFile(const std::string& name, const std::string& content) {
  const char* dir = getenv("TEST_TMPDIR");
  std::string path = std::string(dir != nullptr ? dir : "/tmp") + "/" + name;
  std::ofstream out(path, std::ios::trunc | std::ios::binary);
  out << content;
  return path;
}

uint64_t Size(const std::string& text) {
  uint64_t n = 0xdeadbeef;
  INFO(text);
  REQUIRE(ParseByteSize(text, &n));
  return n;
}

bool SizeRejected(const std::string& text) {
  uint64_t n = 0xdeadbeef;
  const bool ok = ParseByteSize(text, &n);
  INFO(text << " parsed as " << n);
  CHECK(n == 0xdeadbeef);  // untouched on failure
  return !ok;
}

TEST_CASE("ParseByteSize reads plain numbers and binary suffixes", "[options]") {
  CHECK(Size("0") == 0);
  CHECK(Size("1048576") == 1048576);
  CHECK(Size("5b") == 5);
  CHECK(Size("5B") == 5);
  CHECK(Size("512KiB") == 512 * 1024);
  CHECK(Size("1k") == 1024);
  CHECK(Size("1KB") == 1024);
  CHECK(Size("64MiB") == uint64_t{64} << 20);
  CHECK(Size("64MB") == uint64_t{64} << 20);
  CHECK(Size("64M") == uint64_t{64} << 20);
  CHECK(Size("64mb") == uint64_t{64} << 20);
  CHECK(Size("1GiB") == uint64_t{1} << 30);
  CHECK(Size("3g") == uint64_t{3} << 30);
  CHECK(Size("2TiB") == uint64_t{2} << 40);
}

TEST_CASE("ParseByteSize rejects malformed sizes and overflow", "[options]") {
  CHECK(SizeRejected(""));
  CHECK(SizeRejected("MiB"));
  CHECK(SizeRejected("-1"));
  CHECK(SizeRejected("+1"));
  CHECK(SizeRejected(" 1"));
  CHECK(SizeRejected("1 MiB"));
  CHECK(SizeRejected("1.5MiB"));
  CHECK(SizeRejected("12XB"));
  CHECK(SizeRejected("1PiB"));
  CHECK(SizeRejected("1MiBs"));
  // More digits than uint64 holds.
  CHECK(SizeRejected("99999999999999999999"));
  CHECK(SizeRejected("123456789012345678901234567890"));
  // The multiplication overflows: 2^24 TiB is 2^64.
  CHECK(SizeRejected("16777216TiB"));
  CHECK(SizeRejected("17179869184GiB"));
  CHECK(Size("16777215TiB") == (uint64_t{16777215} << 40));
  CHECK(Size("17179869183G") == (uint64_t{17179869183} << 30));
}

TEST_CASE("SplitHostPort splits host and port, IPv6 in brackets", "[options]") {
  std::string host;
  uint16_t port = 0;
  REQUIRE(SplitHostPort("127.0.0.1:7379", &host, &port));
  CHECK(host == "127.0.0.1");
  CHECK(port == 7379);
  REQUIRE(SplitHostPort("localhost:0", &host, &port));
  CHECK(host == "localhost");
  CHECK(port == 0);
  REQUIRE(SplitHostPort("[::1]:65535", &host, &port));
  CHECK(host == "::1");
  CHECK(port == 65535);
  REQUIRE(SplitHostPort("[fe80::1:2]:80", &host, &port));
  CHECK(host == "fe80::1:2");
  CHECK(port == 80);

  host = "unchanged";
  port = 1;
  CHECK_FALSE(SplitHostPort("localhost", &host, &port));
  CHECK_FALSE(SplitHostPort("localhost:", &host, &port));
  CHECK_FALSE(SplitHostPort(":7379", &host, &port));
  CHECK_FALSE(SplitHostPort("[]:7379", &host, &port));
  CHECK_FALSE(SplitHostPort("host:65536", &host, &port));
  CHECK_FALSE(SplitHostPort("host:99999999999999999999", &host, &port));
  CHECK_FALSE(SplitHostPort("host:12a", &host, &port));
  CHECK_FALSE(SplitHostPort("host:-1", &host, &port));
  CHECK_FALSE(SplitHostPort("", &host, &port));
  CHECK(host == "unchanged");
  CHECK(port == 1);
}

TEST_CASE("ParseServerOptions defaults", "[options]") {
  CleanEnv env;
  ServerOptions o = ParseOk({});
  CHECK(o.bind == "127.0.0.1:7379");
  CHECK(o.max_frame_bytes == uint64_t{64} << 20);
  CHECK(o.max_connections == 10000);
  CHECK(o.password.empty());
  CHECK(o.password_file.empty());
  CHECK(o.log_level == "info");
  CHECK(o.port_file.empty());
  CHECK(o.shutdown_timeout_ms == 10000);
  // One event loop per core but one (at least one); the workers take the cores left (at
  // least one); one shard per loop or worker, whichever is more.
  const uint32_t cores = std::max(1u, std::thread::hardware_concurrency());
  CHECK(o.io_threads == (cores > 1 ? cores - 1 : 1));
  CHECK(o.workers == (cores > o.io_threads ? cores - o.io_threads : 1));
  CHECK(o.shards == std::max(o.io_threads, o.workers));
}

TEST_CASE("ParseServerOptions reads every flag", "[options]") {
  CleanEnv env;
  ServerOptions o =
      ParseOk({"--bind", "[::1]:0", "--shards", "7", "--workers", "3", "--io-threads", "2",
               "--max-frame-bytes", "1KiB", "--max-connections", "4", "--log-level", "debug",
               "--port-file", "/tmp/port", "--shutdown-timeout-ms", "250"});
  CHECK(o.bind == "[::1]:0");
  CHECK(o.shards == 7);
  CHECK(o.workers == 3);
  CHECK(o.io_threads == 2);
  CHECK(o.max_frame_bytes == 1024);
  CHECK(o.max_connections == 4);
  CHECK(o.log_level == "debug");
  CHECK(o.port_file == "/tmp/port");
  CHECK(o.shutdown_timeout_ms == 250);
}

TEST_CASE("ParseServerOptions: shards default to the loops or workers given", "[options]") {
  CleanEnv env;
  ServerOptions o = ParseOk({"--workers", "5", "--io-threads", "1"});
  CHECK(o.workers == 5);
  CHECK(o.shards == 5);
  o = ParseOk({"--io-threads", "6", "--workers", "1"});
  CHECK(o.shards == 6);
  o = ParseOk({"--io-threads", "64"});
  CHECK(o.workers >= 1);
  CHECK(o.shards == 64);
  o = ParseOk({"--io-threads", "0"});  // auto
  CHECK(o.io_threads >= 1);
}

TEST_CASE("ParseServerOptions reads KV_ environment variables", "[options]") {
  CleanEnv env;
  env.Set("KV_BIND", "0.0.0.0:9000");
  env.Set("KV_SHARDS", "3");
  env.Set("KV_WORKERS", "2");
  env.Set("KV_IO_THREADS", "2");
  env.Set("KV_MAX_FRAME_BYTES", "2MiB");
  env.Set("KV_MAX_CONNECTIONS", "17");
  env.Set("KV_LOG_LEVEL", "warn");
  env.Set("KV_PORT_FILE", "/tmp/kv-port");
  env.Set("KV_SHUTDOWN_TIMEOUT_MS", "1234");
  env.Set("KV_PASSWORD", "from-env");
  ServerOptions o = ParseOk({});
  CHECK(o.bind == "0.0.0.0:9000");
  CHECK(o.shards == 3);
  CHECK(o.workers == 2);
  CHECK(o.io_threads == 2);
  CHECK(o.max_frame_bytes == uint64_t{2} << 20);
  CHECK(o.max_connections == 17);
  CHECK(o.log_level == "warn");
  CHECK(o.port_file == "/tmp/kv-port");
  CHECK(o.shutdown_timeout_ms == 1234);
  CHECK(o.password == "from-env");
}

TEST_CASE("ParseServerOptions: a flag wins over the environment", "[options]") {
  CleanEnv env;
  env.Set("KV_BIND", "0.0.0.0:9000");
  env.Set("KV_SHARDS", "3");
  env.Set("KV_MAX_FRAME_BYTES", "2MiB");
  env.Set("KV_LOG_LEVEL", "warn");
  ServerOptions o = ParseOk({"--bind", "127.0.0.1:1", "--shards", "5", "--max-frame-bytes", "4KiB",
                             "--log-level", "error"});
  CHECK(o.bind == "127.0.0.1:1");
  CHECK(o.shards == 5);
  CHECK(o.max_frame_bytes == 4096);
  CHECK(o.log_level == "error");
}

TEST_CASE("ParseServerOptions rejects bad values, naming the flag", "[options]") {
  CleanEnv env;
  struct Case {
    std::vector<std::string> args;
    const char* flag;
  };
  const Case cases[] = {
      {{"--max-frame-bytes", "63"}, "--max-frame-bytes"},
      {{"--max-frame-bytes", "4GiB"}, "--max-frame-bytes"},
      {{"--max-frame-bytes", "lots"}, "--max-frame-bytes"},
      {{"--max-frame-bytes", "1.5MiB"}, "--max-frame-bytes"},
      {{"--bind", "localhost"}, "--bind"},
      {{"--bind", "localhost:70000"}, "--bind"},
      {{"--bind", ":80"}, "--bind"},
      {{"--shards", "1025"}, "--shards"},
  };
  for (const Case& c : cases) {
    Parsed p = Parse(c.args);
    INFO(c.args[0] << " " << c.args[1]);
    CHECK_FALSE(p.exit_now);
    CHECK(p.status.code() == Code::kInvalidArgument);
    CHECK_THAT(p.status.message(), Contains(c.flag));
  }
  // The limits themselves are accepted.
  CHECK(ParseOk({"--max-frame-bytes", "64"}).max_frame_bytes == 64);
  CHECK(ParseOk({"--max-frame-bytes", "4294967295"}).max_frame_bytes == 0xffffffffull);
  CHECK(ParseOk({"--shards", "1024"}).shards == 1024);
}

TEST_CASE("ParseServerOptions: values the flag parser refuses exit with an error code",
          "[options]") {
  CleanEnv env;
  const std::vector<std::vector<std::string>> cases = {
      {"--shards", "abc"},
      {"--shards", "-1"},
      {"--io-threads", "65"},
      {"--max-connections", "0"},
      {"--log-level", "loud"},
      {"--no-such-flag"},
      {"--shards"},
      {"--bind", "a:1", "--bind", "b:2"},
  };
  for (const auto& args : cases) {
    Parsed p = Parse(args);
    INFO(args[0]);
    CHECK(p.exit_now);
    CHECK(p.exit_code != 0);
  }
  // The same from the environment.
  env.Set("KV_SHARDS", "many");
  Parsed p = Parse({});
  CHECK(p.exit_now);
  CHECK(p.exit_code != 0);
}

TEST_CASE("ParseServerOptions: --help and --version exit 0", "[options]") {
  CleanEnv env;
  for (const char* flag : {"--help", "--version"}) {
    Parsed p = Parse({flag});
    INFO(flag);
    CHECK(p.status.ok());
    CHECK(p.exit_now);
    CHECK(p.exit_code == 0);
  }
}

TEST_CASE("ParseServerOptions: --password-file is read and trimmed", "[options]") {
  CleanEnv env;
  const std::string crlf = WriteTempFile("pw-crlf", "s3cret\r\n");
  ServerOptions o = ParseOk({"--password-file", crlf});
  CHECK(o.password_file == crlf);
  CHECK(o.password == "s3cret");

  const std::string spaces = WriteTempFile("pw-spaces", "pass word  \n\n");
  CHECK(ParseOk({"--password-file", spaces}).password == "pass word");

  const std::string bare = WriteTempFile("pw-bare", "no-newline");
  CHECK(ParseOk({"--password-file", bare}).password == "no-newline");

  // From the environment too; and the file wins over KV_PASSWORD.
  env.Set("KV_PASSWORD", "from-env");
  env.Set("KV_PASSWORD_FILE", crlf);
  CHECK(ParseOk({}).password == "s3cret");
}

TEST_CASE("ParseServerOptions: an empty or missing password file is an error", "[options]") {
  CleanEnv env;
  const std::string empty = WriteTempFile("pw-empty", "\r\n");
  Parsed p = Parse({"--password-file", empty});
  CHECK(p.status.code() == Code::kInvalidArgument);
  CHECK_THAT(p.status.message(), Contains("--password-file") && Contains("empty"));

  p = Parse({"--password-file", "/nonexistent/dir/password"});
  CHECK(p.status.code() == Code::kInvalidArgument);
  CHECK_THAT(p.status.message(),
             Contains("--password-file") && Contains("/nonexistent/dir/password"));
}

}  // namespace
}  // namespace dbkv
