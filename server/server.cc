#include "server/server.h"

#include <dlfcn.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <caf/all.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>

#include "actors/persistence.h"
#include "actors/shard_actor.h"
#include "core/clock.h"
#include "core/version.h"
#include "plugins/builtin.h"
#include "protocol/frame.h"
#include "protocol/resp.h"
#include "server/http_server.h"
#include "server/io_loop.h"
#include "server/plugin_loader.h"
#include "server/server_state.h"
#include "server/tls_context.h"
#include "storage/data_dir.h"
#include "storage/env.h"
#include "storage/recovery.h"

namespace dbkv {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

// Refusing a connection over --max-connections (Server::Impl::Refuse): how long the server
// waits for its first bytes (which say its protocol), how long it then waits for the client to
// close, and how many it refuses that way at once (beyond that, at once, with the binary frame).
constexpr auto kRefuseWait = std::chrono::milliseconds(200);
constexpr auto kRefuseLinger = std::chrono::milliseconds(1000);
constexpr size_t kMaxRefusing = 64;
constexpr size_t kRefuseDiscardBytes = 64 * 1024;  // read after the answer, at most

// The process's resident set (what the kernel charges it), from /proc/self/statm.
int64_t RssBytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  long size = 0, resident = 0;
  const int got = std::fscanf(f, "%ld %ld", &size, &resident);
  std::fclose(f);
  return got == 2 ? static_cast<int64_t>(resident) * sysconf(_SC_PAGESIZE) : 0;
}

// Bytes the allocator has handed out, if it is jemalloc (the server binary links it; tests
// that embed the server may not): found at run time, so the server library needs no link to it.
using Mallctl = int (*)(const char*, void*, size_t*, void*, size_t);
Mallctl FindMallctl() {
  static const Mallctl mallctl = reinterpret_cast<Mallctl>(dlsym(RTLD_DEFAULT, "mallctl"));
  return mallctl;
}

// Returns the allocator's unused dirty pages to the system now, instead of after their decay
// time (jemalloc: every arena). False if the allocator is not jemalloc.
bool PurgeAllocator() {
  const Mallctl mallctl = FindMallctl();
  if (mallctl == nullptr) return false;
  return mallctl("arena.4096.purge", nullptr, nullptr, nullptr, 0) == 0;  // MALLCTL_ARENAS_ALL
}

int64_t AllocatedBytes() {
  const Mallctl mallctl = FindMallctl();
  if (mallctl == nullptr) return 0;
  uint64_t epoch = 1;
  size_t len = sizeof(epoch);
  mallctl("epoch", &epoch, &len, &epoch, len);  // refresh the statistics
  size_t allocated = 0;
  len = sizeof(allocated);
  if (mallctl("stats.allocated", &allocated, &len, nullptr, 0) != 0) return 0;
  return static_cast<int64_t>(allocated);
}

}  // namespace

ServerInfo ServerState::Info() const {
  ServerInfo info;
  info.counters.push_back({"rss_bytes", RssBytes()});
  info.counters.push_back({"allocated_bytes", AllocatedBytes()});
  info.version = kVersion;
  info.uptime_s = (WallClockMs() - start_ms) / 1000;
  info.connections = connections.load(std::memory_order_relaxed);
  info.shards = static_cast<uint32_t>(shards.size());
  info.workers = options.workers;
  info.io_threads = options.io_threads;
  info.data_dir = options.data_dir;
  info.max_memory = options.max_memory;
  if (tier_segments != nullptr) {
    const TierSegments& t = *tier_segments;
    info.counters.push_back({"disk_bytes", static_cast<int64_t>(t.disk_bytes())});
    info.counters.push_back({"cold_segments", static_cast<int64_t>(t.segment_count())});
    info.counters.push_back({"spilled_bytes", static_cast<int64_t>(t.spilled_bytes.load())});
    info.counters.push_back({"spilled_values", static_cast<int64_t>(t.spilled_values.load())});
    info.counters.push_back({"loaded_bytes", static_cast<int64_t>(t.loaded_bytes.load())});
    info.counters.push_back({"cold_reads", static_cast<int64_t>(t.cold_reads.load())});
    info.counters.push_back({"cold_read_errors", static_cast<int64_t>(t.cold_read_errors.load())});
    info.counters.push_back({"cold_sync_loads", static_cast<int64_t>(t.sync_loads.load())});
    info.counters.push_back({"promoted", static_cast<int64_t>(t.promoted.load())});
    info.counters.push_back({"compactions", static_cast<int64_t>(t.compactions.load())});
    info.counters.push_back({"compacted_bytes", static_cast<int64_t>(t.compacted_bytes.load())});
    info.counters.push_back({"deleted_segments", static_cast<int64_t>(t.deleted_segments.load())});
  }
  info.eviction = options.eviction;
  if (persistence != nullptr) {
    info.fsync = options.fsync;
    info.counters.insert(
        info.counters.begin(),
        {
            {"wal_bytes", static_cast<int64_t>(persistence->wal_bytes.load())},
            {"wal_records", static_cast<int64_t>(persistence->wal_records.load())},
            {"wal_fsyncs", static_cast<int64_t>(persistence->fsyncs.load())},
            {"wal_next_lsn", static_cast<int64_t>(persistence->next_lsn.load())},
            {"wal_failed", persistence->failed.load() ? 1 : 0},
            {"snapshots", static_cast<int64_t>(persistence->snapshots.load())},
            {"last_snapshot_lsn", static_cast<int64_t>(persistence->last_snapshot_lsn.load())},
            {"last_snapshot_ms", persistence->last_snapshot_ms.load()},
        });
  }
  return info;
}

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
  caf::actor persistence;
  std::vector<std::unique_ptr<IoLoop>> loops;
  asio::io_context control{1};  // main thread: accept and signals
  std::unique_ptr<tcp::acceptor> acceptor;
  uint32_t next_loop = 0;
  int exit_code = 0;

  Status StartShards();
  bool FinishPersistence();
  Status Listen();
  void Accept();
  // A connection over --max-connections, told why in its own protocol, then closed.
  struct Refusal;
  void Refuse(tcp::socket socket);
  void ReadRefused(const std::shared_ptr<Refusal>& r);
  void AnswerRefused(const std::shared_ptr<Refusal>& r, protocol::Wire wire);
  void FinishRefusal(const std::shared_ptr<Refusal>& r);
  size_t refusing = 0;  // refusals under way (control thread)
  void Shutdown();
  // With --max-memory: every 100 ms, if the process holds much more than the limit, the
  // allocator gives back its freed pages at once (a burst of spills or deletes frees memory
  // faster than its normal one-second decay returns it).
  void WatchMemory();
  asio::steady_timer memory_timer{control};
  uint64_t purges = 0;
  void WaitForDrain(std::chrono::steady_clock::time_point deadline,
                    const std::shared_ptr<asio::steady_timer>& timer);
};

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
  for (const caf::actor& shard : state.shards)
    caf::anon_send(shard, attach_atom::value, persistence);
  state.persistence = persistence_state.get();
  state.wal = persistence;
  return Status::OK();
}

bool Server::Impl::FinishPersistence() {
  if (!persistence) return true;
  // Flush, sync and snapshot, within the shutdown grace period.
  spdlog::info("persistence: flushing and taking the final snapshot");
  caf::scoped_actor self(*system);
  bool ok = false;
  self->request(
          persistence,
          std::chrono::milliseconds(std::max<uint32_t>(state.options.shutdown_timeout_ms, 1000)),
          finish_atom::value)
      .receive([&](bool done) { ok = done; },
               [&](caf::error& e) { spdlog::error("persistence: {}", to_string(e)); });
  if (!ok) spdlog::error("persistence: the final snapshot did not complete; the WAL has the data");
  caf::anon_send_exit(persistence, caf::exit_reason::user_shutdown);
  return ok;
}

Status Server::Impl::Listen() {
  std::string host;
  uint16_t port;
  SplitHostPort(state.options.bind, &host, &port);
  error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) {
    // A name, not an address: resolve it.
    tcp::resolver resolver(control);
    auto results = resolver.resolve(host, std::to_string(port), ec);
    if (ec || results.empty()) {
      return Status::InvalidArgument("--bind: cannot resolve '" + host + "'");
    }
    addr = results.begin()->endpoint().address();
  }
  tcp::endpoint ep(addr, port);
  acceptor = std::make_unique<tcp::acceptor>(control);
  acceptor->open(ep.protocol(), ec);
  if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor->bind(ep, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::IoError("cannot listen on " + state.options.bind + ": " + ec.message());
  }
  const uint16_t bound = acceptor->local_endpoint().port();
  spdlog::info("listening on {}:{}{} ({} shards, {} workers, {} io threads)", host, bound,
               state.tls ? (state.options.tls_ca.empty() ? " with TLS" : " with mutual TLS") : "",
               state.shards.size(), state.options.workers, state.options.io_threads);
  if (!state.options.port_file.empty()) {
    // Written whole, then renamed: a reader never sees a partial file.
    const std::string tmp = state.options.port_file + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << bound << "\n";
      if (http) out << http->port() << "\n";  // the HTTP port, second
      if (!out) return Status::IoError("cannot write " + tmp);
    }
    if (std::rename(tmp.c_str(), state.options.port_file.c_str()) != 0) {
      return Status::IoError("cannot rename " + tmp + " to " + state.options.port_file);
    }
  }
  return Status::OK();
}

namespace {

// The refusal, in the protocol of the connection: a binary BUSY frame (request id 0), or for
// RESP Redis's "-ERR max number of clients reached". Small: written without waiting.
void WriteRefusal(tcp::socket& socket, protocol::Wire wire) {
  const Reply busy = Reply::Error(Code::kBusy, "max number of clients reached");
  std::string out;
  if (wire == protocol::Wire::kResp) {
    protocol::AppendRespReply(&out, busy, protocol::RespStyle());
  } else {
    protocol::AppendResponse(&out, 0, busy);
  }
  error_code ec;
  socket.non_blocking(true, ec);
  socket.write_some(asio::buffer(out), ec);
}

}  // namespace

// A connection being refused: its first bytes are read (to answer in its protocol), then after
// the answer whatever else it sends, until it closes or kRefuseLinger passes.
struct Server::Impl::Refusal {
  Refusal(tcp::socket s, asio::io_context& io) : socket(std::move(s)), timer(io) {}
  tcp::socket socket;
  asio::steady_timer timer;
  std::array<char, 1024> buf{};
  std::string first;     // the first bytes, as many as DetectWire needs
  size_t discarded = 0;  // bytes read after the answer
  bool answered = false;
  bool finished = false;
};

// Redis answers a client over maxclients "-ERR max number of clients reached" and closes; our
// binary clients expect a BUSY frame. Which one is read from the connection's first bytes,
// waited for at most kRefuseWait (a client that sends nothing gets the binary frame). Then the
// server shuts its side down and reads (discarding) until the client closes, at most
// kRefuseLinger: closing with unread input would send a reset, which can destroy the answer
// before the client reads it (up to kRefuseDiscardBytes are read). A refusal costs a socket, a
// timer and a 1 KiB buffer for at most kRefuseWait + kRefuseLinger, and at most kMaxRefusing run
// at once; further ones, and every one on a TLS port (where the first bytes are a handshake),
// get the binary frame at once.
void Server::Impl::Refuse(tcp::socket socket) {
  if (state.tls != nullptr || refusing >= kMaxRefusing) {
    WriteRefusal(socket, protocol::Wire::kBinary);
    error_code ec;
    socket.close(ec);
    return;
  }
  ++refusing;
  auto r = std::make_shared<Refusal>(std::move(socket), control);
  r->timer.expires_after(kRefuseWait);
  r->timer.async_wait([this, r](const error_code& ec) {
    if (ec) return;  // the answer went out first (the timer was re-armed) or the refusal ended
    // Nothing came: the binary frame. Bytes that did not decide (at most 4, '*' or a letter,
    // with --max-frame-bytes over 704 MiB): a RESP client that paused.
    AnswerRefused(r, r->first.empty() ? protocol::Wire::kBinary : protocol::Wire::kResp);
  });
  ReadRefused(r);
}

void Server::Impl::ReadRefused(const std::shared_ptr<Refusal>& r) {
  r->socket.async_read_some(asio::buffer(r->buf), [this, r](const error_code& ec, size_t n) {
    if (r->finished) return;
    if (ec) {
      // The client closed (or the socket failed): answer if not done yet, and end.
      if (!r->answered) WriteRefusal(r->socket, protocol::Wire::kBinary);
      FinishRefusal(r);
      return;
    }
    if (!r->answered) {
      // DetectWire decides by the fifth byte at the latest.
      r->first.append(r->buf.data(), std::min<size_t>(n, 8 - r->first.size()));
      const protocol::Wire wire = protocol::DetectWire(r->first, state.options.max_frame_bytes);
      if (wire != protocol::Wire::kUnknown) AnswerRefused(r, wire);
    } else if ((r->discarded += n) > kRefuseDiscardBytes) {
      return FinishRefusal(r);  // a client that keeps sending: not worth more reads
    }
    ReadRefused(r);
  });
}

void Server::Impl::AnswerRefused(const std::shared_ptr<Refusal>& r, protocol::Wire wire) {
  if (r->answered || r->finished) return;
  r->answered = true;
  WriteRefusal(r->socket, wire);
  error_code ec;
  r->socket.shutdown(tcp::socket::shutdown_send, ec);
  r->timer.expires_after(kRefuseLinger);  // cancels the wait for the first bytes
  r->timer.async_wait([this, r](const error_code& e) {
    if (!e) FinishRefusal(r);
  });
}

void Server::Impl::FinishRefusal(const std::shared_ptr<Refusal>& r) {
  if (r->finished) return;
  r->finished = true;
  --refusing;
  error_code ec;
  r->timer.cancel();
  r->socket.close(ec);
}

void Server::Impl::Accept() {
  acceptor->async_accept([this](const error_code& ec, tcp::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
      // EMFILE and friends: log, and keep accepting.
      spdlog::warn("accept failed: {}", ec.message());
      Accept();
      return;
    }
    if (state.connections.load(std::memory_order_relaxed) >= state.options.max_connections) {
      state.rejected_connections.fetch_add(1, std::memory_order_relaxed);
      Refuse(std::move(socket));
    } else {
      state.connections.fetch_add(1, std::memory_order_relaxed);
      state.total_connections.fetch_add(1, std::memory_order_relaxed);
      IoLoop& loop = *loops[next_loop++ % loops.size()];
      // The socket was opened on the control context; move its descriptor to the loop's.
      error_code rec;
      auto proto = socket.local_endpoint(rec).protocol();
      int fd = socket.release(rec);
      if (rec) {
        state.connections.fetch_sub(1, std::memory_order_relaxed);
      } else {
        loop.Adopt(tcp::socket(loop.io(), proto, fd));
      }
    }
    Accept();
  });
}

void Server::Impl::WatchMemory() {
  const uint64_t limit = state.options.max_memory;
  if (limit == 0 || FindMallctl() == nullptr) return;
  memory_timer.expires_after(std::chrono::milliseconds(100));
  memory_timer.async_wait([this, limit](const error_code& ec) {
    if (ec || state.shutting_down) return;
    if (static_cast<uint64_t>(RssBytes()) > limit + limit / 4 && PurgeAllocator()) ++purges;
    WatchMemory();
  });
}

void Server::Impl::Shutdown() {
  memory_timer.cancel();
  if (state.shutting_down.exchange(true)) return;
  spdlog::info("shutting down: no new connections, finishing in-flight requests");
  error_code ec;
  acceptor->close(ec);
  for (auto& loop : loops) loop->BeginDrain();
  auto timer = std::make_shared<asio::steady_timer>(control);
  WaitForDrain(std::chrono::steady_clock::now() +
                   std::chrono::milliseconds(state.options.shutdown_timeout_ms),
               timer);
}

void Server::Impl::WaitForDrain(std::chrono::steady_clock::time_point deadline,
                                const std::shared_ptr<asio::steady_timer>& timer) {
  size_t open = 0;
  for (auto& loop : loops) open += loop->connection_count();
  if (open == 0 || std::chrono::steady_clock::now() >= deadline) {
    if (open != 0) spdlog::warn("shutdown: closing {} connections still busy", open);
    control.stop();
    return;
  }
  timer->expires_after(std::chrono::milliseconds(5));
  timer->async_wait([this, deadline, timer](const error_code&) { WaitForDrain(deadline, timer); });
}

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
  Status s = RegisterBuiltinFamilies(&m.state.registry);
  if (!s.ok()) {
    spdlog::critical("registering commands: {}", s.ToString());
    return 1;
  }
  for (const std::string& path : m.state.options.plugins) {
    std::string name;
    s = LoadPlugin(path, &m.state.registry, &name);
    if (!s.ok()) {
      spdlog::critical("{}", s.message());
      return 1;
    }
    spdlog::info("loaded plugin {} from {}", name, path);
  }
  if (!m.state.options.tls_cert.empty()) {
    s = MakeTlsContext(m.state.options, &m.state.tls);
    if (!s.ok()) {
      spdlog::critical("{}", s.message());
      return 1;
    }
  }
  // What /metrics reads from the first scrape on exists before the HTTP thread starts: the
  // command list (above) and every counter. Recovery fills in the rest, published through
  // state.recovered (server_state.h).
  const ServerOptions& o = m.state.options;
  for (uint32_t i = 0; i < o.shards; ++i) {
    m.state.shard_metrics.push_back(std::make_unique<ShardMetrics>());
  }
  for (uint32_t i = 0; i < o.io_threads; ++i) {
    m.state.command_metrics.push_back(
        std::make_unique<CommandMetrics>(m.state.registry.commands().size()));
  }
  // The HTTP endpoints before recovery: /ready says 503 and /health 200 while it runs.
  if (o.http_bind != "none") {
    m.http = std::make_unique<HttpServer>(&m.state);
    Status hs = m.http->Start(o.http_bind);
    if (!hs.ok()) {
      spdlog::critical("{}", hs.ToString());
      return 1;
    }
  }
  s = m.StartShards();
  if (s.ok()) m.state.recovered.store(true, std::memory_order_release);
  if (m.http) m.http->set_actor_system(m.system.get());
  if (!s.ok()) {
    spdlog::critical("{}", s.ToString());
    if (m.system) {
      for (auto& a : m.state.shards) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    }
    return 1;
  }
  for (uint32_t i = 0; i < o.io_threads; ++i) {
    m.loops.push_back(std::make_unique<IoLoop>(&m.state, i, m.system.get()));
  }
  s = m.Listen();
  if (!s.ok()) {
    spdlog::critical("{}", s.ToString());
    for (auto& a : m.state.shards) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    if (m.persistence) caf::anon_send_exit(m.persistence, caf::exit_reason::user_shutdown);
    return 1;
  }
  for (auto& loop : m.loops) loop->Start();
  m.state.ready = true;

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
  m.state.wal = caf::actor();
  spdlog::info("bye");
  return m.exit_code;
}

}  // namespace dbkv
