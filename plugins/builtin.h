// Registers every built-in command family, then reserves the opcodes (CommandRegistry::
// ReserveOpcodes): commands registered after them, such as plugins', have none.
#ifndef DATABRIDGE_PLUGINS_BUILTIN_H_
#define DATABRIDGE_PLUGINS_BUILTIN_H_

#include "core/status.h"
#include "plugins/api/registry.h"

namespace dbkv {

Status RegisterBuiltinFamilies(CommandRegistry* registry);

}  // namespace dbkv

#endif  // DATABRIDGE_PLUGINS_BUILTIN_H_
