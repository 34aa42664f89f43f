// Pipelining through the real server: thousands of requests in flight on one connection,
// many connections at once, and the request ids and order of the replies on the wire.
#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "client/client.h"
#include "core/shard_hash.h"
#include "protocol/opcodes.h"
#include "protocol/wire_format.h"
#include "tests/server_process.h"
#include "tests/test_util.h"

namespace dbkv::testing {
namespace {

namespace asio = boost::asio;
namespace op = protocol::op;
using client::AsyncClient;
using client::Client;
using Clock = std::chrono::steady_clock;

constexpr double kTimeoutS = 20;  // client request timeout

// Runs io until done() holds; false if the deadline passes first.
bool RunUntil(asio::io_context& io, const std::function<bool()>& done,
              std::chrono::seconds limit = std::chrono::seconds(30)) {
  const auto deadline = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    if (io.stopped()) io.restart();
    io.run_one_for(std::chrono::milliseconds(100));
  }
  return true;
}

TEST_CASE("10 000 pipelined INCRs on one connection answer 1..10000 in order",
          "[integration][pipelining]") {
  ServerProcess server({"--shards", "4"});
  constexpr int kRequests = 10000;
  asio::io_context io;
  AsyncClient client(Opts(server, kTimeoutS), &io);
  std::vector<Reply> replies;
  replies.reserve(kRequests);
  // The loop is not running yet: every request is queued before the connection exists, so
  // all of them are in flight at once.
  for (int i = 0; i < kRequests; ++i) {
    client.Call("INCR", {S("counter")}, [&](Reply r) { replies.push_back(std::move(r)); });
  }
  CHECK(client.inflight() == kRequests);
  REQUIRE(RunUntil(io, [&] { return replies.size() == kRequests; }));

  int wrong = 0;
  for (int i = 0; i < kRequests; ++i) {
    if (replies[i].ok() && replies[i].value == I(i + 1)) continue;
    if (wrong++ == 0) {
      FAIL_CHECK("reply " << i << " is " << replies[i].value.DebugString() << " "
                          << replies[i].error);
    }
  }
  CHECK(wrong == 0);
  CHECK(client.inflight() == 0);
}

TEST_CASE("a pipeline of SET/GET/DEL/EXISTS over 4 shards sees its own writes in order",
          "[integration][pipelining]") {
  ServerProcess server({"--shards", "4"});
  constexpr int kRequests = 20000;
  constexpr int kKeys = 200;
  std::vector<std::string> keys;
  std::set<uint32_t> shards_used;
  for (int k = 0; k < kKeys; ++k) {
    keys.push_back("key:" + std::to_string(k));
    shards_used.insert(ShardOf(keys.back(), 4));
  }
  REQUIRE(shards_used.size() == 4);

  // A model of the store gives the expected reply of every request at the time it is issued.
  std::unordered_map<std::string, Value> model;
  std::vector<Reply> expected;
  std::vector<Reply> got(kRequests);
  int answered = 0;
  asio::io_context io;
  AsyncClient client(Opts(server, kTimeoutS), &io);
  std::mt19937 rng(20240601);
  for (int i = 0; i < kRequests; ++i) {
    const std::string& key = keys[rng() % kKeys];
    auto done = [&, i](Reply r) {
      got[i] = std::move(r);
      ++answered;
    };
    switch (rng() % 8) {
      case 0:
      case 1:
      case 2: {
        Value v = S("v" + std::to_string(i) + (i % 3 == 0 ? std::string(100, 'x') : ""));
        client.Call("SET", {S(key), v}, done);
        model[key] = v;
        expected.push_back(Reply::Ok());
        break;
      }
      case 3:
      case 4:
      case 5: {
        client.Call("GET", {S(key)}, done);
        auto it = model.find(key);
        expected.push_back(it == model.end() ? Reply::Nil() : Reply::Of(it->second));
        break;
      }
      case 6: {
        client.Call("DEL", {S(key)}, done);
        expected.push_back(Reply::Of(I(model.erase(key))));
        break;
      }
      default: {
        // Several keys, on several shards: split by the server and merged back.
        ValueList probe;
        int64_t present = 0;
        for (int j = 0; j < 4; ++j) {
          const std::string& k = keys[rng() % kKeys];
          probe.push_back(S(k));
          present += model.count(k);
        }
        client.Call("EXISTS", probe, done);
        expected.push_back(Reply::Of(I(present)));
      }
    }
  }
  REQUIRE(RunUntil(io, [&] { return answered == kRequests; }));

  int wrong = 0;
  for (int i = 0; i < kRequests; ++i) {
    const Reply& g = got[i];
    const Reply& e = expected[i];
    if (g.ok() && g.value == e.value && g.simple == e.simple) continue;
    if (wrong++ < 5) {
      FAIL_CHECK("request " << i << ": expected " << e.value.DebugString() << ", got "
                            << g.value.DebugString() << " " << g.error);
    }
  }
  CHECK(wrong == 0);
}

// Blocks until count reaches target (bounded).
class Latch {
 public:
  void Arrive() {
    std::lock_guard<std::mutex> lock(mu_);
    ++count_;
    cv_.notify_all();
  }
  bool WaitFor(int target, std::chrono::seconds limit) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, limit, [&] { return count_ >= target; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int count_ = 0;
};

int64_t InfoConnections(Client& c) { return InfoInt(c, "connections"); }

TEST_CASE("64 concurrent pipelined clients all get correct replies", "[integration][pipelining]") {
  ServerProcess server({"--shards", "4", "--io-threads", "2"});
  constexpr int kClients = 64;
  constexpr int kRounds = 100;  // 3 requests each: 300 per client

  Latch connected;
  std::promise<void> release_promise;
  std::shared_future<void> release = release_promise.get_future().share();
  std::mutex mu;
  std::vector<int64_t> incr_values;  // every INCR reply of every client
  std::vector<std::string> failures;
  std::vector<std::thread> threads;
  threads.reserve(kClients);
  for (int t = 0; t < kClients; ++t) {
    threads.emplace_back([&, t] {
      // Declared before the client: its destructor may still run callbacks that use them.
      std::promise<void> all_done;
      std::atomic<int> left{3 * kRounds};
      std::vector<std::string> errors;
      std::vector<int64_t> incrs;
      auto finish = [&] {
        if (--left == 0) all_done.set_value();
      };
      AsyncClient client(Opts(server, kTimeoutS));
      Status s = client.Connect();
      connected.Arrive();
      if (!s.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        failures.push_back("client " + std::to_string(t) + ": " + s.ToString());
        return;
      }
      // Hold the connection until the main thread has counted it.
      release.wait();
      for (int j = 0; j < kRounds; ++j) {
        const std::string key = "t" + std::to_string(t) + ":" + std::to_string(j);
        const Value value = S("value-" + std::to_string(t) + "-" + std::to_string(j));
        client.Call("SET", {S(key), value}, [&, key](const Reply& r) {
          if (!r.ok() || r.value != S("OK")) errors.push_back("SET " + key + ": " + r.error);
          finish();
        });
        client.Call("GET", {S(key)}, [&, key, value](const Reply& r) {
          if (!r.ok() || r.value != value) {
            errors.push_back("GET " + key + ": " + r.value.DebugString() + r.error);
          }
          finish();
        });
        client.Call("INCR", {S("shared")}, [&](const Reply& r) {
          if (r.ok() && r.value.type() == ValueType::kInt) {
            incrs.push_back(r.value.AsInt());
          } else {
            errors.push_back("INCR: " + r.error);
          }
          finish();
        });
      }
      // Callbacks run on the client's thread; all_done orders them before the reads below.
      auto fut = all_done.get_future();
      const bool finished = fut.wait_for(std::chrono::seconds(30)) == std::future_status::ready;
      std::lock_guard<std::mutex> lock(mu);
      if (!finished) {
        failures.push_back("client " + std::to_string(t) + " timed out");
        return;  // the client's destructor fails what is left
      }
      incr_values.insert(incr_values.end(), incrs.begin(), incrs.end());
      for (const std::string& e : errors) failures.push_back("client " + std::to_string(t) + e);
    });
  }

  Client main_client(Opts(server, kTimeoutS));
  const bool all_connected = connected.WaitFor(kClients, std::chrono::seconds(30));
  int64_t open_connections = -1;
  if (all_connected) open_connections = InfoConnections(main_client);
  release_promise.set_value();
  for (std::thread& t : threads) t.join();

  REQUIRE(all_connected);
  CHECK(open_connections == kClients + 1);  // theirs and ours
  INFO((failures.empty() ? "" : failures.front()));
  CHECK(failures.empty());
  // Every INCR got its own value: 1..N, none lost, none repeated.
  std::sort(incr_values.begin(), incr_values.end());
  REQUIRE(incr_values.size() == size_t{kClients} * kRounds);
  bool sequence = true;
  for (size_t i = 0; i < incr_values.size(); ++i) {
    sequence = sequence && incr_values[i] == static_cast<int64_t>(i + 1);
  }
  CHECK(sequence);
  Reply shared = main_client.Call("GET", {S("shared")});
  REQUIRE(shared.ok());
  CHECK(shared.value == I(kClients * kRounds));
  Reply sample = main_client.Call("GET", {S("t63:99")});
  CHECK(sample.value == S("value-63-99"));

  // The server notices the clients leave.
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  int64_t left = InfoConnections(main_client);
  while (left != 1 && Clock::now() < deadline) left = InfoConnections(main_client);
  CHECK(left == 1);
}

// Keys that fall on distinct shards of 4, so that one pipeline spans all of them.
std::vector<std::string> KeysOnDistinctShards() {
  std::vector<std::string> keys(4);
  int found = 0;
  for (int i = 0; found < 4; ++i) {
    std::string k = "key" + std::to_string(i);
    std::string& slot = keys[ShardOf(k, 4)];
    if (slot.empty()) {
      slot = k;
      ++found;
    }
  }
  return keys;
}

struct Expected {
  uint32_t id;
  Reply reply;
};

// Checks the next frames against expected, in order, by id and by reply.
void ExpectReplies(RawConnection& conn, const std::vector<Expected>& expected) {
  for (size_t i = 0; i < expected.size(); ++i) {
    const Expected& e = expected[i];
    Frame f = conn.Read();
    INFO("reply #" << i << " (request id " << e.id << "): got id " << f.header.request_id
                   << ", code " << static_cast<int>(f.reply.code) << " " << f.reply.error
                   << " value " << f.reply.value.DebugString());
    CHECK(f.header.request_id == e.id);
    CHECK(f.header.version == protocol::kVersion);
    CHECK(f.header.flags == 0);
    CHECK(f.reply.code == e.reply.code);
    if (e.reply.ok()) {
      CHECK(f.reply.simple == e.reply.simple);
      if (e.reply.value.type() == ValueType::kMap) {
        CHECK(f.reply.value.type() == ValueType::kMap);
      } else {
        CHECK(f.reply.value == e.reply.value);
      }
    } else if (!e.reply.error.empty()) {
      CHECK(f.reply.error == e.reply.error);
    }
  }
}

// One pipeline mixing shard commands on every shard, connection commands, multi-shard and
// all-shard commands, and every kind of error, with ids in no particular order.
std::string MixedPipeline(std::vector<Expected>* expected) {
  const std::vector<std::string> k = KeysOnDistinctShards();
  std::string out;
  auto add = [&](uint32_t id, Reply reply) { expected->push_back({id, std::move(reply)}); };
  AppendRequest(&out, 1000, op::kSet, {S(k[0]), S("v0")});
  add(1000, Reply::Ok());
  AppendRequest(&out, 7, op::kSet, {S(k[1]), S("v1")});
  add(7, Reply::Ok());
  AppendRequest(&out, 0xffffffffu, op::kPing, {});
  add(0xffffffffu, Reply::Simple("PONG"));
  AppendRequest(&out, 0, op::kGet, {S(k[0])});
  add(0, Reply::Of(S("v0")));
  AppendRequest(&out, 42, op::kGet, {S(k[1])});
  add(42, Reply::Of(S("v1")));
  AppendRequest(&out, 5, op::kIncr, {S(k[0])});
  add(5, Reply::Error(Code::kWrongType, ""));
  AppendByName(&out, 6, "NOSUCHCOMMAND", {S(k[2])});
  add(6, Reply::Error(Code::kUnknownCommand, "unknown command 'NOSUCHCOMMAND'"));
  AppendRequest(&out, 8, 0x7f, {});
  add(8, Reply::Error(Code::kUnknownCommand, "unknown opcode 127"));
  {
    // A well-formed frame whose payload is not msgpack.
    std::string bad;
    AppendRequest(&bad, 9, op::kGet, {S(k[2])});
    bad[protocol::kHeaderSize] = '\xc1';  // never used in msgpack
    out += bad;
    add(9, Reply::Error(Code::kProtocol, ""));
  }
  AppendRequest(&out, 10, op::kIncr, {S(k[2]), I(5)});
  add(10, Reply::Of(I(5)));
  AppendRequest(&out, 11, op::kExists, {S(k[0]), S(k[1]), S(k[2]), S(k[3]), S(k[0])});
  add(11, Reply::Of(I(4)));
  AppendRequest(&out, 12, op::kInfo, {});
  add(12, Reply::Of(Value::Map({})));
  AppendByName(&out, 13, "get", {S(k[1])});
  add(13, Reply::Of(S("v1")));
  AppendRequest(&out, 14, op::kPing, {S("hello")});
  add(14, Reply::Of(S("hello")));
  AppendRequest(&out, 15, op::kGet, {});
  add(15, Reply::Error(Code::kInvalidArgument, "wrong number of arguments for 'get' command"));
  AppendRequest(&out, 16, op::kDel, {S(k[0]), S(k[1]), S(k[3])});
  add(16, Reply::Of(I(2)));
  AppendRequest(&out, 7, op::kGet, {S(k[0])});  // ids may repeat: the server just echoes them
  add(7, Reply::Nil());
  AppendRequest(&out, 17, op::kSet, {S(k[3]), S("v3"), S("BOGUS")});
  add(17, Reply::Error(Code::kInvalidArgument, "syntax error"));
  AppendRequest(&out, 18, op::kGet, {I(12345)});  // an integer key stands for its text
  add(18, Reply::Nil());
  AppendRequest(&out, 19, op::kGet, {Value::List({})});
  add(19, Reply::Error(Code::kInvalidArgument, ""));
  AppendRequest(&out, 20, op::kPing, {});
  add(20, Reply::Simple("PONG"));
  return out;
}

TEST_CASE("replies carry their request ids, in request order, across shards",
          "[integration][pipelining]") {
  ServerProcess server({"--shards", "4"});
  std::vector<Expected> expected;
  const std::string pipeline = MixedPipeline(&expected);
  RawConnection conn(server.port());
  conn.Send(pipeline);
  ExpectReplies(conn, expected);
}

TEST_CASE("a pipeline sent one byte at a time gets the same replies", "[integration][pipelining]") {
  ServerProcess server({"--shards", "4"});
  std::vector<Expected> expected;
  const std::string pipeline = MixedPipeline(&expected);
  RawConnection conn(server.port());
  for (char c : pipeline) conn.Send(std::string_view(&c, 1));
  ExpectReplies(conn, expected);
}

TEST_CASE("the same pipeline sent twice on one connection is answered twice, in order",
          "[integration][pipelining]") {
  ServerProcess server({"--shards", "4"});
  std::vector<Expected> expected;
  const std::string pipeline = MixedPipeline(&expected);
  RawConnection conn(server.port());
  conn.Send(pipeline + pipeline);
  ExpectReplies(conn, expected);
  // The second round finds k[2] at 5 and k[3] never written (its SET failed).
  for (Expected& e : expected) {
    if (e.id == 10) e.reply = Reply::Of(I(10));
    if (e.id == 11) e.reply = Reply::Of(I(4));
  }
  ExpectReplies(conn, expected);
}

}  // namespace
}  // namespace dbkv::testing
