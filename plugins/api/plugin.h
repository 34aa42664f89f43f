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
// At start-up the server checks the library's ABI fingerprint against its own (API version, the
// text of the headers it compiled against, the command flags' bits and the layout of the types
// a plugin touches); a mismatch, a missing entry point, or a command whose name is taken or
// that claims an opcode is a start-up error. The library is never unloaded. Plugin commands are
// reached by name (opcode 0): clients need no change to call them. See plugins/api/README.md.
#ifndef DATABRIDGE_PLUGINS_API_PLUGIN_H_
#define DATABRIDGE_PLUGINS_API_PLUGIN_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "core/entry.h"
#include "core/reply.h"
#include "core/status.h"
#include "core/value.h"
#include "plugins/api/abi_hash.h"  // generated: DBKV_PLUGIN_HEADERS_HASH
#include "plugins/api/args.h"
#include "plugins/api/command.h"
#include "plugins/api/contexts.h"
#include "plugins/api/registry.h"

namespace dbkv {

// Bumped on every incompatible change of the plugin API, so that the start-up error names the
// versions. 2: kCmdNoLoad took bit 10 and kCmdStoredReply moved to bit 11; the fingerprint
// covers the headers' text. 3: CommandSpec::keys is a KeySpec. 4: a key is a Record
// (core/record.h): ShardContext::Find/Peek/Put/Commit give const Record* (value() is a
// ValueRef), changes go through EntryRef::entry, OnWrite and Resolve take records. 5: keys and
// short values may be packed ASCII: Record::key() is a KeyText (name it, then view()), a
// ValueRef's text is valid while the ValueRef is, and EntryRef has no key.
constexpr uint32_t kPluginApiVersion = 5;

namespace plugin_abi {

// FNV-1a, 64 bits, over the 8 bytes of v (little end first).
constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ULL;
constexpr uint64_t Mix(uint64_t h, uint64_t v) {
  for (int i = 0; i < 8; ++i) {
    h ^= (v >> (8 * i)) & 0xff;
    h *= 0x100000001b3ULL;
  }
  return h;
}

// Every command flag, in declaration order: a plugin's specs are read with these bits.
constexpr uint32_t kFlags[] = {
    kCmdWrite, kCmdReadOnly,      kCmdConnection,  kCmdAllShards, kCmdNoAuth, kCmdBlocking,
    kCmdAdmin, kCmdFirstPartWins, kCmdSingleShard, kCmdAllowOom,  kCmdNoLoad, kCmdStoredReply,
};

// The fingerprint of an API version, the hash of the headers' text (abi_hash.h), the flags'
// bits, and the sizes and alignments of the types shared with plugins, with the C++ ABI of
// the compiler: the version in the top 16 bits (the start-up error shows it), the hash of the
// rest in the low 48. Any difference in any part gives another number.
constexpr uint64_t Fingerprint(uint32_t version, uint64_t headers_hash, const uint32_t* flags,
                               size_t flag_count) {
  uint64_t h = Mix(kFnvOffset, headers_hash);
  for (size_t i = 0; i < flag_count; ++i) h = Mix(h, flags[i]);
  const uint64_t layout[] = {
      sizeof(Value),        alignof(Value),
      sizeof(Entry),        alignof(Entry),
      sizeof(Reply),        sizeof(Status),
      sizeof(CommandSpec),  sizeof(CommandArgs),
      sizeof(MergeInput),   sizeof(BlockRequest),
      sizeof(ShardContext), sizeof(ServerInfo),
      sizeof(std::string),  sizeof(std::function<void()>),
  };
  for (uint64_t v : layout) h = Mix(h, v);
#ifdef __GXX_ABI_VERSION
  h = Mix(h, __GXX_ABI_VERSION);
#endif
#ifdef _GLIBCXX_USE_CXX11_ABI
  h = Mix(h, 0x100 + _GLIBCXX_USE_CXX11_ABI);
#endif
  return (uint64_t{version} << 48) | (h & ((uint64_t{1} << 48) - 1));
}

static_assert(kPluginApiVersion < (1u << 16), "the version takes the top 16 bits");

}  // namespace plugin_abi

// What a plugin and the server compare at start-up (dbkv_plugin_abi).
constexpr uint64_t PluginAbiFingerprint() {
  return plugin_abi::Fingerprint(kPluginApiVersion, DBKV_PLUGIN_HEADERS_HASH, plugin_abi::kFlags,
                                 sizeof(plugin_abi::kFlags) / sizeof(plugin_abi::kFlags[0]));
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
