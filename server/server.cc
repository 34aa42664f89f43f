// Server::Run: the whole life of the server in order. Catch the signals, start everything
// (startup.cc), serve on the control loop until a shutdown (shutdown.cc) stops it, then tear
// down in the order that keeps the HTTP thread's reads valid (server_state.h).
#include "server/server.h"

#include <spdlog/spdlog.h>

#include <boost/asio/signal_set.hpp>
#include <caf/all.hpp>
#include <csignal>

#include "core/clock.h"
#include "server/server_impl.h"

namespace dbkv {

namespace asio = boost::asio;
using boost::system::error_code;

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Server::~Server() = default;

int Server::Run() {
  Impl& m = *impl_;
  m.state.start_ms = WallClockMs();
  // Catch SIGTERM/SIGINT before anything else starts (CAF and Asio threads, the listener): a
  // signal that arrives during start-up is handled once the control loop runs, as a shutdown.
  asio::signal_set signals(m.control, SIGINT, SIGTERM);
  signals.async_wait([&m](const error_code& ec, int signo) {
    if (ec) return;
    spdlog::info("received {}", signo == SIGTERM ? "SIGTERM" : "SIGINT");
    m.Shutdown();
  });
  if (!m.Start()) return 1;

  m.Accept();
  m.WatchMemory();
  m.control.run();

  for (auto& loop : m.loops) loop->Stop();
  m.loops.clear();
  m.FinishPersistence();
  // /health stops asking the shards before they go away (a request already under way times
  // out: 503 while shutting down), and stops for good before the shard list is cleared.
  if (m.http) m.http->set_actor_system(nullptr);
  for (auto& a : m.state.shards) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  m.system->await_all_actors_done();
  if (m.http) m.http->Stop();
  m.state.shards.clear();
  m.state.wal = persistence_actor();
  spdlog::info("bye");
  return m.exit_code;
}

}  // namespace dbkv
