// data-bridge-kv-server: see `data-bridge-kv-server --help`.
#include <signal.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "server/check_config.h"
#include "server/logging.h"
#include "server/options.h"
#include "server/server.h"

// jemalloc (linked into the server): a background thread returns pages freed for a second to
// the system, so that memory freed by moving values to disk or by deletes leaves the RSS.
extern "C" {
const char* malloc_conf = "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0";
}

namespace {

// --check-config (or KV_CHECK_CONFIG) asked for, seen before parsing: with it, every way the
// flags can be wrong exits 1, whatever CLI11's own exit codes are.
bool Truthy(const char* v) {
  return *v != '\0' && std::strcmp(v, "0") != 0 && std::strcmp(v, "false") != 0;
}

bool CheckConfigRequested(int argc, char** argv) {
  constexpr std::string_view kFlag = "--check-config";
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == kFlag) return true;
    if (arg.substr(0, kFlag.size() + 1) == "--check-config=") {
      return Truthy(argv[i] + kFlag.size() + 1);
    }
  }
  const char* env = std::getenv("KV_CHECK_CONFIG");
  return env != nullptr && Truthy(env);
}

}  // namespace

int main(int argc, char** argv) {
  // Writes to a closed socket report EPIPE instead of killing the process. SIGTERM and SIGINT
  // are caught by the server's signal_set, installed before any thread starts.
  signal(SIGPIPE, SIG_IGN);
  const bool checking = CheckConfigRequested(argc, argv);
  dbkv::ServerOptions options;
  bool exit_now = false;
  int exit_code = 0;
  dbkv::Status s = dbkv::ParseServerOptions(argc, argv, &options, &exit_now, &exit_code);
  if (exit_now) return checking && exit_code != 0 ? 1 : exit_code;
  if (!s.ok()) {
    fprintf(stderr, "data-bridge-kv-server: %s\n", s.message().c_str());
    return checking ? 1 : 2;
  }
  if (options.check_config) {
    std::string summary;
    s = dbkv::CheckConfig(options, &summary);
    if (!s.ok()) {
      fprintf(stderr, "data-bridge-kv-server: configuration refused: %s\n", s.message().c_str());
      return 1;
    }
    printf("data-bridge-kv-server: configuration OK: %s\n", summary.c_str());
    return 0;
  }
  dbkv::ConfigureLogging(options.log_level, options.log_format);
  dbkv::Server server(std::move(options));
  return server.Run();
}
