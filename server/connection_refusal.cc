// Refusing a connection over --max-connections (Server::Impl::Refuse): the client is told why
// in its own protocol (a binary BUSY frame, or RESP's "-ERR max number of clients reached"),
// then the connection is closed without losing that answer.
#include <algorithm>
#include <array>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "protocol/frame.h"
#include "protocol/resp.h"
#include "server/server_impl.h"

namespace dbkv {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

// How long the server waits for a refused connection's first bytes (which say its protocol),
// how long it then waits for the client to close, and how many it refuses that way at once
// (beyond that, at once, with the binary frame).
constexpr auto kRefuseWait = std::chrono::milliseconds(200);
constexpr auto kRefuseLinger = std::chrono::milliseconds(1000);
constexpr size_t kMaxRefusing = 64;
constexpr size_t kRefuseDiscardBytes = 64 * 1024;  // read after the answer, at most

// The refusal, in the protocol of the connection: a binary BUSY frame (request id 0), or for
// RESP Redis's "-ERR max number of clients reached". Small: written without waiting.
void WriteRefusal(tcp::socket& socket, protocol::Wire wire) {
  const Reply busy = Reply::Error(Code::kBusy, "max number of clients reached");
  std::string out;
  if (wire == protocol::Wire::kResp) {
    protocol::AppendRespReply(&out, busy, protocol::RespStyle());
  } else {
    protocol::AppendResponse(&out, 0, busy);
  }
  error_code ec;
  socket.non_blocking(true, ec);
  socket.write_some(asio::buffer(out), ec);
}

}  // namespace

// A connection being refused: its first bytes are read (to answer in its protocol), then after
// the answer whatever else it sends, until it closes or kRefuseLinger passes.
struct Server::Impl::Refusal {
  Refusal(tcp::socket s, asio::io_context& io) : socket(std::move(s)), timer(io) {}
  tcp::socket socket;
  asio::steady_timer timer;
  std::array<char, 1024> buf{};
  std::string first;     // the first bytes, as many as DetectWire needs
  size_t discarded = 0;  // bytes read after the answer
  bool answered = false;
  bool finished = false;
};

// Redis answers a client over maxclients "-ERR max number of clients reached" and closes; our
// binary clients expect a BUSY frame. Which one is read from the connection's first bytes,
// waited for at most kRefuseWait (a client that sends nothing gets the binary frame). Then the
// server shuts its side down and reads (discarding) until the client closes, at most
// kRefuseLinger: closing with unread input would send a reset, which can destroy the answer
// before the client reads it (up to kRefuseDiscardBytes are read). A refusal costs a socket, a
// timer and a 1 KiB buffer for at most kRefuseWait + kRefuseLinger, and at most kMaxRefusing run
// at once; further ones, and every one on a TLS port (where the first bytes are a handshake),
// get the binary frame at once.
void Server::Impl::Refuse(tcp::socket socket) {
  if (state.tls != nullptr || refusing >= kMaxRefusing) {
    WriteRefusal(socket, protocol::Wire::kBinary);
    error_code ec;
    socket.close(ec);
    return;
  }
  ++refusing;
  auto r = std::make_shared<Refusal>(std::move(socket), control);
  r->timer.expires_after(kRefuseWait);
  r->timer.async_wait([this, r](const error_code& ec) {
    if (ec) return;  // the answer went out first (the timer was re-armed) or the refusal ended
    // Nothing came: the binary frame. Bytes that did not decide (at most 4, '*' or a letter,
    // with --max-frame-bytes over 704 MiB): a RESP client that paused.
    AnswerRefused(r, r->first.empty() ? protocol::Wire::kBinary : protocol::Wire::kResp);
  });
  ReadRefused(r);
}

void Server::Impl::ReadRefused(const std::shared_ptr<Refusal>& r) {
  r->socket.async_read_some(asio::buffer(r->buf), [this, r](const error_code& ec, size_t n) {
    if (r->finished) return;
    if (ec) {
      // The client closed (or the socket failed): answer if not done yet, and end.
      if (!r->answered) WriteRefusal(r->socket, protocol::Wire::kBinary);
      FinishRefusal(r);
      return;
    }
    if (!r->answered) {
      // DetectWire decides by the fifth byte at the latest.
      r->first.append(r->buf.data(), std::min<size_t>(n, 8 - r->first.size()));
      const protocol::Wire wire = protocol::DetectWire(r->first, state.options.max_frame_bytes);
      if (wire != protocol::Wire::kUnknown) AnswerRefused(r, wire);
    } else if ((r->discarded += n) > kRefuseDiscardBytes) {
      return FinishRefusal(r);  // a client that keeps sending: not worth more reads
    }
    ReadRefused(r);
  });
}

void Server::Impl::AnswerRefused(const std::shared_ptr<Refusal>& r, protocol::Wire wire) {
  if (r->answered || r->finished) return;
  r->answered = true;
  WriteRefusal(r->socket, wire);
  error_code ec;
  r->socket.shutdown(tcp::socket::shutdown_send, ec);
  r->timer.expires_after(kRefuseLinger);  // cancels the wait for the first bytes
  r->timer.async_wait([this, r](const error_code& e) {
    if (!e) FinishRefusal(r);
  });
}

void Server::Impl::FinishRefusal(const std::shared_ptr<Refusal>& r) {
  if (r->finished) return;
  r->finished = true;
  --refusing;
  error_code ec;
  r->timer.cancel();
  r->socket.close(ec);
}

}  // namespace dbkv
