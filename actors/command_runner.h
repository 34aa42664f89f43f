// CommandRunner: the one place a shard runs a command's handler, for the ops of a batch and for
// blocked commands that Waiters re-runs. It is the handlers' ShardHost: a handler's Block()
// says what it waits for (the runner hands the op and that request to Waiters to park), and
// every write goes to the write listener (the WAL) and to Waiters (to wake what waits on it).
// Shard thread only.
#ifndef DATABRIDGE_ACTORS_COMMAND_RUNNER_H_
#define DATABRIDGE_ACTORS_COMMAND_RUNNER_H_

#include <cstdint>
#include <string_view>

#include "actors/shard_batch.h"
#include "actors/waiters.h"
#include "core/partition.h"
#include "plugins/api/contexts.h"

namespace dbkv {

// Told of every write a shard makes (see ShardHost::OnWrite).
class WriteListener {
 public:
  virtual ~WriteListener() = default;
  virtual void OnWrite(std::string_view ns, std::string_view key, const Record* record,
                       uint64_t version, const ListChange* change) = 0;
};

// Runs cmd's shard handler: a handler that throws is answered with INTERNAL, and a change it
// began (Upsert) and did not finish is abandoned, the key as it was.
Reply CallHandler(const CommandSpec& cmd, ShardContext& ctx, Partition* partition,
                  const CommandArgs& args);

class CommandRunner final : public ShardHost {
 public:
  CommandRunner(Partition* partition, uint32_t shard_id, uint32_t shard_count);
  ~CommandRunner() override;

  // Runs op (from a batch that completion will take back). Returns true if the op blocked: it
  // then belongs to the waiters and must be left out of its batch's completion.
  bool Run(ShardOp& op, BatchCompletion* completion, int64_t now_ms);

  // Runs op's handler and returns its reply. A reply with `blocked` set comes with *block
  // filled in: what the handler waits for. timed_out: the op's deadline has come (the handler
  // must answer).
  Reply Invoke(ShardOp& op, int64_t now_ms, bool timed_out, BlockRequest* block);

  Waiters& waiters() { return waiters_; }
  const Waiters& waiters() const { return waiters_; }
  // Also told of every write (the write-ahead log), or null.
  void set_write_listener(WriteListener* listener) { listener_ = listener; }
  // Brings cold values back for the handlers this runs (tiering), or null.
  void set_cold_resolver(ColdResolver* resolver) { ctx_.set_cold_resolver(resolver); }

  // ShardHost.
  void Block(BlockRequest request) override;
  void OnWrite(std::string_view ns, std::string_view key, const Record* record, uint64_t version,
               const ListChange* change) override;
  size_t blocked_count() const override { return waiters_.size(); }

 private:
  Partition* partition_;
  ShardContext ctx_;
  Waiters waiters_;
  WriteListener* listener_ = nullptr;
  // Set by Block() during Invoke.
  bool blocked_ = false;
  BlockRequest pending_;
};

}  // namespace dbkv

#endif  // DATABRIDGE_ACTORS_COMMAND_RUNNER_H_
