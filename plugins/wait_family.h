// The wait family: WAIT, MWAIT, WAITANY — block until keys exist, without polling. The Celery
// backend waits for task results with them.
#ifndef DATABRIDGE_PLUGINS_WAIT_FAMILY_H_
#define DATABRIDGE_PLUGINS_WAIT_FAMILY_H_

#include "core/status.h"
#include "plugins/api/registry.h"

namespace dbkv {

Status RegisterWaitFamily(CommandRegistry* registry);

}  // namespace dbkv

#endif  // DATABRIDGE_PLUGINS_WAIT_FAMILY_H_
