// data-bridge-kv-server: see `data-bridge-kv-server --help`.
#include <signal.h>
#include <spdlog/spdlog.h>

#include "server/logging.h"
#include "server/options.h"
#include "server/server.h"

// jemalloc (linked into the server): a background thread returns pages freed for a second to
// the system, so that memory freed by moving values to disk or by deletes leaves the RSS.
extern "C" {
const char* malloc_conf = "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0";
}

int main(int argc, char** argv) {
  // Writes to a closed socket report EPIPE instead of killing the process. SIGTERM and SIGINT
  // are caught by the server's signal_set, installed before any thread starts.
  signal(SIGPIPE, SIG_IGN);
  dbkv::ServerOptions options;
  bool exit_now = false;
  int exit_code = 0;
  dbkv::Status s = dbkv::ParseServerOptions(argc, argv, &options, &exit_now, &exit_code);
  if (exit_now) return exit_code;
  if (!s.ok()) {
    fprintf(stderr, "data-bridge-kv-server: %s\n", s.message().c_str());
    return 2;
  }
  dbkv::ConfigureLogging(options.log_level, options.log_format);
  dbkv::Server server(std::move(options));
  return server.Run();
}
