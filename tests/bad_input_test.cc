// Hostile and broken clients against the real server, over raw sockets. After every case a
// separate, well-behaved client must still be served.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/client.h"
#include "protocol/opcodes.h"
#include "protocol/value_codec.h"
#include "protocol/wire_format.h"
#include "tests/server_process.h"
#include "tests/test_util.h"

namespace dbkv::testing {
namespace {

namespace op = protocol::op;
using Catch::Matchers::Contains;
using client::Client;
using Clock = std::chrono::steady_clock;

std::string BigEndian32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

// A header as given, then the payload.
std::string RawFrame(uint32_t length, uint8_t version, uint8_t code, uint16_t flags, uint32_t id,
                     std::string_view payload) {
  std::string out = BigEndian32(length);
  out += static_cast<char>(version);
  out += static_cast<char>(code);
  out += static_cast<char>(flags >> 8);
  out += static_cast<char>(flags);
  out += BigEndian32(id);
  out += payload;
  return out;
}

// A well-formed frame around any payload bytes.
std::string FrameWithPayload(uint32_t id, uint8_t opcode, std::string_view payload) {
  return RawFrame(static_cast<uint32_t>(8 + payload.size()), protocol::kVersion, opcode, 0, id,
                  payload);
}

void ExpectError(const Frame& f, uint32_t id, Code code) {
  INFO("got id " << f.header.request_id << " code " << static_cast<int>(f.reply.code) << " "
                 << f.reply.error);
  CHECK(f.header.request_id == id);
  CHECK(f.reply.code == code);
  CHECK_FALSE(f.reply.error.empty());
}

void ExpectPong(const Frame& f, uint32_t id) {
  CHECK(f.header.request_id == id);
  CHECK(f.reply.ok());
  CHECK(f.reply.value == S("PONG"));
}

// A separate, normal client is served: PING, SET, GET.
void RequireServed(const ServerProcess& server) {
  static int n = 0;
  Client c(Opts(server, 10));
  Reply ping = c.Call("PING");
  if (!ping.ok()) FAIL("PING: " << ping.error << "\nserver log:\n" << server.Log());
  CHECK(ping.value == S("PONG"));
  const std::string key = "served:" + std::to_string(++n);
  Reply set = c.Call("SET", {S(key), S("yes")});
  INFO("SET: " << set.error);
  REQUIRE(set.ok());
  Reply get = c.Call("GET", {S(key)});
  REQUIRE(get.ok());
  CHECK(get.value == S("yes"));
}

TEST_CASE("text instead of frames gets an error frame, then the connection is closed",
          "[integration][bad_input]") {
  ServerProcess server;
  RawConnection conn(server.port());
  // Text that does not start with a letter or '*' is not RESP (tests/resp_server_test.cc has
  // "GET foo\r\n"): it is read as a frame header.
  conn.Send("{GET foo}\r\n");
  Frame f = conn.Read();
  CHECK_FALSE(f.reply.ok());
  CHECK(f.header.request_id == 0);
  // The version byte is checked before the length, so text is a PROTOCOL error, not TOOBIG.
  CHECK(f.reply.code == Code::kProtocol);
  conn.ExpectClosed();
  RequireServed(server);
}

TEST_CASE("binary garbage with a plausible length gets a PROTOCOL error and a close",
          "[integration][bad_input]") {
  ServerProcess server;
  RawConnection conn(server.port());
  // Length 20, then text where the version, opcode, flags and id would be.
  conn.Send(BigEndian32(20) + "this is not a frame!");
  Frame f = conn.Read();
  ExpectError(f, 0x20697320 /* " is " */, Code::kProtocol);
  CHECK_THAT(f.reply.error, Contains("version"));
  conn.ExpectClosed();
  RequireServed(server);
}

TEST_CASE("a 4 GiB length claim is refused at once with TOOBIG", "[integration][bad_input]") {
  ServerProcess server;
  RawConnection conn(server.port());
  // Only the length field: the server must answer without waiting for more.
  conn.Send("\xff\xff\xff\xff");
  Frame f = conn.Read();
  ExpectError(f, 0, Code::kFrameTooLarge);
  CHECK_THAT(f.reply.error, Contains("4294967299"));
  conn.ExpectClosed();
  RequireServed(server);

  // With a whole header the error carries its request id.
  RawConnection with_id(server.port());
  with_id.Send(RawFrame(0xffffffffu, protocol::kVersion, op::kGet, 0, 77, ""));
  ExpectError(with_id.Read(), 77, Code::kFrameTooLarge);
  with_id.ExpectClosed();
  RequireServed(server);
}

// A SET frame of exactly `size` bytes (header included).
std::string SetFrameOfSize(uint32_t id, size_t size) {
  for (size_t n = size; n > 0; --n) {
    std::string f = Request(id, op::kSet, {S("sized"), S(std::string(n, 'x'))});
    if (f.size() == size) return f;
  }
  FAIL("no SET frame of " << size << " bytes");
  return "";
}

TEST_CASE("a frame just over --max-frame-bytes gets TOOBIG and a close",
          "[integration][bad_input]") {
  ServerProcess server({"--max-frame-bytes", "1024"});
  const std::string over = SetFrameOfSize(9, 1025);

  // The header alone is enough to refuse it.
  RawConnection header_only(server.port());
  header_only.Send(over.substr(0, protocol::kHeaderSize));
  Frame f = header_only.Read();
  ExpectError(f, 9, Code::kFrameTooLarge);
  CHECK_THAT(f.reply.error, Contains("1025") && Contains("1024"));
  header_only.ExpectClosed();
  RequireServed(server);

  // The whole frame, preceded by a good request that is answered first.
  RawConnection whole(server.port());
  whole.Send(Request(8, op::kPing, {}) + over + Request(10, op::kPing, {}));
  ExpectPong(whole.Read(), 8);
  ExpectError(whole.Read(), 9, Code::kFrameTooLarge);
  whole.ExpectClosed();
  RequireServed(server);

  // Nothing of the refused SET was applied.
  Client c(Opts(server));
  CHECK(c.Call("EXISTS", {S("sized")}).value == I(0));
}

TEST_CASE("a frame exactly at --max-frame-bytes is accepted", "[integration][bad_input]") {
  ServerProcess server({"--max-frame-bytes", "1024"});
  const std::string exact = SetFrameOfSize(9, 1024);
  REQUIRE(exact.size() == 1024);
  RawConnection conn(server.port());
  conn.Send(exact + Request(10, op::kGet, {S("sized")}));
  Frame set = conn.Read();
  CHECK(set.header.request_id == 9);
  CHECK(set.reply.ok());
  Frame get = conn.Read();
  CHECK(get.header.request_id == 10);
  REQUIRE(get.reply.ok());
  CHECK(get.reply.value.AsStringView().size() == 1024 - 12 - 1 - 6 - 3);
  // Replies are not limited by --max-frame-bytes; the connection goes on.
  conn.Send(Request(11, op::kPing, {}));
  ExpectPong(conn.Read(), 11);
  RequireServed(server);
}

TEST_CASE("a bad version byte gets a PROTOCOL error and a close", "[integration][bad_input]") {
  ServerProcess server;
  for (uint8_t version : {uint8_t{0}, uint8_t{2}, uint8_t{0xff}}) {
    INFO("version " << int{version});
    RawConnection conn(server.port());
    std::string bad = Request(12, op::kPing, {});
    bad[4] = static_cast<char>(version);
    // The good request before it is answered; the one after it is not.
    conn.Send(Request(11, op::kPing, {}) + bad + Request(13, op::kPing, {}));
    ExpectPong(conn.Read(), 11);
    Frame f = conn.Read();
    ExpectError(f, 12, Code::kProtocol);
    CHECK_THAT(f.reply.error, Contains("version"));
    conn.ExpectClosed();
    RequireServed(server);
  }
}

TEST_CASE("nonzero flags get a PROTOCOL error and a close", "[integration][bad_input]") {
  ServerProcess server;
  for (uint16_t flags : {uint16_t{1}, uint16_t{0x8000}, uint16_t{0xffff}}) {
    INFO("flags " << flags);
    RawConnection conn(server.port());
    std::string bad = Request(14, op::kPing, {});
    bad[6] = static_cast<char>(flags >> 8);
    bad[7] = static_cast<char>(flags);
    conn.Send(bad + Request(15, op::kPing, {}));
    Frame f = conn.Read();
    ExpectError(f, 14, Code::kProtocol);
    CHECK_THAT(f.reply.error, Contains("flags"));
    conn.ExpectClosed();
    RequireServed(server);
  }
}

TEST_CASE("a length shorter than the header gets a PROTOCOL error and a close",
          "[integration][bad_input]") {
  ServerProcess server;
  for (uint32_t length : {0u, 1u, 7u}) {
    INFO("length " << length);
    RawConnection conn(server.port());
    // A whole header's worth of bytes, so that the server can read the id.
    conn.Send(RawFrame(length, protocol::kVersion, op::kPing, 0, 16, ""));
    Frame f = conn.Read();
    ExpectError(f, 16, Code::kProtocol);
    CHECK_THAT(f.reply.error, Contains("shorter than the header"));
    conn.ExpectClosed();
    RequireServed(server);
  }
  // The smallest legal frame, a header with an empty payload, is no array: an error for that
  // request only.
  RawConnection conn(server.port());
  conn.Send(RawFrame(8, protocol::kVersion, op::kPing, 0, 17, "") + Request(18, op::kPing, {}));
  ExpectError(conn.Read(), 17, Code::kProtocol);
  ExpectPong(conn.Read(), 18);
}

TEST_CASE("a malformed payload in a well-formed frame fails that request only",
          "[integration][bad_input]") {
  ServerProcess server;
  RawConnection conn(server.port());
  const std::string payloads[] = {
      std::string("\xc1"),         // a byte msgpack never uses
      std::string("\x95\x01"),     // an array of 5 with 1 element
      std::string("\x01"),         // not an array
      std::string("\x90\x00", 2),  // trailing bytes after the array
      std::string("\x91\xd9\xff"
                  "ab"),                        // a string running past the end
      std::string(100, '\x91') + "\x90",        // nesting deeper than allowed
      std::string("\x91\xdd\xff\xff\xff\xff"),  // an array claiming 4 billion elements
  };
  uint32_t id = 100;
  for (const std::string& payload : payloads) {
    INFO("payload #" << (id - 100) / 2);
    conn.Send(FrameWithPayload(id, op::kGet, payload) + Request(id + 1, op::kPing, {}));
    ExpectError(conn.Read(), id, Code::kProtocol);
    ExpectPong(conn.Read(), id + 1);
    id += 2;
  }
  // The connection still does real work.
  conn.Send(Request(200, op::kSet, {S("k"), S("v")}) + Request(201, op::kGet, {S("k")}));
  CHECK(conn.Read().reply.ok());
  Frame get = conn.Read();
  CHECK(get.header.request_id == 201);
  CHECK(get.reply.value == S("v"));
  RequireServed(server);
}

TEST_CASE("a by-name request whose name is not a string fails that request only",
          "[integration][bad_input]") {
  ServerProcess server;
  RawConnection conn(server.port());
  const std::vector<ValueList> bad_names = {
      {I(42), S("x")},
      {Value::Null()},
      {Value::List({S("PING")})},
      {},
  };
  uint32_t id = 300;
  for (const ValueList& argv : bad_names) {
    // The payload exactly as given: no name in front.
    std::string payload;
    protocol::AppendValue(&payload, Value::List(argv));
    conn.Send(FrameWithPayload(id, protocol::kOpByName, payload) + ByName(id + 1, "PING", {}));
    Frame f = conn.Read();
    ExpectError(f, id, Code::kProtocol);
    CHECK_THAT(f.reply.error, Contains("name"));
    ExpectPong(conn.Read(), id + 1);
    id += 2;
  }
  // An unknown name is a different error, and the connection goes on too.
  conn.Send(ByName(id, "NO-SUCH-COMMAND", {}) + ByName(id + 1, std::string(200, 'X'), {}) +
            ByName(id + 2, "ping", {}));
  ExpectError(conn.Read(), id, Code::kUnknownCommand);
  ExpectError(conn.Read(), id + 1, Code::kUnknownCommand);
  ExpectPong(conn.Read(), id + 2);
  RequireServed(server);
}

TEST_CASE("a client that leaves in the middle of a frame does no harm",
          "[integration][bad_input]") {
  ServerProcess server;
  const std::string frame = Request(1, op::kSet, {S("half"), S(std::string(100, 'x'))});
  {
    RawConnection conn(server.port());
    conn.Send(frame.substr(0, 6));  // half a header
  }
  RequireServed(server);
  {
    RawConnection conn(server.port());
    conn.Send(frame.substr(0, frame.size() / 2));  // half a frame
  }
  RequireServed(server);
  {
    // Half a frame, then end of stream: the server closes its side, answering nothing.
    RawConnection conn(server.port());
    conn.Send(Request(2, op::kPing, {}) + frame.substr(0, frame.size() - 1));
    REQUIRE(shutdown(conn.fd(), SHUT_WR) == 0);
    ExpectPong(conn.Read(), 2);
    conn.ExpectClosed();
  }
  RequireServed(server);
  Client c(Opts(server));
  CHECK(c.Call("EXISTS", {S("half")}).value == I(0));
}

TEST_CASE("a client that closes with replies in flight does no harm", "[integration][bad_input]") {
  ServerProcess server({"--shards", "2"});
  {
    RawConnection conn(server.port());
    std::string pipeline;
    for (uint32_t i = 0; i < 5000; ++i) {
      pipeline += Request(i, op::kIncr, {S("left-behind")});
    }
    conn.Send(pipeline);
  }  // closed without reading a byte
  RequireServed(server);
}

// The server's resident memory, from /proc.
int64_t ResidentBytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  }
  return -1;
}

// Whether the process has exited (left unreaped for ServerProcess to collect).
bool Exited(pid_t pid) {
  siginfo_t info = {};
  return waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
         info.si_pid == pid;
}

// Stores a 1 MiB value under "big".
void StoreBigValue(const ServerProcess& server) {
  Client c(Opts(server));
  REQUIRE(c.Call("SET", {S("big"), S(std::string(1 << 20, 'b'))}).ok());
}

// Another client gets prompt answers while one connection is stuck.
void ExpectPromptAnswers(const ServerProcess& server) {
  Client c(Opts(server, 5));
  Clock::duration slowest{};
  for (int i = 0; i < 20; ++i) {
    const auto start = Clock::now();
    Reply ping = c.Call("PING");
    Reply set = c.Call("SET", {S("small"), I(i)});
    Reply get = c.Call("GET", {S("small")});
    slowest = std::max(slowest, Clock::now() - start);
    if (!ping.ok() || !set.ok() || get.value != I(i)) {
      FAIL("round " << i << ": " << ping.error << " / " << set.error << " / " << get.error
                    << get.value.DebugString() << "\nserver log:\n"
                    << server.Log());
    }
  }
  CHECK(slowest < std::chrono::seconds(2));
}

TEST_CASE("a client that stops reading does not hold up other clients",
          "[integration][bad_input]") {
  ServerProcess server({"--shards", "2"});
  StoreBigValue(server);
  RawConnection stalled(server.port());
  // More replies than kMaxPendingOutputBytes (64 MiB), never read. The count is bounded so that
  // the test stays cheap even while the server over-buffers (see the hidden test below).
  std::string gets;
  for (uint32_t i = 0; i < 96; ++i) gets += Request(i, op::kGet, {S("big")});
  stalled.Send(gets);
  // Wait until the server is writing to the stalled client: its replies fill our socket.
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  int queued = 0;
  while (queued == 0 && Clock::now() < deadline) {
    pollfd p = {stalled.fd(), POLLIN, 0};
    poll(&p, 1, MsLeft(deadline));
    REQUIRE(ioctl(stalled.fd(), FIONREAD, &queued) == 0);
  }
  REQUIRE(queued > 0);

  ExpectPromptAnswers(server);
  RequireServed(server);
}

// A client that writes GETs of a 1 MiB value and never reads: the server must stop reading it
// without buffering the replies of everything it sent. The server is capped at 2 GiB of address
// space so that a regression fails fast instead of exhausting the machine.
TEST_CASE("a client that never reads cannot make the server buffer without bound",
          "[integration][bad_input]") {
  ServerProcess server({"--shards", "2"});
  if (!kSanitized) {  // a sanitizer's shadow memory alone reserves more address space
    rlimit cap = {rlim_t{2} << 30, rlim_t{2} << 30};
    REQUIRE(prlimit(server.pid(), RLIMIT_AS, &cap, nullptr) == 0);
  }
  StoreBigValue(server);

  RawConnection stalled(server.port());
  REQUIRE(fcntl(stalled.fd(), F_SETFL, fcntl(stalled.fd(), F_GETFL) | O_NONBLOCK) == 0);
  std::string gets;
  for (uint32_t i = 0; i < 64; ++i) gets += Request(i, op::kGet, {S("big")});
  // Write until the socket stays full: the server has stopped reading.
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  bool full = false;
  int64_t peak = 0;
  size_t sent = 0;
  std::string send_error;
  while (!full && send_error.empty() && Clock::now() < deadline && !Exited(server.pid())) {
    peak = std::max(peak, ResidentBytes(server.pid()));
    if (peak > (int64_t{1} << 30)) break;
    const ssize_t n = send(stalled.fd(), gets.data(), gets.size(), MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (errno == EAGAIN) {  // EWOULDBLOCK on Linux
      pollfd p = {stalled.fd(), POLLOUT, 0};
      full = poll(&p, 1, 2000) == 0;  // not writable for 2 s: the server no longer reads
    } else {
      send_error = strerror(errno);
    }
  }
  INFO("sent " << sent << " bytes of GETs; server peak RSS " << (peak >> 20) << " MiB; "
               << send_error);
  REQUIRE_FALSE(Exited(server.pid()));
  CHECK(full);
  if (!kSanitized) CHECK(peak < (int64_t{512} << 20));
  ExpectPromptAnswers(server);
  RequireServed(server);
}

std::optional<int64_t> InfoField(RawConnection& conn, uint32_t id, std::string_view field) {
  conn.Send(Request(id, op::kInfo, {}));
  Frame f = conn.Read();
  REQUIRE(f.reply.ok());
  for (const auto& [k, v] : f.reply.value.AsMap()) {
    if (k == S(field)) return v.AsInt();
  }
  return std::nullopt;
}

TEST_CASE("--max-connections refuses the one too many with BUSY, then accepts again",
          "[integration][bad_input]") {
  ServerProcess server({"--max-connections", "4"});
  std::vector<std::unique_ptr<RawConnection>> open;
  for (uint32_t i = 0; i < 4; ++i) {
    open.push_back(std::make_unique<RawConnection>(server.port()));
    open.back()->Send(Request(i, op::kPing, {}));
    ExpectPong(open.back()->Read(), i);
  }

  RawConnection fifth(server.port());
  Frame busy = fifth.Read();
  ExpectError(busy, 0, Code::kBusy);
  CHECK_THAT(busy.reply.error, Contains("max number of clients"));
  fifth.ExpectClosed();

  // One leaves; once the server has noticed (bounded wait, asked over another connection), a
  // new one is served.
  open.erase(open.begin());
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  uint32_t id = 100;
  std::optional<int64_t> count = InfoField(*open[0], id++, "connections");
  while (count != 3 && Clock::now() < deadline) count = InfoField(*open[0], id++, "connections");
  REQUIRE(count == 3);
  open.push_back(std::make_unique<RawConnection>(server.port()));
  open.back()->Send(Request(7, op::kPing, {}));
  ExpectPong(open.back()->Read(), 7);

  // Full again.
  RawConnection again(server.port());
  ExpectError(again.Read(), 0, Code::kBusy);
  again.ExpectClosed();

  open.clear();
  // Every slot comes back: a normal client is served once the server has seen them go.
  const auto deadline2 = Clock::now() + std::chrono::seconds(10);
  for (;;) {
    RawConnection probe(server.port());
    probe.Send(Request(1, op::kPing, {}));
    Frame f = probe.Read();
    if (f.reply.ok()) break;
    CHECK(f.reply.code == Code::kBusy);
    REQUIRE(Clock::now() < deadline2);
  }
  RequireServed(server);
}

TEST_CASE("QUIT replies OK, then the server closes; later requests get no reply",
          "[integration][bad_input]") {
  ServerProcess server({"--shards", "2"});
  RawConnection conn(server.port());
  conn.Send(Request(1, op::kSet, {S("before"), I(1)}) + Request(2, op::kQuit, {}) +
            Request(3, op::kPing, {}) + Request(4, op::kSet, {S("after"), I(1)}));
  Frame set = conn.Read();
  CHECK(set.header.request_id == 1);
  CHECK(set.reply.ok());
  Frame quit = conn.Read();
  CHECK(quit.header.request_id == 2);
  CHECK(quit.reply.ok());
  CHECK(quit.reply.simple);
  CHECK(quit.reply.value == S("OK"));
  conn.ExpectClosed();

  Client c(Opts(server));
  CHECK(c.Call("GET", {S("before")}).value == I(1));
  CHECK(c.Call("EXISTS", {S("after")}).value == I(0));  // never run
  // QUIT by name, alone.
  RawConnection by_name(server.port());
  by_name.Send(ByName(9, "quit", {}));
  Frame f = by_name.Read();
  CHECK(f.header.request_id == 9);
  CHECK(f.reply.ok());
  by_name.ExpectClosed();
  RequireServed(server);
}

}  // namespace
}  // namespace dbkv::testing
