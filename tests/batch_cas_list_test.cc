// The batch, CAS and list families through the real server, over the binary protocol, with the
// C++ client (which sends these commands by opcode), and the CLI.
#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <future>
#include <mutex>
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

using client::Client;

const Value kNil;
constexpr double kTimeoutS = 20;  // client request timeout

std::string Arity(std::string_view name) {
  return "wrong number of arguments for '" + std::string(name) + "' command";
}

// n keys, spread over every one of `shards` shards.
ValueList Keys(const std::string& prefix, int n, uint32_t shards) {
  ValueList keys;
  std::set<uint32_t> seen;
  for (int i = 0; i < n; ++i) {
    keys.push_back(S(prefix + std::to_string(i)));
    seen.insert(ShardOf(keys.back().AsStringView(), shards));
  }
  REQUIRE(seen.size() == shards);
  return keys;
}

// Threads wait here until all have arrived; reusable, round after round.
class Barrier {
 public:
  explicit Barrier(int n) : n_(n) {}
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    const uint64_t gen = generation_;
    if (++waiting_ == n_) {
      waiting_ = 0;
      ++generation_;
      cv_.notify_all();
      return;
    }
    cv_.wait(lock, [&] { return generation_ != gen; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  const int n_;
  int waiting_ = 0;
  uint64_t generation_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Batch

TEST_CASE("MSET and MGET many keys across shards, in the caller's order", "[integration]") {
  ServerProcess server({"--shards", "4"});
  Client c(Opts(server, kTimeoutS));
  const ValueList keys = Keys("key:", 500, 4);
  ValueList mset;
  for (size_t i = 0; i < keys.size(); ++i) {
    mset.push_back(keys[i]);
    mset.push_back(i % 3 == 0 ? I(static_cast<int64_t>(i)) : S("v" + std::to_string(i)));
  }
  Reply set = c.Call("MSET", mset);
  REQUIRE(set.ok());
  CHECK(set.simple);
  CHECK(set.value == S("OK"));
  CHECK(Ok(c, "DBSIZE") == I(500));

  // Reversed, with missing keys and duplicates mixed in.
  ValueList probe, expected;
  for (size_t i = keys.size(); i-- > 0;) {
    probe.push_back(keys[i]);
    expected.push_back(i % 3 == 0 ? I(static_cast<int64_t>(i)) : S("v" + std::to_string(i)));
    if (i % 50 == 0) {
      probe.push_back(S("missing:" + std::to_string(i)));
      expected.push_back(kNil);
      probe.push_back(keys[0]);
      expected.push_back(I(0));
    }
  }
  CHECK(Ok(c, "MGET", probe) == L(expected));
  CHECK(Ok(c, "mget", {keys[7]}) == L({S("v7")}));
  CHECK(Ok(c, "MGET", {S("nope")}) == L({kNil}));
  // Values written by MSET are what GET sees.
  CHECK(Ok(c, "GET", {keys[3]}) == I(3));
  // A key named twice in MSET: the last value wins, even across a split.
  Ok(c, "MSET", {keys[1], S("first"), keys[2], S("x"), keys[1], S("second")});
  CHECK(Ok(c, "MGET", {keys[1], keys[2]}) == L({S("second"), S("x")}));
}

TEST_CASE("MSET values may be of any type; only keys are checked", "[integration]") {
  ServerProcess server({"--shards", "4"});
  Client c(Opts(server, kTimeoutS));
  const ValueList keys = Keys("k", 16, 4);
  ValueMap map;
  map.emplace_back(S("a"), I(1));
  const Value values[] = {kNil,
                          B(true),
                          Value::Double(-1.5),
                          D("1.10"),
                          L({I(1)}),
                          Value::Map(map),
                          Value::Bytes(std::string("\0\1", 2)),
                          S(std::string(100000, 'x'))};
  ValueList mset, mget, expected;
  for (size_t i = 0; i < keys.size(); ++i) {
    const Value& v = values[i % std::size(values)];
    mset.push_back(keys[i]);
    mset.push_back(v);
    mget.push_back(keys[i]);
    expected.push_back(v);
  }
  CHECK(Ok(c, "MSET", mset) == S("OK"));
  CHECK(Ok(c, "MGET", mget) == L(expected));
  // Integer keys stand for their text; other types are rejected before anything is written.
  CHECK(Ok(c, "MSET", {I(42), S("int key"), S("43"), S("text key")}) == S("OK"));
  CHECK(Ok(c, "MGET", {S("42"), I(43)}) == L({S("int key"), S("text key")}));
  Reply bad = Err(c, "MSET", {S("fresh"), I(1), Value::List({}), I(2)});
  CHECK(bad.code == Code::kInvalidArgument);
  CHECK(bad.error == "key must be a string, bytes or an integer, not list");
  CHECK(Ok(c, "EXISTS", {S("fresh")}) == I(0));
  CHECK(Err(c, "MGET", {S("a"), Value::Double(1.0)}).code == Code::kInvalidArgument);
  CHECK(Err(c, "MDEL", {kNil}).code == Code::kInvalidArgument);
}

TEST_CASE("batch commands check their argument counts", "[integration]") {
  ServerProcess server({"--shards", "4"});
  Client c(Opts(server, kTimeoutS));
  for (const char* name : {"MGET", "MSET", "MSETPX", "MDEL", "MEXISTS"}) {
    INFO(name);
    Reply r = Err(c, name);
    CHECK(r.code == Code::kInvalidArgument);
    std::string lower(name);
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    CHECK(r.error == Arity(lower));
  }
  // A key without its value: the dispatcher's arity error, nothing written.
  CHECK(Err(c, "MSET", {S("a")}).error == Arity("mset"));
  CHECK(Err(c, "MSET", {S("a"), I(1), S("b")}).error == Arity("mset"));
  CHECK(Err(c, "MSET", {S("a"), I(1), S("b"), I(2), S("c")}).error == Arity("mset"));
  CHECK(Err(c, "MSETPX", {I(1000), S("a")}).error == Arity("msetpx"));
  CHECK(Err(c, "MSETPX", {I(1000), S("a"), I(1), S("b")}).error == Arity("msetpx"));
  CHECK(Ok(c, "MEXISTS", {S("a"), S("b"), S("c")}) == L({B(false), B(false), B(false)}));
  CHECK(Ok(c, "PING") == S("PONG"));
}

TEST_CASE("MSETPX gives every key its TTL, visible with PTTL", "[integration]") {
  ServerProcess server({"--shards", "4"});
  Client c(Opts(server, kTimeoutS));
  const ValueList keys = Keys("ttl:", 40, 4);
  ValueList args{I(100000)};
  for (const Value& k : keys) {
    args.push_back(k);
    args.push_back(S("v"));
  }
  CHECK(Ok(c, "MSETPX", args) == S("OK"));
  for (const Value& k : keys) {
    const int64_t pttl = Ok(c, "PTTL", {k}).AsInt();
    CHECK(pttl > 90000);
    CHECK(pttl <= 100000);
  }
  // The time may be text; MSET afterwards clears the TTL.
  CHECK(Ok(c, "MSETPX", {S("50000"), keys[0], S("w")}) == S("OK"));
  CHECK(Ok(c, "PTTL", {keys[0]}).AsInt() > 40000);
  CHECK(Ok(c, "MSET", {keys[0], S("x")}) == S("OK"));
  CHECK(Ok(c, "PTTL", {keys[0]}) == I(-1));

  // A short TTL expires every key.
  CHECK(Ok(c, "MSETPX", {I(30), S("s1"), I(1), S("s2"), I(2), S("s3"), I(3)}) == S("OK"));
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  CHECK(Ok(c, "MGET", {S("s1"), S("s2"), S("s3")}) == L({kNil, kNil, kNil}));

  // A bad time is refused on every shard: nothing is written.
  for (const Value& t : {I(0), I(-10), S("soon"), Value::Double(100.0), I(INT64_MAX)}) {
    INFO(t.DebugString());
    ValueList bad{t};
    for (int i = 0; i < 8; ++i) {
      bad.push_back(S("bad:" + std::to_string(i)));
      bad.push_back(I(i));
    }
    Reply r = Err(c, "MSETPX", bad);
    CHECK(r.code == Code::kInvalidArgument);
    CHECK(r.error == "invalid expire time in 'msetpx' command");
  }
  CHECK(Ok(c, "MEXISTS", {S("bad:0"), S("bad:7")}) == L({B(false), B(false)}));
}

TEST_CASE("MDEL and MEXISTS across shards", "[integration]") {
  ServerProcess server({"--shards", "4"});
  Client c(Opts(server, kTimeoutS));
  const ValueList keys = Keys("d:", 200, 4);
  ValueList mset;
  for (const Value& k : keys) {
    mset.push_back(k);
    mset.push_back(I(1));
  }
  Ok(c, "MSET", mset);
  ValueList probe{keys[199], S("absent"), keys[0], keys[0], keys[100]};
  CHECK(Ok(c, "MEXISTS", probe) == L({B(true), B(false), B(true), B(true), B(true)}));
  // A key named twice is deleted once.
  ValueList del(keys.begin(), keys.begin() + 100);
  del.push_back(keys[0]);
  del.push_back(S("absent"));
  CHECK(Ok(c, "MDEL", del) == I(100));
  CHECK(Ok(c, "MDEL", del) == I(0));
  CHECK(Ok(c, "MEXISTS", probe) == L({B(true), B(false), B(false), B(false), B(true)}));
  CHECK(Ok(c, "DBSIZE") == I(100));
  ValueList all_keys(keys.begin(), keys.end());
  ValueList expected(100, B(false));
  expected.insert(expected.end(), 100, B(true));
  CHECK(Ok(c, "MEXISTS", all_keys) == L(expected));
}

TEST_CASE("pipelined batch commands on many shards keep their own orders", "[integration]") {
  ServerProcess server({"--shards", "4"});
  Client c(Opts(server, kTimeoutS));
  const ValueList keys = Keys("p:", 64, 4);
  ValueList mset;
  for (size_t i = 0; i < keys.size(); ++i) {
    mset.push_back(keys[i]);
    mset.push_back(I(static_cast<int64_t>(i)));
  }
  Ok(c, "MSET", mset);
  // 300 MGETs in flight at once, each with its own rotation of the keys.
  constexpr int kRequests = 300;
  std::vector<std::promise<Reply>> promises(kRequests);
  std::vector<ValueList> expected(kRequests);
  for (int r = 0; r < kRequests; ++r) {
    ValueList args;
    for (size_t i = 0; i < keys.size(); i += 1 + r % 5) {
      const size_t k = (i + r) % keys.size();
      args.push_back(keys[k]);
      expected[r].push_back(I(static_cast<int64_t>(k)));
    }
    c.async().Call(r % 2 == 0 ? "MGET" : "mget", std::move(args),
                   [&promises, r](Reply reply) { promises[r].set_value(std::move(reply)); });
  }
  for (int r = 0; r < kRequests; ++r) {
    INFO("request " << r);
    Reply reply = promises[r].get_future().get();
    REQUIRE(reply.ok());
    CHECK(reply.value == L(expected[r]));
  }
}

// ---------------------------------------------------------------------------------------------
// CAS

// [value, version] from GETV, or {nil, 0}.
std::pair<Value, int64_t> GetV(Client& c, const Value& key) {
  Reply r = c.Call("GETV", {key});
  if (!r.ok() || r.value.is_null()) return {kNil, 0};
  return {r.value.AsList()[0], r.value.AsList()[1].AsInt()};
}

TEST_CASE("GETV and CAS", "[integration]") {
  ServerProcess server({"--shards", "4"});
  Client c(Opts(server, kTimeoutS));
  CHECK(Ok(c, "GETV", {S("k")}) == kNil);
  const int64_t v1 = Ok(c, "CAS", {S("k"), I(0), D("1.10")}).AsInt();
  CHECK(v1 > 0);
  CHECK(Ok(c, "GETV", {S("k")}) == L({D("1.10"), I(v1)}));
  CHECK(Ok(c, "CAS", {S("k"), I(0), S("again")}) == I(0));  // exists now
  const int64_t v2 = Ok(c, "CAS", {S("k"), I(v1), S("b"), S("EX"), I(100)}).AsInt();
  CHECK(v2 > v1);
  CHECK(Ok(c, "TTL", {S("k")}) == I(100));
  CHECK(Ok(c, "CAS", {S("k"), I(v1), S("stale")}) == I(0));
  CHECK(Ok(c, "GET", {S("k")}) == S("b"));
  CHECK(Ok(c, "TTL", {S("k")}) == I(100));  // a failed CAS changes nothing
  const int64_t v3 = Ok(c, "CAS", {S("k"), S(std::to_string(v2)), S("c"), S("KEEPTTL")}).AsInt();
  CHECK(v3 > v2);
  CHECK(Ok(c, "TTL", {S("k")}) == I(100));
  const int64_t v4 = Ok(c, "CAS", {S("k"), I(v3), S("d"), S("px"), I(200000)}).AsInt();
  CHECK(Ok(c, "PTTL", {S("k")}).AsInt() > 190000);
  const int64_t v5 = Ok(c, "CAS", {S("k"), I(v4), S("e")}).AsInt();
  CHECK(Ok(c, "TTL", {S("k")}) == I(-1));  // no option: the TTL is cleared, as with SET
  // Any other write moves the version on; a deleted and re-created key never repeats one.
  Ok(c, "SET", {S("k"), S("f")});
  const int64_t v6 = GetV(c, S("k")).second;
  CHECK(v6 > v5);
  CHECK(Ok(c, "CAS", {S("k"), I(v5), S("lost")}) == I(0));
  Ok(c, "DEL", {S("k")});
  CHECK(Ok(c, "CAS", {S("k"), I(v6), S("lost")}) == I(0));
  CHECK(Ok(c, "CAS", {S("k"), I(0), S("g")}).AsInt() > v6);
  // Integer keys work as everywhere.
  CHECK(Ok(c, "CAS", {I(7), I(0), S("seven")}).AsInt() > 0);
  CHECK(GetV(c, S("7")).first == S("seven"));
}

TEST_CASE("CAS and GETV errors", "[integration]") {
  ServerProcess server;
  Client c(Opts(server, kTimeoutS));
  CHECK(Err(c, "GETV").error == Arity("getv"));
  CHECK(Err(c, "GETV", {S("a"), S("b")}).error == Arity("getv"));
  CHECK(Err(c, "CAS", {S("k"), I(0)}).error == Arity("cas"));
  CHECK(Err(c, "CAS", {S("k"), I(0), S("v"), S("EX"), I(1), S("x")}).error == Arity("cas"));
  CHECK(Err(c, "CAS", {S("k"), S("x"), S("v")}).error == "value is not an integer or out of range");
  CHECK(Err(c, "CAS", {S("k"), I(-1), S("v")}).error == "value is out of range, must be positive");
  CHECK(Err(c, "CAS", {S("k"), I(0), S("v"), S("EX"), I(0)}).error ==
        "invalid expire time in 'cas' command");
  CHECK(Err(c, "CAS", {S("k"), I(0), S("v"), S("PX"), S("x")}).error ==
        "invalid expire time in 'cas' command");
  CHECK(Err(c, "CAS", {S("k"), I(0), S("v"), S("EX")}).error == "syntax error");
  CHECK(Err(c, "CAS", {S("k"), I(0), S("v"), S("NX")}).error == "syntax error");
  CHECK(Err(c, "CAS", {S("k"), I(0), S("v"), S("KEEPTTL"), S("EX")}).error == "syntax error");
  CHECK(Err(c, "CAS", {Value::Map({}), I(0), S("v")}).code == Code::kInvalidArgument);
  CHECK(Ok(c, "EXISTS", {S("k")}) == I(0));
}

TEST_CASE("racing CAS on one version: exactly one winner per round", "[integration]") {
  ServerProcess server({"--shards", "4"});
  constexpr int kThreads = 8;
  constexpr int kRounds = 25;
  {
    Client setup(Opts(server, kTimeoutS));
    Ok(setup, "SET", {S("race"), I(0)});
  }
  Barrier barrier(kThreads);
  // wins[round][thread]: the new version, or 0 for a loss; -1 for an error.
  std::vector<std::vector<int64_t>> wins(kRounds, std::vector<int64_t>(kThreads, -1));
  std::vector<std::vector<int64_t>> seen(kRounds, std::vector<int64_t>(kThreads, -1));
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Client c(Opts(server, kTimeoutS));
      for (int round = 0; round < kRounds; ++round) {
        const int64_t version = GetV(c, S("race")).second;
        seen[round][t] = version;
        barrier.Wait();  // every thread has read the same version before anyone writes
        Reply r = c.Call("CAS", {S("race"), I(version), S("t" + std::to_string(t))});
        wins[round][t] = r.ok() && r.value.type() == ValueType::kInt ? r.value.AsInt() : -1;
        barrier.Wait();
      }
    });
  }
  for (std::thread& th : threads) th.join();
  int64_t previous = 0;
  for (int round = 0; round < kRounds; ++round) {
    INFO("round " << round);
    int winners = 0;
    for (int t = 0; t < kThreads; ++t) {
      CHECK(seen[round][t] == seen[round][0]);
      CHECK(wins[round][t] >= 0);
      if (wins[round][t] > 0) {
        ++winners;
        CHECK(wins[round][t] > seen[round][t]);
      }
    }
    CHECK(winners == 1);
    CHECK(seen[round][0] > previous);
    previous = seen[round][0];
  }
}

TEST_CASE("counting with CAS from many threads loses no increment", "[integration]") {
  ServerProcess server({"--shards", "4"});
  constexpr int kThreads = 6;
  constexpr int kIncrements = 150;
  std::atomic<int> errors{0};
  std::atomic<int> conflicts{0};
  std::vector<std::vector<int64_t>> versions(kThreads);
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Client c(Opts(server, kTimeoutS));
      for (int i = 0; i < kIncrements; ++i) {
        for (int attempt = 0;; ++attempt) {
          Reply got = c.Call("GETV", {S("counter")});
          if (!got.ok() || attempt > 100000) {
            ++errors;
            return;
          }
          int64_t n = 0, version = 0;
          if (!got.value.is_null()) {
            n = got.value.AsList()[0].AsInt();
            version = got.value.AsList()[1].AsInt();
          }
          Reply r = c.Call("CAS", {S("counter"), I(version), I(n + 1)});
          if (!r.ok() || r.value.type() != ValueType::kInt) {
            ++errors;
            return;
          }
          if (r.value.AsInt() > 0) {
            versions[t].push_back(r.value.AsInt());
            break;
          }
          ++conflicts;
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  CHECK(errors == 0);
  Client c(Opts(server, kTimeoutS));
  CHECK(Ok(c, "GET", {S("counter")}) == I(kThreads * kIncrements));
  // Every successful CAS got a version of its own, and each thread saw its versions grow.
  std::set<int64_t> all;
  for (const std::vector<int64_t>& v : versions) {
    CHECK(v.size() == kIncrements);
    CHECK(std::is_sorted(v.begin(), v.end()));
    all.insert(v.begin(), v.end());
  }
  CHECK(all.size() == static_cast<size_t>(kThreads * kIncrements));
  UNSCOPED_INFO("conflicts retried: " << conflicts.load());
}

TEST_CASE("CAS versions and values are per namespace", "[integration]") {
  ServerProcess server({"--shards", "2"});
  Client a(Opts(server, kTimeoutS, "tenant-a"));
  Client b(Opts(server, kTimeoutS, "tenant-b"));
  Client def(Opts(server, kTimeoutS));
  const int64_t va = Ok(a, "CAS", {S("k"), I(0), S("a")}).AsInt();
  CHECK(Ok(b, "GETV", {S("k")}) == kNil);
  CHECK(Ok(def, "GETV", {S("k")}) == kNil);
  CHECK(Ok(b, "CAS", {S("k"), I(va), S("b")}) == I(0));  // b's key does not exist
  const int64_t vb = Ok(b, "CAS", {S("k"), I(0), S("b")}).AsInt();
  CHECK(vb > 0);
  CHECK(Ok(a, "GETV", {S("k")}) == L({S("a"), I(va)}));
  CHECK(Ok(b, "GET", {S("k")}) == S("b"));
  CHECK(Ok(def, "EXISTS", {S("k")}) == I(0));
}

// ---------------------------------------------------------------------------------------------
// Lists

TEST_CASE("list push, pop and range follow Redis", "[integration]") {
  ServerProcess server({"--shards", "4"});
  Client c(Opts(server, kTimeoutS));
  CHECK(Ok(c, "RPUSH", {S("l"), S("a"), S("b"), S("c")}) == I(3));
  CHECK(Ok(c, "LPUSH", {S("l"), S("x"), S("y")}) == I(5));
  CHECK(Ok(c, "LRANGE", {S("l"), I(0), I(-1)}) == L({S("y"), S("x"), S("a"), S("b"), S("c")}));
  CHECK(Ok(c, "LPUSH", {S("abc"), S("a"), S("b"), S("c")}) == I(3));
  CHECK(Ok(c, "LRANGE", {S("abc"), I(0), I(-1)}) == L({S("c"), S("b"), S("a")}));
  CHECK(Ok(c, "LLEN", {S("l")}) == I(5));
  CHECK(Ok(c, "LLEN", {S("missing")}) == I(0));
  // Redis index semantics.
  CHECK(Ok(c, "LRANGE", {S("l"), I(-3), I(-2)}) == L({S("a"), S("b")}));
  CHECK(Ok(c, "LRANGE", {S("l"), I(-100), I(0)}) == L({S("y")}));
  CHECK(Ok(c, "LRANGE", {S("l"), I(3), I(100)}) == L({S("b"), S("c")}));
  CHECK(Ok(c, "LRANGE", {S("l"), I(4), I(2)}) == L({}));
  CHECK(Ok(c, "LRANGE", {S("l"), I(5), I(-1)}) == L({}));
  CHECK(Ok(c, "LRANGE", {S("l"), S("-1"), S("-1")}) == L({S("c")}));
  CHECK(Ok(c, "LRANGE", {S("l"), I(INT64_MIN), I(INT64_MAX)}).AsList().size() == 5);
  CHECK(Ok(c, "LRANGE", {S("missing"), I(0), I(-1)}) == L({}));
  // Pops.
  CHECK(Ok(c, "LPOP", {S("l")}) == S("y"));
  CHECK(Ok(c, "RPOP", {S("l")}) == S("c"));
  CHECK(Ok(c, "LPOP", {S("l"), I(0)}) == L({}));
  CHECK(Ok(c, "LLEN", {S("l")}) == I(3));
  CHECK(Ok(c, "RPOP", {S("l"), I(2)}) == L({S("b"), S("a")}));
  CHECK(Ok(c, "LPOP", {S("l"), I(10)}) == L({S("x")}));
  // The emptied list is gone.
  CHECK(Ok(c, "EXISTS", {S("l")}) == I(0));
  CHECK(Ok(c, "LPOP", {S("l")}) == kNil);
  CHECK(Ok(c, "RPOP", {S("l"), I(3)}) == kNil);
  CHECK(Ok(c, "LPOP", {S("l"), I(0)}) == kNil);
  CHECK(Ok(c, "DBSIZE") == I(1));
  // Elements keep their types; GET of a list key returns the list.
  ValueList typed{S("l2"), I(1), D("2.50"), Value::Bytes("b"), L({kNil}), B(false)};
  CHECK(Ok(c, "RPUSH", typed) == I(5));
  CHECK(Ok(c, "GET", {S("l2")}) == L(ValueList(typed.begin() + 1, typed.end())));
  CHECK(Ok(c, "RPOP", {S("l2")}) == B(false));
  CHECK(Ok(c, "LPOP", {S("l2")}) == I(1));
}

TEST_CASE("lists: a queue in and out, large lists, expiry", "[integration]") {
  ServerProcess server({"--shards", "4"});
  Client c(Opts(server, kTimeoutS));
  ValueList push{S("q")};
  for (int i = 0; i < 5000; ++i) push.push_back(I(i));
  CHECK(Ok(c, "RPUSH", push) == I(5000));
  CHECK(Ok(c, "LRANGE", {S("q"), I(4998), I(-1)}) == L({I(4998), I(4999)}));
  CHECK(Ok(c, "LRANGE", {S("q"), I(0), I(-1)}).AsList().size() == 5000);
  Value popped = Ok(c, "LPOP", {S("q"), I(4000)});
  REQUIRE(popped.AsList().size() == 4000);
  CHECK(popped.AsList()[3999] == I(3999));
  for (int i = 4000; i < 4100; ++i) CHECK(Ok(c, "LPOP", {S("q")}) == I(i));
  CHECK(Ok(c, "LLEN", {S("q")}) == I(900));
  // A list keeps its TTL through pushes and pops.
  Ok(c, "EXPIRE", {S("q"), I(100)});
  Ok(c, "RPUSH", {S("q"), I(-1)});
  Ok(c, "RPOP", {S("q")});
  CHECK(Ok(c, "TTL", {S("q")}) == I(100));
  Ok(c, "PEXPIRE", {S("q"), I(30)});
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  CHECK(Ok(c, "LLEN", {S("q")}) == I(0));
  CHECK(Ok(c, "LPUSH", {S("q"), S("fresh")}) == I(1));
  CHECK(Ok(c, "TTL", {S("q")}) == I(-1));
}

TEST_CASE("list commands on a string key are WRONGTYPE and change nothing", "[integration]") {
  ServerProcess server;
  Client c(Opts(server, kTimeoutS));
  Ok(c, "SET", {S("s"), S("text")});
  for (auto [cmd, args] : std::initializer_list<std::pair<const char*, ValueList>>{
           {"RPUSH", {S("s"), I(1)}},
           {"LPUSH", {S("s"), I(1), I(2)}},
           {"LPOP", {S("s")}},
           {"RPOP", {S("s"), I(1)}},
           {"LRANGE", {S("s"), I(0), I(-1)}},
           {"LLEN", {S("s")}},
       }) {
    INFO(cmd);
    Reply r = Err(c, cmd, args);
    CHECK(r.code == Code::kWrongType);
    CHECK(r.error == "Operation against a key holding the wrong kind of value");
  }
  CHECK(Ok(c, "GET", {S("s")}) == S("text"));
  // ...and the other way round: string commands on a list.
  Ok(c, "RPUSH", {S("l"), I(1)});
  CHECK(Err(c, "INCR", {S("l")}).code == Code::kWrongType);
  CHECK(Ok(c, "LLEN", {S("l")}) == I(1));
}

TEST_CASE("list commands check their arguments", "[integration]") {
  ServerProcess server;
  Client c(Opts(server, kTimeoutS));
  CHECK(Err(c, "RPUSH", {S("l")}).error == Arity("rpush"));
  CHECK(Err(c, "LPUSH").error == Arity("lpush"));
  CHECK(Err(c, "LPOP").error == Arity("lpop"));
  CHECK(Err(c, "RPOP", {S("l"), I(1), I(2)}).error == Arity("rpop"));
  CHECK(Err(c, "LRANGE", {S("l"), I(0)}).error == Arity("lrange"));
  CHECK(Err(c, "LLEN", {S("l"), S("m")}).error == Arity("llen"));
  Ok(c, "RPUSH", {S("l"), I(1)});
  CHECK(Err(c, "LPOP", {S("l"), I(-1)}).error == "value is out of range, must be positive");
  CHECK(Err(c, "RPOP", {S("l"), S("x")}).error == "value is not an integer or out of range");
  CHECK(Err(c, "LRANGE", {S("l"), S("a"), I(1)}).error ==
        "value is not an integer or out of range");
  CHECK(Err(c, "LRANGE", {S("l"), I(0), D("1.5")}).code == Code::kInvalidArgument);
  CHECK(Err(c, "RPUSH", {Value::Double(1.0), I(1)}).code == Code::kInvalidArgument);
  CHECK(Ok(c, "LRANGE", {S("l"), I(0), I(-1)}) == L({I(1)}));
}

TEST_CASE("lists are per namespace", "[integration]") {
  ServerProcess server({"--shards", "3"});
  Client a(Opts(server, kTimeoutS, "tenant-a"));
  Client b(Opts(server, kTimeoutS, "tenant-b"));
  Client def(Opts(server, kTimeoutS));
  CHECK(Ok(a, "RPUSH", {S("jobs"), S("a1"), S("a2")}) == I(2));
  CHECK(Ok(b, "LLEN", {S("jobs")}) == I(0));
  CHECK(Ok(b, "LPOP", {S("jobs")}) == kNil);
  CHECK(Ok(b, "LPUSH", {S("jobs"), S("b1")}) == I(1));
  CHECK(Ok(def, "LRANGE", {S("jobs"), I(0), I(-1)}) == L({}));
  CHECK(Ok(a, "LRANGE", {S("jobs"), I(0), I(-1)}) == L({S("a1"), S("a2")}));
  CHECK(Ok(b, "RPOP", {S("jobs")}) == S("b1"));
  CHECK(Ok(b, "EXISTS", {S("jobs")}) == I(0));
  CHECK(Ok(a, "LLEN", {S("jobs")}) == I(2));
  // Batches too.
  Ok(a, "MSET", {S("x"), I(1), S("y"), I(2)});
  CHECK(Ok(b, "MGET", {S("x"), S("y")}) == L({kNil, kNil}));
  CHECK(Ok(b, "MDEL", {S("x"), S("y")}) == I(0));
  CHECK(Ok(a, "MEXISTS", {S("x"), S("y")}) == L({B(true), B(true)}));
}

// ---------------------------------------------------------------------------------------------
// CLI

TEST_CASE("the CLI prints batch, CAS and list replies", "[integration][cli]") {
  ServerProcess server({"--shards", "4"});
  const std::string cli = RunfilePath("tools/data-bridge-kv-cli");
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"-p", std::to_string(server.port())});
    ProgramResult r = RunProgram(cli, args, "", 20000);
    INFO("stderr: " << r.err);
    CHECK(r.exit_code == 0);
    return r.out;
  };
  CHECK(run({"MSET", "a", "1", "b", "hello"}) == "OK\n");
  CHECK(run({"MGET", "a", "b"}) == "1) (integer) 1\n2) \"hello\"\n");
  CHECK(run({"MGET", "a", "missing", "b"}) == "1) (integer) 1\n2) (nil)\n3) \"hello\"\n");
  CHECK(run({"MEXISTS", "a", "missing"}) == "1) (true)\n2) (false)\n");
  CHECK(run({"MDEL", "a", "missing"}) == "(integer) 1\n");
  CHECK(run({"RPUSH", "q", "x", "y", "z"}) == "(integer) 3\n");
  CHECK(run({"LRANGE", "q", "0", "-1"}) == "1) \"x\"\n2) \"y\"\n3) \"z\"\n");
  CHECK(run({"LPOP", "q"}) == "\"x\"\n");
  CHECK(run({"LLEN", "q"}) == "(integer) 2\n");
  CHECK(run({"CAS", "c", "0", "v"}).rfind("(integer) ", 0) == 0);
  const std::string getv = run({"GETV", "c"});
  CHECK(getv.rfind("1) \"v\"\n2) (integer) ", 0) == 0);
}

}  // namespace
}  // namespace dbkv::testing
