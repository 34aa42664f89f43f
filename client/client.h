// The C++ client: AsyncClient pipelines requests over one connection; Client is a blocking
// facade over it. Used by the CLI, the benchmark and the Python bindings.
//
// Threading: every method is thread-safe. Callbacks run on the client's I/O thread (its own,
// or the io_context given at construction): they must not block. With an external
// io_context, the client may be destroyed while that io_context runs (many clients can share
// one I/O thread): destruction closes the connection, fails the requests in flight on the
// I/O thread, and never waits for it; the io_context must outlive the client.
//
// Connection: established lazily by the first call (or by Connect()), with a HELLO handshake
// that selects the namespace and authenticates. If the connection breaks, every request in
// flight fails with an IoError reply ("connection lost"); the next call reconnects.
#ifndef DATABRIDGE_CLIENT_CLIENT_H_
#define DATABRIDGE_CLIENT_CLIENT_H_

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "client/options.h"
#include "core/reply.h"
#include "core/value.h"

namespace dbkv::client {

using Callback = std::function<void(Reply)>;

class AsyncClient {
 public:
  // With io == nullptr the client runs its own I/O thread; otherwise the caller runs *io,
  // which must outlive the client.
  explicit AsyncClient(ClientOptions options, boost::asio::io_context* io = nullptr);
  ~AsyncClient();
  AsyncClient(const AsyncClient&) = delete;
  AsyncClient& operator=(const AsyncClient&) = delete;

  // Sends `command args...`; cb gets the reply (or an IoError reply if the connection fails).
  void Call(std::string_view command, ValueList args, Callback cb);
  void Call(std::string_view command, const Value* args, size_t nargs, Callback cb);

  // Connects now (if not connected) and waits for the handshake: OK, or why not.
  Status Connect();
  // Closes the connection; requests in flight fail. Later calls reconnect.
  void Disconnect();

  const ClientOptions& options() const;
  // Requests sent and not yet answered.
  size_t inflight() const;

 private:
  class Impl;
  std::unique_ptr<boost::asio::io_context> own_io_;
  std::thread thread_;
  std::shared_ptr<Impl> impl_;  // also owned by its pending handlers
};

// Blocking calls with a deadline.
class Client {
 public:
  // io: as for AsyncClient (nullptr: an I/O thread of its own).
  explicit Client(ClientOptions options, boost::asio::io_context* io = nullptr);
  ~Client();

  // Returns the reply, or a Timeout / IoError reply. timeout_s < 0: options().timeout_s.
  Reply Call(std::string_view command, ValueList args = {}, double timeout_s = -1);
  Status Connect() { return async_.Connect(); }
  AsyncClient& async() { return async_; }
  const ClientOptions& options() const { return async_.options(); }

 private:
  AsyncClient async_;
};

}  // namespace dbkv::client

#endif  // DATABRIDGE_CLIENT_CLIENT_H_
