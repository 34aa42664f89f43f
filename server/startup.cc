// Start-up wiring (Server::Impl::Start): from the options to the command registry and plugins,
// TLS, the metrics sources, the HTTP endpoints, the actor system with its shards (recovery and
// persistence, with a data dir), the I/O loops and the listener, in that order.
#include <spdlog/spdlog.h>

#include <caf/all.hpp>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "actors/persistence.h"
#include "actors/shard_actor.h"
#include "core/clock.h"
#include "plugins/builtin.h"
#include "server/plugin_loader.h"
#include "server/server_impl.h"
#include "server/tls_context.h"
#include "storage/data_dir.h"
#include "storage/env.h"
#include "storage/recovery.h"

namespace dbkv {

bool Server::Impl::Start() {
  Status s = RegisterBuiltinFamilies(&state.registry);
  if (!s.ok()) {
    spdlog::critical("registering commands: {}", s.ToString());
    return false;
  }
  for (const std::string& path : state.options.plugins) {
    std::string name;
    s = LoadPlugin(path, &state.registry, &name);
    if (!s.ok()) {
      spdlog::critical("{}", s.message());
      return false;
    }
    spdlog::info("loaded plugin {} from {}", name, path);
  }
  if (!state.options.tls_cert.empty()) {
    s = MakeTlsContext(state.options, &state.tls);
    if (!s.ok()) {
      spdlog::critical("{}", s.message());
      return false;
    }
  }
  // What /metrics reads from the first scrape on exists before the HTTP thread starts: the
  // command list (above) and every counter. Recovery fills in the rest, published through
  // state.recovered (server_state.h).
  const ServerOptions& o = state.options;
  for (uint32_t i = 0; i < o.shards; ++i) {
    state.shard_metrics.push_back(std::make_unique<ShardMetrics>());
  }
  for (uint32_t i = 0; i < o.io_threads; ++i) {
    state.command_metrics.push_back(
        std::make_unique<CommandMetrics>(state.registry.commands().size()));
  }
  // The HTTP endpoints before recovery: /ready says 503 and /health 200 while it runs.
  if (o.http_bind != "none") {
    http = std::make_unique<HttpServer>(&state);
    Status hs = http->Start(o.http_bind);
    if (!hs.ok()) {
      spdlog::critical("{}", hs.ToString());
      return false;
    }
  }
  s = StartShards();
  if (s.ok()) state.recovered.store(true, std::memory_order_release);
  if (http) http->set_actor_system(system.get());
  if (!s.ok()) {
    spdlog::critical("{}", s.ToString());
    if (system) {
      for (auto& a : state.shards) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    }
    return false;
  }
  for (uint32_t i = 0; i < o.io_threads; ++i) {
    loops.push_back(std::make_unique<IoLoop>(&state, i, system.get()));
  }
  s = Listen();
  if (!s.ok()) {
    spdlog::critical("{}", s.ToString());
    for (auto& a : state.shards) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    if (persistence) caf::anon_send_exit(persistence, caf::exit_reason::user_shutdown);
    return false;
  }
  for (auto& loop : loops) loop->Start();
  state.ready = true;
  // Last: whoever waits for the file (tests, scripts) finds /ready already 200.
  s = WritePortFile();
  if (!s.ok()) {
    spdlog::critical("{}", s.ToString());
    for (auto& loop : loops) loop->Stop();
    loops.clear();
    for (auto& a : state.shards) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    if (persistence) caf::anon_send_exit(persistence, caf::exit_reason::user_shutdown);
    return false;
  }
  return true;
}

Status Server::Impl::StartShards() {
  caf_cfg = std::make_unique<caf::actor_system_config>();
  // CAF's default is max(cores, 4) workers, the slowest choice on small machines
  // (docs/PERFORMANCE.md): set it explicitly.
  caf_cfg->set("scheduler.max-threads", static_cast<size_t>(state.options.workers));
  caf_cfg->set("logger.verbosity", caf::atom("quiet"));
  // An idle worker spins briefly, then sleeps on its condition variable until a batch arrives.
  // CAF's middle phase (500 polls with 50 us sleeps) costs a syscall per poll and up to 50 us
  // of latency per batch: skip it.
  caf_cfg->set("work-stealing.moderate-poll-attempts", size_t{0});
  // Shards usually share workers (2 cores: 1 worker, 2 shards). CAF's default lets an actor run
  // its whole mailbox before yielding the worker, and a shard reclaiming a million expired
  // keys feeds its own mailbox slice after slice: the other shard's requests waited for all of
  // it (a 50-70 ms GET in bench/expiry.py). A few messages per turn keeps shards interleaved.
  caf_cfg->set("scheduler.max-throughput", size_t{kShardMessagesPerTurn});
  system = std::make_unique<caf::actor_system>(*caf_cfg);
  const ServerOptions& o = state.options;
  ShardLimits limits;
  limits.max_memory = o.max_memory / o.shards;
  ParseEvictionPolicy(o.eviction, &limits.eviction);  // checked by the flag parser
  if (o.data_dir.empty()) {
    for (uint32_t i = 0; i < o.shards; ++i)
      state.shards.push_back(
          SpawnShard(*system, i, o.shards, nullptr, nullptr, state.shard_metrics[i].get(), limits));
    return Status::OK();
  }

  // Persistence: lock the directory, recover what it holds, then log from there on.
  storage::Env* env = storage::Env::Default();
  Status s = env->CreateDirIfMissing(o.data_dir);
  if (s.ok()) s = env->LockFile(storage::JoinPath(o.data_dir, "LOCK"));
  if (!s.ok()) return s;
  spdlog::info("recovering from {}", o.data_dir);
  // Tiered storage: with a memory limit, cold values go to segments in the data dir; segments
  // left by an earlier run are served (never spilled to, without a limit) either way.
  std::vector<storage::ColdSegmentFile> cold_files;
  s = storage::ListColdSegments(env, o.data_dir, &cold_files);
  if (!s.ok()) return s;
  if (o.max_memory != 0 || !cold_files.empty()) {
    state.tier_segments = std::make_unique<TierSegments>();
    for (const auto& f : cold_files) state.tier_segments->SeeSegmentId(f.id);
  }
  storage::RecoveryOptions ro;
  ro.shard_count = o.shards;
  ro.now_ms = WallClockMs();
  ro.info = [](const std::string& m) { spdlog::info("{}", m); };
  ro.warn = [](const std::string& m) { spdlog::warn("{}", m); };
  // WAL records that change a list in place whose snapshot entry is cold load it (recovery
  // replays shards on several threads).
  std::mutex cold_mu;
  TierReaderFiles cold_reader(env, o.data_dir);
  ro.load_cold = [&cold_mu, &cold_reader](const ColdRef& ref, Value* out) {
    std::lock_guard<std::mutex> lock(cold_mu);
    return cold_reader.ReadOne(ref, out);
  };
  storage::RecoveryResult rr;
  s = storage::Recover(env, o.data_dir, ro, &rr);
  if (!s.ok()) return Status(s.code(), "recovery failed: " + s.message());
  if (state.tier_segments != nullptr) {
    // Live bytes first (from the recovered keys), then the files: a segment no key references
    // is dead from the start (deleted after two snapshots, see COLD_FORMAT.md).
    std::vector<std::pair<uint32_t, int64_t>> live;
    for (auto& p : rr.partitions) p->TakeColdDeltas(&live);
    state.tier_segments->ApplyDeltas(live);
    std::map<uint32_t, int64_t> missing;
    for (const auto& [id, bytes] : live) missing[id] += bytes;
    for (const auto& f : cold_files) {
      missing.erase(f.id);
      state.tier_segments->Added(f.id, f.size, /*sealed=*/true);
    }
    for (const auto& [id, bytes] : missing) {
      if (bytes > 0) {
        spdlog::error(
            "recovery: cold segment {} is missing: {} bytes of values it held cannot "
            "be read (reads of those keys fail with CORRUPTION)",
            storage::ColdSegmentFileName(id), bytes);
      }
    }
    uint64_t cold_keys = 0;
    for (auto& p : rr.partitions) cold_keys += p->stats().cold_keys;
    spdlog::info("tiering: {} cold segments ({} MiB), {} keys with values on disk",
                 cold_files.size(), state.tier_segments->disk_bytes() >> 20, cold_keys);
  }
  spdlog::info(
      "recovered {} keys in {:.2f} s ({} snapshot entries, {} WAL records, {:.0f} keys/s){}",
      rr.keys, rr.seconds, rr.snapshot_entries, rr.wal_records,
      rr.seconds > 0 ? rr.keys / rr.seconds : 0.0,
      rr.damaged_snapshots + rr.wal_bytes_dropped > 0 ? " — damage was found, see above" : "");
  persistence_state = std::make_unique<PersistenceState>();
  persistence_state->mode = o.fsync == "always"  ? FsyncMode::kAlways
                            : o.fsync == "never" ? FsyncMode::kNever
                                                 : FsyncMode::kPeriodic;
  ShardTiering tiering;
  if (state.tier_segments != nullptr) {
    tiering.dir = o.data_dir;
    tiering.env = env;
    tiering.segments = state.tier_segments.get();
  }
  for (uint32_t i = 0; i < o.shards; ++i) {
    state.shards.push_back(SpawnShard(*system, i, o.shards, std::move(rr.partitions[i]),
                                      persistence_state.get(), state.shard_metrics[i].get(), limits,
                                      tiering));
  }
  PersistenceOptions po;
  po.dir = o.data_dir;
  po.fsync = persistence_state->mode;
  po.fsync_interval_ms = o.fsync_interval_ms;
  po.wal_file_bytes = o.wal_file_bytes;
  po.snapshot_interval_s = o.snapshot_interval_s;
  po.snapshot_every_writes = o.snapshot_every_writes;
  po.env = env;
  po.tier_segments = state.tier_segments.get();
  persistence = SpawnPersistence(*system, po, persistence_state.get(), state.shards, rr.next_lsn);
  for (const shard_actor& shard : state.shards)
    caf::anon_send(shard, attach_atom::value, persistence);
  state.persistence = persistence_state.get();
  state.wal = persistence;
  return Status::OK();
}

}  // namespace dbkv
