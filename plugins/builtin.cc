#include "plugins/builtin.h"

#include "plugins/batch_family.h"
#include "plugins/cas_family.h"
#include "plugins/connection_family.h"
#include "plugins/core_family.h"
#include "plugins/hash_family.h"
#include "plugins/keyspace_family.h"
#include "plugins/list_family.h"
#include "plugins/lock_family.h"
#include "plugins/server_family.h"
#include "plugins/string_family.h"
#include "plugins/wait_family.h"

namespace dbkv {

Status RegisterBuiltinFamilies(CommandRegistry* registry) {
  using RegisterFn = Status (*)(CommandRegistry*);
  const RegisterFn families[] = {
      RegisterServerFamily, RegisterConnectionFamily, RegisterCoreFamily, RegisterKeyspaceFamily,
      RegisterBatchFamily,  RegisterCasFamily,        RegisterListFamily, RegisterWaitFamily,
      RegisterLockFamily,   RegisterStringFamily,     RegisterHashFamily,
  };
  for (RegisterFn family : families) {
    Status s = family(registry);
    if (!s.ok()) return s;
  }
  // What comes next (--plugin libraries) is called by name.
  registry->ReserveOpcodes();
  return Status::OK();
}

}  // namespace dbkv
