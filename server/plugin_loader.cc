#include "server/plugin_loader.h"

#include <dlfcn.h>
#include <fmt/format.h>

#include "plugins/api/plugin.h"

namespace dbkv {

Status LoadPlugin(const std::string& path, CommandRegistry* registry, std::string* name) {
  auto fail = [&](const std::string& why) {
    return Status::InvalidArgument("--plugin " + path + ": " + why);
  };
  // RTLD_NOW: every symbol is resolved here, not at the first call of a command.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* err = dlerror();
    return fail(err != nullptr ? err : "cannot load");
  }
  using AbiFn = uint64_t (*)();
  using NameFn = const char* (*)();
  using RegisterFn = const char* (*)(CommandRegistry*);
  auto abi = reinterpret_cast<AbiFn>(dlsym(handle, "dbkv_plugin_abi"));
  auto plugin_name = reinterpret_cast<NameFn>(dlsym(handle, "dbkv_plugin_name"));
  auto reg = reinterpret_cast<RegisterFn>(dlsym(handle, "dbkv_plugin_register"));
  if (abi == nullptr || plugin_name == nullptr || reg == nullptr) {
    return fail(
        "not a data-bridge-kv plugin: missing entry point dbkv_plugin_abi, dbkv_plugin_name or "
        "dbkv_plugin_register (define them with DBKV_PLUGIN)");
  }
  const uint64_t theirs = abi();
  if (theirs != PluginAbiFingerprint()) {
    return fail(fmt::format(
        "ABI mismatch: plugin built for API version {} (fingerprint {:016x}), server has "
        "version {} (fingerprint {:016x}); rebuild the plugin against this server's headers",
        theirs >> 48, theirs, kPluginApiVersion, PluginAbiFingerprint()));
  }
  *name = plugin_name();
  if (const char* err = reg(registry)) return fail(std::string("registration failed: ") + err);
  return Status::OK();
}

}  // namespace dbkv
