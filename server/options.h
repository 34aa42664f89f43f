// Server configuration: every flag of `data-bridge-kv-server --help`, each also settable from
// the environment as KV_<FLAG> (KV_BIND, KV_SHARDS, ...). A flag given on the command line
// wins over the environment.
#ifndef DATABRIDGE_SERVER_OPTIONS_H_
#define DATABRIDGE_SERVER_OPTIONS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace dbkv {

struct ServerOptions {
  std::string bind = "127.0.0.1:7379";
  std::string http_bind = "127.0.0.1:7380";  // "none": no HTTP endpoints
  uint32_t shards = 0;                       // 0: one per I/O thread or worker, whichever is more
  uint32_t workers = 0;     // CAF scheduler threads; 0: cores - io_threads, at least 1
  uint32_t io_threads = 0;  // event loops (connections and the shards they wake); 0: cores - 1
  uint64_t max_frame_bytes = 64ull << 20;
  uint32_t max_connections = 10000;
  uint32_t idle_timeout_s = 0;  // 0: connections may stay idle forever
  std::string log_format = "text";
  std::string password;  // from KV_PASSWORD or --password-file; empty: no AUTH required
  std::string password_file;
  std::string tls_cert;  // PEM certificate chain; with tls_key, clients must speak TLS
  std::string tls_key;   // PEM private key
  std::string tls_ca;    // PEM CA bundle: clients must present a certificate it signed
  std::string log_level = "info";
  std::string port_file;             // if set, the bound port is written here once listening
  std::vector<std::string> plugins;  // shared libraries to load at start-up
  uint32_t shutdown_timeout_ms = 10000;
  // Persistence (issue: durability). data_dir empty: memory only.
  std::string data_dir;
  std::string fsync = "periodic";  // always | periodic | never
  uint32_t fsync_interval_ms = 100;
  uint32_t snapshot_interval_s = 3600;
  uint64_t snapshot_every_writes = 1000000;
  uint64_t wal_file_bytes = uint64_t{64} << 20;
  // Memory (issue: tiering). 0: no limit.
  uint64_t max_memory = 0;
  std::string eviction = "noeviction";  // noeviction | allkeys-lru | volatile-ttl
  // Validate everything and exit 0 or 1 instead of starting (server/check_config.h).
  bool check_config = false;
};

// Parses argv (and the environment). On --help or --version, prints and sets *exit_now with
// *exit_code; on a bad flag, returns an error that names it.
Status ParseServerOptions(int argc, char** argv, ServerOptions* out, bool* exit_now,
                          int* exit_code);

// "64MiB", "1GiB", "512KiB", "1048576", also "64MB"/"64M" (binary multiples, as Redis).
bool ParseByteSize(const std::string& text, uint64_t* out);

// Splits "host:port" ("[::1]:7379" for IPv6). false if malformed.
bool SplitHostPort(const std::string& hostport, std::string* host, uint16_t* port);

}  // namespace dbkv

#endif  // DATABRIDGE_SERVER_OPTIONS_H_
