// Loads --plugin shared libraries at start-up (see plugins/api/plugin.h).
#ifndef DATABRIDGE_SERVER_PLUGIN_LOADER_H_
#define DATABRIDGE_SERVER_PLUGIN_LOADER_H_

#include <string>

#include "core/status.h"
#include "plugins/api/registry.h"

namespace dbkv {

// Opens the library at path, checks its ABI and registers its commands. Errors name the path
// and the reason: not found or not loadable (dlerror), a missing entry point, an ABI mismatch,
// or the registration's own error (a taken command name, ...). The library stays loaded for
// the life of the process, also after an error.
Status LoadPlugin(const std::string& path, CommandRegistry* registry, std::string* name);

}  // namespace dbkv

#endif  // DATABRIDGE_SERVER_PLUGIN_LOADER_H_
