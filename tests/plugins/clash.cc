// A plugin that registers a command the server already has: loading it must fail at start-up.
#include "plugins/api/plugin.h"

namespace {

dbkv::Status Register(dbkv::CommandRegistry* registry) {
  dbkv::CommandSpec s;
  s.name = "get";
  s.keys = dbkv::KeySpec::One(0);
  s.min_args = 1;
  s.max_args = 1;
  s.shard = [](dbkv::ShardContext&, const dbkv::CommandArgs&) { return dbkv::Reply::Nil(); };
  return registry->Register(std::move(s));
}

}  // namespace

DBKV_PLUGIN("clash", Register)
