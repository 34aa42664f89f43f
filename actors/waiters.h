// Waiters: the blocked commands of one shard (WAIT, BLPOP, a blocking LOCK, plugins' own).
//
// A handler blocks through ShardContext::Block; CommandRunner (command_runner.h), which runs
// every handler, then parks the op here, indexed by the keys it watches (first come, first
// served per key) and by its deadline. Waiters only parks and wakes: a write to a watched key
// has the runner re-run the waiting handlers of that key in arrival order, stopping at the
// first that blocks again (the condition has not changed for those behind it). Timers give up
// at deadlines and re-run at recheck times. A finished op goes back to its I/O loop as a batch
// of one. Shard thread only.
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

class CommandRunner;

class Waiters final {
 public:
  // runner re-runs the parked ops (and owns this).
  Waiters(uint32_t shard_id, CommandRunner* runner);
  ~Waiters();

  // Parks op, whose handler blocked waiting for block (its keys, deadline, recheck time);
  // completion takes it back once it is answered.
  void Park(const ShardOp& op, BatchCompletion* completion, const BlockRequest& block);
  // A key was written: the waiters watching it are re-run at the next ProcessWrites.
  void OnKeyWritten(std::string_view ns, std::string_view key) {
    if (!by_key_.empty()) NoteWritten(ns, key);
  }

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

  // Where finished blocked ops go (as batches of one); by default straight to their
  // completion. The shard routes them through the WAL when replies wait for fsync.
  void set_deliver(std::function<void(ShardBatch*)> deliver) { deliver_ = std::move(deliver); }

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
  void NoteWritten(std::string_view ns, std::string_view key);
  // Re-runs a parked waiter: answers it, or keeps it (with updated times). Returns true if it
  // was answered. With last, the handler must answer.
  bool Rerun(Waiter* w, int64_t now_ms, bool last = false);
  void SetTimer(Waiter* w);
  void Finish(Waiter* w, Reply reply);

  const uint32_t shard_id_;
  CommandRunner* runner_;
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, std::unique_ptr<Waiter>> waiters_;
  std::unordered_map<std::string, std::deque<uint64_t>> by_key_;
  std::set<std::pair<int64_t, uint64_t>> timers_;
  std::vector<std::string> written_;  // watched keys written since ProcessWrites
  std::function<void(ShardBatch*)> deliver_;
};

}  // namespace dbkv

#endif  // DATABRIDGE_ACTORS_WAITERS_H_
