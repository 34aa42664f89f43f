#include "server/connection.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <cstring>

#include "actors/shard_actor.h"
#include "core/clock.h"
#include "core/shard_hash.h"
#include "protocol/frame.h"
#include "protocol/wire_format.h"
#include "server/io_loop.h"

namespace dbkv {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

constexpr size_t kReadChunk = 64 * 1024;

// Compares in time that depends only on the expected length, not on where they differ.
bool ConstantTimeEquals(std::string_view given, std::string_view expected) {
  unsigned char diff = given.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < expected.size(); ++i) {
    const unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    diff |= g ^ static_cast<unsigned char>(expected[i]);
  }
  return diff == 0;
}

// name (as sent) equals upper (a registered, upper-case name), ignoring ASCII case.
bool EqualsIgnoringCase(std::string_view name, const std::string& upper) {
  if (name.size() != upper.size()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c != upper[i]) return false;
  }
  return true;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

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

bool Connection::auth_required() const { return !loop_->state()->options.password.empty(); }

bool Connection::Authenticate(std::string_view password) {
  const std::string& expected = loop_->state()->options.password;
  if (expected.empty()) return false;
  authenticated_ = ConstantTimeEquals(password, expected);
  AuthThrottle& throttle = loop_->state()->auth_throttle;
  if (authenticated_) {
    throttle.OnSuccess(peer_);
  } else {
    // Counted, and answered late: each failure in a row from this address (on any of its
    // connections) doubles the delay, up to 4 s, which makes guessing slow without holding
    // anything but this connection.
    loop_->state()->auth_failures.fetch_add(1, std::memory_order_relaxed);
    const int64_t now = WallClockMs();
    const AuthThrottle::Penalty p = throttle.OnFailure(peer_, now);
    hold_output_until_ms_ = now + p.delay_ms;
    spdlog::warn("connection {} from {}: wrong password ({} in a row from that address)", id_,
                 peer_, p.failures);
  }
  return authenticated_;
}

ServerInfo Connection::server_info() const { return loop_->state()->Info(); }

bool Connection::ShouldPauseReading() const {
  return obuf_.size() + wbuf_.size() > kMaxPendingOutputBytes || inflight_requests_ >= window_;
}

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

void Connection::Resolve(PendingRequest& r, uint8_t opcode) {
  const CommandRegistry& registry = loop_->state()->registry;
  if (opcode == protocol::kOpByName) {
    std::string_view name = r.argv[0].AsStringView();
    // Clients by name (all of RESP) mostly repeat a command: skip the registry's hash lookup.
    r.cmd = last_by_name_ != nullptr && EqualsIgnoringCase(name, last_by_name_->name)
                ? last_by_name_
                : registry.FindByName(name);
    if (r.cmd != nullptr) {
      last_by_name_ = r.cmd;
      r.metric_id = r.cmd->id;
      r.stored_reply = (r.cmd->flags & kCmdStoredReply) != 0;
    }
    r.arg_offset = 1;
    if (r.cmd == nullptr) {
      r.reply = Reply::Error(Code::kUnknownCommand,
                             "unknown command '" + std::string(name.substr(0, 64)) + "'");
    }
    return;
  }
  r.cmd = registry.FindByOpcode(opcode);
  if (r.cmd != nullptr) {
    r.metric_id = r.cmd->id;
    r.stored_reply = (r.cmd->flags & kCmdStoredReply) != 0;
  }
  if (r.cmd == nullptr) {
    r.reply = Reply::Error(Code::kUnknownCommand, "unknown opcode " + std::to_string(opcode));
  }
}

std::string_view Connection::CurrentNamespace(Pipeline& p) { return p.HoldNamespace(ns_); }

std::unique_ptr<Pipeline> Connection::NewPipeline() {
  if (spare_pipelines_.empty()) return std::make_unique<Pipeline>();
  std::unique_ptr<Pipeline> p = std::move(spare_pipelines_.back());
  spare_pipelines_.pop_back();
  return p;
}

void Connection::RecyclePipeline(std::unique_ptr<Pipeline> p) {
  // Keep a few, with their buffers; a pipeline that grew big is let go.
  if (spare_pipelines_.size() < kSparePipelines && p->size() <= 4096) {
    p->Recycle();
    spare_pipelines_.push_back(std::move(p));
  }
}

void Connection::Dispatch(Pipeline& p, uint32_t index) {
  PendingRequest& r = p[index];
  const CommandSpec& cmd = *r.cmd;
  const size_t nargs = r.argv.size() - r.arg_offset;
  if (nargs < static_cast<size_t>(cmd.min_args) ||
      (cmd.max_args >= 0 && nargs > static_cast<size_t>(cmd.max_args))) {
    r.reply = Reply::Error(Code::kInvalidArgument,
                           "wrong number of arguments for '" + Lower(cmd.name) + "' command");
    r.cmd = nullptr;
    return;
  }
  if (!authenticated_ && (cmd.flags & kCmdNoAuth) == 0) {
    r.reply = Reply::Error(Code::kAuth, "Authentication required.");
    r.cmd = nullptr;
    return;
  }
  CommandArgs args(r.argv.data() + r.arg_offset, nargs);
  if (cmd.flags & kCmdConnection) {
    r.reply = cmd.connection(*this, args);
    r.cmd = nullptr;
    return;
  }
  DispatchToShards(p, index, args, CurrentNamespace(p));
}

void Connection::DispatchToShards(Pipeline& p, uint32_t index, CommandArgs args,
                                  std::string_view ns) {
  PendingRequest& r = p[index];
  const CommandSpec& cmd = *r.cmd;
  const uint32_t nshards = static_cast<uint32_t>(loop_->state()->shards.size());
  if (cmd.flags & kCmdBlocking) {
    r.seq = ++blocking_seq_;
    used_blocking_ = true;
  }
  auto send = [&](uint32_t shard, CommandArgs a, Reply* slot, int32_t part) {
    ShardOp op{&cmd, a, ns, slot, &p, index, part};
    op.conn_id = id_;
    op.seq = r.seq;
    loop_->AddOp(shard, op);
  };

  if (cmd.flags & kCmdAllShards) {
    r.split = std::make_unique<SplitState>();
    r.split->input.args = args;
    r.split->input.parts.resize(nshards);
    r.split->remaining = nshards;
    for (uint32_t s = 0; s < nshards; ++s) {
      r.split->part_shards.push_back(s);
      send(s, args, &r.split->input.parts[s], static_cast<int32_t>(s));
    }
    p.pending_ops += nshards;
    return;
  }

  // Key positions: first_key, every key_step-th argument up to last_key (negative: from the
  // end). Keys must be text; integers are accepted and stand for their decimal text.
  // The key groups run from first to end (inclusive); the last key is end - step + 1.
  const int n = static_cast<int>(args.size());
  const int first = cmd.first_key;
  const int step = cmd.key_step;
  const int end = cmd.last_key >= 0 ? std::min(cmd.last_key + step - 1, n - 1) : n + cmd.last_key;
  if (end < first || (end - first + 1) % step != 0) {
    r.cmd = nullptr;
    r.reply = Reply::Error(Code::kInvalidArgument,
                           "wrong number of arguments for '" + Lower(cmd.name) + "' command");
    return;
  }
  const int last = end - step + 1;
  Value* argv = r.argv.data() + r.arg_offset;
  for (int k = first; k <= last; k += step) {
    Value& key = argv[k];
    if (key.type() == ValueType::kInt) {
      key = Value::String(std::to_string(key.AsInt()));
    } else if (!key.is_string_like()) {
      r.cmd = nullptr;
      r.reply =
          Reply::Error(Code::kInvalidArgument, "key must be a string, bytes or an integer, not " +
                                                   std::string(ValueTypeName(key.type())));
      return;
    }
  }
  const uint32_t first_shard = ShardOf(argv[first].AsStringView(), nshards);
  bool one_shard = true;
  for (int k = first + step; k <= last && one_shard; k += step) {
    one_shard = ShardOf(argv[k].AsStringView(), nshards) == first_shard;
  }
  if (one_shard) {
    send(first_shard, args, &r.reply, -1);
    ++p.pending_ops;
    return;
  }
  if (cmd.flags & kCmdSingleShard) {
    r.cmd = nullptr;
    r.reply = Reply::Error(Code::kCrossShard,
                           "the keys of '" + Lower(cmd.name) +
                               "' must be on one shard: give them the same {hash tag}");
    return;
  }

  // Keys on several shards: one part per shard, each with the arguments before the first
  // key, its own key groups in the caller's order, and the arguments after the last group.
  auto split = std::make_unique<SplitState>();
  std::vector<int> part_of_shard(nshards, -1);
  uint32_t group = 0;
  for (int k = first; k <= last; k += step, ++group) {
    const uint32_t s = ShardOf(argv[k].AsStringView(), nshards);
    if (part_of_shard[s] < 0) {
      part_of_shard[s] = static_cast<int>(split->part_args.size());
      split->part_shards.push_back(s);
      split->part_args.emplace_back(argv, argv + first);  // the prefix
      split->input.groups.emplace_back();
    }
    const int part = part_of_shard[s];
    ValueList& pa = split->part_args[part];
    for (int j = k; j < k + step; ++j) pa.push_back(std::move(argv[j]));
    split->input.groups[part].push_back(group);
  }
  split->input.group_count = group;
  for (ValueList& pa : split->part_args) pa.insert(pa.end(), argv + end + 1, argv + n);
  const uint32_t parts = static_cast<uint32_t>(split->part_args.size());
  split->input.parts.resize(parts);
  split->remaining = parts;
  r.split = std::move(split);
  for (uint32_t s = 0; s < nshards; ++s) {
    const int part = part_of_shard[s];
    if (part < 0) continue;
    const ValueList& pa = r.split->part_args[part];
    send(s, CommandArgs(pa.data(), pa.size()), &r.split->input.parts[part], part);
  }
  p.pending_ops += parts;
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

void Connection::Flush() {
  // Encodes finished pipelines in order, but stops once enough output waits: the rest stays
  // as replies (which share large values with the store rather than copy them).
  size_t replies = 0;
  const size_t before = obuf_.size();
  const int64_t now_ns = pipelines_.empty() ? 0 : MonotonicNs();
  CommandMetrics& metrics = loop_->metrics();
  while (!pipelines_.empty() && pipelines_.front()->pending_ops == 0 &&
         obuf_.size() + wbuf_.size() <= kMaxPendingOutputBytes) {
    std::unique_ptr<Pipeline> p = std::move(pipelines_.front());
    pipelines_.pop_front();
    inflight_requests_ -= p->size();
    if (closed_) {
      RecyclePipeline(std::move(p));
      continue;
    }
    for (PendingRequest& r : *p) {
      if (r.split != nullptr && r.cmd != nullptr) {
        r.reply = r.cmd->merge(r.split->input, *this);
      }
      if (r.resp == 0) {
        protocol::AppendResponse(&obuf_, r.id, r.reply);
      } else {
        protocol::AppendRespReply(&obuf_, r.reply, protocol::RespStyle{r.resp, r.stored_reply});
      }
      metrics.Record(r.metric_id, r.reply.code, now_ns - p->read_ns);
    }
    replies += p->size();
    RecyclePipeline(std::move(p));
  }
  if (replies > 0) AdjustWindow(obuf_.size() - before, replies);
  if (write_deferred_) return;
  if (!writing_ && !obuf_.empty() && loop_->DeferWrite(shared_from_this())) {
    write_deferred_ = true;
    return;
  }
  Write();
}

void Connection::AdjustWindow(size_t bytes, size_t replies) {
  // Requests in flight are bounded by what their replies would weigh: a budget over the
  // average reply size seen last. Shrinks at once, grows at most twofold per flush.
  const size_t avg = std::max<size_t>(1, bytes / replies);
  const size_t target = std::clamp(kReplyBudgetBytes / avg, kMinWindow, kMaxInflightRequests);
  window_ = target < window_ ? target : std::min(target, window_ * 2);
}

void Connection::Write() {
  if (writing_ || closed_) return;
  if (obuf_.empty()) {
    MaybeFinish();
    return;
  }
  if (hold_output_until_ms_ != 0) {
    const int64_t wait = hold_output_until_ms_ - WallClockMs();
    if (wait > 0) {
      // After a wrong password: replies wait (and so does reading: the output counts against
      // the connection's limits).
      if (!hold_timer_) {
        hold_timer_ = std::make_unique<asio::steady_timer>(socket_.get_executor());
      }
      hold_timer_->expires_after(std::chrono::milliseconds(wait));
      hold_timer_->async_wait([self = shared_from_this()](const error_code& ec) {
        if (!ec) self->Write();
      });
      return;
    }
    hold_output_until_ms_ = 0;
  }
  wbuf_.swap(obuf_);
  obuf_.clear();
  writing_ = true;
  auto done = [self = shared_from_this()](const error_code& ec, size_t) { self->OnWritten(ec); };
  if (tls_ != nullptr) {
    asio::async_write(*tls_, asio::buffer(wbuf_), std::move(done));
  } else {
    asio::async_write(socket_, asio::buffer(wbuf_), std::move(done));
  }
}

void Connection::OnWritten(const error_code& ec) {
  writing_ = false;
  if (wbuf_.capacity() > (size_t{1} << 20)) {
    std::string().swap(wbuf_);
  } else {
    wbuf_.clear();
  }
  if (ec) {
    Close();
    return;
  }
  Flush();
  MaybeResumeReading();
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

void Connection::MaybeResumeReading() {
  if (!ShouldPauseReading()) Read();
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
