// Blocking commands through the real server: WAIT, MWAIT, WAITANY and LOCK wake-ups,
// timeouts, many waiters, contention, namespace isolation, and waiters of closed connections.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"
#include "core/shard_hash.h"
#include "tests/server_process.h"
#include "tests/test_util.h"

namespace dbkv::testing {
namespace {

using client::AsyncClient;
using client::Client;
using Clock = std::chrono::steady_clock;

constexpr double kTimeoutS = 30;  // client request timeout, for calls that block up to 30 s

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// The INFO "blocked" count: commands waiting on the server's shards.
int64_t Blocked(Client& c) { return InfoInt(c, "blocked"); }

// Waits (bounded) until the server reports n blocked commands: the waiter is parked, so a
// write after this returns is one the waiter must see.
void AwaitBlocked(Client& c, int64_t n) {
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Blocked(c) != n) {
    REQUIRE(Clock::now() < deadline);
    std::this_thread::yield();
  }
}

// Runs a blocking call on its own client, in the background.
std::future<Reply> Background(const ServerProcess& server, const std::string& cmd, ValueList args,
                              const std::string& ns = "") {
  return std::async(std::launch::async, [&server, cmd, args, ns]() mutable {
    Client c(Opts(server, kTimeoutS, ns));
    return c.Call(cmd, std::move(args));
  });
}

TEST_CASE("WAIT answers at once for an existing key", "[integration][blocking]") {
  ServerProcess server;
  Client c(Opts(server, kTimeoutS));
  Ok(c, "SET", {S("k"), D("1.10")});
  CHECK(Ok(c, "WAIT", {S("k"), I(5)}) == D("1.10"));
}

TEST_CASE("WAIT is woken by the write, not by a poll", "[integration][blocking]") {
  ServerProcess server({"--shards", "4"});
  Client c(Opts(server, kTimeoutS));
  auto waiting = Background(server, "WAIT", {S("result"), I(30)});
  AwaitBlocked(c, 1);
  const auto written = Clock::now();
  Ok(c, "SET", {S("result"), S("payload")});
  Reply r = waiting.get();
  REQUIRE(r.ok());
  CHECK(r.value == S("payload"));
  CHECK(Seconds(written) < 1.0);  // nowhere near the 30 s timeout
  CHECK(Blocked(c) == 0);
}

TEST_CASE("WAIT gives up at its timeout with nil", "[integration][blocking]") {
  ServerProcess server;
  Client c(Opts(server, kTimeoutS));
  const auto start = Clock::now();
  Reply r = c.Call("WAIT", {S("never"), S("0.2")});
  REQUIRE(r.ok());
  CHECK(r.value.is_null());
  CHECK(Seconds(start) >= 0.19);
  CHECK(Seconds(start) < 5);
  CHECK(Blocked(c) == 0);
  CHECK(c.Call("WAIT", {S("k"), I(-1)}).code == Code::kInvalidArgument);
  CHECK(c.Call("WAIT", {S("k"), S("soon")}).code == Code::kInvalidArgument);
}

TEST_CASE("many waiters on one key are all woken by one write", "[integration][blocking]") {
  ServerProcess server({"--shards", "2"});
  Client c(Opts(server, kTimeoutS));
  constexpr int kWaiters = 20;
  std::vector<std::future<Reply>> waiting;
  waiting.reserve(kWaiters);
  for (int i = 0; i < kWaiters; ++i) waiting.push_back(Background(server, "WAIT", {S("k"), I(0)}));
  AwaitBlocked(c, kWaiters);
  Ok(c, "SET", {S("k"), I(7)});
  for (auto& w : waiting) {
    Reply r = w.get();
    REQUIRE(r.ok());
    CHECK(r.value == I(7));
  }
  CHECK(Blocked(c) == 0);
}

TEST_CASE("waiters of a closed connection are dropped", "[integration][blocking]") {
  ServerProcess server({"--shards", "3"});
  Client c(Opts(server, kTimeoutS));
  {
    AsyncClient gone(Opts(server, kTimeoutS));
    std::atomic<int> answered{0};
    for (int i = 0; i < 5; ++i) {
      gone.Call("WAIT", {S("k" + std::to_string(i)), I(0)}, [&](const Reply&) { ++answered; });
    }
    gone.Call("MWAIT", {I(0), S("a"), S("b"), S("c")}, [&](const Reply&) { ++answered; });
    // MWAIT parks one part per shard holding its keys.
    std::set<uint32_t> shards = {ShardOf("a", 3), ShardOf("b", 3), ShardOf("c", 3)};
    AwaitBlocked(c, 5 + static_cast<int64_t>(shards.size()));
  }  // the client disconnects
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Blocked(c) != 0) REQUIRE(Clock::now() < deadline);
  // Nothing was consumed on their behalf, and the server is fine.
  Ok(c, "SET", {S("k0"), I(1)});
  CHECK(Ok(c, "GET", {S("k0")}) == I(1));
}

TEST_CASE("WAIT in one namespace is not woken by another", "[integration][blocking]") {
  ServerProcess server;
  Client a(Opts(server, kTimeoutS, "a"));
  Client b(Opts(server, kTimeoutS, "b"));
  auto waiting = Background(server, "WAIT", {S("k"), S("0.5")}, "a");
  AwaitBlocked(a, 1);
  Ok(b, "SET", {S("k"), S("in b")});
  Reply r = waiting.get();
  REQUIRE(r.ok());
  CHECK(r.value.is_null());  // timed out: b's key is another key
}

// Keys that land on different shards of a server with n shards.
std::vector<std::string> KeysOnDistinctShards(uint32_t n, size_t count) {
  std::vector<std::string> keys;
  std::vector<bool> used(n, false);
  for (int i = 0; keys.size() < count && i < 100000; ++i) {
    std::string k = "key" + std::to_string(i);
    uint32_t s = ShardOf(k, n);
    if (!used[s]) {
      used[s] = true;
      keys.push_back(k);
    }
  }
  return keys;
}

TEST_CASE("MWAIT waits for every key, across shards", "[integration][blocking]") {
  ServerProcess server({"--shards", "4"});
  Client c(Opts(server, kTimeoutS));
  auto keys = KeysOnDistinctShards(4, 3);
  REQUIRE(keys.size() == 3);
  Ok(c, "SET", {S(keys[0]), I(0)});
  auto waiting = Background(server, "MWAIT", {I(30), S(keys[0]), S(keys[1]), S(keys[2])});
  AwaitBlocked(c, 2);  // the parts of the two missing keys
  Ok(c, "SET", {S(keys[2]), I(2)});
  AwaitBlocked(c, 1);
  CHECK(waiting.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready);
  Ok(c, "SET", {S(keys[1]), I(1)});
  Reply r = waiting.get();
  REQUIRE(r.ok());
  CHECK(r.value == Value::List({I(0), I(1), I(2)}));
  // At the timeout: the values there are, nil for the rest.
  r = c.Call("MWAIT", {S("0.2"), S(keys[0]), S("missing")});
  REQUIRE(r.ok());
  CHECK(r.value == Value::List({I(0), Value::Null()}));
}

TEST_CASE("WAITANYV waits for a key to change from the version the caller saw",
          "[integration][blocking]") {
  ServerProcess server({"--shards", "4"});
  Client c(Opts(server));
  auto keys = KeysOnDistinctShards(4, 2);
  Ok(c, "SET", {S(keys[0]), S("STARTED")});
  Value seen = Ok(c, "MGETV", {S(keys[0]), S(keys[1])});
  REQUIRE(seen.AsList().size() == 2);
  CHECK(seen.AsList()[1].is_null());
  const Value version = seen.AsList()[0].AsList()[1];
  CHECK(seen.AsList()[0].AsList()[0] == S("STARTED"));
  // Already at a version other than 0: answers at once.
  CHECK(Ok(c, "WAITANYV", {I(1), S(keys[0]), I(0)}) ==
        Value::List({S(keys[0]), S("STARTED"), version}));
  // At the version seen: waits for the next write, on either key.
  auto waiting = Background(server, "WAITANYV", {I(30), S(keys[0]), version, S(keys[1]), I(0)});
  AwaitBlocked(c, 2);
  Ok(c, "SET", {S(keys[0]), S("SUCCESS")});
  Reply r = waiting.get();
  REQUIRE(r.ok());
  REQUIRE(r.value.AsList().size() == 3);
  CHECK(r.value.AsList()[0] == S(keys[0]));
  CHECK(r.value.AsList()[1] == S("SUCCESS"));
  CHECK(r.value.AsList()[2].AsInt() > version.AsInt());
  AwaitBlocked(c, 0);
  CHECK(Ok(c, "WAITANYV", {S("0.1"), S(keys[1]), I(0)}).is_null());
  CHECK(c.Call("WAITANYV", {I(1), S(keys[0])}).code == Code::kInvalidArgument);  // no version
  CHECK(c.Call("WAITANYV", {I(1), S(keys[0]), S("x")}).code == Code::kInvalidArgument);
}

TEST_CASE("WAITANY answers with the first key written and cancels the other shards",
          "[integration][blocking]") {
  ServerProcess server({"--shards", "4"});
  Client c(Opts(server, kTimeoutS));
  auto keys = KeysOnDistinctShards(4, 4);
  REQUIRE(keys.size() == 4);
  ValueList args{I(30)};
  for (const auto& k : keys) args.push_back(S(k));
  auto waiting = Background(server, "WAITANY", args);
  AwaitBlocked(c, 4);
  Ok(c, "SET", {S(keys[2]), S("two")});
  Reply r = waiting.get();
  REQUIRE(r.ok());
  CHECK(r.value == Value::List({S(keys[2]), S("two")}));
  AwaitBlocked(c, 0);  // the other parts were cancelled, not left to time out
  // An existing key answers at once; nil at the timeout.
  CHECK(Ok(c, "WAITANY", {I(1), S("nope"), S(keys[2])}) == Value::List({S(keys[2]), S("two")}));
  CHECK(Ok(c, "WAITANY", {S("0.1"), S("nope"), S("nada")}).is_null());
}

TEST_CASE("LOCK: only the owner releases or extends", "[integration][lock]") {
  ServerProcess server;
  Client c(Opts(server, kTimeoutS));
  CHECK(Ok(c, "LOCK", {S("l"), S("me"), I(10000)}) == I(1));
  CHECK(Ok(c, "LOCK", {S("l"), S("you"), I(10000)}) == I(0));
  CHECK(Ok(c, "LOCK", {S("l"), S("me"), I(20000)}) == I(1));  // the owner renews
  CHECK(Ok(c, "PTTL", {S("l")}).AsInt() > 10000);
  Reply r = c.Call("UNLOCK", {S("l"), S("you")});
  CHECK(r.code == Code::kNotOwner);
  CHECK(c.Call("LOCKEXTEND", {S("l"), S("you"), I(5)}).code == Code::kNotOwner);
  CHECK(Ok(c, "LOCKEXTEND", {S("l"), S("me"), I(50000)}) == I(1));
  CHECK(Ok(c, "PTTL", {S("l")}).AsInt() > 40000);
  CHECK(Ok(c, "UNLOCK", {S("l"), S("me")}) == I(1));
  CHECK(c.Call("UNLOCK", {S("l"), S("me")}).code == Code::kNotOwner);  // not held any more
  Ok(c, "SET", {S("notalock"), I(5)});
  CHECK(c.Call("LOCK", {S("notalock"), S("me"), I(100)}).code == Code::kWrongType);
  CHECK(c.Call("LOCK", {S("l"), S("me"), I(0)}).code == Code::kInvalidArgument);
  CHECK(c.Call("LOCK", {S("l"), S(""), I(10)}).code == Code::kInvalidArgument);
}

TEST_CASE("LOCK: a stale holder cannot release the lock of the next owner", "[integration][lock]") {
  ServerProcess server;
  Client c(Opts(server, kTimeoutS));
  CHECK(Ok(c, "LOCK", {S("l"), S("old"), I(50)}) == I(1));
  // The next owner waits; the lease runs out and the server hands the lock over.
  const auto start = Clock::now();
  CHECK(Ok(c, "LOCK", {S("l"), S("new"), I(10000), I(10)}) == I(1));
  CHECK(Seconds(start) < 5);
  CHECK(c.Call("UNLOCK", {S("l"), S("old")}).code == Code::kNotOwner);
  CHECK(Ok(c, "GET", {S("l")}) == S("new"));
}

TEST_CASE("LOCK: blocked acquirers are woken by the release, in order", "[integration][lock]") {
  ServerProcess server;
  Client c(Opts(server, kTimeoutS));
  CHECK(Ok(c, "LOCK", {S("l"), S("holder"), I(60000)}) == I(1));
  auto first = Background(server, "LOCK", {S("l"), S("first"), I(60000), I(30)});
  AwaitBlocked(c, 1);
  auto second = Background(server, "LOCK", {S("l"), S("second"), I(60000), I(30)});
  AwaitBlocked(c, 2);
  CHECK(Ok(c, "UNLOCK", {S("l"), S("holder")}) == I(1));
  Reply r = first.get();
  REQUIRE(r.ok());
  CHECK(r.value == I(1));
  CHECK(Ok(c, "GET", {S("l")}) == S("first"));
  CHECK(second.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready);
  CHECK(Ok(c, "UNLOCK", {S("l"), S("first")}) == I(1));
  r = second.get();
  REQUIRE(r.ok());
  CHECK(r.value == I(1));
  // A timed-out acquire answers 0 and leaves nothing behind.
  CHECK(Ok(c, "LOCK", {S("l"), S("late"), I(1000), S("0.1")}) == I(0));
  CHECK(Blocked(c) == 0);
}

TEST_CASE("LOCK: contending clients never hold it together", "[integration][lock]") {
  ServerProcess server({"--shards", "2"});
  constexpr int kClients = 8;
  constexpr int kRounds = 25;
  std::atomic<int> holders{0};
  std::atomic<int> overlaps{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  threads.reserve(kClients);
  for (int t = 0; t < kClients; ++t) {
    threads.emplace_back([&, t] {
      Client c(Opts(server, kTimeoutS));
      const std::string token = "client-" + std::to_string(t);
      for (int i = 0; i < kRounds; ++i) {
        Reply got = c.Call("LOCK", {S("mutex"), S(token), I(10000), I(20)});
        if (!got.ok() || got.value != I(1)) {
          ++failures;
          continue;
        }
        if (holders.fetch_add(1) != 0) ++overlaps;
        // A read-modify-write that only the lock makes safe.
        Reply v = c.Call("GET", {S("counter")});
        const int64_t n = v.value.is_null() ? 0 : v.value.AsInt();
        c.Call("SET", {S("counter"), I(n + 1)});
        holders.fetch_sub(1);
        if (!c.Call("UNLOCK", {S("mutex"), S(token)}).ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  Client c(Opts(server, kTimeoutS));
  CHECK(failures == 0);
  CHECK(overlaps == 0);
  CHECK(Ok(c, "GET", {S("counter")}) == I(kClients * kRounds));
}

TEST_CASE("hash tags put keys on one shard", "[integration][blocking]") {
  ServerProcess server({"--shards", "8"});
  Client c(Opts(server, kTimeoutS));
  // With tags, a multi-key command has a single part whatever the key names.
  Ok(c, "SET", {S("{user:1}:a"), I(1)});
  auto waiting = Background(server, "MWAIT", {I(30), S("{user:1}:a"), S("{user:1}:b")});
  AwaitBlocked(c, 1);
  Ok(c, "SET", {S("{user:1}:b"), I(2)});
  Reply r = waiting.get();
  REQUIRE(r.ok());
  CHECK(r.value == Value::List({I(1), I(2)}));
}

TEST_CASE("BLPOP pops at once from a non-empty list", "[integration][blocking][list]") {
  // One shard: "empty" and "q" in one BLPOP (the default shard count follows the cores).
  ServerProcess server({"--shards", "1"});
  Client c(Opts(server, kTimeoutS));
  Ok(c, "RPUSH", {S("q"), S("a"), S("b")});
  CHECK(Ok(c, "BLPOP", {S("empty"), S("q"), I(1)}) == Value::List({S("q"), S("a")}));
  CHECK(Ok(c, "BRPOP", {S("q"), I(1)}) == Value::List({S("q"), S("b")}));
  CHECK(Ok(c, "EXISTS", {S("q")}) == I(0));  // emptied, so deleted
  Ok(c, "SET", {S("s"), S("text")});
  CHECK(c.Call("BLPOP", {S("s"), I(1)}).code == Code::kWrongType);
}

TEST_CASE("BLPOP is woken by a push; waiters are served in arrival order",
          "[integration][blocking][list]") {
  ServerProcess server({"--shards", "4"});
  Client c(Opts(server, kTimeoutS));
  auto first = Background(server, "BLPOP", {S("jobs"), I(30)});
  AwaitBlocked(c, 1);
  auto second = Background(server, "BLPOP", {S("jobs"), I(30)});
  AwaitBlocked(c, 2);
  CHECK(Ok(c, "RPUSH", {S("jobs"), S("j1")}) == I(1));
  Reply r = first.get();
  REQUIRE(r.ok());
  CHECK(r.value == Value::List({S("jobs"), S("j1")}));
  CHECK(second.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready);
  // One push of two elements: the second waiter takes one, the other stays in the list.
  Ok(c, "RPUSH", {S("jobs"), S("j2"), S("j3")});
  r = second.get();
  REQUIRE(r.ok());
  CHECK(r.value == Value::List({S("jobs"), S("j2")}));
  CHECK(Ok(c, "LRANGE", {S("jobs"), I(0), I(-1)}) == Value::List({S("j3")}));
  CHECK(Blocked(c) == 0);
}

TEST_CASE("BLPOP times out with nil and takes nothing afterwards",
          "[integration][blocking][list]") {
  ServerProcess server;
  Client c(Opts(server, kTimeoutS));
  const auto start = Clock::now();
  CHECK(Ok(c, "BLPOP", {S("q"), S("0.15")}).is_null());
  CHECK(Seconds(start) >= 0.14);
  Ok(c, "RPUSH", {S("q"), S("kept")});
  CHECK(Ok(c, "LLEN", {S("q")}) == I(1));
}

TEST_CASE("a BLPOP of a closed connection does not take an element",
          "[integration][blocking][list]") {
  ServerProcess server;
  Client c(Opts(server, kTimeoutS));
  {
    AsyncClient gone(Opts(server, kTimeoutS));
    gone.Call("BLPOP", {S("q"), I(0)}, [](const Reply&) {});
    AwaitBlocked(c, 1);
  }
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Blocked(c) != 0) REQUIRE(Clock::now() < deadline);
  Ok(c, "RPUSH", {S("q"), S("x")});
  CHECK(Ok(c, "LLEN", {S("q")}) == I(1));
}

TEST_CASE("BLPOP keys must share a shard", "[integration][blocking][list]") {
  ServerProcess server({"--shards", "8"});
  Client c(Opts(server, kTimeoutS));
  auto keys = KeysOnDistinctShards(8, 2);
  Reply r = c.Call("BLPOP", {S(keys[0]), S(keys[1]), I(1)});
  CHECK(r.code == Code::kCrossShard);
  // With a hash tag they do.
  Ok(c, "RPUSH", {S("{t}b"), S("v")});
  CHECK(Ok(c, "BLPOP", {S("{t}a"), S("{t}b"), I(1)}) == Value::List({S("{t}b"), S("v")}));
}

TEST_CASE("long lists push and pop in constant time per element", "[integration][list]") {
  ServerProcess server;
  Client c(Opts(server, kTimeoutS));
  // 50 000 pushes and pops, one by one: quadratic work would take minutes.
  client::AsyncClient a(Opts(server, kTimeoutS));
  std::promise<void> done;
  std::atomic<int> left{100000};
  for (int i = 0; i < 50000; ++i) {
    a.Call("RPUSH", {S("long"), I(i)}, [&](const Reply&) {
      if (--left == 0) done.set_value();
    });
  }
  for (int i = 0; i < 50000; ++i) {
    a.Call("LPOP", {S("long")}, [&](const Reply&) {
      if (--left == 0) done.set_value();
    });
  }
  REQUIRE(done.get_future().wait_for(std::chrono::seconds(60)) == std::future_status::ready);
  CHECK(Ok(c, "EXISTS", {S("long")}) == I(0));
  Value info = Ok(c, "INFO");
  for (const auto& [k, v] : info.AsMap()) {
    if (k == S("memory_bytes")) CHECK(v.AsInt() == 0);  // accounting returned to zero
  }
}

}  // namespace
}  // namespace dbkv::testing
