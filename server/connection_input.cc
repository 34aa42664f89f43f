// Connection, input: reading the socket (a readiness wait, then non-blocking reads; TLS through
// its stream), detecting the protocol from the first bytes, and splitting the read buffer into
// binary frames or RESP requests, gathered into pipelines and dispatched.
#include <spdlog/spdlog.h>

#include <cstring>

#include "core/clock.h"
#include "protocol/frame.h"
#include "protocol/wire_format.h"
#include "server/connection.h"
#include "server/io_loop.h"

namespace dbkv {

namespace asio = boost::asio;
using boost::system::error_code;

// Reading waits for readability and then drains the socket with non-blocking reads, instead of
// async_read_some: at one request in flight, Asio's speculative read in async_read_some nearly
// always finds nothing, which costs one wasted syscall per request. The wait is armed *before*
// the reads, so data that arrives while we read completes the next wait: with the reactor's
// edge-triggered epoll nothing is left stranded.
void Connection::Read() {
  if (closed_) return;
  // Frames already buffered come before new input.
  if (input_pending_ && !ShouldPauseReading()) {
    ProcessInput();
    Flush();
  }
  if (read_closed_ || closed_ || input_pending_ || ShouldPauseReading()) return;
  if (tls_ != nullptr) {
    if (!tls_reading_) ReadTls();
    return;
  }
  if (!wait_armed_) {
    wait_armed_ = true;
    socket_.async_wait(asio::ip::tcp::socket::wait_read,
                       [self = shared_from_this()](const error_code& ec) {
                         self->wait_armed_ = false;
                         if (ec) {
                           if (ec != asio::error::operation_aborted) self->OnReadEnd();
                           return;
                         }
                         self->may_have_input_ = true;
                         self->Read();
                       });
  }
  if (may_have_input_) DrainSocket();
}

size_t Connection::MakeRoom() {
  if (rbegin_ == rend_) {
    rbegin_ = rend_ = 0;
  } else if (rbuf_.size() - rend_ < kReadChunk / 4 && rbegin_ > 0) {
    std::memmove(rbuf_.data(), rbuf_.data() + rbegin_, rend_ - rbegin_);
    rend_ -= rbegin_;
    rbegin_ = 0;
  }
  if (rbuf_.size() - rend_ < kReadChunk / 4) rbuf_.resize(rbuf_.size() + kReadChunk);
  return rbuf_.size() - rend_;
}

void Connection::ReadTls() {
  const size_t space = MakeRoom();
  tls_reading_ = true;
  tls_->async_read_some(asio::buffer(rbuf_.data() + rend_, space),
                        [self = shared_from_this()](const error_code& ec, size_t n) {
                          self->tls_reading_ = false;
                          if (ec) {
                            if (!self->closed_) self->OnReadEnd();
                            return;
                          }
                          self->rend_ += n;
                          self->last_activity_ms_ = self->loop_->now_ms();
                          self->ProcessInput();
                          self->Flush();
                          self->Read();
                        });
}

void Connection::DrainSocket() {
  may_have_input_ = false;
  bool got = false;
  bool more = false;
  for (;;) {
    if (read_closed_ || closed_) break;
    if (ShouldPauseReading() || input_pending_) {
      // Resume later: the socket may still hold data that no new event will announce.
      may_have_input_ = true;
      break;
    }
    const size_t space = MakeRoom();
    error_code ec;
    const size_t n = socket_.read_some(asio::buffer(rbuf_.data() + rend_, space), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      // Shutting down, all answered and the socket empty: this connection is done.
      if (draining_ && !got && Idle()) read_closed_ = true;
      break;
    }
    if (ec) {
      if (got) {
        ProcessInput();
        Flush();
      }
      OnReadEnd();
      return;
    }
    rend_ += n;
    got = true;
    last_activity_ms_ = loop_->now_ms();
    if (n < space) break;  // drained
    // A full buffer: more is waiting. What this read completed is answered first, and the
    // rest is read after this pass has written those replies (as Redis reads a bounded chunk
    // per event): the client gets replies sooner and sends more meanwhile, the buffer stays
    // small, and one busy client cannot hold up the loop's other connections.
    may_have_input_ = true;
    more = true;
    break;
  }
  if (got) ProcessInput();
  Flush();
  if (more) {
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
      if (self->may_have_input_) self->Read();
    });
  }
}

void Connection::OnReadEnd() {
  // EOF or reset: answer what was asked (buffered frames included), then close. Commands
  // blocked for this client are cancelled now: it has gone, and they could wait forever.
  read_closed_ = true;
  close_after_write_ = true;
  CancelBlocked();
  Read();
  Flush();
}

void Connection::ProcessInput() {
  // After a bad frame or QUIT nothing more is read from this connection.
  if (closed_ || input_closed_) return;
  input_pending_ = false;
  const size_t max_frame = loop_->state()->options.max_frame_bytes;
  if (wire_ == protocol::Wire::kUnknown) {
    wire_ =
        protocol::DetectWire(std::string_view(rbuf_.data() + rbegin_, rend_ - rbegin_), max_frame);
    if (wire_ == protocol::Wire::kUnknown) return;
    if (wire_ == protocol::Wire::kResp) spdlog::debug("connection {}: speaks RESP", id_);
  }
  const bool resp = wire_ == protocol::Wire::kResp;
  std::unique_ptr<Pipeline> pipeline = NewPipeline();
  Status input_error;
  uint32_t error_id = 0;
  for (;;) {
    if (inflight_requests_ + pipeline->size() >= window_) {
      // Enough in flight: the rest waits in the buffer (Read resumes it).
      input_pending_ = rend_ > rbegin_;
      break;
    }
    const size_t before = pipeline->size();
    const bool more = resp ? NextRespRequest(*pipeline, max_frame, &input_error)
                           : NextFrame(*pipeline, max_frame, &input_error, &error_id);
    if (!more) break;
    if (resp && !authenticated_ && pipeline->size() > before) {
      // RESP limits unauthenticated requests more strictly: what follows an AUTH or HELLO is
      // parsed once it has run (Read resumes the rest).
      std::string_view name = (*pipeline)[before].argv[0].AsStringView();
      const CommandSpec* cmd = loop_->state()->registry.FindByName(name);
      if (cmd != nullptr && (cmd->name == "AUTH" || cmd->name == "HELLO")) {
        input_pending_ = rend_ > rbegin_;
        break;
      }
    }
  }
  if (!input_error.ok()) {
    spdlog::debug("closing connection after a bad {}: {}", resp ? "RESP request" : "frame",
                  input_error.ToString());
    PendingRequest& req = pipeline->Add();
    req.id = error_id;
    req.reply = Reply::Error(input_error);
    StopInput();
  }
  if (pipeline->empty()) {
    RecyclePipeline(std::move(pipeline));
    return;
  }

  pipeline->conn = shared_from_this();
  pipeline->read_ns = MonotonicNs();
  for (uint32_t i = 0; i < pipeline->size(); ++i) {
    PendingRequest& req = (*pipeline)[i];
    if (req.reply.ok()) Resolve(req, req.opcode);
    if (req.cmd != nullptr) Dispatch(*pipeline, i);
    // The version after the request ran: HELLO 3 answers in RESP3.
    if (resp) req.resp = static_cast<uint8_t>(resp_version_);
    if (quit_requested_) {
      // QUIT: nothing after it is answered.
      pipeline->Truncate(i + 1);
      StopInput();
      break;
    }
  }
  inflight_requests_ += pipeline->size();
  pipelines_.push_back(std::move(pipeline));
}

void Connection::EnsureRoom(size_t need) {
  if (rbegin_ + need <= rbuf_.size()) return;
  std::memmove(rbuf_.data(), rbuf_.data() + rbegin_, rend_ - rbegin_);
  rend_ -= rbegin_;
  rbegin_ = 0;
  if (need > rbuf_.size()) rbuf_.resize(need);
}

bool Connection::NextFrame(Pipeline& p, size_t max_frame, Status* error, uint32_t* error_id) {
  std::string_view data(rbuf_.data() + rbegin_, rend_ - rbegin_);
  protocol::FrameView frame;
  Status e;
  protocol::SplitResult r = protocol::SplitFrame(data, max_frame, &frame, &e);
  if (r == protocol::SplitResult::kNeedMore) {
    // A large frame in progress: make room for all of it at once.
    if (data.size() >= protocol::kHeaderSize) {
      EnsureRoom(frame.header.length + protocol::kLengthFieldSize);
    }
    return false;
  }
  if (r == protocol::SplitResult::kError) {
    *error = std::move(e);
    *error_id = data.size() >= protocol::kHeaderSize ? frame.header.request_id : 0;
    return false;
  }
  rbegin_ += frame.size();
  PendingRequest& req = p.Add();
  req.id = frame.header.request_id;
  req.opcode = frame.header.code;
  Status s = protocol::DecodeRequestArgs(frame, &req.argv);
  if (!s.ok()) req.reply = Reply::Error(s);
  return true;
}

bool Connection::NextRespRequest(Pipeline& p, size_t max_frame, Status* error) {
  std::string_view data(rbuf_.data() + rbegin_, rend_ - rbegin_);
  protocol::RespLimits limits;
  limits.max_request_bytes = max_frame;
  limits.unauthenticated = !authenticated_;
  size_t consumed = 0;
  Status e;
  const protocol::RespParse r = resp_parser_.Parse(data, limits, &resp_argv_, &consumed, &e);
  if (r == protocol::RespParse::kNeedMore) {
    // A large bulk string in progress: make room for all of it at once.
    if (resp_parser_.needed() > kReadChunk) EnsureRoom(resp_parser_.needed());
    return false;
  }
  if (r == protocol::RespParse::kError) {
    *error = std::move(e);
    return false;
  }
  rbegin_ += consumed;
  if (resp_argv_.empty()) return true;  // a blank line, "*0": nothing to run, as Redis
  PendingRequest& req = p.Add();
  req.argv.swap(resp_argv_);
  req.opcode = protocol::kOpByName;
  return true;
}

bool Connection::SetProtocol(int version) {
  if (wire_ != protocol::Wire::kResp) return version == 1;
  if (version != 2 && version != 3) return false;
  resp_version_ = version;
  return true;
}

}  // namespace dbkv
