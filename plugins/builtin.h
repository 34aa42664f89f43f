// Registers every built-in command family.
#ifndef DATABRIDGE_PLUGINS_BUILTIN_H_
#define DATABRIDGE_PLUGINS_BUILTIN_H_

#include "core/status.h"
#include "plugins/api/registry.h"

namespace dbkv {

Status RegisterBuiltinFamilies(CommandRegistry* registry);

}  // namespace dbkv

#endif  // DATABRIDGE_PLUGINS_BUILTIN_H_
