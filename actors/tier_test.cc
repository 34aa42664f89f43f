// The tier on its own: a partition, its waiters and the tier, with the tier's I/O queued and
// completed by the test (real files in a temp dir), so that every interleaving of a spill or a
// load with other commands can be set up exactly.
#include "actors/tier.h"

#include <catch2/catch.hpp>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "actors/shard_actor.h"
#include "core/clock.h"
#include "plugins/api/registry.h"
#include "plugins/builtin.h"
#include "storage/data_dir.h"
#include "storage/fault_env.h"

namespace dbkv {
namespace {

Value S(std::string_view s) { return Value::String(s); }

std::string Big(int i, size_t n = 1000) {
  std::string v = "value-" + std::to_string(i) + "-";
  while (v.size() < n) v += static_cast<char>('a' + (v.size() * 7 + i) % 26);
  return v;
}

// The tier's requests, held until the test completes them.
class QueueIo final : public TierIo {
 public:
  explicit QueueIo(const std::string& dir)
      : writer_(storage::Env::Default(), dir), reader_(storage::Env::Default(), dir) {}
  void Append(TierAppend* a) override { appends.push_back(a); }
  void Read(TierRead* r) override { reads.push_back(r); }
  void Scan(TierScan* s) override { scans.push_back(s); }

  void set_tier(Tier* t) { tier_ = t; }
  // Completes the queued requests of a kind, in order (and any they lead to, for Drain*).
  void CompleteAppends() {
    while (!appends.empty()) {
      TierAppend* a = appends.front();
      appends.pop_front();
      writer_.Append(a);
      tier_->OnAppended(a, WallClockMs());
    }
  }
  void CompleteReads() {
    while (!reads.empty()) {
      TierRead* r = reads.front();
      reads.pop_front();
      reader_.Read(r);
      tier_->OnLoaded(r);
    }
  }
  void CompleteAll() {
    while (!appends.empty() || !reads.empty() || !scans.empty()) {
      CompleteAppends();
      CompleteReads();
      while (!scans.empty()) {
        TierScan* s = scans.front();
        scans.pop_front();
        reader_.Scan(s);
        tier_->OnScanned(s);
      }
    }
  }

  std::deque<TierAppend*> appends;
  std::deque<TierRead*> reads;
  std::deque<TierScan*> scans;

 private:
  TierWriterFiles writer_;
  TierReaderFiles reader_;
  Tier* tier_ = nullptr;
};

class Delivered final : public BatchCompletion {
 public:
  void OnBatchDone(ShardBatch* b) override {
    for (const ShardOp& op : b->ops) ops.push_back(op);
    if (b != held) delete b;
  }
  ShardBatch* held = nullptr;  // the test's own batch
  std::vector<ShardOp> ops;
};

// A partition with a tier, and a way to run commands on it as a shard would.
class Rig {
 public:
  explicit Rig(uint64_t max_memory, uint64_t segment_bytes = 1 << 20)
      : dir_(storage::NewTestDir("tier_test")),
        io_(dir_),
        sync_reader_(storage::Env::Default(), dir_),
        runner_(&partition_, 0, 1) {
    REQUIRE(RegisterBuiltinFamilies(&registry_).ok());
    TierOptions o;
    o.max_memory = max_memory;
    o.segment_bytes = segment_bytes;
    limits_.max_memory = max_memory;
    tier_ = std::make_unique<Tier>(
        o, &segments_, &partition_, &io_, &sync_reader_,
        [this](ShardOp& op, BatchCompletion* c) {
          return RunOp(partition_, runner_, op, c, nullptr, &limits_, tier_.get(), WallClockMs());
        },
        [this](ShardBatch* b) { b->completion->OnBatchDone(b); });
    io_.set_tier(tier_.get());
    runner_.set_cold_resolver(tier_.get());
  }

  // Runs commands as one batch: (connection, name, args). Returns the replies of the ops that
  // finished in the batch itself, by position (others stay empty until delivered).
  struct Cmd {
    uint64_t conn;
    std::string name;
    ValueList args;
  };
  void Run(std::vector<Cmd> cmds) {
    auto& b = batches_.emplace_back();
    b.cmds = std::move(cmds);
    b.replies.assign(b.cmds.size(), Reply());
    b.batch.completion = &delivered;
    for (size_t i = 0; i < b.cmds.size(); ++i) {
      ShardOp op;
      op.cmd = registry_.FindByName(b.cmds[i].name);
      REQUIRE(op.cmd != nullptr);
      op.args = CommandArgs(b.cmds[i].args.data(), b.cmds[i].args.size());
      op.ns = ns_;
      op.reply = &b.replies[i];
      op.conn_id = b.cmds[i].conn;
      op.index = static_cast<uint32_t>(delivered.ops.size() + i);
      b.batch.ops.push_back(op);
    }
    RunBatch(partition_, runner_, b.batch, nullptr, &limits_, tier_.get());
    for (const ShardOp& op : b.batch.ops) delivered.ops.push_back(op);
    b.batch.ops.clear();
    tier_->AfterWork(WallClockMs());
  }
  Reply Do(std::string name, ValueList args, uint64_t conn = 1) {
    const size_t before = delivered.ops.size();
    Run({{conn, std::move(name), std::move(args)}});
    io_.CompleteAll();
    REQUIRE(delivered.ops.size() == before + 1);
    return *delivered.ops.back().reply;
  }
  // Spills until memory is under the high watermark.
  void SpillAll() {
    for (int i = 0; i < 100; ++i) {
      tier_->AfterWork(WallClockMs());
      if (io_.appends.empty()) return;
      io_.CompleteAppends();
    }
  }
  bool Cold(const std::string& key) {
    const Record* e = partition_.FindForRestore(ns_, key);
    return e != nullptr && e->value().is_cold();
  }

  Partition partition_;
  TierSegments segments_;
  Delivered delivered;
  std::unique_ptr<Tier> tier_;

 private:
  struct Batch {
    std::vector<Cmd> cmds;
    std::vector<Reply> replies;
    ShardBatch batch;
  };
  std::string dir_;
  std::string ns_ = "";
  CommandRegistry registry_;
  QueueIo io_;
  TierReaderFiles sync_reader_;
  CommandRunner runner_;
  ShardLimits limits_;
  std::deque<Batch> batches_;

 public:
  QueueIo& io() { return io_; }
};

}  // namespace

TEST_CASE("the tier spills the least recently used values and reads them back exactly", "[tier]") {
  Rig rig(64 << 10);
  for (int i = 0; i < 200; ++i)
    REQUIRE(rig.Do("SET", {S("k" + std::to_string(i)), S(Big(i))}).ok());
  rig.SpillAll();
  CHECK(rig.partition_.stats().memory_bytes <= rig.tier_->high_bytes());
  CHECK(rig.partition_.stats().cold_keys > 100);
  CHECK(rig.Cold("k0"));          // written first
  CHECK_FALSE(rig.Cold("k199"));  // written last
  // A read waits for its load, then answers; the value is lent (memory is not low enough)
  // and stays on disk.
  rig.delivered.ops.clear();
  rig.Run({{1, "GET", {S("k0")}}});
  CHECK(rig.delivered.ops.empty());
  REQUIRE(rig.io().reads.size() == 1);
  rig.io().CompleteReads();
  REQUIRE(rig.delivered.ops.size() == 1);
  CHECK(rig.delivered.ops[0].reply->value == S(Big(0)));
  CHECK(rig.Cold("k0"));
  CHECK(rig.segments_.cold_reads == 1);
  // Every value, exactly.
  for (int i = 0; i < 200; ++i)
    CHECK(rig.Do("GET", {S("k" + std::to_string(i))}).value == S(Big(i)));
  CHECK(rig.segments_.sync_loads == 0);
}

TEST_CASE("a key written while its spill is being written keeps the new value", "[tier]") {
  Rig rig(64 << 10);
  // Write until a spill is under way (not completed).
  int n = 0;
  while (rig.io().appends.empty()) {
    REQUIRE(n < 1000);
    rig.Run({{1, "SET", {S("k" + std::to_string(n)), S(Big(n))}}});
    ++n;
  }
  std::vector<std::string> spilling;
  for (int i = 0; i < n; ++i) {
    const std::string k = "k" + std::to_string(i);
    if ((rig.partition_.FindForRestore("", k)->flags() & kEntrySpilling) != 0)
      spilling.push_back(k);
  }
  REQUIRE(spilling.size() >= 3);
  // Overwrite and delete keys whose records are being written.
  rig.Run({{2, "SET", {S(spilling[0]), S("new")}}, {2, "DEL", {S(spilling[1])}}});
  rig.io().CompleteAppends();
  CHECK_FALSE(rig.Cold(spilling[0]));
  CHECK(rig.Do("GET", {S(spilling[0])}).value == S("new"));
  CHECK(rig.Do("EXISTS", {S(spilling[1])}).value == Value::Int(0));
  CHECK(rig.Cold(spilling[2]));
  CHECK(rig.Do("GET", {S(spilling[2])}).value == S(Big(std::stoi(spilling[2].substr(1)))));
}

TEST_CASE("a connection's later commands wait behind its cold read; others do not", "[tier]") {
  Rig rig(64 << 10);
  for (int i = 0; i < 200; ++i) rig.Do("SET", {S("k" + std::to_string(i)), S(Big(i))});
  rig.SpillAll();
  REQUIRE(rig.Cold("k0"));
  REQUIRE_FALSE(rig.Cold("k199"));
  rig.delivered.ops.clear();
  rig.Run({{1, "GET", {S("k0")}},
           {2, "GET", {S("k199")}},
           {1, "SET", {S("k0"), S("x")}},
           {1, "GET", {S("k0")}},
           {2, "SET", {S("other"), S("y")}}});
  // Connection 2 is done; connection 1 waits, in order.
  REQUIRE(rig.delivered.ops.size() == 2);
  CHECK(rig.delivered.ops[0].conn_id == 2);
  CHECK(rig.delivered.ops[1].conn_id == 2);
  CHECK(rig.tier_->parked() == 3);
  rig.io().CompleteReads();
  REQUIRE(rig.delivered.ops.size() == 5);
  CHECK(rig.delivered.ops[2].reply->value == S(Big(0)));  // the value before the SET
  CHECK(rig.delivered.ops[3].reply->ok());
  CHECK(rig.delivered.ops[4].reply->value == S("x"));
  CHECK(rig.tier_->parked() == 0);
}

TEST_CASE("a read that waited while its value moved loads it from its new place", "[tier]") {
  Rig rig(64 << 10);
  for (int i = 0; i < 200; ++i) rig.Do("SET", {S("k" + std::to_string(i)), S(Big(i))});
  rig.SpillAll();
  REQUIRE(rig.Cold("k0"));
  rig.delivered.ops.clear();
  rig.Run({{1, "GET", {S("k0")}}});
  REQUIRE(rig.io().reads.size() == 1);
  // Meanwhile another connection rewrites it, and it is spilled again (elsewhere).
  rig.Run({{2, "SET", {S("k0"), S(Big(1000))}}});
  for (int i = 200; !rig.Cold("k0"); ++i) {
    REQUIRE(i < 2000);
    rig.Run({{2, "SET", {S("k" + std::to_string(i)), S(Big(i))}}});
    rig.io().CompleteAppends();
  }
  REQUIRE(rig.io().reads.size() == 1);  // the first load is still out
  rig.io().CompleteAll();
  const ShardOp& get = rig.delivered.ops.back();
  CHECK(get.conn_id == 1);
  CHECK(get.reply->value == S(Big(1000)));
}

TEST_CASE("writes wait for memory while spills are written", "[tier]") {
  Rig rig(64 << 10);
  for (int i = 0; i < 200; ++i) rig.Do("SET", {S("k" + std::to_string(i)), S(Big(i))});
  // Far over the limit with the spills still being written: the write waits...
  rig.delivered.ops.clear();
  for (int i = 200; i < 300; ++i) {
    rig.Run({{1, "SET", {S("k" + std::to_string(i)), S(Big(i))}}});
    if (rig.tier_->parked() > 0) break;
  }
  REQUIRE(rig.tier_->parked() > 0);
  const size_t done = rig.delivered.ops.size();
  REQUIRE(!rig.io().appends.empty());
  // ... and runs once the spills free memory.
  rig.io().CompleteAll();
  CHECK(rig.tier_->parked() == 0);
  CHECK(rig.delivered.ops.size() == done + 1);
  CHECK(rig.delivered.ops.back().reply->ok());
}

TEST_CASE("a closed connection's waiting commands are answered and dropped", "[tier]") {
  Rig rig(64 << 10);
  for (int i = 0; i < 200; ++i) rig.Do("SET", {S("k" + std::to_string(i)), S(Big(i))});
  rig.SpillAll();
  rig.delivered.ops.clear();
  rig.Run({{7, "GET", {S("k0")}}, {7, "SET", {S("k0"), S("never")}}});
  CHECK(rig.tier_->parked() == 2);
  rig.tier_->Cancel(7);
  CHECK(rig.tier_->parked() == 0);
  REQUIRE(rig.delivered.ops.size() == 2);
  CHECK(rig.delivered.ops[1].reply->code == Code::kIoError);
  rig.io().CompleteReads();                            // the load comes back to nobody
  CHECK(rig.Do("GET", {S("k0")}).value == S(Big(0)));  // the SET never ran
}

TEST_CASE("compaction moves live records out of mostly-dead sealed segments", "[tier]") {
  Rig rig(64 << 10, /*segment_bytes=*/16 << 10);
  for (int i = 0; i < 400; ++i) rig.Do("SET", {S("k" + std::to_string(i)), S(Big(i))});
  rig.SpillAll();
  // Most of the early records die: their keys are rewritten (and spilled again).
  for (int i = 0; i < 400; ++i) {
    if (i % 5 != 0) rig.Do("SET", {S("k" + std::to_string(i)), S(Big(i + 5000))});
  }
  rig.SpillAll();
  const uint64_t before = rig.segments_.compacted_bytes;
  for (int round = 0; round < 50; ++round) {
    rig.tier_->Housekeep(WallClockMs());
    rig.io().CompleteAll();
    rig.tier_->AfterWork(WallClockMs());
  }
  CHECK(rig.segments_.compactions > 0);
  CHECK(rig.segments_.compacted_bytes > before);
  for (int i = 0; i < 400; ++i) {
    CHECK(rig.Do("GET", {S("k" + std::to_string(i))}).value ==
          S(i % 5 == 0 ? Big(i) : Big(i + 5000)));
  }
  CHECK(rig.segments_.dead_bytes() > 0);  // compacted segments wait for snapshots to go
}

}  // namespace dbkv
