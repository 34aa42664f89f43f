#include "server/io_loop.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include "actors/shard_actor.h"
#include "core/clock.h"
#include "server/connection.h"

namespace dbkv {

namespace asio = boost::asio;

namespace {

// The loop whose thread this is (null on other threads).
thread_local IoLoop* t_current_loop = nullptr;

}  // namespace

IoLoop::IoLoop(ServerState* state, uint32_t index, caf::actor_system* system)
    : caf::execution_unit(system),
      state_(state),
      index_(index),
      metrics_(*state->command_metrics.at(index)),
      io_(1),
      work_(asio::make_work_guard(io_)),
      open_(state->shards.size(), nullptr) {
  // The actors this loop runs when it wakes them: the shards, and the WAL writer (when it is
  // not detached: CAF never schedules a detached actor through an execution unit).
  std::vector<caf::abstract_actor*> local;
  for (const shard_actor& a : state->shards)
    local.push_back(caf::actor_cast<caf::abstract_actor*>(a));
  if (state->wal) local.push_back(caf::actor_cast<caf::abstract_actor*>(state->wal));
  for (caf::abstract_actor* a : local) {
    auto* job = dynamic_cast<caf::resumable*>(a);
    if (job != nullptr) local_jobs_.insert(job);
  }
  // Sets up the loop's reactor (its epoll, eventfd and timerfd) now, at start-up: Asio would do
  // it with the first socket or timer, and out of descriptors then, it throws (uncaught, on the
  // accept path, it ended the process). A timer is the public way to ask for it.
  asio::steady_timer reactor_now(io_);
}

IoLoop::~IoLoop() {
  Stop();
  for (ShardBatch* b : open_) delete b;
  for (ShardBatch* b : pool_) delete b;
}

int64_t IoLoop::now_ms() const { return WallClockMs(); }

void IoLoop::SweepIdle() {
  const uint32_t timeout_s = state_->options.idle_timeout_s;
  if (timeout_s == 0) return;
  const int64_t cutoff = WallClockMs() - int64_t{timeout_s} * 1000;
  std::vector<Connection*> idle;
  for (Connection* c : conns_) {
    if (c->IdleSince(cutoff)) idle.push_back(c);
  }
  for (Connection* c : idle) c->CloseIdle();
  idle_timer_->expires_after(std::chrono::seconds(1));
  idle_timer_->async_wait([this](const boost::system::error_code& ec) {
    if (!ec) SweepIdle();
  });
}

void IoLoop::Start() {
  if (state_->options.idle_timeout_s > 0) {
    idle_timer_ = std::make_unique<asio::steady_timer>(io_, std::chrono::seconds(1));
    idle_timer_->async_wait([this](const boost::system::error_code& ec) {
      if (!ec) SweepIdle();
    });
  }
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), ("dbkv-io-" + std::to_string(index_)).c_str());
    t_current_loop = this;
    io_.run();
    t_current_loop = nullptr;
  });
}

void IoLoop::Stop() {
  if (!thread_.joinable()) return;
  asio::post(io_, [this] {
    if (idle_timer_) idle_timer_->cancel();
    std::vector<Connection*> open(conns_.begin(), conns_.end());
    for (Connection* c : open) c->Close();
    work_.reset();
  });
  thread_.join();
}

void IoLoop::Adopt(asio::ip::tcp::socket socket) {
  conn_count_.fetch_add(1, std::memory_order_relaxed);
  asio::post(io_, [this, s = std::move(socket)]() mutable {
    auto c = std::make_shared<Connection>(this, std::move(s), state_->tls.get());
    c->Start();
  });
}

void IoLoop::BeginDrain() {
  asio::post(io_, [this] {
    std::vector<Connection*> open(conns_.begin(), conns_.end());
    for (Connection* c : open) c->Drain();
  });
}

bool IoLoop::DeferWrite(const std::shared_ptr<Connection>& c) {
  if (!running_) return false;
  writes_.push_back(c);
  return true;
}

void IoLoop::Register(Connection* c) { conns_.insert(c); }

void IoLoop::Unregister(Connection* c) {
  if (conns_.erase(c) != 0) {
    conn_count_.fetch_sub(1, std::memory_order_relaxed);
    state_->connections.fetch_sub(1, std::memory_order_relaxed);
  }
}

ShardBatch* IoLoop::NewBatch(uint32_t shard) {
  ShardBatch* b;
  if (!pool_.empty()) {
    b = pool_.back();
    pool_.pop_back();
  } else {
    b = new ShardBatch();
    b->completion = this;
  }
  b->shard = shard;
  return b;
}

void IoLoop::AddOp(uint32_t shard, const ShardOp& op) {
  ShardBatch*& b = open_[shard];
  if (b == nullptr) b = NewBatch(shard);
  b->ops.push_back(op);
  if (!flush_posted_) {
    flush_posted_ = true;
    // Runs after every handler already queued: the reads that were ready together share the
    // same batches.
    asio::post(io_, [this] { Flush(); });
  }
}

void IoLoop::Flush() {
  flush_posted_ = false;
  for (uint32_t s = 0; s < open_.size(); ++s) SendBatch(s);
  // The shards that were idle are now in ready_: run them here and now.
  RunReady();
}

void IoLoop::SendBatch(uint32_t shard) {
  ShardBatch* b = open_[shard];
  if (b == nullptr) return;
  open_[shard] = nullptr;
  Enqueue(shard, caf::make_mailbox_element(nullptr, caf::make_message_id(), {}, run_atom::value,
                                           BatchPtr{b}));
}

void IoLoop::Enqueue(uint32_t shard, caf::mailbox_element_ptr msg) {
  // As this execution unit: if the shard was idle, CAF hands it to exec_later below.
  state_->shards[shard]->enqueue(std::move(msg), this);
}

void IoLoop::exec_later(caf::resumable* job) {
  if (local_jobs_.count(job) == 0) {
    system().scheduler().enqueue(job);
    return;
  }
  if (t_current_loop != this) {
    // CAF calls this only from the unit's own thread; should another call it, the job still
    // runs here, by a post.
    asio::post(io_, [this, job] {
      ready_.push_back(job);
      RunReady();
    });
    return;
  }
  ready_.push_back(job);
  if (!running_) PostRunReady();
}

void IoLoop::PostRunReady() {
  if (run_posted_) return;
  run_posted_ = true;
  asio::post(io_, [this] {
    run_posted_ = false;
    RunReady();
  });
}

void IoLoop::RunReady() {
  if (running_) return;  // the outer call goes on until nothing is left
  running_ = true;
  // The scratch vectors are members, so that their buffers are reused from pass to pass.
  while (!ready_.empty() || !done_.empty() || !writes_.empty()) {
    running_jobs_.swap(ready_);
    for (caf::resumable* job : running_jobs_) {
      switch (job->resume(this, kShardMessagesPerTurn)) {
        case caf::resumable::resume_later:
          again_.push_back(job);  // keeps the scheduling reference
          break;
        case caf::resumable::shutdown_execution_unit:
          break;  // not an actor's answer
        default:  // done, or waiting for its next message: the scheduling reference goes
          caf::intrusive_ptr_release(job);
      }
    }
    running_jobs_.clear();
    // Replies of what just ran: the connections write them (and may send more, which the
    // next round runs).
    finished_.swap(done_);
    for (ShardBatch* b : finished_) Complete(b);
    finished_.clear();
    // Then their sockets, once each.
    writing_now_.swap(writes_);
    for (const std::shared_ptr<Connection>& c : writing_now_) c->WriteDeferred();
    writing_now_.clear();
  }
  running_ = false;
  if (!again_.empty()) {
    // A shard with more work than a turn: after the socket handlers already queued.
    ready_.swap(again_);
    PostRunReady();
  }
}

void IoLoop::OnBatchDone(ShardBatch* batch) {
  if (t_current_loop == this) {
    // From a shard running on this thread (RunReady): completed once it returns.
    done_.push_back(batch);
    if (!running_) PostRunReady();
    return;
  }
  asio::post(io_, [this, batch] { Complete(batch); });
}

void IoLoop::Complete(ShardBatch* batch) {
  for (ShardOp& op : batch->ops) {
    Pipeline* p = static_cast<Pipeline*>(op.owner);
    if (op.part >= 0) {
      PendingRequest& r = (*p)[op.index];
      SplitState& split = *r.split;
      --split.remaining;
      if ((op.cmd->flags & kCmdFirstPartWins) && split.remaining > 0 && !split.cancel_sent) {
        // The first part has answered: the others stop waiting.
        split.cancel_sent = true;
        for (uint32_t s : split.part_shards) {
          if (s != batch->shard) {
            SendToShard(s, cancel_atom::value, op.conn_id, op.seq);
          }
        }
      }
    }
    if (--p->pending_ops == 0) p->conn->OnPipelineDone();
  }
  batch->ops.clear();
  if (batch->ops.capacity() > 4096) std::vector<ShardOp>().swap(batch->ops);
  if (pool_.size() < kMaxPooledBatches) {
    pool_.push_back(batch);
  } else {
    delete batch;  // the single-op batches of answered blocked commands, mostly
  }
}

}  // namespace dbkv
