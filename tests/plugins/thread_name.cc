// THREAD key: the name of the thread that runs the shard owning key (pthread_getname_np). For
// the test that a shard runs on the I/O loop whose request woke it, not on a CAF worker.
#include <pthread.h>

#include <string>

#include "plugins/api/plugin.h"

namespace {

dbkv::Reply ThreadName(dbkv::ShardContext&, const dbkv::CommandArgs&) {
  char name[32] = {};
  if (pthread_getname_np(pthread_self(), name, sizeof(name)) != 0) {
    return dbkv::Reply::Error(dbkv::Code::kInternal, "pthread_getname_np failed");
  }
  return dbkv::Reply::Of(dbkv::Value::String(name));
}

dbkv::Status Register(dbkv::CommandRegistry* registry) {
  return registry->Register(
      dbkv::KeyCommand("THREAD", 0, dbkv::kCmdReadOnly, 1, 1, ThreadName, "THREAD key"));
}

}  // namespace

DBKV_PLUGIN("thread_name", Register)
