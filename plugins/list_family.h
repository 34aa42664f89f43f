// The list family: RPUSH, LPUSH, LPOP, RPOP, LRANGE, LLEN, with Redis's semantics.
//
// A list is a key holding a ValueType::kList value (so SET key [..] makes one too); its
// elements are values of any type, kept exactly. A key holding any other type is a WRONGTYPE
// error. A pop that leaves a list empty deletes its key, as in Redis. Lists are modified in
// place (ShardContext::Upsert/Commit) and keep their expiry.
#ifndef DATABRIDGE_PLUGINS_LIST_FAMILY_H_
#define DATABRIDGE_PLUGINS_LIST_FAMILY_H_

#include "core/status.h"
#include "plugins/api/registry.h"

namespace dbkv {

Status RegisterListFamily(CommandRegistry* registry);

}  // namespace dbkv

#endif  // DATABRIDGE_PLUGINS_LIST_FAMILY_H_
