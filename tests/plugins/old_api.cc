// A plugin as built against API version 1, before kCmdNoLoad took bit 10 and kCmdStoredReply
// moved to bit 11: it reports version 1's fingerprint (the version and five type sizes) and
// registers a command with bit 10 meaning "stored reply". The server must refuse it at start-up,
// never run its command with bit 10 read as kCmdNoLoad.
#include <cstdint>

#include "plugins/api/plugin.h"

namespace {

constexpr uint32_t kOldStoredReply = 1u << 10;

constexpr uint64_t OldFingerprint() {
  return (uint64_t{1} << 48) | (uint64_t{sizeof(dbkv::Value)} << 40) |
         (uint64_t{sizeof(dbkv::Entry)} << 32) | (uint64_t{sizeof(dbkv::Reply)} << 24) |
         (uint64_t{sizeof(dbkv::CommandSpec)} << 12) | uint64_t{sizeof(dbkv::ShardContext)};
}

dbkv::Reply OldGet(dbkv::ShardContext& ctx, const dbkv::CommandArgs& args) {
  const dbkv::Record* e = ctx.Find(args[0].AsStringView());
  return e == nullptr ? dbkv::Reply::Nil() : dbkv::Reply::Of(e->value().ToValue());
}

}  // namespace

extern "C" uint64_t dbkv_plugin_abi() { return OldFingerprint(); }
extern "C" const char* dbkv_plugin_name() { return "old-api"; }
extern "C" const char* dbkv_plugin_register(dbkv::CommandRegistry* registry) {
  static std::string error;
  dbkv::Status s = registry->Register(dbkv::KeyCommand(
      "OLDGET", 0, dbkv::kCmdReadOnly | kOldStoredReply, 1, 1, OldGet, "OLDGET key"));
  if (s.ok()) return nullptr;
  error = s.ToString();
  return error.c_str();
}
