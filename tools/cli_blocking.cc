#include "tools/cli_blocking.h"

#include <cctype>
#include <cmath>
#include <cstdlib>

#include "core/ascii.h"

namespace dbkv::cli {
namespace {

bool Is(std::string_view command, std::string_view name) { return EqualsIgnoreCase(command, name); }

}  // namespace

const std::string* BlockingTimeoutArg(std::string_view command,
                                      const std::vector<std::string>& args) {
  if (Is(command, "WAIT")) return args.size() >= 2 ? &args[1] : nullptr;
  if (Is(command, "MWAIT") || Is(command, "WAITANY") || Is(command, "WAITANYV")) {
    return args.empty() ? nullptr : &args[0];
  }
  if (Is(command, "BLPOP") || Is(command, "BRPOP")) {
    return args.size() >= 2 ? &args.back() : nullptr;
  }
  if (Is(command, "LOCK")) return args.size() >= 4 ? &args[3] : nullptr;
  return nullptr;
}

double ReplyTimeout(std::string_view command, const std::vector<std::string>& args,
                    double default_s) {
  const std::string* arg = BlockingTimeoutArg(command, args);
  if (arg == nullptr || default_s <= 0) return default_s;
  char* end = nullptr;
  const double seconds = std::strtod(arg->c_str(), &end);
  if (arg->empty() || end != arg->c_str() + arg->size() || !std::isfinite(seconds) || seconds < 0) {
    return default_s;
  }
  if (seconds == 0) return 0;
  return seconds + default_s;
}

}  // namespace dbkv::cli
