// Helpers shared by the cross-component tests: client options for a ServerProcess, calls that
// must succeed or fail, and a raw connection that writes bytes and reads frames. Includes the
// one-letter value builders of tests/values.h.
#ifndef DATABRIDGE_TESTS_TEST_UTIL_H_
#define DATABRIDGE_TESTS_TEST_UTIL_H_

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "client/client.h"
#include "client/options.h"
#include "core/reply.h"
#include "core/value.h"
#include "protocol/frame.h"
#include "tests/server_process.h"
#include "tests/values.h"

namespace dbkv::testing {

// Whether the tests and the server they start run under a sanitizer (make test-asan/test-tsan
// build both with it). Its allocator keeps freed memory in quarantine and its shadow memory
// reserves terabytes of address space, so the checks of RSS and address-space limits, which
// are about our allocator's behaviour, do not apply there; everything else does.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif

// Options that reach server, in namespace ns, with the client's default request timeout.
client::ClientOptions Opts(const ServerProcess& server, std::string ns = "");
// The same with a request timeout of timeout_s seconds.
client::ClientOptions Opts(const ServerProcess& server, double timeout_s, std::string ns = "");

// The reply value of `cmd args...`; fails the test on an error reply.
Value Ok(client::Client& c, std::string_view cmd, ValueList args = {});
// The error reply of `cmd args...`; fails the test if the command succeeds.
Reply Err(client::Client& c, std::string_view cmd, ValueList args = {});
// An integer field of the server's INFO ("blocked", "connections"); fails the test if the
// reply has no such field.
int64_t InfoInt(client::Client& c, std::string_view field);

// Milliseconds from now to deadline, 0 once it has passed: the poll timeout of a bounded wait.
int MsLeft(std::chrono::steady_clock::time_point deadline);

// Request frames, by opcode or by name (opcode kOpByName).
void AppendRequest(std::string* out, uint32_t id, uint8_t opcode, ValueList args);
void AppendByName(std::string* out, uint32_t id, std::string_view name, ValueList args);
std::string Request(uint32_t id, uint8_t opcode, ValueList args);
std::string ByName(uint32_t id, std::string_view name, ValueList args);

// A reply frame as it came off the wire.
struct Frame {
  protocol::FrameHeader header;
  Reply reply;
};

// A plain TCP socket connected to 127.0.0.1:port, or -1. rcvbuf > 0 sets SO_RCVBUF first.
int ConnectTo(uint16_t port, int rcvbuf = 0);

// Reads from fd until what arrived contains `until` (empty: until the peer closes), or EOF, an
// error or the deadline comes first; returns what arrived. *eof, if given: the peer closed.
std::string ReadUntil(int fd, std::string_view until,
                      std::chrono::steady_clock::time_point deadline, bool* eof = nullptr);

// A client socket that writes raw bytes and reads raw frames; every wait is bounded. A frame
// the server sends that does not split or decode fails the test.
class RawConnection {
 public:
  // Connects to 127.0.0.1:port (Nagle off).
  explicit RawConnection(uint16_t port);

  int fd() { return socket_.native_handle(); }

  void Send(std::string_view bytes);

  enum class Got { kFrame, kClosed, kTimeout };

  // Waits for the next frame or for the end of the stream.
  Got Next(Frame* out, int timeout_ms = 10000);

  // The next frame; fails the test if the connection ends or nothing comes in time.
  Frame Read(int timeout_ms = 10000);

  // The server closes the connection with no further frame (and no partial one).
  void ExpectClosed(int timeout_ms = 10000);

 private:
  boost::asio::io_context io_;
  boost::asio::ip::tcp::socket socket_;
  std::string buf_;
  bool eof_ = false;
};

// A client socket speaking RESP: writes raw bytes or commands, reads replies as their exact
// bytes (and decoded, by protocol::ParseRespReply); every wait is bounded. A reply that does
// not parse fails the test.
class RespConnection {
 public:
  explicit RespConnection(uint16_t port);

  int fd() { return socket_.native_handle(); }
  void Send(std::string_view bytes);
  // Sends args as a multibulk request.
  void Command(const std::vector<std::string_view>& args);

  enum class Got { kReply, kClosed, kTimeout };
  // Waits for the next reply (*raw: its bytes) or the end of the stream.
  Got Next(std::string* raw, Reply* reply, int timeout_ms = 10000);
  // The next reply's bytes; fails the test if the connection ends or nothing comes in time.
  std::string ReadRaw(int timeout_ms = 10000);
  Reply Read(int timeout_ms = 10000);
  // Command, then ReadRaw.
  std::string Call(const std::vector<std::string_view>& args);
  // The server closes the connection with no further reply (and no partial one).
  void ExpectClosed(int timeout_ms = 10000);

 private:
  boost::asio::io_context io_;
  boost::asio::ip::tcp::socket socket_;
  std::string buf_;
  bool eof_ = false;
};

}  // namespace dbkv::testing

#endif  // DATABRIDGE_TESTS_TEST_UTIL_H_
