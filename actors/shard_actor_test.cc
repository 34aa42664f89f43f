// The shard: RunBatch on its own, then the shard actor in a real (one-thread) actor system.
#include "actors/shard_actor.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "plugins/api/registry.h"
#include "plugins/builtin.h"

namespace dbkv {
namespace {

using namespace std::chrono_literals;

Value S(std::string_view s) { return Value::String(s); }
Value I(int64_t i) { return Value::Int(i); }

// The commands, plus BOOM: a handler that throws, as a faulty plugin might.
class Commands {
 public:
  Commands() {
    REQUIRE(RegisterBuiltinFamilies(&registry_).ok());
    CommandSpec boom;
    boom.name = "BOOM";
    boom.flags = kCmdWrite;
    boom.min_args = 1;
    boom.max_args = 1;
    boom.keys = KeySpec::One(0);
    boom.shard = [](ShardContext&, const CommandArgs&) -> Reply {
      throw std::runtime_error("kaboom");
    };
    const Status registered = registry_.Register(std::move(boom));  // not inside REQUIRE:
    REQUIRE(registered.ok());  // Catch expands it twice, which reads as a second move
    // Faulty changes: Upsert, then throw (BOOMUP), return without Commit (HALFUP), or open a
    // second change (TWOUP).
    const auto faulty = [&](const char* name, int how) {
      CommandSpec s;
      s.name = name;
      s.flags = kCmdWrite;
      s.min_args = 1;
      s.max_args = 1;
      s.keys = KeySpec::One(0);
      s.shard = [how](ShardContext& ctx, const CommandArgs& args) -> Reply {
        EntryRef ref = ctx.Upsert(args[0].AsStringView());
        ref.entry->value = Value::String("changed");
        if (how == 0) throw std::runtime_error("kaboom");
        if (how == 2) ctx.Upsert("other");
        return Reply::Ok();
      };
      const Status ok = registry_.Register(std::move(s));
      REQUIRE(ok.ok());
    };
    faulty("BOOMUP", 0);
    faulty("HALFUP", 1);
    faulty("TWOUP", 2);
  }

  const CommandSpec* Find(std::string_view name) const {
    const CommandSpec* cmd = registry_.FindByName(name);
    INFO(name);
    REQUIRE(cmd != nullptr);
    return cmd;
  }

 private:
  CommandRegistry registry_;
};

// A batch and everything its ops point to: argument lists, namespaces and reply slots. The
// ops are added first and the pointers fixed by Seal(), so that growing the vectors never
// leaves an op pointing at moved storage.
class TestBatch {
 public:
  explicit TestBatch(const Commands& commands) : commands_(commands) {}

  // Adds `name args...` in namespace ns; returns its index.
  size_t Add(std::string_view name, ValueList args, std::string ns = "") {
    cmds_.push_back(commands_.Find(name));
    args_.push_back(std::move(args));
    namespaces_.push_back(std::move(ns));
    return cmds_.size() - 1;
  }

  ShardBatch& Seal(uint32_t shard = 0, BatchCompletion* completion = nullptr) {
    replies_.assign(cmds_.size(), Reply());
    batch_.shard = shard;
    batch_.completion = completion;
    batch_.ops.clear();
    for (size_t i = 0; i < cmds_.size(); ++i) {
      ShardOp op;
      op.cmd = cmds_[i];
      op.args = CommandArgs(args_[i].data(), args_[i].size());
      op.ns = namespaces_[i];
      op.reply = &replies_[i];
      op.owner = this;
      op.index = static_cast<uint32_t>(i);
      batch_.ops.push_back(op);
    }
    return batch_;
  }

  ShardBatch* batch() { return &batch_; }
  const Reply& reply(size_t i) const { return replies_.at(i); }

  // The reply value; fails the test on an error reply.
  const Value& value(size_t i) const {
    const Reply& r = replies_.at(i);
    INFO("op " << i << ": " << r.error);
    REQUIRE(r.ok());
    return r.value;
  }

 private:
  const Commands& commands_;
  std::vector<const CommandSpec*> cmds_;
  std::vector<ValueList> args_;
  std::vector<std::string> namespaces_;
  std::vector<Reply> replies_;
  ShardBatch batch_;
};

// Signals a promise when the shard hands the batch back, with the thread it ran on.
class PromiseCompletion : public BatchCompletion {
 public:
  void OnBatchDone(ShardBatch* batch) override {
    done_.set_value({batch, std::this_thread::get_id()});
  }

  struct Done {
    ShardBatch* batch;
    std::thread::id thread;
  };
  // Waits (bounded) for the batch to come back.
  Done Wait() {
    auto fut = done_.get_future();
    REQUIRE(fut.wait_for(10s) == std::future_status::ready);
    return fut.get();
  }

 private:
  std::promise<Done> done_;
};

// One scheduler thread, as a small server would run.
struct ActorSystem {
  ActorSystem() {
    cfg.set("scheduler.max-threads", size_t{1});
    cfg.set("logger.verbosity", caf::atom("quiet"));
    system = std::make_unique<caf::actor_system>(cfg);
  }
  ~ActorSystem() {
    for (auto& a : shards) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    shards.clear();
    system->await_all_actors_done();
  }
  shard_actor Spawn(uint32_t id, uint32_t count) {
    shards.push_back(SpawnShard(*system, id, count));
    return shards.back();
  }

  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> system;
  std::vector<shard_actor> shards;
};

TEST_CASE("RunBatch runs every op in order and writes its reply", "[shard]") {
  Commands commands;
  Partition partition;
  TestBatch t(commands);
  const size_t get_before = t.Add("GET", {S("k")});
  const size_t set = t.Add("SET", {S("k"), S("v")});
  const size_t get_after = t.Add("GET", {S("k")});
  const size_t incr1 = t.Add("INCR", {S("n")});
  const size_t incr2 = t.Add("INCR", {S("n"), I(10)});
  const size_t decr = t.Add("DECR", {S("n")});
  const size_t wrong = t.Add("INCR", {S("k")});
  const size_t exists = t.Add("EXISTS", {S("k"), S("n"), S("missing")});
  const size_t del = t.Add("DEL", {S("k")});
  const size_t gone = t.Add("GET", {S("k")});
  RunBatch(partition, 0, 1, t.Seal());

  CHECK(t.value(get_before).is_null());
  CHECK(t.reply(set).simple);
  CHECK(t.value(set) == S("OK"));
  CHECK(t.value(get_after) == S("v"));
  CHECK(t.value(incr1) == I(1));
  CHECK(t.value(incr2) == I(11));
  CHECK(t.value(decr) == I(10));
  CHECK(t.reply(wrong).code == Code::kWrongType);
  CHECK(t.value(exists) == I(2));
  CHECK(t.value(del) == I(1));
  CHECK(t.value(gone).is_null());
  CHECK(partition.stats().keys == 1);
}

TEST_CASE("RunBatch: the partition outlives the batch", "[shard]") {
  Commands commands;
  Partition partition;
  {
    TestBatch first(commands);
    first.Add("SET", {S("k"), I(41)});
    RunBatch(partition, 0, 1, first.Seal());
  }
  TestBatch second(commands);
  const size_t incr = second.Add("INCR", {S("k")});
  RunBatch(partition, 0, 1, second.Seal());
  CHECK(second.value(incr) == I(42));
}

TEST_CASE("RunBatch scopes every op to its own namespace", "[shard]") {
  Commands commands;
  Partition partition;
  TestBatch t(commands);
  t.Add("SET", {S("k"), S("default")});
  t.Add("SET", {S("k"), S("a")}, "ns-a");
  const size_t get_default = t.Add("GET", {S("k")});
  const size_t get_a = t.Add("GET", {S("k")}, "ns-a");
  const size_t get_b = t.Add("GET", {S("k")}, "ns-b");
  const size_t del_b = t.Add("DEL", {S("k")}, "ns-b");
  const size_t exists_a = t.Add("EXISTS", {S("k")}, "ns-a");
  RunBatch(partition, 0, 1, t.Seal());
  CHECK(t.value(get_default) == S("default"));
  CHECK(t.value(get_a) == S("a"));
  CHECK(t.value(get_b).is_null());
  CHECK(t.value(del_b) == I(0));
  CHECK(t.value(exists_a) == I(1));
}

TEST_CASE("RunBatch answers a throwing handler with INTERNAL and goes on", "[shard]") {
  Commands commands;
  Partition partition;
  TestBatch t(commands);
  const size_t before = t.Add("SET", {S("k"), S("v")});
  const size_t boom = t.Add("BOOM", {S("k")});
  const size_t after = t.Add("GET", {S("k")});
  RunBatch(partition, 0, 1, t.Seal());
  CHECK(t.value(before) == S("OK"));
  CHECK(t.reply(boom).code == Code::kInternal);
  CHECK(t.reply(boom).error == "BOOM failed: kaboom");
  CHECK(t.value(after) == S("v"));
}

TEST_CASE("a change a handler leaves open is undone, the key as it was", "[shard]") {
  Commands commands;
  Partition partition;
  TestBatch t(commands);
  t.Add("SET", {S("k"), S("v")});
  const size_t boom = t.Add("BOOMUP", {S("k")});
  const size_t half = t.Add("HALFUP", {S("k")});
  const size_t two = t.Add("TWOUP", {S("k")});
  const size_t fresh = t.Add("HALFUP", {S("new")});
  const size_t get = t.Add("GET", {S("k")});
  const size_t exists = t.Add("EXISTS", {S("new"), S("other")});
  RunBatch(partition, 0, 1, t.Seal());
  CHECK(t.reply(boom).error == "BOOMUP failed: kaboom");
  CHECK(t.reply(half).error == "HALFUP left a change unfinished");
  CHECK(t.reply(two).error == "TWOUP failed: Upsert while another change is open");
  CHECK(t.reply(fresh).code == Code::kInternal);
  CHECK(t.value(get) == S("v"));
  CHECK(t.value(exists) == I(0));  // a key the change created is gone again
  CHECK(partition.stats().keys == 1);
}

TEST_CASE("RunBatch with no ops does nothing", "[shard]") {
  Partition partition;
  ShardBatch empty;
  RunBatch(partition, 0, 1, empty);
  CHECK(partition.stats().keys == 0);
}

TEST_CASE("a shard actor runs a batch and hands it back", "[shard][actor]") {
  Commands commands;
  ActorSystem actors;
  shard_actor shard = actors.Spawn(0, 1);

  PromiseCompletion completion;
  TestBatch t(commands);
  const size_t set = t.Add("SET", {S("k"), S("v")});
  const size_t get = t.Add("GET", {S("k")});
  const size_t incr = t.Add("INCR", {S("n"), I(5)});
  caf::anon_send(shard, run_atom::value, BatchPtr{&t.Seal(0, &completion)});
  PromiseCompletion::Done done = completion.Wait();

  CHECK(done.batch == t.batch());
  CHECK(done.thread != std::this_thread::get_id());  // it ran on the scheduler's thread
  CHECK(t.value(set) == S("OK"));
  CHECK(t.value(get) == S("v"));
  CHECK(t.value(incr) == I(5));
}

TEST_CASE("a shard actor runs batches in the order they were sent", "[shard][actor]") {
  Commands commands;
  ActorSystem actors;
  shard_actor shard = actors.Spawn(0, 1);

  // Sent back to back, without waiting: the mailbox keeps their order.
  constexpr int kBatches = 50;
  std::vector<std::unique_ptr<TestBatch>> batches;
  std::vector<std::unique_ptr<PromiseCompletion>> completions;
  for (int i = 0; i < kBatches; ++i) {
    batches.push_back(std::make_unique<TestBatch>(commands));
    completions.push_back(std::make_unique<PromiseCompletion>());
    batches.back()->Add("INCR", {S("counter")});
    batches.back()->Add("SET", {S("last"), I(i)});
  }
  for (int i = 0; i < kBatches; ++i) {
    caf::anon_send(shard, run_atom::value, BatchPtr{&batches[i]->Seal(0, completions[i].get())});
  }
  for (int i = 0; i < kBatches; ++i) {
    INFO("batch " << i);
    CHECK(completions[i]->Wait().batch == batches[i]->batch());
    CHECK(batches[i]->value(0) == I(i + 1));
  }

  PromiseCompletion completion;
  TestBatch check(commands);
  const size_t last = check.Add("GET", {S("last")});
  caf::anon_send(shard, run_atom::value, BatchPtr{&check.Seal(0, &completion)});
  completion.Wait();
  CHECK(check.value(last) == I(kBatches - 1));
}

TEST_CASE("each shard actor owns its own partition", "[shard][actor]") {
  Commands commands;
  ActorSystem actors;
  shard_actor shard0 = actors.Spawn(0, 2);
  shard_actor shard1 = actors.Spawn(1, 2);

  PromiseCompletion c0, c1;
  TestBatch t0(commands), t1(commands);
  t0.Add("SET", {S("k"), S("zero")});
  const size_t get0 = t0.Add("GET", {S("k")});
  const size_t incr1 = t1.Add("INCR", {S("k")});
  caf::anon_send(shard0, run_atom::value, BatchPtr{&t0.Seal(0, &c0)});
  caf::anon_send(shard1, run_atom::value, BatchPtr{&t1.Seal(1, &c1)});
  c0.Wait();
  c1.Wait();
  CHECK(t0.value(get0) == S("zero"));
  CHECK(t1.value(incr1) == I(1));  // shard 1 never saw shard 0's "zero"
}

TEST_CASE("a shard actor survives a throwing handler", "[shard][actor]") {
  Commands commands;
  ActorSystem actors;
  shard_actor shard = actors.Spawn(0, 1);

  PromiseCompletion first_done;
  TestBatch first(commands);
  first.Add("SET", {S("k"), S("kept")});
  const size_t boom = first.Add("BOOM", {S("k")});
  caf::anon_send(shard, run_atom::value, BatchPtr{&first.Seal(0, &first_done)});
  first_done.Wait();
  CHECK(first.reply(boom).code == Code::kInternal);

  PromiseCompletion second_done;
  TestBatch second(commands);
  const size_t get = second.Add("GET", {S("k")});
  caf::anon_send(shard, run_atom::value, BatchPtr{&second.Seal(0, &second_done)});
  second_done.Wait();
  CHECK(second.value(get) == S("kept"));
}

}  // namespace
}  // namespace dbkv
