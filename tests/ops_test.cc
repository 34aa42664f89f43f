// Operating the real server: the HTTP endpoints (/metrics in Prometheus text, /health, /ready),
// the probes during recovery and with a shard that stops answering, wrong-password accounting
// and delay, the idle timeout, JSON logs and what the log must not hold. HTTP goes over a plain
// socket: HTTP/1.1 GET with "Connection: close", read to EOF (tests/http_test.cc has the rest
// of HTTP: keep-alive, HEAD, errors, deadlines).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "client/client.h"
#include "tests/server_process.h"
#include "tests/test_util.h"

namespace dbkv::testing {
namespace {

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using client::Client;
using client::ClientOptions;
using Clock = std::chrono::steady_clock;

int64_t MsSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Waits (bounded) for the peer to close: true on EOF (or reset). Input is discarded.
bool WaitForEof(int fd, int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, MsLeft(deadline)) <= 0) return false;
    char buf[4096];
    const ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
  }
}

struct HttpResponse {
  int status = 0;
  std::string head;  // status line and headers
  std::string body;
};

// One HTTP/1.1 request with "Connection: close"; the response is read to EOF (the server
// closes after it).
HttpResponse Http(uint16_t port, const std::string& method, const std::string& path,
                  int timeout_ms = 5000) {
  const int fd = ConnectTo(port);
  REQUIRE(fd >= 0);
  std::string request =
      method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  if (method == "POST") request += "Content-Length: 0\r\n";
  request += "\r\n";
  REQUIRE(SendAll(fd, request));
  bool eof = false;
  const std::string raw =
      ReadUntil(fd, "", Clock::now() + std::chrono::milliseconds(timeout_ms), &eof);
  close(fd);
  INFO(method << " " << path << ": " << raw.substr(0, 200));
  REQUIRE(eof);
  HttpResponse r;
  const size_t end = raw.find("\r\n\r\n");
  REQUIRE(end != std::string::npos);
  r.head = raw.substr(0, end);
  r.body = raw.substr(end + 4);
  REQUIRE_THAT(r.head, StartsWith("HTTP/1.1 "));
  r.status = std::atoi(r.head.c_str() + 9);
  return r;
}

bool IsNameChar(char c, bool first) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':' ||
         (!first && std::isdigit(static_cast<unsigned char>(c)));
}

// A Prometheus sample line, `name{label="value",...} value`: its key (everything before the
// value, as printed) and value. false if the line does not parse.
bool ParseSample(const std::string& line, std::string* key, double* value) {
  size_t i = 0;
  if (line.empty() || !IsNameChar(line[0], true)) return false;
  while (i < line.size() && IsNameChar(line[i], i == 0)) ++i;
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (i < line.size() && line[i] != '}') {
      const size_t name_start = i;
      while (i < line.size() && IsNameChar(line[i], i == name_start)) ++i;
      if (i == name_start || i + 1 >= line.size() || line[i] != '=' || line[i + 1] != '"') {
        return false;
      }
      i += 2;
      while (i < line.size() && line[i] != '"') i += line[i] == '\\' ? 2 : 1;
      if (i >= line.size()) return false;
      ++i;  // the closing quote
      if (i < line.size() && line[i] == ',') ++i;
    }
    if (i >= line.size()) return false;
    ++i;  // '}'
  }
  if (i >= line.size() || line[i] != ' ') return false;
  *key = line.substr(0, i);
  const std::string text = line.substr(i + 1);
  if (text.empty()) return false;
  char* end = nullptr;
  *value = std::strtod(text.c_str(), &end);
  return end == text.c_str() + text.size();
}

using Samples = std::map<std::string, double>;

// GET /metrics: every line a comment (# HELP, # TYPE) or a sample that parses.
Samples ScrapePort(uint16_t http_port) {
  HttpResponse r = Http(http_port, "GET", "/metrics");
  REQUIRE(r.status == 200);
  CHECK_THAT(r.head, Contains("Content-Type: text/plain; version=0.0.4"));
  Samples samples;
  std::vector<std::string> bad;  // lines that are neither a comment nor a sample, or repeated
  std::istringstream in(r.body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line[0] == '#') {
      if (line.rfind("# HELP databridge_kv_", 0) != 0 &&
          line.rfind("# TYPE databridge_kv_", 0) != 0) {
        bad.push_back(line);
      }
      continue;
    }
    std::string key;
    double value = 0;
    if (!ParseSample(line, &key, &value) || key.rfind("databridge_kv_", 0) != 0 ||
        !samples.emplace(key, value).second) {
      bad.push_back(line);
    }
  }
  std::string bad_lines;
  for (const std::string& b : bad) bad_lines += "\n" + b;
  INFO("lines that do not parse:" << bad_lines);
  CHECK(bad.empty());
  return samples;
}

Samples Scrape(const ServerProcess& server) { return ScrapePort(server.http_port()); }

double Get(const Samples& samples, const std::string& key) {
  auto it = samples.find(key);
  INFO("no sample " << key);
  REQUIRE(it != samples.end());
  return it->second;
}

// The sample once it equals expected (or its last value after 5 s). The shards publish their
// counters (keys, hits, misses, expired) after sending their replies, so a scrape right after
// a reply may see the previous values for a moment.
// A sample not there yet counts as 0 (a command family appears with its first command).
double Eventually(const ServerProcess& server, const std::string& key, double expected) {
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  for (;;) {
    const Samples samples = Scrape(server);
    auto it = samples.find(key);
    const double v = it == samples.end() ? 0 : it->second;
    if (v == expected || Clock::now() > deadline) return v;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::string CommandsTotal(const std::string& command, const std::string& status = "ok") {
  return "databridge_kv_commands_total{command=\"" + command + "\",status=\"" + status + "\"}";
}

std::string WriteTempFile(const std::string& name, const std::string& text) {
  std::string path = MakeTempDir("ops") + "/" + name;
  std::ofstream out(path);
  out << text;
  return path;
}

bool ExitedZero(int status) { return status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0; }

// As Http(), but status 0 when nothing listens on port (yet).
HttpResponse HttpIfUp(uint16_t port, const std::string& path) {
  const int probe = ConnectTo(port);
  if (probe < 0) return HttpResponse{};
  close(probe);
  return Http(port, "GET", path);
}

// GET path, never failing the test: status 0 unless a whole response (Content-Length bytes of
// body) arrived, e.g. when the port closes in between.
HttpResponse TryGet(uint16_t port, const std::string& path) {
  HttpResponse r;
  const int fd = ConnectTo(port);
  if (fd < 0) return r;
  std::string raw;
  if (SendAll(fd, "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")) {
    raw = ReadUntil(fd, "", Clock::now() + std::chrono::seconds(5));
  }
  close(fd);
  const size_t end = raw.find("\r\n\r\n");
  const size_t length = raw.find("Content-Length: ");
  if (raw.rfind("HTTP/1.1 ", 0) != 0 || end == std::string::npos || length > end) return r;
  if (raw.size() - end - 4 != std::stoul(raw.substr(length + 16))) return r;
  r.head = raw.substr(0, end);
  r.body = raw.substr(end + 4);
  r.status = std::atoi(raw.c_str() + 9);
  return r;
}

// Lines of an exposition that are neither a comment nor a databridge_kv_ sample that parses.
std::vector<std::string> BadLines(const std::string& body) {
  std::vector<std::string> bad;
  std::istringstream in(body);
  std::string line, key;
  double value = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (!ParseSample(line, &key, &value) || key.rfind("databridge_kv_", 0) != 0) {
      bad.push_back(line);
    }
  }
  return bad;
}

// A port on 127.0.0.1 that the kernel says is free (bound to port 0, then closed).
uint16_t FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  socklen_t len = sizeof(addr);
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  close(fd);
  REQUIRE(ok);
  return ntohs(addr.sin_port);
}

// The server binary started by hand with exactly these arguments. Unlike ServerProcess, which
// returns once the server is listening (after recovery), this returns at once. Killed on
// destruction if still running; the log is in a temp dir.
class StartedServer {
 public:
  explicit StartedServer(const std::vector<std::string>& args) {
    dir_ = MakeTempDir("started");
    const std::string binary = RunfilePath("server/data-bridge-kv-server");
    std::vector<char*> argv = {const_cast<char*>(binary.c_str())};
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const std::string log = log_path();
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      execv(argv[0], argv.data());
      _exit(127);
    }
    pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
    if (pidfd_ < 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      FAIL("pidfd_open failed");
    }
  }
  ~StartedServer() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (pidfd_ >= 0) close(pidfd_);
  }
  StartedServer(const StartedServer&) = delete;
  StartedServer& operator=(const StartedServer&) = delete;

  // Waits up to timeout_ms for the process to exit: true (and its status) if it did.
  bool Exited(int timeout_ms, int* status) {
    if (pid_ <= 0) return true;
    pollfd p = {pidfd_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) return false;
    waitpid(pid_, status, 0);
    pid_ = -1;
    return true;
  }
  // SIGTERM, and the exit status (-1 if it took longer than 20 s).
  int Stop() {
    if (pid_ <= 0) return -1;
    kill(pid_, SIGTERM);
    int status = -1;
    return Exited(20000, &status) ? status : -1;
  }
  pid_t pid() const { return pid_; }
  std::string dir() const { return dir_; }
  std::string log_path() const { return dir_ + "/server.log"; }
  std::string Log() const {
    std::ifstream in(log_path());
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  std::string dir_;
  pid_t pid_ = -1;
  int pidfd_ = -1;
};

// A shared library built for the tests (a data file of the test), from the runfiles tree.
std::string PluginPath(const std::string& label) {
  for (std::string p : {label, "bazel-bin/" + label}) {
    if (access(p.c_str(), R_OK) == 0) return p;
  }
  const char* srcdir = std::getenv("TEST_SRCDIR");
  return srcdir != nullptr ? std::string(srcdir) + "/data_bridge_kv/" + label : label;
}

TEST_CASE("/metrics counts the commands sent, exactly", "[integration][ops]") {
  ServerProcess server({"--shards", "2"});
  Client c(Opts(server));
  for (const char* key : {"a", "b", "c"}) Ok(c, "SET", {S(key), S("value")});
  for (const char* key : {"a", "b", "x", "y", "z"}) Ok(c, "GET", {S(key)});
  Err(c, "GET");  // wrong number of arguments

  Samples m = Scrape(server);
  CHECK(Get(m, CommandsTotal("hello")) == 1);  // the client's handshake
  CHECK(Get(m, CommandsTotal("set")) == 3);
  CHECK(Get(m, CommandsTotal("get")) == 5);
  CHECK(Get(m, CommandsTotal("get", "err")) == 1);
  CHECK(m.count(CommandsTotal("del")) == 0);

  // The latency histogram: cumulative buckets up to +Inf, a count and a sum per command.
  const std::string h = "databridge_kv_command_duration_seconds";
  CHECK(Get(m, h + "_count{command=\"set\"}") == 3);
  CHECK(Get(m, h + "_count{command=\"get\"}") == 6);
  CHECK(Get(m, h + "_bucket{command=\"set\",le=\"+Inf\"}") == 3);
  CHECK(Get(m, h + "_sum{command=\"set\"}") > 0);
  double previous = 0;
  int buckets = 0;
  for (const auto& [key, value] : m) {
    if (key.rfind(h + "_bucket{command=\"get\",", 0) != 0) continue;
    ++buckets;
    previous = std::max(previous, value);
  }
  CHECK(buckets >= 10);
  CHECK(previous == 6);
  CHECK(Get(m, h + "_bucket{command=\"get\",le=\"10\"}") <= 6);

  // The data.
  CHECK(Eventually(server, "databridge_kv_keys", 3) == 3);
  CHECK(Eventually(server, "databridge_kv_hits_total", 2) == 2);
  CHECK(Eventually(server, "databridge_kv_misses_total", 3) == 3);
  m = Scrape(server);
  CHECK(Get(m, "databridge_kv_memory_bytes{tier=\"ram\"}") > 0);
  CHECK(Get(m, "databridge_kv_memory_bytes{tier=\"disk\"}") == 0);
  CHECK(Get(m, "databridge_kv_expired_keys_total") == 0);
  CHECK(Get(m, "databridge_kv_evicted_keys_total") == 0);
  CHECK(Get(m, "databridge_kv_connections") == 1);
  CHECK(Get(m, "databridge_kv_auth_failures_total") == 0);
  // Memory only: no WAL families.
  CHECK(m.count("databridge_kv_wal_bytes_total") == 0);

  // Scrapes are not commands; more commands count on from where they were.
  Ok(c, "SET", {S("d"), I(1)});
  Ok(c, "GET", {S("d")});
  m = Scrape(server);
  CHECK(Get(m, CommandsTotal("set")) == 4);
  CHECK(Get(m, CommandsTotal("get")) == 6);
  CHECK(Eventually(server, "databridge_kv_hits_total", 3) == 3);
}

TEST_CASE("/metrics counts expired keys", "[integration][ops]") {
  ServerProcess server({"--shards", "1"});
  Client c(Opts(server));
  Ok(c, "SET", {S("gone"), S("soon"), S("PX"), I(30)});
  Ok(c, "SET", {S("stays"), S("here")});
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (!Ok(c, "GET", {S("gone")}).is_null() && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  CHECK(Eventually(server, "databridge_kv_expired_keys_total", 1) == 1);
  CHECK(Eventually(server, "databridge_kv_keys", 1) == 1);
}

TEST_CASE("/metrics: the connections gauge follows the open clients", "[integration][ops]") {
  ServerProcess server;
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(std::make_unique<Client>(Opts(server)));
    REQUIRE(clients.back()->Connect().ok());
  }
  Samples m = Scrape(server);
  CHECK(Get(m, "databridge_kv_connections") == 3);
  CHECK(Get(m, "databridge_kv_accepted_connections_total") == 3);
  clients.resize(1);
  CHECK(Eventually(server, "databridge_kv_connections", 1) == 1);
  CHECK(Get(Scrape(server), "databridge_kv_accepted_connections_total") == 3);
}

TEST_CASE("wrong passwords are counted and answered late; the right one still works",
          "[integration][ops]") {
  const std::string password_file = WriteTempFile("password", "the-right-one\n");
  ServerProcess server({"--password-file", password_file});
  Client c(Opts(server));
  CHECK(Err(c, "GET", {S("k")}).code == Code::kAuth);

  auto start = Clock::now();
  CHECK(Err(c, "AUTH", {S("guess-1")}).code == Code::kAuth);
  const int64_t first_ms = MsSince(start);
  start = Clock::now();
  CHECK(Err(c, "AUTH", {S("guess-2")}).code == Code::kAuth);
  const int64_t second_ms = MsSince(start);
  INFO("wrong AUTH answered after " << first_ms << " ms, then " << second_ms << " ms");
  CHECK(first_ms >= 200);
  CHECK(second_ms >= 400);
  CHECK(Get(Scrape(server), "databridge_kv_auth_failures_total") == 2);

  CHECK(Ok(c, "AUTH", {S("the-right-one")}) == S("OK"));
  CHECK(Ok(c, "SET", {S("k"), S("v")}) == S("OK"));
  CHECK(Ok(c, "GET", {S("k")}) == S("v"));

  // A wrong password in a HELLO counts too.
  Client other(Opts(server));
  CHECK(Err(other, "HELLO", {I(1), S("AUTH"), S("guess-3")}).code == Code::kAuth);
  CHECK(Get(Scrape(server), "databridge_kv_auth_failures_total") == 3);
}

TEST_CASE("reconnecting does not reset the wrong-password delay", "[integration][ops]") {
  const std::string password_file = WriteTempFile("password", "the-right-one\n");
  ServerProcess server({"--password-file", password_file});
  // A guess per connection, as a client that reconnects after each one.
  auto guess = [&](const std::string& password) {
    Client c(Opts(server));
    const auto start = Clock::now();
    const Reply r = c.Call("AUTH", {S(password)});
    const int64_t ms = MsSince(start);
    return std::make_pair(r, ms);
  };
  const auto [r1, first_ms] = guess("guess-1");
  const auto [r2, second_ms] = guess("guess-2");
  const auto [r3, third_ms] = guess("guess-3");
  INFO("wrong AUTH on fresh connections answered after " << first_ms << ", " << second_ms << ", "
                                                         << third_ms << " ms");
  CHECK(r1.code == Code::kAuth);
  CHECK(r2.code == Code::kAuth);
  CHECK(r3.code == Code::kAuth);
  CHECK(first_ms >= 200);
  CHECK(second_ms >= 450);
  CHECK(third_ms >= 950);
  // Another connection of the same address that does not guess is served at once meanwhile.
  Client bystander(Opts(server));
  CHECK(bystander.Call("PING").ok());
  // The right password starts the count over.
  Client right(Opts(server));
  CHECK(Ok(right, "AUTH", {S("the-right-one")}) == S("OK"));
  const auto [r4, after_ms] = guess("guess-4");
  CHECK(r4.code == Code::kAuth);
  CHECK(after_ms >= 200);
  CHECK(after_ms < 950);
  CHECK(Get(Scrape(server), "databridge_kv_auth_failures_total") == 4);
  CHECK_THAT(server.Log(), Contains("wrong password (3 in a row from that address)"));
}

TEST_CASE("/metrics: the WAL families with --data-dir", "[integration][ops]") {
  const std::string dir = MakeTempDir("data");
  ServerProcess server({"--data-dir", dir, "--fsync", "always", "--shards", "2"});
  Client c(Opts(server));
  for (int i = 0; i < 10; ++i) Ok(c, "SET", {S("k" + std::to_string(i)), I(i)});
  // --fsync always: each SET was answered after its record was on disk.
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  Samples m = Scrape(server);
  while (Get(m, "databridge_kv_wal_records_total") < 10 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    m = Scrape(server);
  }
  CHECK(Get(m, "databridge_kv_wal_records_total") == 10);
  CHECK(Get(m, "databridge_kv_wal_bytes_total") > 10 * 10);
  const std::string f = "databridge_kv_wal_fsync_duration_seconds";
  CHECK(Get(m, f + "_count") >= 1);
  CHECK(Get(m, f + "_bucket{le=\"+Inf\"}") == Get(m, f + "_count"));
  CHECK(Get(m, f + "_sum") > 0);
  CHECK(Get(m, "databridge_kv_wal_failed") == 0);
}

TEST_CASE("/health, /ready, and what else the HTTP port answers", "[integration][ops]") {
  ServerProcess server;
  HttpResponse health = Http(server.http_port(), "GET", "/health");
  CHECK(health.status == 200);
  CHECK(health.body == "ok\n");
  HttpResponse ready = Http(server.http_port(), "GET", "/ready");
  CHECK(ready.status == 200);  // the port file is written once listening
  CHECK(ready.body == "ready\n");
  CHECK(Http(server.http_port(), "GET", "/metrics?x=1").status == 200);
  HttpResponse missing = Http(server.http_port(), "GET", "/nope");
  CHECK(missing.status == 404);
  CHECK_THAT(missing.head, StartsWith("HTTP/1.1 404 Not Found"));
  CHECK(Http(server.http_port(), "GET", "/").status == 404);
  HttpResponse post = Http(server.http_port(), "POST", "/metrics");
  CHECK(post.status == 405);
  CHECK_THAT(post.head, StartsWith("HTTP/1.1 405 Method Not Allowed"));
  CHECK(Http(server.http_port(), "POST", "/ready").status == 405);
}

TEST_CASE("/ready says 503 while the server drains at shutdown", "[integration][ops]") {
  ServerProcess server({"--shutdown-timeout-ms", "2000"});
  {
    Client c(Opts(server));
    Ok(c, "SET", {S("big"), Value::Bytes(std::string(4 << 20, 'x'))});
  }
  // A raw client asks for the 4 MiB value 8 times and reads none of it: with its receive
  // buffer small, the server cannot finish writing, so the drain lasts until the timeout.
  const int fd = ConnectTo(server.port(), 64 * 1024);
  REQUIRE(fd >= 0);
  std::string requests;
  for (uint32_t id = 1; id <= 8; ++id) AppendByName(&requests, id, "GET", {S("big")});
  REQUIRE(SendAll(fd, requests));
  REQUIRE(Eventually(server, CommandsTotal("get"), 8) == 8);
  REQUIRE(Http(server.http_port(), "GET", "/ready").status == 200);

  const auto start = Clock::now();
  REQUIRE(kill(server.pid(), SIGTERM) == 0);
  HttpResponse ready;
  const auto deadline = start + std::chrono::seconds(5);
  do {
    ready = Http(server.http_port(), "GET", "/ready");
  } while (ready.status != 503 && Clock::now() < deadline);
  CHECK(ready.status == 503);
  CHECK(ready.body == "shutting down\n");
  CHECK(MsSince(start) < 1500);  // well before the drain ends
  CHECK(Http(server.http_port(), "GET", "/health").status == 200);

  const int status = server.Stop();
  CHECK(ExitedZero(status));
  CHECK(MsSince(start) >= 1500);
  CHECK_THAT(server.Log(), Contains("closing 1 connections still busy"));
  close(fd);
}

// The data port from a server's --port-file. The file is written last, once the server is
// ready (whoever reads it may send at once), so it follows /ready's 200 by moments; the wait
// between looks is a wait for the process to exit.
uint16_t WaitForDataPort(StartedServer& server, const std::string& port_file,
                         Clock::time_point deadline) {
  int status = 0;
  while (access(port_file.c_str(), R_OK) != 0) {
    REQUIRE_FALSE(server.Exited(1, &status));
    REQUIRE(Clock::now() < deadline);
  }
  std::ifstream in(port_file);
  int data_port = 0;
  in >> data_port;
  REQUIRE(data_port > 0);
  return static_cast<uint16_t>(data_port);
}

TEST_CASE("while a big data dir is recovered: /ready 503, /health 200, /metrics parses; then 200",
          "[integration][ops]") {
  const std::string dir = MakeTempDir("data");
  constexpr int kKeys = 1000000;
  constexpr int kBatch = 1000;
  {
    // No snapshots, and SIGKILL at the end: the next start replays the WAL, every key of it.
    ServerProcess writer({"--data-dir", dir, "--shards", "2", "--snapshot-interval-s", "0",
                          "--snapshot-every-writes", "0"});
    Client c(Opts(writer, 30.0));
    for (int b = 0; b < kKeys / kBatch; ++b) {
      ValueList args;
      for (int i = 0; i < kBatch; ++i) {
        args.push_back(S("key:" + std::to_string(b * kBatch + i)));
        args.push_back(I(i));
      }
      Ok(c, "MSET", std::move(args));
    }
    writer.Kill();  // every MSET was answered once its WAL record was written
  }

  // The HTTP port is fixed in advance: the port file only appears once recovery is over.
  const uint16_t http_port = FreePort();
  const std::string port_file = MakeTempDir("ports") + "/port";
  StartedServer server({"--bind", "127.0.0.1:0", "--http-bind",
                        "127.0.0.1:" + std::to_string(http_port), "--port-file", port_file,
                        "--data-dir", dir, "--shards", "2"});
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  HttpResponse ready;
  int status = 0;
  // Nothing listens until the server has registered its commands (milliseconds); the wait
  // between attempts is a wait for the process to exit.
  while ((ready = HttpIfUp(http_port, "/ready")).status == 0) {
    INFO(server.Log());
    REQUIRE_FALSE(server.Exited(1, &status));
    REQUIRE(Clock::now() < deadline);
  }
  int recovering = 0;  // answers "recovering"
  int checked = 0;     // rounds of /health and /metrics with /ready 503 before and after
  while (ready.status == 503 && Clock::now() < deadline) {
    CHECK(ready.body == "recovering\n");
    ++recovering;
    const HttpResponse health = Http(http_port, "GET", "/health");
    const Samples m = ScrapePort(http_port);  // every line parses, from the first scrape on
    ready = Http(http_port, "GET", "/ready");
    if (ready.status != 503) break;
    ++checked;
    CHECK(health.status == 200);
    CHECK(Get(m, "databridge_kv_ready") == 0);
    CHECK(m.count("databridge_kv_keys") == 1);
  }
  INFO(recovering << " answers 'recovering', " << checked << " rounds within recovery\n"
                  << server.Log());
  CHECK(recovering >= 1);
  CHECK(checked >= 1);
  REQUIRE(ready.status == 200);
  CHECK(ready.body == "ready\n");
  CHECK(Http(http_port, "GET", "/health").status == 200);

  // Listening, with every key back.
  ClientOptions o;
  o.port = WaitForDataPort(server, port_file, deadline);
  Client c(o);
  CHECK(Ok(c, "DBSIZE") == I(kKeys));
  CHECK(Ok(c, "GET", {S("key:999999")}) == I(999));
  const Samples m = ScrapePort(http_port);
  CHECK(Get(m, "databridge_kv_ready") == 1);
  CHECK(Get(m, CommandsTotal("dbsize")) == 1);
  CHECK(Get(m, "databridge_kv_wal_failed") == 0);
  CHECK(ExitedZero(server.Stop()));
}

TEST_CASE("scrapes through a shutdown parse until the HTTP port closes; exit 0",
          "[integration][ops]") {
  const uint16_t http_port = FreePort();
  const std::string port_file = MakeTempDir("ports") + "/port";
  StartedServer server({"--bind", "127.0.0.1:0", "--http-bind",
                        "127.0.0.1:" + std::to_string(http_port), "--port-file", port_file,
                        "--data-dir", MakeTempDir("data"), "--shards", "2", "--io-threads", "2"});
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  int status = 0;
  while (HttpIfUp(http_port, "/ready").status != 200) {
    REQUIRE_FALSE(server.Exited(1, &status));
    REQUIRE(Clock::now() < deadline);
  }
  ClientOptions o;
  o.port = WaitForDataPort(server, port_file, deadline);
  {
    Client c(o);
    for (int i = 0; i < 200; ++i) {
      ValueList args;
      for (int k = 0; k < 100; ++k) {
        args.push_back(S("k" + std::to_string(i * 100 + k)));
        args.push_back(Value::Bytes(std::string(100, 'x')));
      }
      Ok(c, "MSET", std::move(args));
    }
  }
  // SIGTERM: the loops stop, the final snapshot is taken, the shards go; /metrics answers (and
  // parses) throughout, /ready says 503, until the HTTP thread stops last.
  REQUIRE(kill(server.pid(), SIGTERM) == 0);
  int scrapes = 0;
  int not_ready = 0;
  for (;;) {
    const HttpResponse ready = TryGet(http_port, "/ready");
    const HttpResponse metrics = TryGet(http_port, "/metrics");
    if (ready.status == 0 || metrics.status == 0) break;  // closed: the server is exiting
    not_ready += ready.status == 503 ? 1 : 0;
    ++scrapes;
    CHECK(metrics.status == 200);
    CHECK(BadLines(metrics.body).empty());
    CHECK_THAT(metrics.body, Contains("databridge_kv_keys "));
    REQUIRE(Clock::now() < deadline);
  }
  INFO(scrapes << " scrapes during the shutdown, " << not_ready << " said not ready\n"
               << server.Log());
  CHECK(not_ready >= 1);
  REQUIRE(server.Exited(20000, &status));
  CHECK(ExitedZero(status));
}

TEST_CASE("a shard runs on the I/O loop whose request woke it", "[integration][ops]") {
  // Two shards, one loop: both run on the loop's thread, not on the CAF worker.
  {
    ServerProcess server({"--io-threads", "1", "--workers", "1", "--shards", "2", "--plugin",
                          PluginPath("tests/plugins/thread_name.so")});
    Client c(Opts(server));
    for (const char* key : {"a", "b", "c", "d", "e", "f"}) {  // both shards among them
      const Reply r = c.Call("THREAD", {S(key)});
      REQUIRE(r.ok());
      CHECK(r.value == S("dbkv-io-0"));
    }
  }
  // Two loops (connections are dealt out in turn): each connection's requests run its shards
  // on its own loop, the same shard on one loop and then on the other.
  ServerProcess server({"--io-threads", "2", "--workers", "1", "--shards", "1", "--plugin",
                        PluginPath("tests/plugins/thread_name.so")});
  Client c1(Opts(server));
  Client c2(Opts(server));
  const Reply r1 = c1.Call("THREAD", {S("k")});
  const Reply r2 = c2.Call("THREAD", {S("k")});
  REQUIRE(r1.ok());
  REQUIRE(r2.ok());
  CHECK_THAT(r1.value.AsStringView().data(), StartsWith("dbkv-io-"));
  CHECK_THAT(r2.value.AsStringView().data(), StartsWith("dbkv-io-"));
  CHECK(r1.value != r2.value);
  // Interleaved and pipelined from both: every answer is right whichever loop ran the shard.
  std::atomic<int> answered{0}, failed{0};
  std::promise<void> all;
  auto cb = [&](const Reply& r) {
    if (!r.ok()) ++failed;
    if (++answered == 400) all.set_value();
  };
  for (int i = 0; i < 200; ++i) {
    c1.async().Call("INCR", {S("n")}, cb);
    c2.async().Call("INCR", {S("n")}, cb);
  }
  REQUIRE(all.get_future().wait_for(std::chrono::seconds(20)) == std::future_status::ready);
  CHECK(failed == 0);
  CHECK(c1.Call("GET", {S("n")}).value == I(400));
}

TEST_CASE("/health says 503 while a shard does not answer, 200 again after", "[integration][ops]") {
  ServerProcess server({"--shards", "1", "--plugin", PluginPath("tests/plugins/stall.so")});
  Client c(Opts(server, 20.0));
  REQUIRE(Http(server.http_port(), "GET", "/health").status == 200);
  const auto start = Clock::now();
  auto stalled = std::async(std::launch::async, [&] { return c.Call("STALL", {S("k"), I(3000)}); });
  // /health asks every shard with one 1 s deadline: the first one asked during the stall
  // says 503 after that second.
  HttpResponse health;
  do {
    health = Http(server.http_port(), "GET", "/health");
  } while (health.status == 200 && MsSince(start) < 2500);
  INFO("503 after " << MsSince(start) << " ms");
  CHECK(health.status == 503);
  CHECK(health.body == "shards not answering\n");
  CHECK(MsSince(start) < 2800);  // within the stall
  // A scrape never asks a shard: it answers during the stall, at once.
  const auto scrape_start = Clock::now();
  CHECK(Get(Scrape(server), "databridge_kv_ready") == 1);
  CHECK(MsSince(scrape_start) < 500);

  const Reply r = stalled.get();
  CHECK(r.ok());
  CHECK(MsSince(start) >= 3000);
  CHECK(Http(server.http_port(), "GET", "/health").status == 200);
}

TEST_CASE("a scrape while 8 clients hammer the server disturbs none of them",
          "[integration][ops]") {
  ServerProcess server({"--shards", "4", "--io-threads", "2"});
  constexpr int kClients = 8;
  constexpr int kRounds = 1000;
  std::atomic<int> running{kClients};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  threads.reserve(kClients);
  for (int t = 0; t < kClients; ++t) {
    threads.emplace_back([&, t] {
      Client c(Opts(server, 20.0));
      for (int i = 0; i < kRounds; ++i) {
        const std::string key = "k" + std::to_string(t) + "-" + std::to_string(i);
        if (!c.Call("SET", {S(key), I(i)}).ok()) ++failures;
        Reply r = c.Call("GET", {S(key)});
        if (!r.ok() || r.value != I(i)) ++failures;
      }
      --running;
    });
  }
  int scrapes = 0;
  int64_t slowest_ms = 0;
  while (running.load() > 0 || scrapes == 0) {
    const auto start = Clock::now();
    Samples m = Scrape(server);
    slowest_ms = std::max(slowest_ms, MsSince(start));
    CHECK(Get(m, "databridge_kv_connections") <= kClients);
    ++scrapes;
  }
  for (std::thread& t : threads) t.join();
  INFO(scrapes << " scrapes, the slowest " << slowest_ms << " ms");
  CHECK(failures.load() == 0);
  CHECK(slowest_ms < 1000);
  Samples m = Scrape(server);
  CHECK(Get(m, CommandsTotal("set")) == kClients * kRounds);
  CHECK(Get(m, CommandsTotal("get")) == kClients * kRounds);
}

TEST_CASE("--idle-timeout-s closes idle clients but not one blocked in WAIT",
          "[integration][ops]") {
  ServerProcess server({"--idle-timeout-s", "1"});
  Client waiter(Opts(server, 30.0));
  auto waiting = std::async(std::launch::async, [&] {
    return waiter.Call("WAIT", {S("w"), I(10)});
  });
  {
    Client probe(Opts(server));
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    while (InfoInt(probe, "blocked") < 1 && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    REQUIRE(InfoInt(probe, "blocked") == 1);
  }

  // Opened after the WAIT was parked: by the sweep that closes this one, the waiter's
  // connection had been without a request for longer.
  const int idle = ConnectTo(server.port());
  REQUIRE(idle >= 0);
  const auto start = Clock::now();
  CHECK(WaitForEof(idle, 4000));
  const int64_t closed_after_ms = MsSince(start);
  close(idle);
  INFO("the idle client was closed after " << closed_after_ms << " ms");
  CHECK(closed_after_ms >= 900);
  CHECK(closed_after_ms <= 3000);

  CHECK(waiting.wait_for(std::chrono::seconds(0)) == std::future_status::timeout);
  Client writer(Opts(server));
  Ok(writer, "SET", {S("w"), S("done")});
  REQUIRE(waiting.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  Reply r = waiting.get();
  INFO(CodeName(r.code) << " " << r.error);
  CHECK(r.ok());
  CHECK(r.value == S("done"));
}

// A flat JSON object whose values are strings or numbers: its members (strings unescaped), or
// false if the text is not exactly that.
bool ParseFlatJsonObject(std::string_view s, std::map<std::string, std::string>* out) {
  size_t i = 0;
  auto string = [&](std::string* text) {
    if (i >= s.size() || s[i] != '"') return false;
    ++i;
    while (i < s.size() && s[i] != '"') {
      const unsigned char c = static_cast<unsigned char>(s[i]);
      if (c < 0x20) return false;
      if (c != '\\') {
        text->push_back(static_cast<char>(c));
        ++i;
        continue;
      }
      if (++i >= s.size()) return false;
      switch (s[i]) {
        case '"':
        case '\\':
        case '/':
          text->push_back(s[i]);
          break;
        case 'n':
          text->push_back('\n');
          break;
        case 'r':
          text->push_back('\r');
          break;
        case 't':
          text->push_back('\t');
          break;
        case 'b':
        case 'f':
          text->push_back(' ');
          break;
        case 'u':
          if (i + 4 >= s.size()) return false;
          for (int k = 1; k <= 4; ++k) {
            if (!std::isxdigit(static_cast<unsigned char>(s[i + k]))) return false;
          }
          text->push_back('?');
          i += 4;
          break;
        default:
          return false;
      }
      ++i;
    }
    if (i >= s.size()) return false;
    ++i;
    return true;
  };
  if (s.empty() || s[i++] != '{') return false;
  for (;;) {
    std::string key, value;
    if (!string(&key) || i >= s.size() || s[i++] != ':') return false;
    if (i < s.size() && s[i] == '"') {
      if (!string(&value)) return false;
    } else {
      const size_t start = i;
      while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '-' ||
                              s[i] == '.' || s[i] == 'e' || s[i] == 'E' || s[i] == '+')) {
        ++i;
      }
      if (i == start) return false;
      value = std::string(s.substr(start, i - start));
    }
    if (out->count(key) != 0) return false;
    (*out)[key] = value;
    if (i >= s.size()) return false;
    if (s[i] == ',') {
      ++i;
      continue;
    }
    return s[i] == '}' && i + 1 == s.size();
  }
}

// Every line of log is a JSON object with ts, level and msg; returns the messages.
std::vector<std::string> JsonLogMessages(const std::string& log) {
  std::vector<std::string> messages;
  std::istringstream in(log);
  std::string line;
  while (std::getline(in, line)) {
    INFO("log line: " << line);
    std::map<std::string, std::string> fields;
    CHECK(ParseFlatJsonObject(line, &fields));
    CHECK_THAT(line, StartsWith("{\"ts\":\""));
    CHECK(fields.count("level") == 1);
    CHECK(fields["ts"].size() == 24);  // 2026-01-02T03:04:05.678Z
    CHECK(fields["ts"].back() == 'Z');
    REQUIRE(fields.count("msg") == 1);
    messages.push_back(fields["msg"]);
  }
  return messages;
}

TEST_CASE("--log-format json: every line is a JSON object", "[integration][ops]") {
  const std::string password_file = WriteTempFile("password", "pw\n");
  ServerProcess server({"--log-format", "json", "--password-file", password_file});
  {
    ClientOptions o = Opts(server);
    o.password = "pw";
    Client c(o);
    Ok(c, "SET", {S("k"), S("v")});
    Client wrong(Opts(server));
    Err(wrong, "AUTH", {S("nope")});  // a warning
    RawConnection raw(server.port());
    raw.Send(std::string(16, '\xff'));  // a bad frame: a debug line
    raw.Read();
    raw.ExpectClosed();
  }
  const int status = server.Stop();
  CHECK(ExitedZero(status));
  const std::vector<std::string> messages = JsonLogMessages(server.Log());
  CHECK(messages.size() >= 5);
  auto logged = [&](const std::string& part) {
    for (const std::string& m : messages) {
      if (m.find(part) != std::string::npos) return true;
    }
    return false;
  };
  CHECK(logged("listening on"));
  CHECK(logged("wrong password"));
  CHECK(logged("bad frame"));
  CHECK(logged("bye"));

  // A message with a quote and a backslash in it: escaped, and read back as it was.
  const std::string plugin = MakeTempDir("plugin") + "/say \"hi\" \\ there.so";
  ProgramResult r = RunProgram(
      RunfilePath("server/data-bridge-kv-server"),
      {"--bind", "127.0.0.1:0", "--http-bind", "none", "--log-format", "json", "--plugin", plugin},
      "", 20000);
  INFO("exit " << r.exit_code << "\nstdout: " << r.out << "\nstderr: " << r.err);
  CHECK(r.exit_code == 1);
  const std::vector<std::string> failed = JsonLogMessages(r.out + r.err);
  bool named = false;
  for (const std::string& m : failed) named = named || m.find(plugin) != std::string::npos;
  CHECK(named);
}

TEST_CASE("no password appears in the log", "[integration][ops]") {
  const std::string password = "Pa55-word-4711-never-logged";
  const std::string guess = "Gue55-0815-not-logged-either";
  const std::string password_file = WriteTempFile("password", password + "\n");
  ServerProcess server({"--password-file", password_file});  // --log-level debug
  {
    ClientOptions o = Opts(server);
    o.password = password;
    Client c(o);
    Ok(c, "SET", {S("k"), S("v")});
    CHECK(Ok(c, "AUTH", {S(password)}) == S("OK"));
    CHECK(Err(c, "AUTH", {S(guess)}).code == Code::kAuth);
    o.password = guess;
    Client wrong(o);
    CHECK(wrong.Connect().code() == Code::kAuth);
  }
  const int status = server.Stop();
  CHECK(ExitedZero(status));
  const std::string log = server.Log();
  INFO(log);
  CHECK_THAT(log, Contains("wrong password"));
  CHECK(log.find(password) == std::string::npos);
  CHECK(log.find(guess) == std::string::npos);
}

}  // namespace
}  // namespace dbkv::testing
