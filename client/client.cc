#include "client/client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <vector>

#include "protocol/frame.h"
#include "protocol/opcodes.h"
#include "protocol/wire_format.h"

namespace dbkv::client {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

class AsyncClient::Impl : public std::enable_shared_from_this<AsyncClient::Impl> {
 public:
  Impl(ClientOptions opts, asio::io_context* io)
      : opts_(std::move(opts)), io_(io), socket_(*io), resolver_(*io), timer_(*io) {
    if (opts_.tls) tls_error_ = MakeTlsContext();
  }

  const ClientOptions& options() const { return opts_; }

  void Call(std::string_view command, const Value* args, size_t nargs, Callback cb) {
    char upper[64];
    const size_t n = std::min(command.size(), sizeof(upper));
    for (size_t i = 0; i < n; ++i) {
      upper[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(command[i])));
    }
    const uint8_t opcode = command.size() <= sizeof(upper) ? protocol::op::ForName({upper, n}) : 0;
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) {
      // Destroyed or closing: answer at once, without the lock held by the caller's callback.
      io_post([cb = std::move(cb)] { cb(Reply::Error(Code::kIoError, "client closed")); });
      return;
    }
    const uint32_t id = next_id_++;
    protocol::AppendRequest(&out_, id, opcode, command, args, nargs);
    pending_.push_back({id, std::move(cb)});
    if (state_ == kIdle) {
      state_ = kConnecting;
      io_post([this, self = shared_from_this()] { StartConnect(); });
    } else if (state_ == kConnected && !flush_posted_) {
      flush_posted_ = true;
      io_post([this, self = shared_from_this()] { Flush(); });
    }
  }

  size_t inflight() const {
    std::lock_guard<std::mutex> lock(mu_);
    return pending_.size();
  }

  // cb gets the reply to the connection's own handshake (HELLO): at once (OK) if that already
  // succeeded, else once it is answered, or the error that ends the attempt. Starts connecting
  // if idle. Sends nothing itself, so a connect costs exactly one HELLO.
  void WhenConnected(Callback cb) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) {
        io_post([cb = std::move(cb)] { cb(Reply::Error(Code::kIoError, "client closed")); });
        return;
      }
      if (state_ != kConnected || !handshake_answered_) {
        handshake_waiters_.push_back(std::move(cb));
        if (state_ == kIdle) {
          state_ = kConnecting;
          io_post([this, self = shared_from_this()] { StartConnect(); });
        }
        return;
      }
      if (handshake_ok_) {
        io_post([cb = std::move(cb)] { cb(Reply::Ok()); });
        return;
      }
    }
    // Connected, but the handshake was refused without closing the connection (NOAUTH: no
    // password given). The caller may have sent AUTH since: ask again.
    ValueList hello = HelloArgs();
    Call("HELLO", hello.data(), hello.size(), std::move(cb));
  }

  // HELLO 1 [AUTH password] [NAMESPACE ns].
  ValueList HelloArgs() const {
    ValueList hello{Value::Int(1)};
    if (!opts_.password.empty()) {
      hello.push_back(Value::String("AUTH"));
      hello.push_back(Value::String(opts_.password));
    }
    if (!opts_.ns.empty()) {
      hello.push_back(Value::String("NAMESPACE"));
      hello.push_back(Value::String(opts_.ns));
    }
    return hello;
  }

  void Disconnect() {
    io_post([this, self = shared_from_this()] { Fail("disconnected by the client"); });
  }

  // Stops accepting calls and fails what is in flight (the owner then stops the io_context).
  void Close() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
    }
    io_post([this, self = shared_from_this()] { Fail("client closed"); });
  }

 private:
  enum State { kIdle, kConnecting, kConnected };
  struct Pending {
    uint32_t id{};
    Callback cb;
  };

  template <class F>
  void io_post(F&& f) {
    asio::post(*io_, std::forward<F>(f));
  }

  void StartConnect() {
    const double t = opts_.connect_timeout_s > 0 ? opts_.connect_timeout_s : 3600;
    timer_.expires_after(std::chrono::microseconds(static_cast<int64_t>(t * 1e6)));
    const uint64_t gen = generation_;
    timer_.async_wait([this, self = shared_from_this(), gen](const error_code& ec) {
      if (ec || gen != generation_) return;
      Fail("cannot connect to " + Where() + ": timed out");
    });
    resolver_.async_resolve(opts_.host, std::to_string(opts_.port),
                            [this, self = shared_from_this(), gen](
                                const error_code& ec, const tcp::resolver::results_type& results) {
                              if (gen != generation_) return;
                              if (ec) {
                                Fail("cannot resolve " + opts_.host + ": " + ec.message());
                                return;
                              }
                              asio::async_connect(
                                  socket_, results,
                                  [this, self, gen](const error_code& ec2, const tcp::endpoint&) {
                                    if (gen != generation_) return;
                                    if (ec2) {
                                      Fail("cannot connect to " + Where() + ": " + ec2.message());
                                      return;
                                    }
                                    if (opts_.tls) {
                                      StartTls(gen);
                                    } else {
                                      OnConnected();
                                    }
                                  });
                            });
  }

  std::string Where() const { return opts_.host + ":" + std::to_string(opts_.port); }

  // OpenSSL 3 reports a file it cannot open as a system error that Asio prints as just
  // "asio.ssl error": why path cannot be read as `what`, or "" if it can.
  static std::string Unreadable(const char* what, const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "r");
    if (f == nullptr) return std::string("TLS ") + what + " " + path + ": " + std::strerror(errno);
    std::fclose(f);
    return "";
  }

  // TLS 1.2 or newer; the server's certificate verified against ca_file (or the system's CAs)
  // and its name; a client certificate for mutual TLS.
  std::string MakeTlsContext() {
    const std::string key_file = opts_.key_file.empty() ? opts_.cert_file : opts_.key_file;
    std::string unreadable;
    if (!opts_.ca_file.empty()) unreadable = Unreadable("CA file", opts_.ca_file);
    if (unreadable.empty() && !opts_.cert_file.empty()) {
      unreadable = Unreadable("certificate", opts_.cert_file);
      if (unreadable.empty()) unreadable = Unreadable("key", key_file);
    }
    if (!unreadable.empty()) return unreadable;
    tls_ctx_ = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
    error_code ec;
    tls_ctx_->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                              asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                              asio::ssl::context::no_tlsv1_1,
                          ec);
    SSL_CTX_set_min_proto_version(tls_ctx_->native_handle(), TLS1_2_VERSION);
    if (opts_.ca_file.empty()) {
      tls_ctx_->set_default_verify_paths(ec);
    } else {
      tls_ctx_->load_verify_file(opts_.ca_file, ec);
    }
    if (ec) return "TLS CA file " + opts_.ca_file + ": " + ec.message();
    tls_ctx_->set_verify_mode(asio::ssl::verify_peer);
    if (!opts_.cert_file.empty()) {
      tls_ctx_->use_certificate_chain_file(opts_.cert_file, ec);
      if (ec) return "TLS certificate " + opts_.cert_file + ": " + ec.message();
      tls_ctx_->use_private_key_file(key_file, asio::ssl::context::pem, ec);
      if (ec) return "TLS key " + key_file + ": " + ec.message();
    }
    return "";
  }

  void StartTls(uint64_t gen) {
    if (!tls_error_.empty()) {
      Fail(tls_error_);
      return;
    }
    tls_ = std::make_shared<TlsStream>(socket_, *tls_ctx_);
    const std::string& name = opts_.server_name.empty() ? opts_.host : opts_.server_name;
    SSL_set_tlsext_host_name(tls_->native_handle(), name.c_str());
    tls_->set_verify_callback(asio::ssl::host_name_verification(name));
    tls_->async_handshake(asio::ssl::stream_base::client, [this, self = shared_from_this(), gen,
                                                           stream = tls_](const error_code& ec) {
      if (gen != generation_) return;
      if (ec) {
        Fail("TLS handshake with " + Where() + " failed: " + ec.message());
        return;
      }
      OnConnected();
    });
  }

  void OnConnected() {
    timer_.cancel();
    error_code ec;
    socket_.set_option(tcp::no_delay(true), ec);
    // The handshake goes first.
    const ValueList hello = HelloArgs();
    {
      std::lock_guard<std::mutex> lock(mu_);
      std::string frame;
      const uint32_t id = next_id_++;
      protocol::AppendRequest(&frame, id, protocol::op::kHello, "HELLO", hello.data(),
                              hello.size());
      out_.insert(0, frame);
      // A refused handshake (a wrong password) fails the connection with its own error, so that
      // every request queued behind it gets that error rather than a confusing other one.
      // (Without a password, NOAUTH is expected: the client may AUTH later by hand.)
      const bool has_password = !opts_.password.empty();
      pending_.push_front({id, [this, has_password](Reply r) {
                             std::vector<Callback> waiters;
                             {
                               std::lock_guard<std::mutex> lock(mu_);
                               handshake_answered_ = true;
                               handshake_ok_ = r.ok();
                               waiters.swap(handshake_waiters_);
                             }
                             for (Callback& w : waiters) w(r);
                             if (r.ok() || (r.code == Code::kAuth && !has_password)) return;
                             handshake_error_ = std::move(r);
                           }});
      state_ = kConnected;
      handshake_answered_ = handshake_ok_ = false;
      flush_posted_ = true;
    }
    rbuf_.resize(64 * 1024);
    rbegin_ = rend_ = 0;
    Read();
    Flush();
  }

  void Flush() {
    std::unique_lock<std::mutex> lock(mu_);
    flush_posted_ = false;
    if (writing_ || out_.empty() || state_ != kConnected) return;
    wbuf_.swap(out_);
    out_.clear();
    lock.unlock();
    writing_ = true;
    const uint64_t gen = generation_;
    auto done = [this, self = shared_from_this(), gen](const error_code& ec, size_t) {
      if (gen != generation_) return;
      writing_ = false;
      wbuf_.clear();
      if (ec) {
        Fail("connection lost: " + ec.message());
        return;
      }
      Flush();
    };
    if (tls_ != nullptr) {
      asio::async_write(
          *tls_, asio::buffer(wbuf_),
          [stream = tls_, done = std::move(done)](const error_code& ec, size_t n) { done(ec, n); });
    } else {
      asio::async_write(socket_, asio::buffer(wbuf_), std::move(done));
    }
  }

  void Read() {
    if (rbegin_ == rend_) {
      rbegin_ = rend_ = 0;
    } else if (rbegin_ > 0 && rbuf_.size() - rend_ < 16 * 1024) {
      std::memmove(rbuf_.data(), rbuf_.data() + rbegin_, rend_ - rbegin_);
      rend_ -= rbegin_;
      rbegin_ = 0;
    }
    if (rbuf_.size() - rend_ < 16 * 1024) rbuf_.resize(rbuf_.size() * 2);
    const uint64_t gen = generation_;
    auto done = [this, self = shared_from_this(), gen](const error_code& ec, size_t n) {
      if (gen != generation_) return;
      if (ec) {
        Fail(ec == asio::error::eof || ec == asio::ssl::error::stream_truncated
                 ? "connection lost: closed by the server"
                 : "connection lost: " + ec.message());
        return;
      }
      rend_ += n;
      if (ProcessReplies()) Read();
    };
    auto buf = asio::buffer(rbuf_.data() + rend_, rbuf_.size() - rend_);
    if (tls_ != nullptr) {
      tls_->async_read_some(buf, [stream = tls_, done = std::move(done)](
                                     const error_code& ec, size_t n) { done(ec, n); });
    } else {
      socket_.async_read_some(buf, std::move(done));
    }
  }

  // Returns false if the connection failed.
  bool ProcessReplies() {
    for (;;) {
      std::string_view data(rbuf_.data() + rbegin_, rend_ - rbegin_);
      protocol::FrameView frame;
      Status error;
      auto r = protocol::SplitFrame(data, protocol::kAbsoluteMaxFrameBytes, &frame, &error);
      if (r == protocol::SplitResult::kNeedMore) {
        if (data.size() >= protocol::kHeaderSize) {
          const size_t need = frame.size();
          if (rbegin_ + need > rbuf_.size()) {
            std::memmove(rbuf_.data(), rbuf_.data() + rbegin_, data.size());
            rend_ -= rbegin_;
            rbegin_ = 0;
            if (need > rbuf_.size()) rbuf_.resize(need);
          }
        }
        return true;
      }
      if (r == protocol::SplitResult::kError) {
        Fail("protocol error from the server: " + error.message());
        return false;
      }
      rbegin_ += frame.size();
      Reply reply;
      Status s = protocol::DecodeResponse(frame, &reply);
      if (!s.ok()) reply = Reply::Error(s);
      Pending p;
      {
        std::unique_lock<std::mutex> lock(mu_);
        if (pending_.empty() || pending_.front().id != frame.header.request_id) {
          lock.unlock();
          Fail("reply for unknown request " + std::to_string(frame.header.request_id));
          return false;
        }
        p = std::move(pending_.front());
        pending_.pop_front();
      }
      p.cb(std::move(reply));
      if (handshake_error_) {
        Reply e = std::move(*handshake_error_);
        handshake_error_.reset();
        Fail(e.error, e.code);
        return false;
      }
    }
  }

  // Closes the connection and fails every request sent or queued.
  void Fail(const std::string& reason, Code code = Code::kIoError) {
    ++generation_;
    error_code ec;
    timer_.cancel();
    resolver_.cancel();
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
    tls_.reset();
    writing_ = false;
    wbuf_.clear();
    std::deque<Pending> failed;
    std::vector<Callback> waiters;
    {
      std::lock_guard<std::mutex> lock(mu_);
      failed.swap(pending_);
      out_.clear();
      state_ = kIdle;
      handshake_answered_ = handshake_ok_ = false;
      flush_posted_ = false;
    }
    // The handshake's own entry (in failed) answers the waiters if it was sent; the others
    // (the connection failed before it) are answered here.
    for (Pending& p : failed) p.cb(Reply::Error(code, reason));
    {
      std::lock_guard<std::mutex> lock(mu_);
      waiters.swap(handshake_waiters_);
    }
    for (Callback& w : waiters) w(Reply::Error(code, reason));
    // Calls made from those callbacks saw kIdle and started a new connection.
  }

  ClientOptions opts_;
  asio::io_context* io_;
  // I/O thread only.
  tcp::socket socket_;
  std::unique_ptr<asio::ssl::context> tls_ctx_;
  std::string tls_error_;  // why the TLS context could not be made
  // Shared with the handlers of the operations in flight on it: Fail() drops this reference,
  // and the stream lives until those (aborted) operations have completed. Destroying it under
  // them was a use after free (found by ASan, tests/tls_test).
  using TlsStream = asio::ssl::stream<tcp::socket&>;
  std::shared_ptr<TlsStream> tls_;
  tcp::resolver resolver_;
  asio::steady_timer timer_;
  uint64_t generation_ = 0;  // bumped on every failure: stale handlers see a new value
  std::optional<Reply> handshake_error_;
  std::string wbuf_;
  bool writing_ = false;
  std::vector<char> rbuf_;
  size_t rbegin_ = 0, rend_ = 0;

  mutable std::mutex mu_;
  // Guarded by mu_.
  State state_ = kIdle;
  // The current connection's own HELLO was answered; and with OK.
  bool handshake_answered_ = false;
  bool handshake_ok_ = false;
  std::vector<Callback> handshake_waiters_;  // Connect() calls waiting for that answer
  bool closed_ = false;
  bool flush_posted_ = false;
  uint32_t next_id_ = 1;
  std::string out_;              // requests encoded, not yet handed to the socket
  std::deque<Pending> pending_;  // every request sent or queued, in order
};

AsyncClient::AsyncClient(ClientOptions options, asio::io_context* io) {
  if (io == nullptr) {
    own_io_ = std::make_unique<asio::io_context>(1);
    io = own_io_.get();
  }
  impl_ = std::make_shared<Impl>(std::move(options), io);
  if (own_io_ != nullptr) {
    thread_ = std::thread([io = own_io_.get()] {
      auto work = asio::make_work_guard(*io);
      // Runs until the destructor stops it.
      io->run();
    });
  }
}

AsyncClient::~AsyncClient() {
  impl_->Close();
  if (own_io_ != nullptr) {
    // Let the close run, then stop.
    std::promise<void> closed;
    asio::post(*own_io_, [&closed] { closed.set_value(); });
    closed.get_future().wait();
    own_io_->stop();
    thread_.join();
  }
  // The handlers still queued or in flight own the Impl (shared_from_this): it goes with the
  // last of them, on the I/O thread, or when the io_context is destroyed. So with an external
  // io_context that keeps running, destroying the client never waits for it, and never leaves
  // a handler with a dangling pointer.
  impl_.reset();
}

void AsyncClient::Call(std::string_view command, ValueList args, Callback cb) {
  impl_->Call(command, args.data(), args.size(), std::move(cb));
}

void AsyncClient::Call(std::string_view command, const Value* args, size_t nargs, Callback cb) {
  impl_->Call(command, args, nargs, std::move(cb));
}

Status AsyncClient::Connect() {
  const ClientOptions& o = impl_->options();
  auto done = std::make_shared<std::promise<Reply>>();
  auto fut = done->get_future();
  // Waits for the connection's own handshake rather than sending a second HELLO (which would
  // count twice on the server, and make a wrong password fail, and be delayed, twice).
  impl_->WhenConnected([done](Reply r) { done->set_value(std::move(r)); });
  const double t = o.connect_timeout_s + o.timeout_s;
  if (fut.wait_for(std::chrono::microseconds(static_cast<int64_t>(t * 1e6))) !=
      std::future_status::ready) {
    return Status(Code::kTimeout, "handshake timed out");
  }
  Reply r = fut.get();
  if (!r.ok()) return Status(r.code, r.error);
  return Status::OK();
}

void AsyncClient::Disconnect() { impl_->Disconnect(); }

const ClientOptions& AsyncClient::options() const { return impl_->options(); }

size_t AsyncClient::inflight() const { return impl_->inflight(); }

Client::Client(ClientOptions options, asio::io_context* io) : async_(std::move(options), io) {}

Client::~Client() = default;

Reply Client::Call(std::string_view command, ValueList args, double timeout_s) {
  if (timeout_s < 0) timeout_s = async_.options().timeout_s;
  auto done = std::make_shared<std::promise<Reply>>();
  auto fut = done->get_future();
  async_.Call(command, std::move(args), [done](Reply r) { done->set_value(std::move(r)); });
  if (timeout_s > 0 && fut.wait_for(std::chrono::microseconds(
                           static_cast<int64_t>(timeout_s * 1e6))) != std::future_status::ready) {
    return Reply::Error(Code::kTimeout, "no reply within " + std::to_string(timeout_s) + " s");
  }
  return fut.get();
}

}  // namespace dbkv::client
