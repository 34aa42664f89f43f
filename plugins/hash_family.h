// The hash family: HSET, HSETNX, HMSET, HGET, HMGET, HGETALL, HDEL, HEXISTS, HLEN, HSTRLEN,
// HKEYS, HVALS, HINCRBY, HINCRBYFLOAT, with Redis's semantics.
//
// A hash is a key holding a map value (ValueType::kMap: what a typed client's SET of a dict
// makes, and what TYPE calls "hash"), its fields in the order they were added. Fields are
// matched by their text as Redis sees it (the typed int 5 and RESP's "5" are one field) and keep
// the form they were first written in; values keep their types. A hash whose last field is
// deleted is deleted, as in Redis. Field operations look fields up in order and the whole map
// is written to the log: O(fields) each, which suits the hashes Celery and kombu keep (tens to
// thousands of fields); a compact and an indexed encoding with logged field changes replace
// this for large hashes (issue 16's plan).
#ifndef DATABRIDGE_PLUGINS_HASH_FAMILY_H_
#define DATABRIDGE_PLUGINS_HASH_FAMILY_H_

#include "core/status.h"
#include "plugins/api/registry.h"

namespace dbkv {

Status RegisterHashFamily(CommandRegistry* registry);

}  // namespace dbkv

#endif  // DATABRIDGE_PLUGINS_HASH_FAMILY_H_
