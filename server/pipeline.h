// Pipeline: the requests one connection sent in one read, in order, with their replies.
//
// A connection decodes every complete frame of a read into one Pipeline, dispatches its
// requests (to shards, or at once for connection commands), and writes the replies once all
// of them are ready. Replies therefore leave in request order; each also carries its request
// id. A Pipeline is touched only on its connection's I/O thread; shards see only the
// arguments and reply slots of their ops, which stay put until the pipeline completes.
#ifndef DATABRIDGE_SERVER_PIPELINE_H_
#define DATABRIDGE_SERVER_PIPELINE_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "core/reply.h"
#include "core/value.h"
#include "plugins/api/command.h"

namespace dbkv {

class Connection;

// State of a request that runs on several shards: one reply slot per part, merged at the end.
struct SplitState {
  MergeInput input;
  // Arguments of each part of a multi-key command (prefix, the part's key groups, suffix).
  std::vector<ValueList> part_args;
  uint32_t remaining = 0;
};

struct PendingRequest {
  uint32_t id = 0;
  const CommandSpec* cmd = nullptr;  // null: reply already holds an error
  ValueList argv;
  uint32_t arg_offset = 0;  // 1 when the request named its command (argv[0] is the name)
  Reply reply;
  std::unique_ptr<SplitState> split;
};

struct Pipeline {
  std::shared_ptr<Connection> conn;
  std::vector<PendingRequest> requests;
  // Namespaces the ops point into; a deque so that adding one never moves the others.
  std::deque<std::string> namespaces;
  // Ops sent to shards and not yet completed.
  uint32_t pending_ops = 0;
};

}  // namespace dbkv

#endif  // DATABRIDGE_SERVER_PIPELINE_H_
