// Waiters: the blocked commands of one shard (WAIT, BLPOP, a blocking LOCK, plugins' own).
//
// A handler blocks through ShardContext::Block; the op is then parked here, indexed by the keys
// it watches (first come, first served per key) and by its deadline. A write to a watched key
// re-runs the waiting handlers of that key in arrival order, stopping at the first that blocks
// again (the condition has not changed for those behind it). Timers give up at deadlines and
// re-run at recheck times. A finished op goes back to its I/O loop as a batch of one.
// Shard thread only.
#ifndef DATABRIDGE_ACTORS_WAITERS_H_
#define DATABRIDGE_ACTORS_WAITERS_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "actors/shard_batch.h"
#include "core/partition.h"
#include "plugins/api/contexts.h"

namespace dbkv {

// Told of every write a shard makes (see ShardHost::OnWrite).
class WriteListener {
 public:
  virtual ~WriteListener() = default;
  virtual void OnWrite(std::string_view ns, std::string_view key, const Entry* entry,
                       uint64_t version, const ListChange* change) = 0;
};

class Waiters final : public ShardHost {
 public:
  Waiters(Partition* partition, uint32_t shard_id, uint32_t shard_count);
  ~Waiters() override;

  // Runs op (from a batch that completion will take back). Returns true if the op blocked:
  // it then belongs to the waiters and must be left out of its batch's completion.
  bool Run(ShardOp& op, BatchCompletion* completion, int64_t now_ms);

  // Re-runs the waiters of keys written since the last call.
  void ProcessWrites(int64_t now_ms);
  // Handles deadlines and recheck times that have come.
  void ProcessTimers(int64_t now_ms);
  // The earliest deadline or recheck time, or 0.
  int64_t next_timer() const { return timers_.empty() ? 0 : timers_.begin()->first; }

  // Answers and drops the waiters of a connection: all of them (seq 0: the connection closed;
  // they get an error nobody reads, without running) or those of one request (seq: its other
  // parts answered first; they run a last time, as at their deadline).
  void Cancel(uint64_t conn_id, uint64_t seq);

  size_t size() const { return waiters_.size(); }
  bool has_written() const { return !written_.empty(); }

  // ShardHost.
  void Block(BlockRequest request) override;
  void OnWrite(std::string_view ns, std::string_view key, const Entry* entry, uint64_t version,
               const ListChange* change) override;
  // Where finished blocked ops go (as batches of one); by default straight to their
  // completion. The shard routes them through the WAL when replies wait for fsync.
  void set_deliver(std::function<void(ShardBatch*)> deliver) { deliver_ = std::move(deliver); }
  // Also told of every write (the write-ahead log), or null.
  void set_write_listener(WriteListener* listener) { listener_ = listener; }
  size_t blocked_count() const override { return waiters_.size(); }
  // Brings cold values back for the handlers this runs (tiering), or null.
  void set_cold_resolver(ColdResolver* resolver) { ctx_.set_cold_resolver(resolver); }

 private:
  struct Waiter {
    uint64_t id = 0;
    ShardOp op;
    BatchCompletion* completion = nullptr;
    std::vector<std::string> watched;  // namespace '\0' key
    int64_t deadline_ms = 0;
    int64_t recheck_ms = 0;
    int64_t timer_ms = 0;  // the entry in timers_, or 0
  };

  static std::string WatchKey(std::string_view ns, std::string_view key);
  // Runs op's handler; returns its reply (blocked or not). Block() calls during it land in
  // pending_.
  Reply Invoke(ShardOp& op, int64_t now_ms, bool timed_out);
  // Re-runs a parked waiter: answers it, or keeps it (with updated times). Returns true if it
  // was answered. With last, the handler must answer.
  bool Rerun(Waiter* w, int64_t now_ms, bool last = false);
  void SetTimer(Waiter* w);
  void Finish(Waiter* w, Reply reply);

  Partition* partition_;
  ShardContext ctx_;
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, std::unique_ptr<Waiter>> waiters_;
  std::unordered_map<std::string, std::deque<uint64_t>> by_key_;
  std::set<std::pair<int64_t, uint64_t>> timers_;
  std::vector<std::string> written_;  // watched keys written since ProcessWrites
  WriteListener* listener_ = nullptr;
  std::function<void(ShardBatch*)> deliver_;
  // Set by Block() during Invoke.
  bool blocked_ = false;
  BlockRequest pending_;
};

}  // namespace dbkv

#endif  // DATABRIDGE_ACTORS_WAITERS_H_
