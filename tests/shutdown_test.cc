// Start-up failure and shutdown of the real server: SIGTERM and SIGINT drain and exit 0; a
// port already in use is a clear start-up error.
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "client/client.h"
#include "protocol/frame.h"
#include "protocol/opcodes.h"
#include "protocol/wire_format.h"
#include "tests/server_process.h"
#include "tests/test_util.h"

namespace dbkv::testing {
namespace {

namespace asio = boost::asio;
namespace op = protocol::op;
using asio::ip::tcp;
using Catch::Matchers::Contains;
using client::AsyncClient;
using client::Client;
using Clock = std::chrono::steady_clock;

constexpr double kTimeoutS = 20;  // client request timeout

bool ExitedZero(int status) { return status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0; }

std::string DescribeStatus(int status) {
  if (status < 0) return "did not exit in time";
  if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

// Waits (bounded) until pid has exited, without reaping it: ServerProcess::Stop collects the
// status afterwards (and its SIGTERM to the zombie is harmless).
bool WaitForExit(pid_t pid, int timeout_ms) {
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) return false;
  pollfd p = {pidfd, POLLIN, 0};
  const bool exited = poll(&p, 1, timeout_ms) == 1;
  close(pidfd);
  return exited;
}

// Reads reply frames from a socket until the server closes it (bounded).
struct Drained {
  std::vector<protocol::FrameHeader> headers;
  std::vector<Reply> replies;
  size_t trailing_bytes = 0;  // bytes of a frame cut short by the close
  bool closed = false;        // false: the deadline passed first
};

Drained ReadUntilClosed(int fd, int timeout_ms) {
  Drained d;
  std::string buf;
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    for (;;) {
      protocol::FrameView view;
      Status error;
      if (protocol::SplitFrame(buf, protocol::kAbsoluteMaxFrameBytes, &view, &error) !=
          protocol::SplitResult::kFrame) {
        break;
      }
      Reply r;
      REQUIRE(protocol::DecodeResponse(view, &r).ok());
      d.headers.push_back(view.header);
      d.replies.push_back(std::move(r));
      buf.erase(0, view.size());
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) break;
    pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    char chunk[65536];
    const ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
    if (n > 0) {
      buf.append(chunk, static_cast<size_t>(n));
    } else if (n == 0 || errno == ECONNRESET) {
      d.closed = true;
      break;
    }
  }
  d.trailing_bytes = buf.size();
  return d;
}

TEST_CASE("SIGTERM with many requests in flight: replies first, then exit 0",
          "[integration][shutdown]") {
  ServerProcess server({"--shards", "4"});
  asio::io_context io;
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server.port()));
  constexpr uint32_t kRequests = 20000;
  std::string pipeline;
  for (uint32_t id = 1; id <= kRequests; ++id) {
    Value key = S("counter");
    protocol::AppendRequest(&pipeline, id, op::kIncr, "", &key, 1);
  }
  asio::write(socket, asio::buffer(pipeline));  // every request is sent before the signal
  // Wait for the first reply, so that the server is busy with the pipeline.
  pollfd p = {socket.native_handle(), POLLIN, 0};
  REQUIRE(poll(&p, 1, 10000) == 1);

  auto stopped = std::async(std::launch::async, [&] { return server.Stop(); });
  Drained d = ReadUntilClosed(socket.native_handle(), 30000);
  const int status = stopped.get();

  INFO("server " << DescribeStatus(status) << "; " << d.replies.size() << " replies of "
                 << kRequests);
  CHECK(ExitedZero(status));
  CHECK(d.closed);
  // The replies that came are the first ones, in order, each correct.
  REQUIRE(!d.replies.empty());
  bool in_order = true;
  for (size_t i = 0; i < d.replies.size() && in_order; ++i) {
    in_order = d.headers[i].request_id == i + 1 && d.replies[i].ok() &&
               d.replies[i].value == I(static_cast<int64_t>(i + 1));
  }
  CHECK(in_order);
  // Every request the server had received when the signal came is answered, and the
  // connection closes cleanly after the last reply (no reset, no partial frame).
  CHECK(d.trailing_bytes == 0);
  CHECK(d.replies.size() == kRequests);
}

TEST_CASE("SIGTERM: an AsyncClient sees every request answered or failed, in order",
          "[integration][shutdown]") {
  ServerProcess server({"--shards", "2"});
  constexpr int kRequests = 5000;
  std::mutex mu;
  std::vector<Reply> replies;
  std::promise<void> all_done;
  std::promise<void> first_reply;
  {
    AsyncClient client(Opts(server, kTimeoutS));
    REQUIRE(client.Connect().ok());
    for (int i = 0; i < kRequests; ++i) {
      client.Call("INCR", {S("n")}, [&](Reply r) {
        std::lock_guard<std::mutex> lock(mu);
        replies.push_back(std::move(r));
        if (replies.size() == 1) first_reply.set_value();
        if (replies.size() == kRequests) all_done.set_value();
      });
    }
    REQUIRE(first_reply.get_future().wait_for(std::chrono::seconds(10)) ==
            std::future_status::ready);
    const int status = server.Stop();
    INFO(DescribeStatus(status));
    CHECK(ExitedZero(status));
    REQUIRE(all_done.get_future().wait_for(std::chrono::seconds(20)) == std::future_status::ready);
  }
  // A prefix answered 1, 2, 3...; every later request failed with "connection lost".
  size_t answered = 0;
  while (answered < replies.size() && replies[answered].ok() &&
         replies[answered].value == I(static_cast<int64_t>(answered + 1))) {
    ++answered;
  }
  size_t lost = 0;
  for (size_t i = answered; i < replies.size(); ++i) {
    lost += replies[i].code == Code::kIoError ? 1 : 0;
  }
  INFO(answered << " answered, " << lost << " lost, of " << replies.size());
  CHECK(answered + lost == replies.size());
  CHECK(answered >= 1);
}

TEST_CASE("SIGTERM with idle connections closes them and exits 0 promptly",
          "[integration][shutdown]") {
  // A long drain timeout: the server must not wait for idle connections to time out.
  ServerProcess server({"--shutdown-timeout-ms", "60000"});
  asio::io_context io;
  std::vector<std::unique_ptr<tcp::socket>> idle;
  for (int i = 0; i < 3; ++i) {
    idle.push_back(std::make_unique<tcp::socket>(io));
    idle.back()->connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server.port()));
  }
  Client client(Opts(server, kTimeoutS));
  REQUIRE(client.Call("SET", {S("k"), S("v")}).ok());

  const auto start = Clock::now();
  const int status = server.Stop();
  const auto took = Clock::now() - start;
  INFO(DescribeStatus(status));
  CHECK(ExitedZero(status));
  CHECK(took < std::chrono::seconds(10));
  for (auto& s : idle) {
    Drained d = ReadUntilClosed(s->native_handle(), 5000);
    CHECK(d.closed);
    CHECK(d.replies.empty());
  }
}

TEST_CASE("SIGTERM logs the shutdown", "[integration][shutdown]") {
  ServerProcess server;
  // A served request proves the signal handler is installed (see the next test).
  Client client(Opts(server, kTimeoutS));
  REQUIRE(client.Call("PING").ok());
  const int status = server.Stop();
  INFO(DescribeStatus(status));
  CHECK(ExitedZero(status));
  CHECK_THAT(server.Log(), Contains("received SIGTERM") && Contains("shutting down"));
}

TEST_CASE("SIGTERM as soon as the server reports ready", "[integration][shutdown]") {
  constexpr int kStarts = 20;
  int clean = 0;
  for (int i = 0; i < kStarts; ++i) {
    ServerProcess server({"--shards", "1"});
    const int status = server.Stop();  // right after the port file appeared
    INFO("start " << i << ": " << DescribeStatus(status) << "\n" << server.Log());
    // Never a crash or a hang: a clean exit, or (see below) death by the signal itself.
    CHECK((ExitedZero(status) || (WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM)));
    clean += ExitedZero(status) ? 1 : 0;
  }
  // The signal handler is installed before the server announces it is ready.
  CHECK(clean == kStarts);
}

TEST_CASE("SIGINT also drains and exits 0", "[integration][shutdown]") {
  ServerProcess server({"--shards", "2"});
  Client client(Opts(server, kTimeoutS));
  REQUIRE(client.Call("SET", {S("k"), S("v")}).ok());
  REQUIRE(kill(server.pid(), SIGINT) == 0);
  REQUIRE(WaitForExit(server.pid(), 20000));
  const int status = server.Stop();  // collects the exit status
  INFO(DescribeStatus(status));
  CHECK(ExitedZero(status));
  CHECK_THAT(server.Log(), Contains("received SIGINT"));
  // The client sees the connection gone.
  Reply r = client.Call("PING", {}, 10);
  CHECK(r.code == Code::kIoError);
}

TEST_CASE("a port already in use is a clear start-up error", "[integration][shutdown]") {
  asio::io_context io;
  tcp::acceptor taken(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const std::string port = std::to_string(taken.local_endpoint().port());
  // ServerProcess always passes its own --bind 127.0.0.1:0, so run the binary directly.
  ProgramResult r = RunProgram(RunfilePath("server/data-bridge-kv-server"),
                               {"--bind", "127.0.0.1:" + port, "--shards", "1"}, "", 20000);
  INFO("exit " << r.exit_code << "\nstdout: " << r.out << "\nstderr: " << r.err);
  CHECK(r.exit_code != 0);
  CHECK(r.exit_code != -1);  // it exited by itself, not killed at the timeout
  const std::string output = r.out + r.err;
  CHECK_THAT(output, Contains("127.0.0.1:" + port) && Contains("in use"));
}

TEST_CASE("a bad flag makes ServerProcess fail with the server's message",
          "[integration][shutdown]") {
  try {
    ServerProcess server({"--max-frame-bytes", "10"});
    FAIL("the server started with --max-frame-bytes 10");
  } catch (const std::runtime_error& e) {
    CHECK_THAT(e.what(), Contains("exited at start-up") && Contains("--max-frame-bytes"));
  }
}

}  // namespace
}  // namespace dbkv::testing
