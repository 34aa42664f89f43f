// HttpServer: the operator's endpoints on --http-bind, on a thread of their own (so that they
// answer during recovery, before the data listener is up):
//   GET /metrics  Prometheus text format (server/metrics.h)
//   GET /health   200 while the process can serve: every shard answered a ping within 1 s
//   GET /ready    200 once recovery is done and the listener is up; 503 before, and again
//                 while shutting down
// HTTP/1.1, one request per connection, bodies ignored, nothing else served (404).
#ifndef DATABRIDGE_SERVER_HTTP_SERVER_H_
#define DATABRIDGE_SERVER_HTTP_SERVER_H_

#include <memory>
#include <string>

#include "core/status.h"

namespace caf {
class actor_system;
}

namespace dbkv {

struct ServerState;

class HttpServer {
 public:
  HttpServer(ServerState* state);
  ~HttpServer();

  // Binds host:port and starts serving on its own thread.
  Status Start(const std::string& bind);
  // Lets /health reach the shards once the actor system exists.
  void set_actor_system(caf::actor_system* system);
  uint16_t port() const;
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dbkv

#endif  // DATABRIDGE_SERVER_HTTP_SERVER_H_
