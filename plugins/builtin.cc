#include "plugins/builtin.h"

#include "plugins/core_family.h"
#include "plugins/server_family.h"

namespace dbkv {

Status RegisterBuiltinFamilies(CommandRegistry* registry) {
  Status s = RegisterServerFamily(registry);
  if (!s.ok()) return s;
  return RegisterCoreFamily(registry);
}

}  // namespace dbkv
