#include "server/options.h"

#include <CLI/CLI.hpp>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/ascii.h"
#include "core/version.h"

namespace dbkv {

bool ParseByteSize(const std::string& text, uint64_t* out) {
  size_t i = 0;
  uint64_t n = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    if (n > (UINT64_MAX - 9) / 10) return false;
    n = n * 10 + static_cast<uint64_t>(text[i] - '0');
    ++i;
  }
  if (i == 0) return false;
  std::string suffix;
  for (; i < text.size(); ++i) suffix += absl::ascii_tolower(static_cast<unsigned char>(text[i]));
  uint64_t mult = 1;
  if (suffix.empty() || suffix == "b") {
    mult = 1;
  } else if (suffix == "k" || suffix == "kb" || suffix == "kib") {
    mult = 1ull << 10;
  } else if (suffix == "m" || suffix == "mb" || suffix == "mib") {
    mult = 1ull << 20;
  } else if (suffix == "g" || suffix == "gb" || suffix == "gib") {
    mult = 1ull << 30;
  } else if (suffix == "t" || suffix == "tb" || suffix == "tib") {
    mult = 1ull << 40;
  } else {
    return false;
  }
  if (n != 0 && mult > UINT64_MAX / n) return false;
  *out = n * mult;
  return true;
}

bool SplitHostPort(const std::string& hp, std::string* host, uint16_t* port) {
  size_t colon = hp.rfind(':');
  if (colon == std::string::npos || colon + 1 == hp.size()) return false;
  std::string h = hp.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (h.empty()) return false;
  unsigned long p = 0;
  for (size_t i = colon + 1; i < hp.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(hp[i]))) return false;
    p = p * 10 + static_cast<unsigned long>(hp[i] - '0');
    if (p > 65535) return false;
  }
  *host = h;
  *port = static_cast<uint16_t>(p);
  return true;
}

namespace {

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

Status ParseServerOptions(int argc, char** argv, ServerOptions* o, bool* exit_now, int* exit_code) {
  *exit_now = false;
  CLI::App app{
      "data-bridge-kv-server: a sharded key-value server and Celery result backend.\n"
      "Every flag can also be set from the environment as KV_<FLAG> (e.g. KV_BIND)."};
  app.set_version_flag("--version", std::string(kServerName) + " " + kVersion);
  app.get_formatter()->column_width(34);

  std::string max_frame = "64MiB";
  app.add_option("--bind", o->bind, "host:port to serve the binary protocol on (port 0: any)")
      ->envname("KV_BIND")
      ->capture_default_str();
  app.add_option("--http-bind", o->http_bind,
                 "host:port for /metrics (Prometheus), /health and /ready; \"none\" to disable")
      ->envname("KV_HTTP_BIND")
      ->capture_default_str();
  app.add_option("--shards", o->shards,
                 "number of shard actors (0: one per I/O thread or worker, whichever is more)")
      ->envname("KV_SHARDS")
      ->capture_default_str();
  app.add_option("--workers", o->workers,
                 "CAF scheduler threads for timers, housekeeping and background work "
                 "(0: cores - io-threads, min 1)")
      ->envname("KV_WORKERS")
      ->capture_default_str();
  app.add_option("--io-threads", o->io_threads,
                 "event-loop threads: each serves its share of the connections and runs the "
                 "shards their requests wake (0: cores - 1, min 1)")
      ->envname("KV_IO_THREADS")
      ->check(CLI::Range(0, 64))
      ->capture_default_str();
  app.add_option("--max-frame-bytes", max_frame,
                 "largest request frame accepted (KiB/MiB/GiB suffixes); larger frames get an "
                 "error and the connection is closed")
      ->envname("KV_MAX_FRAME_BYTES")
      ->capture_default_str();
  app.add_option("--max-connections", o->max_connections,
                 "connections served at once; more are refused")
      ->envname("KV_MAX_CONNECTIONS")
      ->check(CLI::Range(1u, 1000000u))
      ->capture_default_str();
  app.add_option("--tls-cert", o->tls_cert,
                 "PEM certificate (chain) of the server: with --tls-key, the data port speaks "
                 "TLS 1.2 or newer only")
      ->envname("KV_TLS_CERT");
  app.add_option("--tls-key", o->tls_key, "PEM private key of --tls-cert")->envname("KV_TLS_KEY");
  app.add_option("--tls-ca", o->tls_ca,
                 "PEM CA bundle: require client certificates signed by it (mutual TLS)")
      ->envname("KV_TLS_CA");
  app.add_option("--idle-timeout-s", o->idle_timeout_s,
                 "close connections idle this long (0: never); a blocked command is not idle")
      ->envname("KV_IDLE_TIMEOUT_S")
      ->capture_default_str();
  app.add_option("--log-format", o->log_format, "text, or json (one object per line)")
      ->envname("KV_LOG_FORMAT")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  app.add_option("--password-file", o->password_file,
                 "file holding the password clients must AUTH with (env KV_PASSWORD gives the "
                 "password itself)")
      ->envname("KV_PASSWORD_FILE");
  app.add_option("--log-level", o->log_level, "trace, debug, info, warn, error, off")
      ->envname("KV_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();
  app.add_option("--plugin", o->plugins,
                 "load a command plugin (a shared library built with plugins/api/plugin.h); "
                 "repeatable. KV_PLUGIN takes a comma-separated list")
      ->envname("KV_PLUGIN")
      ->delimiter(',')
      ->take_all();
  app.add_option("--data-dir", o->data_dir,
                 "directory for the write-ahead log and snapshots (unset: memory only; data is "
                 "recovered from it at start)")
      ->envname("KV_DATA_DIR");
  app.add_option("--fsync", o->fsync,
                 "a write is acknowledged once written to the WAL file (it survives a crash of "
                 "the process); always: and synced to disk (group commit); periodic: synced "
                 "within --fsync-interval-ms (a power loss may take that long); never: the OS "
                 "decides when")
      ->envname("KV_FSYNC")
      ->check(CLI::IsMember({"always", "periodic", "never"}))
      ->capture_default_str();
  app.add_option("--fsync-interval-ms", o->fsync_interval_ms, "sync interval for --fsync periodic")
      ->envname("KV_FSYNC_INTERVAL_MS")
      ->check(CLI::Range(1u, 60000u))
      ->capture_default_str();
  app.add_option("--snapshot-interval-s", o->snapshot_interval_s,
                 "take a snapshot this often (0: only by write count and at shutdown)")
      ->envname("KV_SNAPSHOT_INTERVAL_S")
      ->capture_default_str();
  app.add_option("--snapshot-every-writes", o->snapshot_every_writes,
                 "take a snapshot after this many writes (0: never by count)")
      ->envname("KV_SNAPSHOT_EVERY_WRITES")
      ->capture_default_str();
  std::string wal_file = "64MiB";
  app.add_option("--wal-file-bytes", wal_file, "start a new WAL file past this size")
      ->envname("KV_WAL_FILE_BYTES")
      ->capture_default_str();
  std::string max_memory = "0";
  app.add_option("--max-memory", max_memory,
                 "memory for data (KiB/MiB/GiB suffixes; 0: no limit): with --data-dir, cold "
                 "values move to disk past it; without, --eviction applies")
      ->envname("KV_MAX_MEMORY")
      ->capture_default_str();
  app.add_option("--eviction", o->eviction,
                 "at --max-memory: noeviction (writes fail with OOM), allkeys-lru (remove the "
                 "least recently used keys), volatile-ttl (remove keys with an expiry, soonest "
                 "first)")
      ->envname("KV_EVICTION")
      ->check(CLI::IsMember({"noeviction", "allkeys-lru", "volatile-ttl"}))
      ->capture_default_str();
  app.add_flag("--check-config", o->check_config,
               "check the flags and the environment (values, TLS files, plugins, data dir), "
               "print the result and exit 0 if the server would start, 1 if not; binds and "
               "writes nothing")
      ->envname("KV_CHECK_CONFIG");
  app.add_option(
         "--port-file", o->port_file,
         "once ready, write the bound port (then the HTTP port) to this file (for --bind host:0)")
      ->envname("KV_PORT_FILE");
  app.add_option("--shutdown-timeout-ms", o->shutdown_timeout_ms,
                 "on SIGTERM, how long in-flight requests may take before connections are cut")
      ->envname("KV_SHUTDOWN_TIMEOUT_MS")
      ->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    *exit_now = true;
    *exit_code = app.exit(e);
    return Status::OK();
  }
  if (!ParseByteSize(max_frame, &o->max_frame_bytes) || o->max_frame_bytes < 64 ||
      o->max_frame_bytes > 0xffffffffull) {
    return Status::InvalidArgument(
        "--max-frame-bytes: expected a size between 64 B and 4 GiB, got '" + max_frame + "'");
  }
  if (!ParseByteSize(wal_file, &o->wal_file_bytes) || o->wal_file_bytes < 4096) {
    return Status::InvalidArgument("--wal-file-bytes: expected a size of at least 4 KiB, got '" +
                                   wal_file + "'");
  }
  if (!ParseByteSize(max_memory, &o->max_memory) ||
      (o->max_memory != 0 && o->max_memory < (uint64_t{1} << 20))) {
    return Status::InvalidArgument("--max-memory: expected 0 or a size of at least 1 MiB, got '" +
                                   max_memory + "'");
  }
  std::string host;
  uint16_t port;
  if (!SplitHostPort(o->bind, &host, &port)) {
    return Status::InvalidArgument("--bind: expected host:port, got '" + o->bind + "'");
  }
  if (o->http_bind != "none" && !SplitHostPort(o->http_bind, &host, &port)) {
    return Status::InvalidArgument("--http-bind: expected host:port or none, got '" + o->http_bind +
                                   "'");
  }
  if (o->tls_cert.empty() != o->tls_key.empty()) {
    return Status::InvalidArgument("--tls-cert and --tls-key go together");
  }
  if (!o->tls_ca.empty() && o->tls_cert.empty()) {
    return Status::InvalidArgument("--tls-ca needs --tls-cert and --tls-key");
  }
  if (const char* env = std::getenv("KV_PASSWORD"); env != nullptr && *env != '\0') {
    o->password = env;
  }
  if (!o->password_file.empty()) {
    std::ifstream in(o->password_file);
    if (!in) return Status::InvalidArgument("--password-file: cannot read " + o->password_file);
    std::stringstream ss;
    ss << in.rdbuf();
    o->password = Trimmed(ss.str());
    if (o->password.empty()) {
      return Status::InvalidArgument("--password-file: " + o->password_file + " is empty");
    }
  }
  const uint32_t cores = std::max(1u, std::thread::hardware_concurrency());
  if (o->io_threads == 0) o->io_threads = cores > 1 ? cores - 1 : 1;
  if (o->workers == 0) o->workers = cores > o->io_threads ? cores - o->io_threads : 1;
  if (o->shards == 0) o->shards = std::max(o->io_threads, o->workers);
  if (o->shards > 1024) return Status::InvalidArgument("--shards: at most 1024");
  return Status::OK();
}

}  // namespace dbkv
