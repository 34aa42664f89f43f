// A plugin built "against other headers": its ABI fingerprint does not match the server's.
#include <cstdint>

#include "plugins/api/plugin.h"

extern "C" uint64_t dbkv_plugin_abi() { return ::dbkv::PluginAbiFingerprint() ^ 1; }
extern "C" const char* dbkv_plugin_name() { return "bad-abi"; }
extern "C" const char* dbkv_plugin_register(dbkv::CommandRegistry*) { return nullptr; }
