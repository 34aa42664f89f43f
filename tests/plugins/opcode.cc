// A plugin whose command claims an opcode of the binary protocol (a free one): opcodes belong to
// built-in commands, so loading it must fail at start-up.
#include "plugins/api/plugin.h"

namespace {

dbkv::Status Register(dbkv::CommandRegistry* registry) {
  return registry->Register(dbkv::KeyCommand(
      "MYGET", 0xF0, dbkv::kCmdReadOnly, 1, 1,
      [](dbkv::ShardContext&, const dbkv::CommandArgs&) { return dbkv::Reply::Nil(); },
      "MYGET key"));
}

}  // namespace

DBKV_PLUGIN("opcode", Register)
