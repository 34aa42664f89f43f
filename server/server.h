// Server: the actor system with its shards, the I/O loops, the listener, and the shutdown
// sequence (SIGTERM/SIGINT: stop accepting, finish in-flight requests, exit 0).
#ifndef DATABRIDGE_SERVER_SERVER_H_
#define DATABRIDGE_SERVER_SERVER_H_

#include <memory>

#include "core/status.h"
#include "server/options.h"

namespace dbkv {

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();

  // Starts everything and serves until SIGTERM or SIGINT. Returns the process exit code.
  int Run();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dbkv

#endif  // DATABRIDGE_SERVER_SERVER_H_
