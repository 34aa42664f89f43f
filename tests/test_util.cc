#include "tests/test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include "protocol/resp.h"
#include "protocol/resp_reply_parser.h"
#include "protocol/wire_format.h"

namespace dbkv::testing {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

}  // namespace

int MsLeft(Clock::time_point deadline) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return ms.count() > 0 ? static_cast<int>(ms.count()) : 0;
}

client::ClientOptions Opts(const ServerProcess& server, std::string ns) {
  return Opts(server, client::ClientOptions().timeout_s, std::move(ns));
}

client::ClientOptions Opts(const ServerProcess& server, double timeout_s, std::string ns) {
  client::ClientOptions o;
  o.port = server.port();
  o.ns = std::move(ns);
  o.timeout_s = timeout_s;
  return o;
}

Value Ok(client::Client& c, std::string_view cmd, ValueList args) {
  Reply r = c.Call(cmd, std::move(args));
  INFO(cmd << " -> " << CodeName(r.code) << " " << r.error);
  REQUIRE(r.ok());
  return r.value;
}

Reply Err(client::Client& c, std::string_view cmd, ValueList args) {
  Reply r = c.Call(cmd, std::move(args));
  INFO(cmd << " unexpectedly succeeded: " << r.value.DebugString());
  REQUIRE_FALSE(r.ok());
  return r;
}

int64_t InfoInt(client::Client& c, std::string_view field) {
  Value info = Ok(c, "INFO");
  REQUIRE(info.type() == ValueType::kMap);
  for (const auto& [k, v] : info.AsMap()) {
    if (k == S(field)) return v.AsInt();
  }
  FAIL("INFO has no " << field << " field");
  return -1;
}

void AppendRequest(std::string* out, uint32_t id, uint8_t opcode, ValueList args) {
  protocol::AppendRequest(out, id, opcode, "", args.data(), args.size());
}

void AppendByName(std::string* out, uint32_t id, std::string_view name, ValueList args) {
  protocol::AppendRequest(out, id, protocol::kOpByName, name, args.data(), args.size());
}

std::string Request(uint32_t id, uint8_t opcode, ValueList args) {
  std::string out;
  AppendRequest(&out, id, opcode, std::move(args));
  return out;
}

std::string ByName(uint32_t id, std::string_view name, ValueList args) {
  std::string out;
  AppendByName(&out, id, name, std::move(args));
  return out;
}

int ConnectTo(uint16_t port, int rcvbuf) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

std::string ReadUntil(int fd, std::string_view until, Clock::time_point deadline, bool* eof) {
  std::string in;
  if (eof != nullptr) *eof = false;
  while (until.empty() || in.find(until) == std::string::npos) {
    pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, MsLeft(deadline)) <= 0) break;
    char buf[65536];
    const ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) {
      if (eof != nullptr) *eof = true;
      break;
    }
    in.append(buf, static_cast<size_t>(n));
  }
  return in;
}

RawConnection::RawConnection(uint16_t port) : socket_(io_) {
  socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  socket_.set_option(tcp::no_delay(true));
}

void RawConnection::Send(std::string_view bytes) { asio::write(socket_, asio::buffer(bytes)); }

RawConnection::Got RawConnection::Next(Frame* out, int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    protocol::FrameView view;
    Status error;
    auto r = protocol::SplitFrame(buf_, protocol::kAbsoluteMaxFrameBytes, &view, &error);
    INFO("the server sent a broken frame: " << error.ToString());
    REQUIRE(r != protocol::SplitResult::kError);
    if (r == protocol::SplitResult::kFrame) {
      out->header = view.header;
      Status s = protocol::DecodeResponse(view, &out->reply);
      INFO("undecodable reply: " << s.ToString());
      REQUIRE(s.ok());
      buf_.erase(0, view.size());
      return Got::kFrame;
    }
    if (eof_) return Got::kClosed;
    pollfd p = {fd(), POLLIN, 0};
    if (poll(&p, 1, MsLeft(deadline)) <= 0) return Got::kTimeout;
    char chunk[65536];
    const ssize_t n = recv(fd(), chunk, sizeof(chunk), 0);
    if (n > 0) {
      buf_.append(chunk, static_cast<size_t>(n));
    } else if (n == 0 || errno == ECONNRESET) {
      eof_ = true;
    } else if (errno != EINTR && errno != EAGAIN) {
      FAIL("recv: " << strerror(errno));
    }
  }
}

Frame RawConnection::Read(int timeout_ms) {
  Frame f;
  Got got = Next(&f, timeout_ms);
  INFO((got == Got::kClosed ? "the server closed the connection" : "no reply in time"));
  REQUIRE(got == Got::kFrame);
  return f;
}

void RawConnection::ExpectClosed(int timeout_ms) {
  Frame f;
  Got got = Next(&f, timeout_ms);
  INFO("unexpected frame with id " << f.header.request_id << ": " << f.reply.error
                                   << f.reply.value.DebugString());
  CHECK(got == Got::kClosed);
  CHECK(buf_.empty());
}

RespConnection::RespConnection(uint16_t port) : socket_(io_) {
  socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  socket_.set_option(tcp::no_delay(true));
}

void RespConnection::Send(std::string_view bytes) { asio::write(socket_, asio::buffer(bytes)); }

void RespConnection::Command(const std::vector<std::string_view>& args) {
  std::string out;
  protocol::AppendRespCommand(&out, args);
  Send(out);
}

RespConnection::Got RespConnection::Next(std::string* raw, Reply* reply, int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    size_t used = 0;
    Status error;
    const protocol::RespParse r = protocol::ParseRespReply(buf_, reply, &used, &error);
    INFO("the server sent a broken reply: " << error.ToString() << " in: " << buf_);
    REQUIRE(r != protocol::RespParse::kError);
    if (r == protocol::RespParse::kCommand) {
      *raw = buf_.substr(0, used);
      buf_.erase(0, used);
      return Got::kReply;
    }
    if (eof_) return Got::kClosed;
    pollfd p = {fd(), POLLIN, 0};
    if (poll(&p, 1, MsLeft(deadline)) <= 0) return Got::kTimeout;
    char chunk[65536];
    const ssize_t n = recv(fd(), chunk, sizeof(chunk), 0);
    if (n > 0) {
      buf_.append(chunk, static_cast<size_t>(n));
    } else if (n == 0 || errno == ECONNRESET) {
      eof_ = true;
    } else if (errno != EINTR && errno != EAGAIN) {
      FAIL("recv: " << strerror(errno));
    }
  }
}

std::string RespConnection::ReadRaw(int timeout_ms) {
  std::string raw;
  Reply reply;
  Got got = Next(&raw, &reply, timeout_ms);
  INFO((got == Got::kClosed ? "the server closed the connection" : "no reply in time"));
  REQUIRE(got == Got::kReply);
  return raw;
}

Reply RespConnection::Read(int timeout_ms) {
  std::string raw;
  Reply reply;
  Got got = Next(&raw, &reply, timeout_ms);
  INFO((got == Got::kClosed ? "the server closed the connection" : "no reply in time"));
  REQUIRE(got == Got::kReply);
  return reply;
}

std::string RespConnection::Call(const std::vector<std::string_view>& args) {
  Command(args);
  return ReadRaw();
}

void RespConnection::ExpectClosed(int timeout_ms) {
  std::string raw;
  Reply reply;
  Got got = Next(&raw, &reply, timeout_ms);
  INFO("unexpected reply: " << raw);
  CHECK(got == Got::kClosed);
  CHECK(buf_.empty());
}

}  // namespace dbkv::testing
