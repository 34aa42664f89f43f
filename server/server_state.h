// What every I/O loop and connection of one server shares: read-only after start-up, apart
// from the atomic counters.
//
// The HTTP thread (/metrics, /health, /ready) runs from before recovery to after the shutdown,
// so what it reads is built before it starts (registry, command_metrics, shard_metrics),
// published by an atomic store once built (tier_segments and persistence: `recovered`; shards:
// HttpServer::set_actor_system), or atomic itself; nothing it reads is freed before it stops
// (server.cc).
#ifndef DATABRIDGE_SERVER_SERVER_STATE_H_
#define DATABRIDGE_SERVER_SERVER_STATE_H_

#include <atomic>
#include <boost/asio/ssl/context.hpp>
#include <caf/actor.hpp>
#include <cstdint>
#include <memory>
#include <vector>

#include "actors/persistence.h"
#include "actors/tier_io.h"
#include "plugins/api/contexts.h"
#include "plugins/api/registry.h"
#include "server/auth_throttle.h"
#include "server/metrics.h"
#include "server/options.h"

namespace dbkv {

struct ServerState {
  ServerOptions options;
  CommandRegistry registry;
  std::vector<shard_actor> shards;
  int64_t start_ms = 0;
  std::atomic<uint64_t> connections{0};
  std::atomic<uint64_t> total_connections{0};
  std::atomic<uint64_t> rejected_connections{0};
  std::atomic<bool> shutting_down{false};
  std::atomic<uint64_t> next_connection_id{1};
  PersistenceState* persistence = nullptr;  // null: memory only
  persistence_actor wal;                    // the persistence actor (null: memory only)
  // TLS for client connections (--tls-cert/--tls-key), or null.
  std::unique_ptr<boost::asio::ssl::context> tls;
  // Set (release) once the shards, tier_segments and persistence exist; never cleared. The HTTP
  // thread reads those only after it reads true here (acquire).
  std::atomic<bool> recovered{false};
  std::atomic<bool> ready{false};  // recovered and listening (for /ready)
  std::atomic<uint64_t> auth_failures{0};
  AuthThrottle auth_throttle;  // wrong passwords per client address
  // Tiered storage's cold segments (with a data dir and a memory limit), or null.
  std::unique_ptr<TierSegments> tier_segments;
  // Metrics sources: one per I/O loop, one per shard. Both are built before the HTTP thread
  // starts and live as long as the server (an I/O loop only writes to its own).
  std::vector<std::unique_ptr<CommandMetrics>> command_metrics;
  std::vector<std::unique_ptr<ShardMetrics>> shard_metrics;

  ServerInfo Info() const;
};

}  // namespace dbkv

#endif  // DATABRIDGE_SERVER_SERVER_STATE_H_
