// The core family: GET, SET, DEL, EXISTS, INCR, DECR, TTL, PTTL, EXPIRE, PEXPIRE, PERSIST, and
// by name only UNLINK, GETDEL, SETNX, SETEX, PSETEX, INCRBY, DECRBY, INCRBYFLOAT.
#ifndef DATABRIDGE_PLUGINS_CORE_FAMILY_H_
#define DATABRIDGE_PLUGINS_CORE_FAMILY_H_

#include "core/status.h"
#include "plugins/api/registry.h"

namespace dbkv {

Status RegisterCoreFamily(CommandRegistry* registry);

}  // namespace dbkv

#endif  // DATABRIDGE_PLUGINS_CORE_FAMILY_H_
