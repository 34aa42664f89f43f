#include "actors/waiters.h"

#include <algorithm>

#include "actors/command_runner.h"
#include "core/clock.h"

namespace dbkv {

Waiters::Waiters(uint32_t shard_id, CommandRunner* runner) : shard_id_(shard_id), runner_(runner) {}

Waiters::~Waiters() = default;

std::string Waiters::WatchKey(std::string_view ns, std::string_view key) {
  std::string k;
  k.reserve(ns.size() + 1 + key.size());
  k.append(ns.data(), ns.size());
  k.push_back('\0');
  k.append(key.data(), key.size());
  return k;
}

void Waiters::NoteWritten(std::string_view ns, std::string_view key) {
  std::string k = WatchKey(ns, key);
  if (by_key_.count(k) != 0) written_.push_back(std::move(k));
}

void Waiters::Park(const ShardOp& op, BatchCompletion* completion, const BlockRequest& block) {
  auto w = std::make_unique<Waiter>();
  w->id = next_id_++;
  w->op = op;
  w->completion = completion;
  w->deadline_ms = block.deadline_ms;
  w->recheck_ms = block.recheck_ms;
  for (std::string_view key : block.keys) {
    w->watched.push_back(WatchKey(op.ns, key));
    by_key_[w->watched.back()].push_back(w->id);
  }
  SetTimer(w.get());
  waiters_.emplace(w->id, std::move(w));
}

void Waiters::SetTimer(Waiter* w) {
  if (w->timer_ms != 0) timers_.erase({w->timer_ms, w->id});
  int64_t t = w->deadline_ms;
  if (w->recheck_ms != 0 && (t == 0 || w->recheck_ms < t)) t = w->recheck_ms;
  w->timer_ms = t;
  if (t != 0) timers_.insert({t, w->id});
}

bool Waiters::Rerun(Waiter* w, int64_t now_ms, bool last) {
  last = last || (w->deadline_ms != 0 && now_ms >= w->deadline_ms);
  BlockRequest block;
  Reply reply = runner_->Invoke(w->op, now_ms, last, &block);
  if (last && reply.blocked) {
    reply = Reply::Error(Code::kInternal, w->op.cmd->name + " did not answer at its deadline");
  }
  if (!reply.blocked) {
    Finish(w, std::move(reply));
    return true;
  }
  // Still waiting: same keys, same deadline; the handler may move its recheck time.
  w->recheck_ms = block.recheck_ms;
  SetTimer(w);
  return false;
}

void Waiters::Finish(Waiter* w, Reply reply) {
  *w->op.reply = std::move(reply);
  for (const std::string& k : w->watched) {
    auto it = by_key_.find(k);
    if (it == by_key_.end()) continue;
    auto& ids = it->second;
    ids.erase(std::remove(ids.begin(), ids.end(), w->id), ids.end());
    if (ids.empty()) by_key_.erase(it);
  }
  if (w->timer_ms != 0) timers_.erase({w->timer_ms, w->id});
  auto* batch = new ShardBatch();
  batch->shard = shard_id_;
  batch->completion = w->completion;
  batch->ops.push_back(w->op);
  BatchCompletion* completion = w->completion;
  waiters_.erase(w->id);  // w is gone from here on
  if (deliver_) {
    deliver_(batch);
  } else {
    completion->OnBatchDone(batch);
  }
}

void Waiters::ProcessWrites(int64_t now_ms) {
  // Re-running a waiter may write (BLPOP pops, LOCK takes the key), which queues more keys.
  while (!written_.empty()) {
    std::string key = std::move(written_.back());
    written_.pop_back();
    auto it = by_key_.find(key);
    if (it == by_key_.end()) continue;
    const std::deque<uint64_t> ids = it->second;  // Finish edits the index
    for (uint64_t id : ids) {
      auto w = waiters_.find(id);
      if (w == waiters_.end()) continue;
      if (!Rerun(w->second.get(), now_ms)) break;  // the rest would block too
    }
  }
}

void Waiters::ProcessTimers(int64_t now_ms) {
  while (!timers_.empty() && timers_.begin()->first <= now_ms) {
    const uint64_t id = timers_.begin()->second;
    auto w = waiters_.find(id);
    if (w == waiters_.end()) {
      timers_.erase(timers_.begin());
      continue;
    }
    Waiter* waiter = w->second.get();
    if (!Rerun(waiter, now_ms) && waiter->timer_ms != 0 && waiter->timer_ms <= now_ms) {
      // A recheck that did not move: give it up until the next write or its deadline.
      waiter->recheck_ms = 0;
      SetTimer(waiter);
    }
    ProcessWrites(now_ms);
  }
}

void Waiters::Cancel(uint64_t conn_id, uint64_t seq) {
  std::vector<Waiter*> hit;
  for (auto& [id, w] : waiters_) {
    if (w->op.conn_id == conn_id && (seq == 0 || w->op.seq == seq)) hit.push_back(w.get());
  }
  if (seq == 0) {
    // The client is gone: nobody reads the answer, so do not run the handler (a BLPOP would
    // pop an element for nobody).
    for (Waiter* w : hit) Finish(w, Reply::Error(Code::kIoError, "connection closed"));
    return;
  }
  const int64_t now_ms = WallClockMs();
  for (Waiter* w : hit) Rerun(w, now_ms, /*last=*/true);
  ProcessWrites(now_ms);
}

}  // namespace dbkv
