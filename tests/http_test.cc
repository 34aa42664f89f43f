// The HTTP endpoints of the real server as an HTTP/1.1 server (server/http_server.h): persistent
// connections and pipelining, HTTP/1.0, HEAD, header sizes, malformed requests, 404 and 405,
// request bodies, and the deadlines that close a connection whose client stays silent, sends
// too slowly or does not read its answers. Over a plain socket, responses read by their
// Content-Length.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/ascii.h"
#include "tests/server_process.h"
#include "tests/test_util.h"

namespace dbkv::testing {
namespace {

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using Clock = std::chrono::steady_clock;

int64_t MsSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

// The server's deadlines (HttpLimits' defaults).
constexpr int kIdleTimeoutMs = 5000;
constexpr int kRequestTimeoutMs = 10000;
constexpr int kWriteTimeoutMs = 10000;

struct HttpResponse {
  int status = 0;    // 0: no whole response came
  std::string head;  // status line and header fields
  std::string body;
};

// One connection to the HTTP port: requests written, responses read one at a time.
class HttpConnection {
 public:
  // rcvbuf > 0: SO_RCVBUF, set before connecting.
  explicit HttpConnection(uint16_t port, int rcvbuf = 0) : fd_(ConnectTo(port, rcvbuf)) {
    REQUIRE(fd_ >= 0);
  }
  ~HttpConnection() { close(fd_); }
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // False if the connection failed (e.g. the server closed it and reset).
  bool Send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // The next response: its head, then Content-Length bytes of body (none after a HEAD).
  HttpResponse Read(bool head_only = false, int timeout_ms = 5000) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    HttpResponse r;
    size_t end = std::string::npos;
    while ((end = in_.find("\r\n\r\n")) == std::string::npos) {
      if (!Receive(deadline)) return r;
    }
    const std::string head = in_.substr(0, end);
    size_t length = 0;
    const size_t field = AsciiLower(head).find("\r\ncontent-length:");
    if (field != std::string::npos) length = std::strtoul(head.c_str() + field + 17, nullptr, 10);
    if (head_only) length = 0;
    while (in_.size() < end + 4 + length) {
      if (!Receive(deadline)) return r;
    }
    r.head = head;
    r.body = in_.substr(end + 4, length);
    in_.erase(0, end + 4 + length);
    if (head.rfind("HTTP/1.1 ", 0) == 0) r.status = std::atoi(head.c_str() + 9);
    return r;
  }

  // Whether the server closes the connection (EOF or reset) within timeout_ms. What arrives
  // before is kept, for received().
  bool ClosedWithin(int timeout_ms) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (Receive(deadline)) {
    }
    return closed_;
  }

  // Whether the server closes the connection within timeout_ms, reading nothing meanwhile
  // (POLLRDHUP: its FIN arrived, even with unread answers before it; or a reset).
  bool HungUpWithin(int timeout_ms) {
    pollfd p = {fd_, POLLRDHUP, 0};
    return poll(&p, 1, timeout_ms) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
  }

  // Received and not read as a response.
  const std::string& received() const { return in_; }

 private:
  // Appends what arrives before the deadline to in_; false on timeout, EOF or error.
  bool Receive(Clock::time_point deadline) {
    if (closed_) return false;
    pollfd p = {fd_, POLLIN, 0};
    if (poll(&p, 1, MsLeft(deadline)) <= 0) return false;
    char buf[65536];
    const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) {
      closed_ = n == 0 || errno == ECONNRESET;
      return false;
    }
    in_.append(buf, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  std::string in_;
  bool closed_ = false;
};

std::string Get(const std::string& path, const std::string& fields = "") {
  return "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + fields + "\r\n";
}

// The request's answer on a fresh connection, which the server then closes.
HttpResponse Once(uint16_t port, const std::string& request) {
  HttpConnection c(port);
  REQUIRE(c.Send(request));
  HttpResponse r = c.Read();
  INFO(request.substr(0, 100) << " -> " << r.head << "\n" << c.received().substr(0, 200));
  CHECK(c.ClosedWithin(2000));
  return r;
}

TEST_CASE("HTTP/1.1 keeps the connection: requests in turn and pipelined, until close",
          "[integration][http]") {
  ServerProcess server;
  HttpConnection c(server.http_port());
  REQUIRE(c.Send(Get("/health")));
  HttpResponse health = c.Read();
  CHECK(health.status == 200);
  CHECK(health.body == "ok\n");
  CHECK_THAT(health.head, !Contains("Connection: close"));

  REQUIRE(c.Send(Get("/metrics")));  // the same connection
  HttpResponse metrics = c.Read();
  CHECK(metrics.status == 200);
  CHECK_THAT(metrics.head, Contains("Content-Type: text/plain; version=0.0.4"));
  CHECK_THAT(metrics.body, Contains("databridge_kv_ready 1"));

  // Two requests in one write: two answers, in order.
  REQUIRE(c.Send(Get("/ready") + Get("/nope")));
  HttpResponse ready = c.Read();
  CHECK(ready.status == 200);
  CHECK(ready.body == "ready\n");
  CHECK(c.Read().status == 404);

  // Connection: close is honoured: the answer says so, then the server closes.
  REQUIRE(c.Send(Get("/ready", "Connection: close\r\n")));
  HttpResponse last = c.Read();
  CHECK(last.status == 200);
  CHECK_THAT(last.head, Contains("Connection: close"));
  CHECK(c.ClosedWithin(2000));
  CHECK(c.received().empty());
}

TEST_CASE("HTTP/1.0 closes after the answer unless asked to keep the connection",
          "[integration][http]") {
  ServerProcess server;
  HttpResponse r = Once(server.http_port(), "GET /ready HTTP/1.0\r\n\r\n");
  CHECK(r.status == 200);
  CHECK(r.body == "ready\n");

  HttpConnection c(server.http_port());
  REQUIRE(c.Send("GET /ready HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  HttpResponse kept = c.Read();
  CHECK(kept.status == 200);
  CHECK_THAT(kept.head, Contains("Connection: keep-alive"));
  REQUIRE(c.Send("GET /health HTTP/1.0\r\n\r\n"));
  CHECK(c.Read().status == 200);
  CHECK(c.ClosedWithin(2000));
}

TEST_CASE("HEAD: the head of GET, Content-Length included, and no body", "[integration][http]") {
  ServerProcess server;
  HttpConnection c(server.http_port());
  REQUIRE(c.Send("HEAD /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  HttpResponse metrics = c.Read(/*head_only=*/true);
  CHECK(metrics.status == 200);
  CHECK_THAT(metrics.head, Contains("Content-Type: text/plain; version=0.0.4"));
  CHECK_THAT(metrics.head, Contains("Content-Length: "));
  CHECK_THAT(metrics.head, !Contains("Content-Length: 0\r"));
  // No body follows: the next bytes are the next answer.
  REQUIRE(c.Send("HEAD /ready HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" + Get("/health")));
  HttpResponse ready = c.Read(/*head_only=*/true);
  CHECK(ready.status == 200);
  CHECK_THAT(ready.head, Contains("Content-Length: 6"));  // "ready\n"
  HttpResponse health = c.Read();
  CHECK(health.status == 200);
  CHECK(health.body == "ok\n");
}

TEST_CASE("big headers: 16 KiB answered, over 64 KiB refused with 431; the server goes on",
          "[integration][http]") {
  ServerProcess server;
  // One 16 KiB cookie (the old parser's limit was 8 KiB: no answer, a reset).
  HttpConnection c(server.http_port());
  REQUIRE(c.Send(Get("/ready", "Cookie: session=" + std::string(16 * 1024, 'c') + "\r\n")));
  HttpResponse ready = c.Read();
  CHECK(ready.status == 200);
  CHECK(ready.body == "ready\n");
  // Many fields, 40 KiB in all, on the same connection.
  std::string fields;
  for (int i = 0; i < 400; ++i) fields += "X-Field-" + std::to_string(i) + ": " + "v\r\n";
  fields += "X-Padding: " + std::string(32 * 1024, 'p') + "\r\n";
  REQUIRE(c.Send(Get("/health", fields)));
  CHECK(c.Read().status == 200);

  // 100 KiB: 431, then closed (the rest of the header is read and dropped, so the answer is
  // not lost to a reset).
  HttpConnection big(server.http_port());
  big.Send(Get("/ready", "Cookie: " + std::string(100 * 1024, 'c') + "\r\n"));
  HttpResponse refused = big.Read();
  CHECK(refused.status == 431);
  CHECK_THAT(refused.head, StartsWith("HTTP/1.1 431 Request Header Fields Too Large"));
  CHECK_THAT(refused.head, Contains("Connection: close"));
  CHECK(big.ClosedWithin(3000));

  CHECK(Once(server.http_port(), Get("/health", "Connection: close\r\n")).status == 200);
}

TEST_CASE("malformed requests: 400, and the connection closes", "[integration][http]") {
  ServerProcess server;
  const uint16_t port = server.http_port();
  for (const std::string& request : {
           std::string("this is not http\r\n\r\n"),                 // the old parser said 405
           std::string("GET /ready\r\n\r\n"),                       // no version
           std::string("GET /ready HTTP/1.1\n\n"),                  // bare LF: the old one hung
           std::string("GET /ready HTTP/1.1\r\nNo-Colon\r\n\r\n"),  // a field without ':'
           std::string("GET /ready HTTP/1.1\r\nContent-Length: x\r\n\r\n"),
           std::string("GET /ready HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
       }) {
    const auto start = Clock::now();
    HttpResponse r = Once(port, request);
    INFO(request);
    CHECK(r.status == 400);
    CHECK_THAT(r.head, StartsWith("HTTP/1.1 400 Bad Request"));
    CHECK_THAT(r.body, StartsWith("bad request: "));
    CHECK(MsSince(start) < 2000);
  }
  CHECK(Once(port, Get("/ready", "Connection: close\r\n")).status == 200);
}

TEST_CASE("unknown paths: 404; other methods: 405 with Allow; bodies are read and ignored",
          "[integration][http]") {
  ServerProcess server;
  const uint16_t port = server.http_port();
  HttpConnection c(port);
  for (const char* path : {"/nope", "/", "/metrics/x", "/healthy"}) {
    REQUIRE(c.Send(Get(path)));
    HttpResponse r = c.Read();
    INFO(path);
    CHECK(r.status == 404);
    CHECK_THAT(r.head, StartsWith("HTTP/1.1 404 Not Found"));
  }
  // Whatever the method, a path that does not exist is 404 (the old parser said 405).
  REQUIRE(c.Send("POST /nope HTTP/1.1\r\nContent-Length: 0\r\n\r\n"));
  CHECK(c.Read().status == 404);
  // Query, and the absolute form of the target.
  REQUIRE(c.Send(Get("/ready?verbose=1") + Get("http://127.0.0.1/health")));
  CHECK(c.Read().status == 200);
  CHECK(c.Read().status == 200);

  for (const char* method : {"POST", "PUT", "DELETE", "OPTIONS", "PATCH"}) {
    // With a body, which is read: the connection goes on with the next request.
    REQUIRE(c.Send(std::string(method) + " /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"));
    HttpResponse r = c.Read();
    INFO(method);
    CHECK(r.status == 405);
    CHECK_THAT(r.head, StartsWith("HTTP/1.1 405 Method Not Allowed"));
    CHECK_THAT(r.head, Contains("Allow: GET, HEAD"));
  }
  REQUIRE(
      c.Send("POST /ready HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"));
  CHECK(c.Read().status == 405);
  REQUIRE(c.Send(Get("/ready")));
  CHECK(c.Read().status == 200);

  // A body over 64 KiB: the request is answered, then the connection closes.
  HttpConnection big(port);
  big.Send("POST /metrics HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n" +
           std::string(100 * 1024, 'b'));
  HttpResponse r = big.Read();
  CHECK(r.status == 405);
  CHECK_THAT(r.head, Contains("Connection: close"));
  CHECK(big.ClosedWithin(3000));
}

TEST_CASE("silent, slow and deaf clients are disconnected by the deadlines",
          "[integration][http]") {
  ServerProcess server;
  const uint16_t port = server.http_port();
  const auto start = Clock::now();
  HttpConnection silent(port);  // sends nothing
  HttpConnection slow(port);    // starts a request, never ends it
  REQUIRE(slow.Send("GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
  HttpConnection idle(port);  // one request, then nothing
  REQUIRE(idle.Send(Get("/ready")));
  CHECK(idle.Read().status == 200);
  // Asks for /metrics 2000 times (8 MB or more of answers) and reads none of them: the write
  // of one answer does not finish within its deadline.
  HttpConnection deaf(port, /*rcvbuf=*/4096);
  std::string requests;
  for (int i = 0; i < 2000; ++i) requests += Get("/metrics");
  REQUIRE(deaf.Send(requests));

  // The idle deadline: for the first byte of a request, on a new connection or after an answer.
  CHECK(silent.ClosedWithin(kIdleTimeoutMs + 5000));
  const int64_t silent_ms = MsSince(start);
  CHECK(idle.ClosedWithin(1000));
  // The request deadline: for the whole request.
  CHECK(slow.ClosedWithin(kRequestTimeoutMs - kIdleTimeoutMs + 5000));
  const int64_t slow_ms = MsSince(start);
  // The write deadline (the old server had none: it wrote for as long as the client waited).
  CHECK(deaf.HungUpWithin(kWriteTimeoutMs + 5000));
  const int64_t deaf_ms = MsSince(start);
  INFO("silent closed after " << silent_ms << " ms, slow after " << slow_ms << " ms, deaf after "
                              << deaf_ms << " ms");
  CHECK(deaf_ms >= kWriteTimeoutMs - 500);
  CHECK(silent_ms >= kIdleTimeoutMs - 500);
  CHECK(slow_ms >= kRequestTimeoutMs - 500);
  CHECK(silent.received().empty());
  CHECK(slow.received().empty());
  CHECK(idle.received().empty());

  CHECK(Once(port, Get("/ready", "Connection: close\r\n")).status == 200);
}

}  // namespace
}  // namespace dbkv::testing
