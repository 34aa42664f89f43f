// IoLoop: one Asio event loop on its own thread, serving a share of the connections.
//
// The hand-off to shards is batched per event-loop pass: every op dispatched while the loop
// handles the reads that are ready goes into one ShardBatch per shard, and a single posted
// Flush sends each batch as one CAF message. Shards hand finished batches back with one post
// each; the loop then completes the pipelines and writes replies.
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
#include <vector>

#include "actors/shard_batch.h"
#include "server/metrics.h"
#include "server/server_state.h"

namespace dbkv {

class Connection;

class IoLoop final : public BatchCompletion {
 public:
  // Counts its commands in state->command_metrics[index], which must exist.
  IoLoop(ServerState* state, uint32_t index);
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

  // BatchCompletion: any (shard) thread.
  void OnBatchDone(ShardBatch* batch) override;

  // A coarse clock for the loop's connections (updated by the idle sweep, or read fresh).
  int64_t now_ms() const;

  // Loop thread only: bookkeeping of live connections.
  void Register(Connection* c);
  void Unregister(Connection* c);

 private:
  void Flush();
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
  std::unordered_set<Connection*> conns_;
  std::unique_ptr<boost::asio::steady_timer> idle_timer_;
  std::atomic<size_t> conn_count_{0};
};

}  // namespace dbkv

#endif  // DATABRIDGE_SERVER_IO_LOOP_H_
