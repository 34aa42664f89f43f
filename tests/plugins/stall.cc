// STALL key ms: keeps the shard that owns key busy for ms milliseconds (at most 10 s), then
// answers OK. For the /health test: a shard that stops answering must turn /health into 503.
#include <chrono>
#include <thread>

#include "plugins/api/plugin.h"

namespace {

dbkv::Reply Stall(dbkv::ShardContext&, const dbkv::CommandArgs& args) {
  int64_t ms = 0;
  if (!dbkv::ArgToInt(args[1], &ms) || ms < 0 || ms > 10000) {
    return dbkv::Reply::Error(dbkv::Code::kInvalidArgument, "ms: 0 to 10000");
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return dbkv::Reply::Ok();
}

dbkv::Status Register(dbkv::CommandRegistry* registry) {
  return registry->Register(
      dbkv::KeyCommand("STALL", 0, dbkv::kCmdReadOnly, 2, 2, Stall, "STALL key ms"));
}

}  // namespace

DBKV_PLUGIN("stall", Register)
