// IoLoop: one Asio event loop on its own thread, serving a share of the connections.
//
// The hand-off to shards is batched per event-loop pass: every op dispatched while the loop
// handles the reads that are ready goes into one ShardBatch per shard, and a single posted
// Flush sends each batch as one CAF message.
//
// The loop is also a CAF execution unit, the way CAF's own network multiplexer runs brokers on
// its event loop: it sends to shards as itself, so a shard actor that was idle is scheduled
// here rather than on a CAF worker, and runs on this thread right after the Flush; the batches
// it finishes come back without a post, and their replies are written in the same pass. No
// thread is woken for a request; the actor model is unchanged (a shard still runs one message
// at a time, on whichever thread scheduled it: a shard that is already running, on a CAF worker
// that a timer woke it on or on another loop, takes the batch there and hands it back with a
// post).
#ifndef DATABRIDGE_SERVER_IO_LOOP_H_
#define DATABRIDGE_SERVER_IO_LOOP_H_

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <memory>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "actors/shard_actor.h"
#include "actors/shard_batch.h"
#include "server/metrics.h"
#include "server/server_state.h"

namespace dbkv {

class Connection;

// Messages a shard runs per turn before others get theirs (on this loop and on CAF's workers:
// the scheduler's max-throughput).
constexpr size_t kShardMessagesPerTurn = 8;

class IoLoop final : public BatchCompletion, public caf::execution_unit {
 public:
  // Counts its commands in state->command_metrics[index], which must exist. state->shards must
  // be spawned in system.
  IoLoop(ServerState* state, uint32_t index, caf::actor_system* system);
  ~IoLoop() override;

  boost::asio::io_context& io() { return io_; }
  CommandMetrics& metrics() { return metrics_; }
  ServerState* state() const { return state_; }

  void Start();
  // Stops the event loop and joins its thread. Connections still open are closed.
  void Stop();

  // Takes over an accepted socket (any thread).
  void Adopt(boost::asio::ip::tcp::socket socket);
  // Asks every connection to finish its in-flight requests and close (any thread).
  void BeginDrain();
  size_t connection_count() const { return conn_count_.load(std::memory_order_relaxed); }

  // Loop thread only: queues op for shard; sent at the end of this event-loop pass.
  void AddOp(uint32_t shard, const ShardOp& op);

  // Loop thread only: sends a message to a shard, after the ops already queued for it (so a
  // cancel never overtakes the op it cancels).
  template <class... Ts>
  void SendToShard(uint32_t shard, Ts&&... xs) {
    // Checked against the shard's interface as a typed send would be (the message is enqueued
    // as this execution unit, below CAF's send).
    using token = caf::detail::type_list<
        typename caf::detail::implicit_conversions<typename std::decay<Ts>::type>::type...>;
    static_assert(caf::response_type_unbox<caf::signatures_of_t<shard_actor>, token>::valid,
                  "a shard does not accept this message (actors/messages.h)");
    SendBatch(shard);
    Enqueue(shard, caf::make_mailbox_element(nullptr, caf::make_message_id(), {},
                                             std::forward<Ts>(xs)...));
  }

  // BatchCompletion: any (shard) thread.
  void OnBatchDone(ShardBatch* batch) override;

  // caf::execution_unit: a shard (or the WAL writer, when not detached) that this loop's thread
  // woke runs here; any other actor goes to CAF's scheduler.
  void exec_later(caf::resumable* job) override;

  // A coarse clock for the loop's connections (updated by the idle sweep, or read fresh).
  int64_t now_ms() const;

  // Loop thread only: while shards run here (RunReady), a connection's socket write waits for
  // the end of the round, so that the replies of every batch that finished go out in one
  // write. Returns false (write now) outside of that.
  bool DeferWrite(const std::shared_ptr<Connection>& c);

  // Loop thread only: bookkeeping of live connections.
  void Register(Connection* c);
  void Unregister(Connection* c);

 private:
  void Flush();
  void SendBatch(uint32_t shard);
  void Enqueue(uint32_t shard, caf::mailbox_element_ptr msg);
  // Runs the shard actors scheduled here and completes the batches they finished, until
  // neither is left (an actor with more messages than a turn's worth goes around again, after
  // the socket handlers already queued).
  void RunReady();
  void PostRunReady();
  void Complete(ShardBatch* batch);
  // Closes connections idle longer than --idle-timeout-s, every second.
  void SweepIdle();
  ShardBatch* NewBatch(uint32_t shard);

  static constexpr size_t kMaxPooledBatches = 256;

  ServerState* state_;
  uint32_t index_;
  CommandMetrics& metrics_;  // owned by the ServerState (scrapes outlive the loop)
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
  std::vector<ShardBatch*> open_;  // per shard: the batch being filled, or null
  std::vector<ShardBatch*> pool_;  // finished batches, for reuse
  bool flush_posted_ = false;
  std::unordered_set<caf::resumable*> local_jobs_;   // shards and WAL writer, as CAF jobs
  std::vector<caf::resumable*> ready_;               // shard actors to run on this thread
  std::vector<ShardBatch*> done_;                    // batches finished on this thread
  std::vector<std::shared_ptr<Connection>> writes_;  // connections to write at the round's end
  bool running_ = false;                             // inside RunReady
  bool run_posted_ = false;
  // RunReady's scratch: the jobs of this round, those to run again, the batches and the
  // connections it is completing.
  std::vector<caf::resumable*> running_jobs_, again_;
  std::vector<ShardBatch*> finished_;
  std::vector<std::shared_ptr<Connection>> writing_now_;
  std::unordered_set<Connection*> conns_;
  std::unique_ptr<boost::asio::steady_timer> idle_timer_;
  std::atomic<size_t> conn_count_{0};
};

}  // namespace dbkv

#endif  // DATABRIDGE_SERVER_IO_LOOP_H_
