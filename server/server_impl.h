// Server::Impl: what the server owns (actor system, shards, persistence, I/O loops, listener,
// HTTP endpoints) and the steps of its life, each defined in the file named after it:
//   server.cc              Run(): signals, start, the control loop, the teardown order
//   startup.cc             Start(): options to shards, persistence, I/O loops, listener, HTTP
//   listener.cc            Listen() and Accept(): the data port, dealing connections to loops
//   connection_refusal.cc  Refuse(): a connection over --max-connections, told why, closed
//   allocator.cc           WatchMemory(): purging the allocator's freed pages (--max-memory)
//   shutdown.cc            Shutdown(): SIGTERM/SIGINT, the drain, the final snapshot
// Only those files include this header.
#ifndef DATABRIDGE_SERVER_SERVER_IMPL_H_
#define DATABRIDGE_SERVER_SERVER_IMPL_H_

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "actors/persistence.h"
#include "core/status.h"
#include "protocol/resp.h"
#include "server/accept_retry.h"
#include "server/http_server.h"
#include "server/io_loop.h"
#include "server/server.h"
#include "server/server_state.h"

namespace dbkv {

struct Server::Impl {
  explicit Impl(ServerOptions o) { state.options = std::move(o); }
  // Every way out of Run(), early errors too: the HTTP thread stops before the actor system
  // and the state it reads are destroyed (members go in reverse order, the system first).
  ~Impl() {
    if (http) {
      http->set_actor_system(nullptr);
      http->Stop();
    }
  }

  ServerState state;
  std::unique_ptr<caf::actor_system_config> caf_cfg;
  std::unique_ptr<HttpServer> http;
  std::unique_ptr<caf::actor_system> system;
  std::unique_ptr<PersistenceState> persistence_state;
  persistence_actor persistence;
  std::vector<std::unique_ptr<IoLoop>> loops;
  boost::asio::io_context control{1};  // main thread: accept and signals
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor;
  uint32_t next_loop = 0;
  int exit_code = 0;

  // startup.cc. Start: everything up to the listener; false (logged) if something failed.
  bool Start();
  Status StartShards();

  // listener.cc
  Status Listen();
  // Once ready (recovered, listening, loops running): a reader of the file may send at once.
  Status WritePortFile();
  void Accept();
  boost::asio::steady_timer accept_retry{control};  // after a failed accept
  AcceptFailureLog accept_failures{"accept failed"};

  // connection_refusal.cc: a connection over --max-connections, told why in its own protocol,
  // then closed.
  struct Refusal;
  void Refuse(boost::asio::ip::tcp::socket socket);
  void ReadRefused(const std::shared_ptr<Refusal>& r);
  void AnswerRefused(const std::shared_ptr<Refusal>& r, protocol::Wire wire);
  void FinishRefusal(const std::shared_ptr<Refusal>& r);
  size_t refusing = 0;  // refusals under way (control thread)

  // shutdown.cc
  void Shutdown();
  void WaitForDrain(std::chrono::steady_clock::time_point deadline,
                    const std::shared_ptr<boost::asio::steady_timer>& timer);
  bool FinishPersistence();

  // allocator.cc. With --max-memory: every 100 ms, if the process holds much more than the
  // limit, the allocator gives back its freed pages at once (a burst of spills or deletes frees
  // memory faster than its normal one-second decay returns it).
  void WatchMemory();
  boost::asio::steady_timer memory_timer{control};
  uint64_t purges = 0;
};

}  // namespace dbkv

#endif  // DATABRIDGE_SERVER_SERVER_IMPL_H_
