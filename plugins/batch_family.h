// The batch family: MGET, MSET, MSETPX, MDEL, MEXISTS.
//
// Each takes many keys. The dispatcher groups them per shard (one message per shard); each
// shard runs the handler on its own keys, in the caller's order, and the replies are merged
// back into the caller's order. A batch is not atomic across shards: another client may see
// some shards' keys written before others'.
#ifndef DATABRIDGE_PLUGINS_BATCH_FAMILY_H_
#define DATABRIDGE_PLUGINS_BATCH_FAMILY_H_

#include "core/status.h"
#include "plugins/api/registry.h"

namespace dbkv {

Status RegisterBatchFamily(CommandRegistry* registry);

}  // namespace dbkv

#endif  // DATABRIDGE_PLUGINS_BATCH_FAMILY_H_
