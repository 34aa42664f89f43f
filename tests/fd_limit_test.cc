// The server at its file-descriptor limit: connections it cannot accept wait in the listen
// queue while both ports (data and HTTP) retry after a pause, without spinning on accept or
// flooding the log, and are served once descriptors are free again. The limit is lowered on
// the running server with prlimit (server/accept_retry.h).
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tests/server_process.h"
#include "tests/test_util.h"

namespace dbkv::testing {
namespace {

using Clock = std::chrono::steady_clock;

// A TCP connection to 127.0.0.1:port (connected: the kernel queues it until it is accepted).
class Socket {
 public:
  explicit Socket(uint16_t port) : fd_(ConnectTo(port)) { REQUIRE(fd_ >= 0); }
  ~Socket() { close(fd_); }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  // Sends request, then reads until what arrived contains `until` (or EOF, or the deadline).
  std::string Ask(std::string_view request, std::string_view until, Clock::time_point deadline) {
    REQUIRE(send(fd_, request.data(), request.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(request.size()));
    return ReadUntil(fd_, until, deadline);
  }

 private:
  int fd_ = -1;
};

constexpr std::string_view kPing = "*1\r\n$4\r\nPING\r\n";
constexpr std::string_view kGetReady = "GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

int OpenDescriptors(pid_t pid) {
  DIR* dir = opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  REQUIRE(dir != nullptr);
  int n = 0;
  while (readdir(dir) != nullptr) ++n;
  closedir(dir);
  return n - 2;  // . and ..
}

// User plus system CPU time of the process, in clock ticks.
long CpuTicks(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; fields >> field; ++i) {  // field 3 is the state; 14 utime, 15 stime
    if (i == 14) utime = std::stol(field);
    if (i == 15) stime = std::stol(field);
  }
  return utime + stime;
}

size_t Count(const std::string& text, std::string_view what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// Waits (inotify on the log, bounded) until the server's log contains every one of `lines`.
bool WaitForLog(const ServerProcess& server, const std::vector<std::string>& lines,
                int timeout_ms) {
  const int ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  REQUIRE(ino >= 0);
  REQUIRE(inotify_add_watch(ino, server.log_path().c_str(), IN_MODIFY) >= 0);
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  bool all = false;
  for (;;) {
    const std::string log = server.Log();
    all = true;
    for (const std::string& line : lines) all = all && log.find(line) != std::string::npos;
    if (all || Clock::now() >= deadline) break;
    pollfd p = {ino, POLLIN, 0};
    if (poll(&p, 1, MsLeft(deadline)) <= 0) break;
    char buf[4096];
    while (read(ino, buf, sizeof(buf)) > 0) {
    }
  }
  close(ino);
  return all;
}

TEST_CASE("at the descriptor limit both ports wait, without spinning, and serve once free",
          "[integration][fd_limit]") {
  if (kSanitized) {
    // UBSan's vptr check reads memory through a pipe it opens as it checks: at the descriptor
    // limit it cannot, and it reports a bad vptr on the next virtual call and halts. The
    // sanitized build cannot run at the limit: this runs in the normal build.
    SUCCEED("not under the sanitizers: their runtime needs descriptors of its own");
    return;
  }
  ServerProcess server;
  const pid_t pid = server.pid();
  const auto deadline = Clock::now() + std::chrono::seconds(20);

  // No descriptor left: the soft limit at the number open now.
  rlimit old{};
  REQUIRE(prlimit(pid, RLIMIT_NOFILE, nullptr, &old) == 0);
  rlimit low = old;
  low.rlim_cur = static_cast<rlim_t>(OpenDescriptors(pid));
  REQUIRE(prlimit(pid, RLIMIT_NOFILE, &low, nullptr) == 0);
  std::vector<std::unique_ptr<Socket>> data, http;
  for (int i = 0; i < 8; ++i) {
    data.push_back(std::make_unique<Socket>(server.port()));
    http.push_back(std::make_unique<Socket>(server.http_port()));
  }
  const bool data_failed = WaitForLog(server, {"warning accept failed: Too many open files"}, 5000);
  const bool http_failed = WaitForLog(server, {"http: accept failed"}, 5000);
  const std::string log = server.Log();
  INFO("the log's end:\n" << log.substr(log.size() - std::min<size_t>(log.size(), 2000)));
  REQUIRE(data_failed);
  CHECK(http_failed);

  // A measurement window: the server retries ten times a second on each port, which costs
  // next to no CPU and logs nothing more (the old accept loop spun at a full core, and the
  // data port logged every failure: hundreds of thousands of lines a second).
  const long ticks_before = CpuTicks(pid);
  const size_t lines_before = Count(server.Log(), "accept failed");
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const long ticks = CpuTicks(pid) - ticks_before;
  const size_t lines = Count(server.Log(), "accept failed") - lines_before;
  CHECK(ticks < sysconf(_SC_CLK_TCK) / 4);
  CHECK(lines <= 2);

  // Descriptors again: every queued connection is accepted and served.
  REQUIRE(prlimit(pid, RLIMIT_NOFILE, &old, nullptr) == 0);
  for (auto& s : data) CHECK(s->Ask(kPing, "+PONG\r\n", deadline) == "+PONG\r\n");
  for (auto& s : http) {
    const std::string answer = s->Ask(kGetReady, "ready\n", deadline);
    CHECK(answer.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  }
}

TEST_CASE("a loop's first connection with one descriptor left is served",
          "[integration][fd_limit]") {
  if (kSanitized) {
    // UBSan's vptr check reads memory through a pipe it opens as it checks: at the descriptor
    // limit it cannot, and it reports a bad vptr on the next virtual call and halts. The
    // sanitized build cannot run at the limit: this runs in the normal build.
    SUCCEED("not under the sanitizers: their runtime needs descriptors of its own");
    return;
  }
  // Two I/O loops and no idle sweep (its timer would set them up at start): before, a loop set
  // up its reactor (epoll, eventfd, timerfd) with its first socket, and with only the accepted
  // socket's descriptor free that threw ("eventfd_select_interrupter: Too many open files")
  // and ended the process.
  ServerProcess server({"--io-threads", "2", "--idle-timeout-s", "0"});
  const pid_t pid = server.pid();
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  rlimit old{};
  REQUIRE(prlimit(pid, RLIMIT_NOFILE, nullptr, &old) == 0);
  rlimit low = old;
  low.rlim_cur = static_cast<rlim_t>(OpenDescriptors(pid)) + 1;
  REQUIRE(prlimit(pid, RLIMIT_NOFILE, &low, nullptr) == 0);
  {
    Socket first(server.port());
    CHECK(first.Ask(kPing, "+PONG\r\n", deadline) == "+PONG\r\n");
  }
  REQUIRE(prlimit(pid, RLIMIT_NOFILE, &old, nullptr) == 0);
  // The other loop's first connection, once descriptors are back.
  for (int i = 0; i < 2; ++i) {
    Socket again(server.port());
    CHECK(again.Ask(kPing, "+PONG\r\n", deadline) == "+PONG\r\n");
  }
}

}  // namespace
}  // namespace dbkv::testing
