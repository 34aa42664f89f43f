// How a plugin library plugs in: build a shared library that defines its entry points with
// DBKV_PLUGIN, then start the server with --plugin /path/to/lib.so (repeatable).
//
//   #include "plugins/api/plugin.h"
//
//   dbkv::Status RegisterMine(dbkv::CommandRegistry* r) {
//     dbkv::CommandSpec s;
//     s.name = "HELLOWORLD"; ... ;
//     return r->Register(std::move(s));
//   }
//   DBKV_PLUGIN("mine", RegisterMine)
//
// At start-up the server checks the library's ABI fingerprint against its own (API version and
// the layout of the types a plugin touches); a mismatch, a missing entry point, or a command
// whose name is taken is a start-up error. The library is never unloaded. Plugin commands are
// reached by name (opcode 0): clients need no change to call them. See plugins/api/README.md.
#ifndef DATABRIDGE_PLUGINS_API_PLUGIN_H_
#define DATABRIDGE_PLUGINS_API_PLUGIN_H_

#include <cstdint>
#include <string>

#include "core/entry.h"
#include "core/reply.h"
#include "core/status.h"
#include "core/value.h"
#include "plugins/api/args.h"
#include "plugins/api/command.h"
#include "plugins/api/contexts.h"
#include "plugins/api/registry.h"

namespace dbkv {

// Bumped on every incompatible change of the plugin API.
constexpr uint32_t kPluginApiVersion = 1;

// The API version and the sizes of the types shared with plugins, in one number: a plugin
// built against other headers (or another compiler's layout) does not match.
constexpr uint64_t PluginAbiFingerprint() {
  static_assert(sizeof(Value) < 256 && sizeof(Entry) < 256 && sizeof(Reply) < 256 &&
                    sizeof(CommandSpec) < 4096 && sizeof(ShardContext) < 4096,
                "fields of the fingerprint");
  return (uint64_t{kPluginApiVersion} << 48) | (uint64_t{sizeof(Value)} << 40) |
         (uint64_t{sizeof(Entry)} << 32) | (uint64_t{sizeof(Reply)} << 24) |
         (uint64_t{sizeof(CommandSpec)} << 12) | uint64_t{sizeof(ShardContext)};
}

}  // namespace dbkv

// The entry points a plugin library exports (C linkage, so that names do not depend on the
// compiler's mangling).
extern "C" {
// PluginAbiFingerprint() as the plugin was compiled.
uint64_t dbkv_plugin_abi();
// A short name for logs.
const char* dbkv_plugin_name();
// Registers the plugin's commands. Returns null on success, else the reason (valid until the
// next call).
const char* dbkv_plugin_register(dbkv::CommandRegistry* registry);
}

#define DBKV_PLUGIN(plugin_name, register_function)                                \
  extern "C" uint64_t dbkv_plugin_abi() { return ::dbkv::PluginAbiFingerprint(); } \
  extern "C" const char* dbkv_plugin_name() { return plugin_name; }                \
  extern "C" const char* dbkv_plugin_register(::dbkv::CommandRegistry* registry) { \
    static std::string error;                                                      \
    ::dbkv::Status status = register_function(registry);                           \
    if (status.ok()) return nullptr;                                               \
    error = status.ToString();                                                     \
    return error.c_str();                                                          \
  }

#endif  // DATABRIDGE_PLUGINS_API_PLUGIN_H_
