// HttpServer: the operator's endpoints on --http-bind, on a thread of their own (so that they
// answer during recovery, before the data listener is up):
//   GET /metrics  Prometheus text format (server/metrics.h)
//   GET /health   200 while the process can serve: every shard answered a ping within 1 s
//                 (also /healthz, /livez)
//   GET /ready    200 once recovery is done and the listener is up; 503 before, and again
//                 while shutting down (also /readyz)
// HEAD is answered as GET without the body. HTTP/1.1 (and 1.0) parsed by Boost.Beast:
// persistent connections (HTTP/1.1 by default, HTTP/1.0 with "Connection: keep-alive";
// "Connection: close" honoured), pipelined requests answered in order, request bodies read and
// ignored. Errors: 404 for any other path, 405 (with Allow: GET, HEAD) for another method;
// 400 for a request that does not parse and 431 for a header over HttpLimits::header_bytes,
// both closing the connection. Deadlines (HttpLimits) close a connection whose client sends
// nothing, sends a request too slowly, or does not read the answer.
#ifndef DATABRIDGE_SERVER_HTTP_SERVER_H_
#define DATABRIDGE_SERVER_HTTP_SERVER_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"

namespace caf {
class actor_system;
}

namespace dbkv {

struct ServerState;

// The bounds on one connection of the HTTP endpoints.
struct HttpLimits {
  // Request line and header fields together; more: 431 and the connection closes.
  size_t header_bytes = 64 * 1024;
  // A request body (read and ignored); more: the request is answered, then the connection
  // closes.
  size_t body_bytes = 64 * 1024;
  // For the first byte of a request (on a new connection, or after the previous answer).
  std::chrono::milliseconds idle_timeout{5000};
  // From the first byte of a request to its last.
  std::chrono::milliseconds request_timeout{10000};
  // For the client to take the whole answer.
  std::chrono::milliseconds write_timeout{10000};
  // After the last answer on a connection: how long its input is read (and discarded) while
  // waiting for the client to close, so that unread input does not reset the connection
  // before the client has read the answer.
  std::chrono::milliseconds linger{1000};
};

class HttpServer {
 public:
  explicit HttpServer(ServerState* state, HttpLimits limits = HttpLimits());
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds host:port and starts serving on its own thread.
  Status Start(const std::string& bind);
  // Lets /health reach the shards once the actor system exists.
  void set_actor_system(caf::actor_system* system);
  uint16_t port() const;
  // Stops serving: the thread ends (the connections close when the HttpServer goes).
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dbkv

#endif  // DATABRIDGE_SERVER_HTTP_SERVER_H_
