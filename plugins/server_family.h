// The server family: PING, HELLO, AUTH, QUIT (on the connection), INFO and DBSIZE (on every
// shard, merged).
#ifndef DATABRIDGE_PLUGINS_SERVER_FAMILY_H_
#define DATABRIDGE_PLUGINS_SERVER_FAMILY_H_

#include "core/status.h"
#include "plugins/api/registry.h"

namespace dbkv {

Status RegisterServerFamily(CommandRegistry* registry);

// Longest namespace name a connection may choose.
constexpr size_t kMaxNamespaceLength = 255;

}  // namespace dbkv

#endif  // DATABRIDGE_PLUGINS_SERVER_FAMILY_H_
