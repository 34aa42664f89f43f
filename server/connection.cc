// Connection: construction, start (the TLS handshake), and the end of a connection: draining
// at shutdown, the graceful close that never destroys unread replies, idle timeouts and the
// cancellation of the client's blocked commands. Reading and framing: connection_input.cc;
// admission (commands, AUTH): connection_admission.cc; routing to shards:
// connection_routing.cc; flow control and writes: connection_output.cc.
#include "server/connection.h"

#include <spdlog/spdlog.h>

#include "actors/shard_actor.h"
#include "server/io_loop.h"

namespace dbkv {

namespace asio = boost::asio;
using boost::system::error_code;

Connection::Connection(IoLoop* loop, asio::ip::tcp::socket socket, asio::ssl::context* tls)
    : loop_(loop),
      socket_(std::move(socket)),
      id_(loop->state()->next_connection_id.fetch_add(1, std::memory_order_relaxed)) {
  authenticated_ = loop_->state()->options.password.empty();
  if (tls != nullptr) tls_ = std::make_unique<TlsStream>(socket_, *tls);
}

Connection::~Connection() = default;

void Connection::Start() {
  error_code ec;
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  const asio::ip::tcp::endpoint peer = socket_.remote_endpoint(ec);
  peer_ = ec ? std::string("unknown") : peer.address().to_string();
  loop_->Register(this);
  socket_.non_blocking(true, ec);
  last_activity_ms_ = loop_->now_ms();
  rbuf_.resize(kReadChunk);
  may_have_input_ = true;
  if (tls_ == nullptr) {
    Read();
    return;
  }
  // TLS: the handshake first, bounded in time. A client speaking plaintext to this port fails
  // at once (its first bytes are not a TLS record); one that sends nothing, at the timeout.
  socket_.non_blocking(false, ec);
  linger_ = std::make_unique<asio::steady_timer>(socket_.get_executor());
  linger_->expires_after(std::chrono::milliseconds(kTlsHandshakeTimeoutMs));
  linger_->async_wait([self = shared_from_this()](const error_code& e) {
    if (!e) self->Close();
  });
  tls_->async_handshake(
      asio::ssl::stream_base::server, [self = shared_from_this()](const error_code& e) {
        self->linger_->cancel();
        if (e) {
          spdlog::debug("connection {}: TLS handshake failed: {}", self->id_, e.message());
          self->Close();
          return;
        }
        self->Read();
      });
}

void Connection::OnPipelineDone() {
  // Flush may drop the last pipeline, which may hold the last reference to this connection.
  auto self = shared_from_this();
  Flush();
  MaybeResumeReading();
}

void Connection::StopInput() {
  input_closed_ = true;
  read_closed_ = true;
  input_pending_ = false;
  close_after_write_ = true;
}

bool Connection::Idle() const {
  return pipelines_.empty() && obuf_.empty() && !writing_ && (!input_pending_ || input_closed_);
}

void Connection::MaybeFinish() {
  if (closed_ || closing_ || !Idle()) return;
  if (draining_ && !read_closed_ && tls_ != nullptr) {
    // TLS buffers what it decrypted: there is no peeking at the socket. Idle is done.
    read_closed_ = true;
  }
  if (draining_ && !read_closed_) {
    // Shutting down and idle: one more look at the socket. Requests that arrived meanwhile
    // are answered; if there are none, DrainSocket marks the input closed and, through Flush,
    // comes back here to close.
    may_have_input_ = true;
    DrainSocket();
    return;
  }
  if (close_after_write_ || draining_) GracefulClose();
}

void Connection::Drain() {
  // Answer what the client has sent so far (read until the socket is empty once), then close.
  // Blocked commands would hold the shutdown until their timeouts: they are answered now.
  draining_ = true;
  CancelBlocked();
  may_have_input_ = true;
  Read();
  Flush();
}

void Connection::GracefulClose() {
  if (closing_ || closed_) return;
  closing_ = true;
  error_code ec;
  if (tls_ != nullptr) {
    // close_notify, then close; bounded, as a peer may never answer it.
    linger_ = std::make_unique<asio::steady_timer>(socket_.get_executor());
    linger_->expires_after(std::chrono::milliseconds(kLingerMs));
    linger_->async_wait([self = shared_from_this()](const error_code& e) {
      if (!e) self->Close();
    });
    tls_->async_shutdown([self = shared_from_this()](const error_code&) { self->Close(); });
    return;
  }
  // FIN after the replies already handed to the kernel. Then read and discard until the client
  // closes too: closing a socket with unread input would reset the connection and could destroy
  // replies the client has not read yet.
  socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  if (ec) {
    Close();
    return;
  }
  linger_ = std::make_unique<asio::steady_timer>(socket_.get_executor());
  linger_->expires_after(std::chrono::milliseconds(kLingerMs));
  linger_->async_wait([self = shared_from_this()](const error_code& e) {
    if (!e) self->Close();
  });
  DiscardInput();
}

void Connection::DiscardInput() {
  bool discarded = false;
  for (;;) {
    char scratch[16384];
    error_code ec;
    socket_.read_some(asio::buffer(scratch), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) break;
    if (ec) {  // EOF: the client has closed its side
      Close();
      return;
    }
    discarded = true;
  }
  if (draining_ && !discarded) {
    // Server shutdown and the client is not sending: closing now cannot reset anything.
    Close();
    return;
  }
  socket_.async_wait(asio::ip::tcp::socket::wait_read,
                     [self = shared_from_this()](const error_code& ec) {
                       if (ec) {
                         if (ec != asio::error::operation_aborted) self->Close();
                         return;
                       }
                       if (!self->closed_) self->DiscardInput();
                     });
}

bool Connection::IdleSince(int64_t cutoff_ms) const {
  // A connection waiting on a blocked command, or with replies in flight, is not idle.
  return !closed_ && !closing_ && pipelines_.empty() && !writing_ && obuf_.empty() &&
         last_activity_ms_ < cutoff_ms;
}

void Connection::CloseIdle() {
  spdlog::debug("connection {}: idle, closing", id_);
  StopInput();
  GracefulClose();
}

void Connection::CancelBlocked() {
  // Blocked commands hold pipelines (and this connection) until they answer: have the shards
  // answer them now.
  if (!used_blocking_ || blocking_cancelled_) return;
  blocking_cancelled_ = true;
  const uint32_t nshards = static_cast<uint32_t>(loop_->state()->shards.size());
  for (uint32_t s = 0; s < nshards; ++s)
    loop_->SendToShard(s, cancel_atom::value, id_, uint64_t{0});
}

void Connection::Close() {
  if (closed_) return;
  closed_ = true;
  CancelBlocked();
  read_closed_ = true;
  error_code ec;
  if (linger_ != nullptr) linger_->cancel();
  if (hold_timer_ != nullptr) hold_timer_->cancel();
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  loop_->Unregister(this);
}

}  // namespace dbkv
