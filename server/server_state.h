// What every I/O loop and connection of one server shares: read-only after start-up, apart
// from the atomic counters.
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
#include "server/metrics.h"
#include "server/options.h"

namespace dbkv {

struct ServerState {
  ServerOptions options;
  CommandRegistry registry;
  std::vector<caf::actor> shards;
  int64_t start_ms = 0;
  std::atomic<uint64_t> connections{0};
  std::atomic<uint64_t> total_connections{0};
  std::atomic<uint64_t> rejected_connections{0};
  std::atomic<bool> shutting_down{false};
  std::atomic<uint64_t> next_connection_id{1};
  PersistenceState* persistence = nullptr;  // null: memory only
  // TLS for client connections (--tls-cert/--tls-key), or null.
  std::unique_ptr<boost::asio::ssl::context> tls;
  std::atomic<bool> ready{false};  // recovered and listening (for /ready)
  std::atomic<uint64_t> auth_failures{0};
  // Tiered storage's cold segments (with a data dir and a memory limit), or null.
  std::unique_ptr<TierSegments> tier_segments;
  // Metrics sources: one per I/O loop (owned by the loops), one per shard.
  std::vector<CommandMetrics*> command_metrics;
  std::vector<std::unique_ptr<ShardMetrics>> shard_metrics;

  ServerInfo Info() const;
};

}  // namespace dbkv

#endif  // DATABRIDGE_SERVER_SERVER_STATE_H_
