// Connection: one client socket on one IoLoop. Speaks the binary protocol or RESP, whichever
// the client's first bytes say (protocol::DetectWire). Decodes frames (or RESP requests) into
// pipelines, dispatches their requests, writes replies in request order, and enforces the
// per-connection limits (the same for both protocols):
//  - a frame (or RESP request) over --max-frame-bytes, a bad version or a broken header,
//    malformed RESP: an error reply, then the connection is closed (the byte stream cannot be
//    trusted past it);
//  - a malformed payload inside a well-formed frame: an error reply, the connection goes on;
//  - a client that does not read its replies: reading pauses once kMaxPendingOutputBytes of
//    replies wait or the window of requests in flight is full, so it cannot make the server
//    buffer without bound;
//  - closing (after QUIT, a bad frame, EOF or on shutdown) half-closes after the last reply and
//    discards input until the client closes, so a reset never destroys unread replies.
// Lives on its loop's thread only. Its members are defined by concern: connection.cc (start and
// close), connection_input.cc (reading, protocol detection, framing), connection_admission.cc
// (command lookup, argument counts, AUTH), connection_routing.cc (shards), connection_output.cc
// (flow control, encoding, writes).
#ifndef DATABRIDGE_SERVER_CONNECTION_H_
#define DATABRIDGE_SERVER_CONNECTION_H_

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "plugins/api/contexts.h"
#include "protocol/resp.h"
#include "server/pipeline.h"

namespace dbkv {

class IoLoop;

class Connection final : public ConnectionContext, public std::enable_shared_from_this<Connection> {
 public:
  // Replies waiting to be written beyond which the connection stops reading (and stops
  // encoding finished replies).
  static constexpr size_t kMaxPendingOutputBytes = size_t{64} << 20;
  // Requests in flight: at most kMaxInflightRequests, and fewer when replies are large: the
  // window is kReplyBudgetBytes over the average reply size, at least kMinWindow. It starts at
  // kInitialWindow and at most doubles per flush.
  static constexpr size_t kMaxInflightRequests = 1 << 16;
  static constexpr size_t kMinWindow = 16;
  static constexpr size_t kInitialWindow = 256;
  static constexpr size_t kReplyBudgetBytes = size_t{16} << 20;
  // How long a closing connection waits for the client to close its side.
  static constexpr int kLingerMs = 2000;
  // A TLS client must finish its handshake within this.
  static constexpr int kTlsHandshakeTimeoutMs = 10000;
  // Bytes read per read call (and the read buffer's first size).
  static constexpr size_t kReadChunk = 64 * 1024;
  // Finished pipelines kept for reuse.
  static constexpr size_t kSparePipelines = 4;

  using TlsStream = boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>;

  // tls: the server's TLS context, or null for plaintext.
  Connection(IoLoop* loop, boost::asio::ip::tcp::socket socket, boost::asio::ssl::context* tls);
  ~Connection() override;

  void Start();
  // Finish what is in flight, then close (server shutdown).
  void Drain();
  // Close now.
  void Close();

  // A pipeline's last op completed (loop thread).
  void OnPipelineDone();
  // The write IoLoop::DeferWrite held back.
  void WriteDeferred() {
    write_deferred_ = false;
    Write();
  }
  uint64_t id() const { return id_; }
  // For --idle-timeout-s: no request since cutoff and nothing in flight.
  bool IdleSince(int64_t cutoff_ms) const;
  void CloseIdle();

  // ConnectionContext.
  const std::string& ns() const override { return *ns_; }
  void set_ns(std::string ns) override {
    // A new string: pipelines in flight keep the old one alive.
    ns_ = std::make_shared<const std::string>(std::move(ns));
  }
  const std::string& client_name() const override { return name_; }
  void set_client_name(std::string name) override { name_ = std::move(name); }
  bool authenticated() const override { return authenticated_; }
  bool Authenticate(std::string_view password) override;
  bool auth_required() const override;
  void CloseAfterReply() override { quit_requested_ = true; }
  ServerInfo server_info() const override;
  int protocol() const override { return wire_ == protocol::Wire::kResp ? resp_version_ : 1; }
  bool SetProtocol(int version) override;
  uint64_t client_id() const override { return id_; }

 private:
  // Arms the readability wait if needed and drains the socket if it may hold input.
  void Read();
  void DrainSocket();
  // TLS: reads through the TLS stream (no readiness shortcut: decrypted data is buffered).
  void ReadTls();
  // Compacts or grows the read buffer so that a read has room.
  size_t MakeRoom();
  void OnReadEnd();
  // After a bad frame or QUIT: no more input is read or processed.
  void StopInput();
  void AdjustWindow(size_t bytes, size_t replies);
  // Closes gracefully once everything is answered and written, if closing was asked for.
  void MaybeFinish();
  // Nothing in flight, nothing to write, no buffered frame waiting.
  bool Idle() const;
  void GracefulClose();
  void DiscardInput();
  void CancelBlocked();
  // Splits, decodes and dispatches every complete frame (or RESP request) in the read buffer.
  void ProcessInput();
  // Adds the next request of the read buffer to p: true if one was added (or a RESP request
  // without arguments skipped), false if the buffer holds no complete one or is broken
  // (*error set).
  bool NextFrame(Pipeline& p, size_t max_frame, Status* error, uint32_t* error_id);
  bool NextRespRequest(Pipeline& p, size_t max_frame, Status* error);
  // Makes the read buffer hold `need` bytes from rbegin_ (a large request in progress).
  void EnsureRoom(size_t need);
  void Resolve(PendingRequest& r, uint8_t opcode);
  void Dispatch(Pipeline& p, uint32_t index);
  void DispatchToShards(Pipeline& p, uint32_t index, CommandArgs args, std::string_view ns);
  std::string_view CurrentNamespace(Pipeline& p) { return p.HoldNamespace(ns_); }
  std::unique_ptr<Pipeline> NewPipeline();
  void RecyclePipeline(std::unique_ptr<Pipeline> p);
  // Encodes the replies of every finished pipeline at the front, then writes.
  void Flush();
  void Write();
  void OnWritten(const boost::system::error_code& ec);
  bool ShouldPauseReading() const;
  void MaybeResumeReading();

  IoLoop* loop_;
  boost::asio::ip::tcp::socket socket_;
  std::unique_ptr<TlsStream> tls_;  // null: plaintext
  bool tls_reading_ = false;
  const uint64_t id_;
  uint64_t blocking_seq_ = 0;
  bool used_blocking_ = false;
  bool blocking_cancelled_ = false;
  std::vector<char> rbuf_;
  size_t rbegin_ = 0, rend_ = 0;
  std::string obuf_;  // replies encoded, not yet handed to the socket
  std::string wbuf_;  // replies being written
  std::deque<std::unique_ptr<Pipeline>> pipelines_;
  size_t inflight_requests_ = 0;
  size_t window_ = kInitialWindow;
  bool wait_armed_ = false;
  bool may_have_input_ = false;
  bool input_pending_ = false;  // complete frames buffered, waiting for the window
  bool input_closed_ = false;   // bad frame or QUIT: input is ignored from now on
  bool closing_ = false;        // half-closed, discarding input until the client closes
  std::unique_ptr<boost::asio::steady_timer> linger_;
  int64_t last_activity_ms_ = 0;      // last time a request arrived
  std::string peer_;                  // the client's address (for AuthThrottle and logs)
  int64_t hold_output_until_ms_ = 0;  // replies wait until then (after a wrong password)
  std::unique_ptr<boost::asio::steady_timer> hold_timer_;
  bool writing_ = false;
  bool write_deferred_ = false;  // IoLoop::DeferWrite holds a write for the end of its round
  bool read_closed_ = false;     // EOF or protocol error: no more input
  bool close_after_write_ = false;
  bool closed_ = false;
  bool quit_requested_ = false;
  bool draining_ = false;
  bool authenticated_ = false;
  std::shared_ptr<const std::string> ns_ = std::make_shared<const std::string>();
  std::string name_;
  std::vector<std::unique_ptr<Pipeline>> spare_pipelines_;
  // The protocol, decided by the first bytes; RESP's version (2 until HELLO 3).
  protocol::Wire wire_ = protocol::Wire::kUnknown;
  int resp_version_ = 2;
  protocol::RespRequestParser resp_parser_;
  ValueList resp_argv_;                        // the parser's output, swapped into the request
  const CommandSpec* last_by_name_ = nullptr;  // the last command named by a request
};

}  // namespace dbkv

#endif  // DATABRIDGE_SERVER_CONNECTION_H_
