// The CAS family: GETV and CAS, optimistic concurrency on whole values.
//
// A version is Entry::version: assigned from the shard's counter on every write, so it is
// strictly increasing per shard and a deleted and re-created key never gets an old version
// back (no ABA). Versions are only comparable for one key; 0 stands for "no such key".
#ifndef DATABRIDGE_PLUGINS_CAS_FAMILY_H_
#define DATABRIDGE_PLUGINS_CAS_FAMILY_H_

#include "core/status.h"
#include "plugins/api/registry.h"

namespace dbkv {

Status RegisterCasFamily(CommandRegistry* registry);

}  // namespace dbkv

#endif  // DATABRIDGE_PLUGINS_CAS_FAMILY_H_
