// ShardBatch: the unit of work a shard actor receives. One message carries every operation an
// I/O thread gathered for that shard in one event-loop pass (docs/PERFORMANCE.md: a message costs
// far more than a hash-map operation, so messages carry many operations).
#ifndef DATABRIDGE_ACTORS_SHARD_BATCH_H_
#define DATABRIDGE_ACTORS_SHARD_BATCH_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/reply.h"
#include "plugins/api/command.h"

namespace dbkv {

struct ShardBatch;

// One command (or one shard's part of a multi-shard command) to run on a shard.
struct ShardOp {
  const CommandSpec* cmd = nullptr;
  CommandArgs args;        // owned by the sender; valid until the batch completes
  std::string_view ns;     // owned by the sender; valid until the batch completes
  Reply* reply = nullptr;  // the shard writes the reply here
  // Opaque to the shard: lets the sender find the request again on completion.
  void* owner = nullptr;
  uint32_t index = 0;
  int32_t part = -1;
  // Who asked, for cancelling blocked ops: the connection, and the request (0: none).
  uint64_t conn_id = 0;
  uint64_t seq = 0;
};

// Receives finished batches. Called on the shard's thread: an implementation hands the batch
// back to the thread that owns its requests (the I/O loop) and returns at once.
class BatchCompletion {
 public:
  virtual ~BatchCompletion() = default;
  virtual void OnBatchDone(ShardBatch* batch) = 0;
};

struct ShardBatch {
  uint32_t shard = 0;
  std::vector<ShardOp> ops;
  BatchCompletion* completion = nullptr;
};

// The message payload: ownership of the batch passes to the shard and back through
// BatchCompletion. A plain pointer: local messages only (a remote shard, in cluster mode, will
// get a serialized form of the ops instead).
struct BatchPtr {
  ShardBatch* batch = nullptr;
};

}  // namespace dbkv

#endif  // DATABRIDGE_ACTORS_SHARD_BATCH_H_
