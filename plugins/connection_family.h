// The connection family: ECHO, SELECT, CLIENT, COMMAND, CONFIG — what Redis clients and tools
// (redis-cli, redis-py, redis-benchmark) send about their connection and the server, on both
// protocols. All run on the connection (by name; no opcodes).
#ifndef DATABRIDGE_PLUGINS_CONNECTION_FAMILY_H_
#define DATABRIDGE_PLUGINS_CONNECTION_FAMILY_H_

#include "core/status.h"
#include "plugins/api/registry.h"

namespace dbkv {

// COMMAND describes the commands of `registry` as they are when it is called (plugins loaded
// later included): registry must outlive the server.
Status RegisterConnectionFamily(CommandRegistry* registry);

}  // namespace dbkv

#endif  // DATABRIDGE_PLUGINS_CONNECTION_FAMILY_H_
