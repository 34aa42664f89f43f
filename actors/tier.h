// Tier: a shard's tiered storage (storage/COLD_FORMAT.md). Shard thread only.
//
// Past the high watermark of the shard's memory, the tier moves the least recently used values
// to cold segments (spilling): it encodes their records, hands them to the shard's writer, and
// once written replaces each value by its place on disk, unless the key changed meanwhile.
//
// A command that reads a cold value is parked, alone, while the shard's reader loads it; the
// shard serves everything else meanwhile. Later commands of the same connection wait behind it
// (each connection sees its commands run in order). When the loads are in, the command runs,
// finding the loaded values through ShardContext (Resolve): brought back to memory if the
// command writes, or if memory allows and the value is read often; otherwise lent to that
// command only. Commands that do not read values (kCmdNoLoad: SET, DEL, EXPIRE, TTL ...) never
// wait for a load.
//
// Compaction copies the live records of mostly-dead sealed segments to the current segment.
#ifndef DATABRIDGE_ACTORS_TIER_H_
#define DATABRIDGE_ACTORS_TIER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "actors/shard_batch.h"
#include "actors/tier_io.h"
#include "core/partition.h"
#include "plugins/api/contexts.h"
#include "storage/cold_segment.h"

namespace dbkv {

struct TierOptions {
  uint32_t shard = 0;
  uint64_t max_memory = 0;  // the shard's share of --max-memory
  // Spilling starts above high x max_memory and goes down to low x max_memory.
  double high_watermark = 0.85;
  double low_watermark = 0.75;
  uint64_t segment_bytes = uint64_t{64} << 20;
  size_t min_value_bytes = 64;         // smaller values are not worth a disk read
  size_t spill_batch_bytes = 1 << 20;  // records per write
  int max_spills_in_flight = 4;
  double compact_below = 0.5;  // compact sealed segments less live than this
};

// Where the tier's requests go: the shard's writer and reader actors (or a test's queue). The
// answers come back through Tier::OnAppended, OnLoaded and OnScanned.
class TierIo {
 public:
  virtual ~TierIo() = default;
  virtual void Append(TierAppend* a) = 0;
  virtual void Read(TierRead* r) = 0;
  virtual void Scan(TierScan* s) = 0;
};

class Tier final : public ColdResolver {
 public:
  // Runs an op resumed after its loads; returns true if it blocked (the waiters have it).
  using RunOp = std::function<bool(ShardOp& op, BatchCompletion* completion)>;
  // Hands a finished op back to its I/O loop (a batch of one).
  using Deliver = std::function<void(ShardBatch* batch)>;

  // sync_reader: for loads the shard must do itself (a value read outside a parked command).
  Tier(const TierOptions& options, TierSegments* segments, Partition* partition, TierIo* io,
       TierReaderFiles* sync_reader, RunOp run, Deliver deliver);
  ~Tier() override;

  // Before an op runs: true if it waits (for loads, or behind its connection's waiting ops);
  // the op then belongs to the tier until it is delivered.
  bool Park(ShardOp& op, BatchCompletion* completion);

  void OnLoaded(TierRead* r);
  void OnAppended(TierAppend* a, int64_t now_ms);
  void OnScanned(TierScan* s);

  // After each shard message: spills if memory is over the high watermark, and reports the
  // partition's cold changes to the segment table.
  void AfterWork(int64_t now_ms);
  // Periodically: starts a compaction if a segment needs one.
  void Housekeep(int64_t now_ms);
  // The connection is gone: its waiting ops are answered (nobody reads it) and dropped.
  void Cancel(uint64_t conn_id);

  Record* Resolve(std::string_view ns, std::string_view key, Record* e, bool for_write) override;

  // Whether spilling can still free memory (the last attempt found values to move).
  bool can_spill() const { return can_spill_; }
  size_t parked() const { return parked_count_; }
  uint64_t high_bytes() const { return high_; }

 private:
  struct Slot {  // a record being loaded
    ColdRef ref;
    bool done = false;
    Status status;
    Value value;
    int users = 0;  // parked ops that need it
  };
  struct Parked {
    ShardOp op;
    BatchCompletion* completion = nullptr;
    std::vector<uint64_t> slots;  // keys of inflight_
    bool memory = false;          // a write waiting for spills to free memory
  };
  struct PendingSpill {
    std::string ns;
    std::string key;
    uint64_t version = 0;
    ColdRef ref;
  };
  struct PendingMove {
    std::string ns;
    std::string key;
    ColdRef from;
    ColdRef to;
  };
  struct PendingAppend {
    std::vector<PendingSpill> spills;
    std::vector<PendingMove> moves;
  };

  static uint64_t SlotKey(const ColdRef& r) { return (uint64_t{r.segment} << 32) | r.offset; }
  // Whether op is a write that must wait for memory: over the limit while spills are under
  // way (starting one if none is). Writes then slow down to the disk's pace instead of failing.
  bool WaitsForMemory(const ShardOp& op);
  void DrainAll();
  // Cold refs among op's keys that it would read and that are not loaded for it yet.
  void MissingLoads(const Parked& p, std::vector<ColdRef>* out);
  void RequestLoads(Parked& p, const std::vector<ColdRef>& refs);
  // Runs the waiting ops of a connection whose loads are in, in order.
  void Drain(uint64_t conn_id);
  void Finish(Parked& p, Reply reply);
  void ReleaseSlots(Parked& p);

  // Spilling and compaction share the current segment.
  bool EnsureSegment(size_t adding);
  TierAppend* NewAppend();
  void SendAppend(TierAppend* a, PendingAppend pending);
  void Spill(int64_t now_ms);
  void ContinueCompaction();
  void FinishCompaction(const std::string& why);

  TierOptions o_;
  TierSegments* segments_;
  Partition* partition_;
  TierIo* io_;
  TierReaderFiles* sync_reader_;
  RunOp run_;
  Deliver deliver_;
  uint64_t high_ = 0;
  uint64_t low_ = 0;

  // Loads.
  std::unordered_map<uint64_t, Slot> inflight_;
  std::unordered_map<uint64_t, std::deque<Parked>> parked_;
  size_t parked_count_ = 0;
  const Parked* running_ = nullptr;  // the resumed op whose loads Resolve may use
  // Records lent to the running op (copies with a cold value loaded).
  struct RecordDelete {
    void operator()(Record* r) const { Record::Delete(r); }
  };
  std::vector<std::unique_ptr<Record, RecordDelete>> lent_;

  // Writing.
  storage::ColdRecordEncoder encoder_;
  uint32_t segment_ = 0;  // current segment, 0: none yet
  uint64_t segment_size_ = 0;
  bool segment_created_ = false;
  uint64_t next_append_ = 1;
  std::unordered_map<uint64_t, PendingAppend> appends_;
  int spills_in_flight_ = 0;
  int64_t spill_paused_until_ = 0;
  bool can_spill_ = true;

  // Compaction: one segment at a time.
  struct Compaction {
    bool active = false;
    uint32_t segment = 0;
    uint64_t offset = 0;
    bool eof = false;
    bool scanning = false;
    int appends = 0;
  } compaction_;
  storage::ColdRecordDecoder decoder_;
  std::vector<std::pair<uint32_t, int64_t>> deltas_;
};

}  // namespace dbkv

#endif  // DATABRIDGE_ACTORS_TIER_H_
