// The persistence actor in a real actor system, over a FaultInjectionEnv: group commit and the
// fsync modes, a failing disk (writes refused, then the WAL written again in a new file), and
// the final snapshot of real shards, read back by recovery.
#include "actors/persistence.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "actors/shard_actor.h"
#include "core/clock.h"
#include "core/shard_hash.h"
#include "plugins/api/registry.h"
#include "plugins/builtin.h"
#include "storage/data_dir.h"
#include "storage/fault_env.h"
#include "storage/recovery.h"
#include "storage/wal.h"

namespace dbkv {
namespace {

using namespace std::chrono_literals;
using storage::FaultInjectionEnv;
using storage::JoinPath;
using storage::WalFileName;

Value S(std::string_view s) { return Value::String(s); }

const CommandRegistry& Registry() {
  static CommandRegistry* r = [] {
    auto* reg = new CommandRegistry();
    REQUIRE(RegisterBuiltinFamilies(reg).ok());
    spdlog::set_level(spdlog::level::warn);
    return reg;
  }();
  return *r;
}

const CommandSpec* Cmd(std::string_view name) {
  const CommandSpec* c = Registry().FindByName(name);
  REQUIRE(c != nullptr);
  return c;
}

// Waits (bounded) until pred holds.
template <class Pred>
bool Eventually(Pred pred, std::chrono::milliseconds limit = 5000ms) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// Counts finished batches, noting what the WAL file looked like at each completion.
class Completion final : public BatchCompletion {
 public:
  Completion(FaultInjectionEnv* env, std::string wal_path)
      : env_(env), wal_path_(std::move(wal_path)) {}

  void OnBatchDone(ShardBatch*) override {
    std::lock_guard<std::mutex> lock(mu_);
    unsynced_at_done_.push_back(env_->UnsyncedBytes(wal_path_));
    syncs_at_done_.push_back(env_->sync_count());
    ++done_;
    cv_.notify_all();
  }

  bool WaitFor(size_t n, std::chrono::milliseconds limit = 10000ms) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, limit, [&] { return done_ >= n; });
  }
  size_t done() {
    std::lock_guard<std::mutex> lock(mu_);
    return done_;
  }
  std::vector<uint64_t> unsynced_at_done() {
    std::lock_guard<std::mutex> lock(mu_);
    return unsynced_at_done_;
  }
  std::vector<uint64_t> syncs_at_done() {
    std::lock_guard<std::mutex> lock(mu_);
    return syncs_at_done_;
  }
  void set_wal_path(std::string path) {
    std::lock_guard<std::mutex> lock(mu_);
    wal_path_ = std::move(path);
  }

 private:
  FaultInjectionEnv* env_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string wal_path_;
  size_t done_ = 0;
  std::vector<uint64_t> unsynced_at_done_, syncs_at_done_;
};

// A batch of ops, with argument lists and reply slots that stay put.
class TestBatch {
 public:
  explicit TestBatch(uint32_t shard = 0) { batch_.shard = shard; }
  TestBatch& Add(std::string_view name, ValueList args) {
    cmds_.push_back(Cmd(name));
    args_.push_back(std::move(args));
    return *this;
  }
  ShardBatch* Seal(BatchCompletion* completion) {
    replies_.assign(cmds_.size(), Reply());
    batch_.completion = completion;
    batch_.ops.clear();
    for (size_t i = 0; i < cmds_.size(); ++i) {
      ShardOp op;
      op.cmd = cmds_[i];
      op.args = CommandArgs(args_[i].data(), args_[i].size());
      op.reply = &replies_[i];
      batch_.ops.push_back(op);
    }
    return &batch_;
  }
  const Reply& reply(size_t i) const { return replies_.at(i); }

 private:
  ShardBatch batch_;
  std::vector<const CommandSpec*> cmds_;
  std::vector<ValueList> args_;
  std::vector<Reply> replies_;
};

// A persistence actor over a fault env in a fresh directory, in a two-thread actor system.
class Fixture {
 public:
  explicit Fixture(FsyncMode mode, uint32_t interval_ms = 100)
      : dir(storage::NewTestDir("persistence")) {
    Registry();
    cfg.set("scheduler.max-threads", size_t{2});
    cfg.set("logger.verbosity", caf::atom("quiet"));
    system = std::make_unique<caf::actor_system>(cfg);
    state.mode = mode;
    options.dir = dir;
    options.fsync = mode;
    options.fsync_interval_ms = interval_ms;
    options.snapshot_interval_s = 0;
    options.snapshot_every_writes = 0;
    options.env = &env;
  }
  ~Fixture() { Stop(); }

  void Start(std::vector<shard_actor> with_shards = {}, uint64_t next_lsn = 1) {
    shards = std::move(with_shards);
    persistence = SpawnPersistence(*system, options, &state, shards, next_lsn);
    for (const shard_actor& s : shards) caf::anon_send(s, attach_atom::value, persistence);
  }

  void Stop() {
    if (system == nullptr) return;
    for (auto& a : shards) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    if (persistence) caf::anon_send_exit(persistence, caf::exit_reason::user_shutdown);
    shards.clear();
    persistence = persistence_actor();
    system->await_all_actors_done();
  }

  // One WAL record: `SET key value` at version, its reply held until the record is synced
  // (with batch).
  void SendWrite(const std::string& key, const std::string& value, uint64_t version,
                 ShardBatch* batch = nullptr) {
    auto* w = new WalWrite();
    w->shard = 0;
    w->count = 1;
    Entry e;
    e.value = S(value);
    e.version = version;
    storage::MutationEncoder(&w->mutations).Put("", key, e);
    if (batch != nullptr) w->held.push_back(batch);
    caf::anon_send(persistence, wal_atom::value, WalWritePtr{w});
  }

  bool Finish() {
    caf::scoped_actor self{*system};
    bool ok = false;
    self->request(persistence, std::chrono::seconds(20), finish_atom::value)
        .receive([&](bool done) { ok = done; }, [&](caf::error&) { ok = false; });
    return ok;
  }

  storage::RecoveryResult Recover(uint32_t shard_count = 1,
                                  std::vector<std::string>* warnings = nullptr) {
    storage::RecoveryOptions o;
    o.shard_count = shard_count;
    o.now_ms = WallClockMs();
    o.warn = [warnings](const std::string& m) {
      if (warnings != nullptr) warnings->push_back(m);
    };
    storage::RecoveryResult r;
    REQUIRE(storage::Recover(&env, dir, o, &r).ok());
    return r;
  }

  std::string WalPath(uint64_t first_lsn) const { return JoinPath(dir, WalFileName(first_lsn)); }

  FaultInjectionEnv env;
  std::string dir;
  PersistenceState state;
  PersistenceOptions options;
  caf::actor_system_config cfg;  // outlives the system
  std::unique_ptr<caf::actor_system> system;
  persistence_actor persistence;
  std::vector<shard_actor> shards;
};

std::optional<Value> Lookup(const storage::RecoveryResult& r, std::string_view key) {
  const uint32_t n = static_cast<uint32_t>(r.partitions.size());
  const Record* e = r.partitions[ShardOf(key, n)]->Find("", key, WallClockMs());
  if (e == nullptr) return std::nullopt;
  return e->value().ToValue();
}

TEST_CASE("fsync always: held batches complete only once their records are synced",
          "[persistence]") {
  Fixture f(FsyncMode::kAlways);
  f.env.SetSyncDelay(500us);
  f.Start();
  Completion done(&f.env, f.WalPath(1));
  std::vector<std::unique_ptr<TestBatch>> batches;
  for (int i = 0; i < 50; ++i) {
    batches.push_back(std::make_unique<TestBatch>());
    batches.back()->Add("SET", {S("k" + std::to_string(i)), S("v")});
    f.SendWrite("k" + std::to_string(i), "v" + std::to_string(i), i + 1,
                batches.back()->Seal(&done));
    if (i % 10 == 0) std::this_thread::sleep_for(2ms);
  }
  REQUIRE(done.WaitFor(50));
  for (uint64_t unsynced : done.unsynced_at_done()) CHECK(unsynced == 0);
  for (uint64_t syncs : done.syncs_at_done()) CHECK(syncs >= 1);
  for (auto& b : batches) CHECK(b->reply(0).ok());
  CHECK(f.state.fsyncs.load() == f.env.sync_count());
  CHECK(f.state.wal_records.load() == 50);
  CHECK_FALSE(f.state.failed.load());

  // A crash now loses nothing that was acknowledged.
  f.Stop();
  REQUIRE(f.env.DropUnsyncedData().ok());
  const auto r = f.Recover();
  CHECK(r.keys == 50);
  CHECK(r.next_lsn == 51);
  REQUIRE(Lookup(r, "k49").has_value());
  CHECK(*Lookup(r, "k49") == S("v49"));
}

TEST_CASE("Group commit: records that arrive during a sync share the next one", "[persistence]") {
  Fixture f(FsyncMode::kAlways);
  f.env.SetSyncDelay(5ms);  // a slow disk: many records arrive during each sync
  f.Start();
  Completion done(&f.env, f.WalPath(1));
  constexpr int kWrites = 400;
  std::vector<std::unique_ptr<TestBatch>> batches;
  for (int i = 0; i < kWrites; ++i) {
    batches.push_back(std::make_unique<TestBatch>());
    batches.back()->Add("SET", {S("k"), S("v")});
  }
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kWrites; ++i) {
    f.SendWrite("k" + std::to_string(i), "v", i + 1, batches[i]->Seal(&done));
  }
  REQUIRE(done.WaitFor(kWrites));
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const uint64_t syncs = f.env.sync_count();
  std::printf("group commit: %d acknowledged writes, %llu syncs of 5 ms, %.3f s\n", kWrites,
              static_cast<unsigned long long>(syncs), secs);
  CHECK(syncs >= 1);
  CHECK(syncs <= 20);  // without group commit: 400 syncs, 2 s
  for (uint64_t unsynced : done.unsynced_at_done()) CHECK(unsynced == 0);
}

TEST_CASE("fsync periodic: the WAL is synced within the interval", "[persistence]") {
  Fixture f(FsyncMode::kPeriodic, 50);
  f.Start();
  const auto start = std::chrono::steady_clock::now();
  f.SendWrite("k", "v", 1);
  REQUIRE(Eventually([&] { return f.env.bytes_appended() > 0; }));
  REQUIRE(Eventually([&] { return f.env.UnsyncedBytes(f.WalPath(1)) == 0; }));
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  INFO("synced after " << ms << " ms");
  CHECK(ms < 50 + 450);  // the interval, and scheduling slack
  CHECK(f.env.sync_count() >= 1);
  // Nothing new: no more syncs.
  const uint64_t syncs = f.env.sync_count();
  std::this_thread::sleep_for(200ms);
  CHECK(f.env.sync_count() == syncs);
}

TEST_CASE("fsync periodic: a sync never holds up writing and acknowledging", "[persistence]") {
  // A very slow disk: each fdatasync takes 300 ms, and one is due every 10 ms. The syncer runs
  // them on its own thread; held batches complete as soon as their records are written.
  Fixture f(FsyncMode::kPeriodic, 10);
  f.env.SetSyncDelay(300ms);
  f.Start();
  Completion done(&f.env, f.WalPath(1));
  constexpr int kWrites = 100;
  std::vector<std::unique_ptr<TestBatch>> batches;
  double slowest_ms = 0;
  for (int i = 0; i < kWrites; ++i) {
    batches.push_back(std::make_unique<TestBatch>());
    batches.back()->Add("SET", {S("k"), S("v")});
    const auto start = std::chrono::steady_clock::now();
    f.SendWrite("k" + std::to_string(i), "v", i + 1, batches.back()->Seal(&done));
    REQUIRE(done.WaitFor(i + 1));
    slowest_ms =
        std::max(slowest_ms,
                 std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                     .count());
    std::this_thread::sleep_for(5ms);
  }
  INFO("slowest acknowledgement " << slowest_ms << " ms; " << f.env.sync_count() << " syncs");
  CHECK(f.env.sync_count() >= 1);  // syncs ran meanwhile (500 ms of writes, 300 ms each)
  CHECK(slowest_ms < 150);         // and never held a write for one
  for (auto& b : batches) CHECK(b->reply(0).ok());
  // Within an interval (and the sync's own time) of the last write, all of it is synced.
  REQUIRE(Eventually([&] { return f.env.UnsyncedBytes(f.WalPath(1)) == 0; }, 2000ms));
  // Every sync counted (the syncer counts one just after it returns, which may be after the
  // data shows as synced).
  CHECK(Eventually([&] { return f.state.fsyncs.load() == f.env.sync_count(); }, 2000ms));
  CHECK_FALSE(f.state.failed.load());
}

TEST_CASE("fsync periodic: WAL rotation while the syncer runs loses nothing", "[persistence]") {
  Fixture f(FsyncMode::kPeriodic, 2);
  f.env.SetSyncDelay(3ms);
  f.options.wal_file_bytes = 2048;  // a rotation every ~40 records, often during a sync
  f.Start();
  Completion done(&f.env, f.WalPath(1));
  constexpr int kWrites = 1000;
  std::vector<std::unique_ptr<TestBatch>> batches;
  for (int i = 0; i < kWrites; ++i) {
    batches.push_back(std::make_unique<TestBatch>());
    batches.back()->Add("SET", {S("k"), S("v")});
    f.SendWrite("k" + std::to_string(i), "v" + std::to_string(i), i + 1,
                batches.back()->Seal(&done));
    if (i % 50 == 0) std::this_thread::sleep_for(1ms);
  }
  REQUIRE(done.WaitFor(kWrites));
  for (auto& b : batches) CHECK(b->reply(0).ok());
  CHECK_FALSE(f.state.failed.load());
  // Every record is synced within an interval: a crash then (power loss) loses nothing.
  std::this_thread::sleep_for(200ms);
  f.Stop();
  REQUIRE(f.env.DropUnsyncedData().ok());
  std::vector<std::string> warnings;
  const auto r = f.Recover(1, &warnings);
  CHECK(warnings.empty());
  CHECK(r.keys == kWrites);
  CHECK(r.next_lsn >= kWrites + 1);
  REQUIRE(Lookup(r, "k999").has_value());
  CHECK(*Lookup(r, "k999") == S("v999"));
}

TEST_CASE("fsync never: the WAL is written but never synced", "[persistence]") {
  Fixture f(FsyncMode::kNever, 10);
  f.Start();
  f.SendWrite("k", "v", 1);
  REQUIRE(Eventually([&] { return f.env.bytes_appended() > 0; }));
  std::this_thread::sleep_for(100ms);
  CHECK(f.env.sync_count() == 0);
  CHECK(f.env.UnsyncedBytes(f.WalPath(1)) > 0);
}

TEST_CASE("A full disk refuses writes with IOERR until the WAL can be written again",
          "[persistence]") {
  Fixture f(FsyncMode::kAlways);
  f.Start();
  Completion done(&f.env, f.WalPath(1));
  TestBatch first;
  first.Add("SET", {S("a"), S("1")}).Add("GET", {S("a")});
  f.SendWrite("a", "1", 1, first.Seal(&done));
  REQUIRE(done.WaitFor(1));
  CHECK(first.reply(0).ok());

  f.env.SetWriteLimit(0);
  TestBatch second;
  second.Add("SET", {S("b"), S("2")}).Add("GET", {S("a")});
  f.SendWrite("b", "2", 2, second.Seal(&done));
  REQUIRE(done.WaitFor(2));
  CHECK(f.state.failed.load());
  CHECK(f.state.Failure().find("No space left on device") != std::string::npos);
  CHECK(second.reply(0).code == Code::kIoError);
  CHECK(second.reply(0).error.rfind("write not persisted: ", 0) == 0);
  CHECK(second.reply(1).ok());  // reads are answered as usual

  // Retries (every second) keep failing while the disk is full.
  std::this_thread::sleep_for(1500ms);
  CHECK(f.state.failed.load());

  f.env.ClearWriteLimit();
  REQUIRE(Eventually([&] { return !f.state.failed.load(); }, 3000ms));
  // A new file, named after the first record it holds again: record 2, applied in memory
  // although its client was told it failed.
  CHECK(f.env.FileExists(f.WalPath(2)));
  CHECK(f.env.UnsyncedBytes(f.WalPath(2)) == 0);

  // Writes go through again, into the new file.
  done.set_wal_path(f.WalPath(2));
  TestBatch third;
  third.Add("SET", {S("c"), S("3")});
  f.SendWrite("c", "3", 3, third.Seal(&done));
  REQUIRE(done.WaitFor(3));
  CHECK(third.reply(0).ok());

  f.Stop();
  REQUIRE(f.env.DropUnsyncedData().ok());
  std::vector<std::string> warnings;
  const auto r = f.Recover(1, &warnings);
  CHECK(warnings.empty());
  REQUIRE(Lookup(r, "a").has_value());
  REQUIRE(Lookup(r, "b").has_value());
  REQUIRE(Lookup(r, "c").has_value());
  CHECK(*Lookup(r, "b") == S("2"));
  CHECK(r.next_lsn == 4);
}

TEST_CASE("A failed periodic sync refuses writes, then recovers by itself", "[persistence]") {
  Fixture f(FsyncMode::kPeriodic, 20);
  f.Start();
  f.env.SetSyncError(true);
  f.SendWrite("a", "1", 1);
  REQUIRE(Eventually([&] { return f.state.failed.load(); }));
  CHECK(f.state.Failure().find("Input/output error") != std::string::npos);
  f.env.SetSyncError(false);
  // The retry (1 s) rewrites the unsynced record into a new file and syncs it.
  REQUIRE(Eventually([&] { return !f.state.failed.load(); }, 3000ms));
  CHECK(f.env.SyncCount(f.WalPath(1)) >= 1);
  f.Stop();
  REQUIRE(f.env.DropUnsyncedData().ok());
  const auto r = f.Recover();
  REQUIRE(Lookup(r, "a").has_value());
}

TEST_CASE("A WAL file written again after a failure survives the next restart", "[persistence]") {
  Fixture f(FsyncMode::kAlways);
  f.Start();
  Completion done(&f.env, f.WalPath(1));
  TestBatch first, second;
  first.Add("SET", {S("a"), S("1")});
  f.SendWrite("a", "1", 1, first.Seal(&done));
  REQUIRE(done.WaitFor(1));
  f.env.SetWriteLimit(0);
  second.Add("SET", {S("b"), S("2")});
  f.SendWrite("b", "2", 2, second.Seal(&done));
  REQUIRE(done.WaitFor(2));
  REQUIRE(f.state.failed.load());
  f.env.ClearWriteLimit();
  REQUIRE(Eventually([&] { return !f.state.failed.load(); }, 3000ms));
  f.Stop();

  // Restart: recover, start a new WAL where recovery says, write nothing, crash.
  auto r = f.Recover();
  REQUIRE(Lookup(r, "b").has_value());
  f.Start({}, r.next_lsn);
  REQUIRE(Eventually([&] { return f.env.FileExists(f.WalPath(r.next_lsn)); }));
  f.Stop();
  REQUIRE(f.env.DropUnsyncedData().ok());
  r = f.Recover();
  CHECK(Lookup(r, "a").has_value());
  CHECK(Lookup(r, "b").has_value());  // record 2 exists only in the file written again
}

TEST_CASE("A snapshot right after a WAL failure keeps the records written again", "[persistence]") {
  Fixture f(FsyncMode::kAlways);
  f.Start();  // no shards: the snapshot starts (the WAL rotates) and never ends
  Completion done(&f.env, f.WalPath(1));
  TestBatch first, second;
  first.Add("SET", {S("a"), S("1")});
  f.SendWrite("a", "1", 1, first.Seal(&done));
  REQUIRE(done.WaitFor(1));
  f.env.SetWriteLimit(0);
  second.Add("SET", {S("b"), S("2")});
  f.SendWrite("b", "2", 2, second.Seal(&done));
  REQUIRE(done.WaitFor(2));
  f.env.ClearWriteLimit();
  REQUIRE(Eventually([&] { return !f.state.failed.load(); }, 3000ms));
  // The snapshot rotates the WAL at once, with no record written since the retry.
  caf::anon_send(f.persistence, finish_atom::value);
  REQUIRE(Eventually([&] { return f.state.snapshot_running.load(); }));
  f.Stop();
  REQUIRE(f.env.DropUnsyncedData().ok());
  const auto r = f.Recover();
  CHECK(Lookup(r, "a").has_value());
  CHECK(Lookup(r, "b").has_value());
}

// -- With real shards.

// Runs batches on shards and waits for them.
class ShardDriver {
 public:
  ShardDriver(Fixture& f, uint32_t n) : f_(f), done_(&f.env, "") {
    for (uint32_t i = 0; i < n; ++i) {
      shards_.push_back(SpawnShard(*f.system, i, n, nullptr, &f.state));
    }
  }
  std::vector<shard_actor> shards() const { return shards_; }

  // Runs one command on the shard of its key; returns the reply.
  Reply Run(std::string_view name, ValueList args) {
    const uint32_t shard = ShardOf(args[0].AsStringView(), static_cast<uint32_t>(shards_.size()));
    auto b = std::make_unique<TestBatch>(shard);
    b->Add(name, std::move(args));
    caf::anon_send(shards_[shard], run_atom::value, BatchPtr{b->Seal(&done_)});
    REQUIRE(done_.WaitFor(++sent_));
    Reply r = b->reply(0);
    batches_.push_back(std::move(b));
    return r;
  }

 private:
  Fixture& f_;
  Completion done_;
  std::vector<shard_actor> shards_;
  std::vector<std::unique_ptr<TestBatch>> batches_;
  size_t sent_ = 0;
};

// Records, at each completion, how many bytes the WAL file holds as the OS has it: what a
// crash of the process (not of the machine) leaves. The fault env writes every append
// through to the OS at once, so this is what the persistence actor has written.
class WrittenAtCompletion final : public BatchCompletion {
 public:
  explicit WrittenAtCompletion(storage::Env* env) : env_(env) {}
  void OnBatchDone(ShardBatch*) override {
    std::lock_guard<std::mutex> lock(mu_);
    uint64_t size = 0;
    CHECK(env_->GetFileSize(path_, &size).ok());
    sizes_.push_back(size);
    cv_.notify_all();
  }
  void Expect(std::string path) {
    std::lock_guard<std::mutex> lock(mu_);
    path_ = std::move(path);
  }
  bool WaitFor(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, 10s, [&] { return sizes_.size() >= n; });
  }
  std::vector<uint64_t> sizes() {
    std::lock_guard<std::mutex> lock(mu_);
    return sizes_;
  }

 private:
  storage::Env* env_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string path_;
  std::vector<uint64_t> sizes_;
};

TEST_CASE("Every mode: a shard's write is acknowledged only once its record is in the WAL file",
          "[persistence]") {
  // Periodic with an interval that never comes, and never: the sync is not what releases
  // replies, the write(2) of the record is. (A kill of the process right after the reply
  // then loses nothing; the crash test checks that with the real server.)
  const FsyncMode mode = GENERATE(FsyncMode::kPeriodic, FsyncMode::kNever, FsyncMode::kAlways);
  DYNAMIC_SECTION("mode " << static_cast<int>(mode)) {
    Fixture f(mode, 60000);
    auto shard = SpawnShard(*f.system, 0, 1, nullptr, &f.state);
    f.Start({shard});
    WrittenAtCompletion done(&f.env);
    done.Expect(f.WalPath(1));
    constexpr int kWrites = 30;
    std::vector<std::unique_ptr<TestBatch>> batches;
    for (int i = 0; i < kWrites; ++i) {
      batches.push_back(std::make_unique<TestBatch>());
      batches.back()->Add("SET", {S("k" + std::to_string(i)), S("v")}).Add("GET", {S("k")});
      caf::anon_send(shard, run_atom::value, BatchPtr{batches.back()->Seal(&done)});
      REQUIRE(done.WaitFor(i + 1));
    }
    const std::vector<uint64_t> sizes = done.sizes();
    uint64_t before = 0;
    for (int i = 0; i < kWrites; ++i) {
      INFO("write " << i << ": the WAL file held " << sizes[i] << " bytes at its reply");
      CHECK(sizes[i] > before);  // its own record was written, and only then the reply
      before = sizes[i];
      CHECK(batches[i]->reply(0).ok());
    }
  }
}

TEST_CASE("finish_atom snapshots every shard; recovery gives back what the shards held",
          "[persistence][snapshot]") {
  Fixture f(FsyncMode::kAlways);
  ShardDriver d(f, 2);
  f.Start(d.shards());
  std::map<std::string, Value> expected;
  for (int i = 0; i < 300; ++i) {
    const std::string k = "key" + std::to_string(i);
    REQUIRE(d.Run("SET", {S(k), Value::Int(i)}).ok());
    expected[k] = Value::Int(i);
  }
  REQUIRE(d.Run("DEL", {S("key7")}).ok());
  expected.erase("key7");
  REQUIRE(d.Run("RPUSH", {S("list"), S("a"), S("b"), S("c")}).ok());
  REQUIRE(d.Run("LPOP", {S("list")}).ok());
  expected["list"] = Value::List({S("b"), S("c")});

  REQUIRE(f.Finish());
  storage::DirListing listing;
  REQUIRE(storage::ListDataDir(&f.env, f.dir, &listing).ok());
  REQUIRE(listing.snapshots.size() == 2);
  CHECK(listing.snapshots[0].shard == 0);
  CHECK(listing.snapshots[1].shard == 1);
  CHECK(listing.snapshots[0].start_lsn == listing.snapshots[1].start_lsn);
  CHECK(listing.temp.empty());
  CHECK(f.state.snapshots.load() == 1);
  f.Stop();

  // The snapshots alone hold everything: recover without the WAL.
  for (const auto& w : listing.wal) REQUIRE(f.env.DeleteFile(w.path).ok());
  std::vector<std::string> warnings;
  const auto r = f.Recover(2, &warnings);
  CHECK(warnings.empty());
  CHECK(r.keys == expected.size());
  CHECK(r.wal_records == 0);
  for (const auto& [k, v] : expected) {
    INFO(k);
    REQUIRE(Lookup(r, k).has_value());
    CHECK(*Lookup(r, k) == v);
  }
}

TEST_CASE("Snapshots keep two sets and delete the WAL the older one does not need",
          "[persistence][snapshot]") {
  Fixture f(FsyncMode::kPeriodic, 10);
  ShardDriver d(f, 1);
  f.Start(d.shards());
  for (int round = 0; round < 3; ++round) {
    REQUIRE(d.Run("SET", {S("k" + std::to_string(round)), S("v")}).ok());
    REQUIRE(f.Finish());
  }
  storage::DirListing listing;
  REQUIRE(storage::ListDataDir(&f.env, f.dir, &listing).ok());
  REQUIRE(listing.snapshots.size() == 2);
  const uint64_t older = listing.snapshots[1].start_lsn;
  for (size_t i = 0; i + 1 < listing.wal.size(); ++i) {
    // Every file left holds records the older snapshot may need.
    CHECK(listing.wal[i + 1].first_lsn > older);
  }
  f.Stop();
  const auto r = f.Recover();
  CHECK(r.keys == 3);
}

TEST_CASE("A list pushed before its expiry is not brought back after it", "[persistence]") {
  Fixture f(FsyncMode::kAlways);
  ShardDriver d(f, 1);
  f.Start(d.shards());
  REQUIRE(d.Run("RPUSH", {S("l"), S("a")}).ok());
  REQUIRE(d.Run("PEXPIRE", {S("l"), Value::Int(60000)}).ok());
  REQUIRE(d.Run("RPUSH", {S("l"), S("b")}).ok());
  f.Stop();
  storage::RecoveryOptions o;
  o.now_ms = WallClockMs() + 120000;  // restarted after the expiry
  storage::RecoveryResult r;
  REQUIRE(storage::Recover(&f.env, f.dir, o, &r).ok());
  CHECK(r.keys == 0);
  o.now_ms = WallClockMs();  // before it: the list, with its expiry
  REQUIRE(storage::Recover(&f.env, f.dir, o, &r).ok());
  const Record* e = r.partitions[0]->Find("", "l", o.now_ms);
  REQUIRE(e != nullptr);
  CHECK(e->value() == Value::List({S("a"), S("b")}));
  CHECK(e->expire_at_ms() > o.now_ms);
}

}  // namespace
}  // namespace dbkv
