// The lock family: LOCK, UNLOCK, LOCKEXTEND — leases with an owner token. Only the owner
// releases or extends; a blocking LOCK is woken by the server on release or expiry.
#ifndef DATABRIDGE_PLUGINS_LOCK_FAMILY_H_
#define DATABRIDGE_PLUGINS_LOCK_FAMILY_H_

#include "core/status.h"
#include "plugins/api/registry.h"

namespace dbkv {

Status RegisterLockFamily(CommandRegistry* registry);

}  // namespace dbkv

#endif  // DATABRIDGE_PLUGINS_LOCK_FAMILY_H_
