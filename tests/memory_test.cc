// --max-memory, the eviction policies and active expiry, through the real server.
#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"
#include "core/status.h"
#include "tests/server_process.h"
#include "tests/test_util.h"

namespace dbkv::testing {
namespace {

using client::Client;

std::string Key(int i) { return "key:" + std::to_string(i); }

// A value of n bytes that names its key, so that a read can be checked exactly.
std::string ValueFor(int i, size_t n) {
  std::string v = "value-of-" + std::to_string(i) + ":";
  v.resize(n, static_cast<char>('a' + i % 26));
  return v;
}

// Writes keys [from, to) with values of n bytes, 100 per MSET. Returns how many MSETs failed
// with OOM (the rest must succeed).
int WriteRange(Client& c, int from, int to, size_t n, std::vector<int>* stored = nullptr) {
  int oom = 0;
  for (int i = from; i < to; i += 100) {
    ValueList args;
    const int end = std::min(to, i + 100);
    for (int k = i; k < end; ++k) {
      args.push_back(S(Key(k)));
      args.push_back(S(ValueFor(k, n)));
    }
    Reply r = c.Call("MSET", std::move(args));
    if (!r.ok()) {
      REQUIRE(r.code == Code::kOutOfMemory);
      ++oom;
      continue;
    }
    if (stored != nullptr) {
      for (int k = i; k < end; ++k) stored->push_back(k);
    }
  }
  return oom;
}

}  // namespace

TEST_CASE("allkeys-lru keeps memory under --max-memory by evicting the oldest keys",
          "[integration][memory]") {
  ServerProcess server({"--shards", "2", "--max-memory", "8MiB", "--eviction", "allkeys-lru"});
  Client c(Opts(server));
  CHECK(InfoInt(c, "max_memory") == 8 << 20);
  // 40 MiB of 1 KiB values: five times the limit. Every write succeeds.
  const int n = 40 * 1024;
  CHECK(WriteRange(c, 0, n, 1000) == 0);
  const int64_t memory = InfoInt(c, "memory_bytes");
  CHECK(memory <= 8 << 20);
  CHECK(memory > 6 << 20);  // it evicts what it must, not everything
  const int64_t evicted = InfoInt(c, "evicted_keys");
  const int64_t keys = InfoInt(c, "keys");
  CHECK(evicted > n / 2);
  CHECK(keys + evicted == n);
  // The most recent writes are there, with their exact values; the first ones went.
  int recent = 0;
  for (int i = n - 1000; i < n; ++i) {
    Value v = Ok(c, "GET", {S(Key(i))});
    if (!v.is_null()) {
      CHECK(v == S(ValueFor(i, 1000)));
      ++recent;
    }
  }
  CHECK(recent >= 990);
  int old = 0;
  for (int i = 0; i < 1000; ++i) old += Ok(c, "GET", {S(Key(i))}).is_null() ? 0 : 1;
  CHECK(old <= 10);
}

TEST_CASE("allkeys-lru keeps keys that are read over keys that are not", "[integration][memory]") {
  ServerProcess server({"--shards", "1", "--max-memory", "4MiB", "--eviction", "allkeys-lru"});
  Client c(Opts(server));
  WriteRange(c, 0, 2000, 1000);  // about 2.3 MiB
  // Keys 0..499 are read later than any was written, and keys 2000.. are written later still.
  // The sleeps make "later" visible to the millisecond access clock (time is under test).
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  for (int i = 0; i < 500; ++i) REQUIRE(!Ok(c, "GET", {S(Key(i))}).is_null());
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  WriteRange(c, 2000, 4800, 1000);  // evicts about a thousand keys
  const int64_t evicted = InfoInt(c, "evicted_keys");
  REQUIRE(evicted >= 500);
  REQUIRE(evicted < 1500);
  int read_kept = 0;
  for (int i = 0; i < 500; ++i) read_kept += Ok(c, "EXISTS", {S(Key(i))}).AsInt();
  int unread_kept = 0;
  for (int i = 500; i < 2000; ++i) unread_kept += Ok(c, "EXISTS", {S(Key(i))}).AsInt();
  CHECK(read_kept >= 490);
  // The evictions came from the keys nobody read (approximately: LRU is sampled by segment).
  CHECK(1500 - unread_kept >= evicted * 95 / 100);
}

TEST_CASE("noeviction refuses writes past the limit with OOM and loses nothing",
          "[integration][memory]") {
  ServerProcess server({"--shards", "2", "--max-memory", "4MiB"});
  Client c(Opts(server));
  std::vector<int> stored;
  const int oom = WriteRange(c, 0, 10000, 1000, &stored);
  CHECK(oom > 0);
  CHECK(!stored.empty());
  CHECK(InfoInt(c, "evicted_keys") == 0);
  CHECK(InfoInt(c, "memory_bytes") <= (4 << 20) + 200 * 1024);  // at most one MSET over
  Reply r = c.Call("SET", {S("one-more"), S(std::string(1000, 'x'))});
  REQUIRE(!r.ok());
  CHECK(r.code == Code::kOutOfMemory);
  CHECK(r.error.find("--max-memory") != std::string::npos);
  // Reads, and writes that only shrink the data, still work.
  CHECK(Ok(c, "GET", {S(Key(stored[0]))}) == S(ValueFor(stored[0], 1000)));
  CHECK(Ok(c, "EXPIRE", {S(Key(stored[1])), I(1000)}) == I(1));
  // Every acknowledged write is there, exactly.
  for (int k : stored) REQUIRE(Ok(c, "GET", {S(Key(k))}) == S(ValueFor(k, 1000)));
  // Deleting makes room again.
  ValueList del;
  for (size_t i = 0; i < stored.size() / 2; ++i) del.push_back(S(Key(stored[i])));
  CHECK(Ok(c, "DEL", del).AsInt() == static_cast<int64_t>(del.size()));
  CHECK(Ok(c, "SET", {S("one-more"), S(std::string(1000, 'x'))}) == S("OK"));
}

TEST_CASE("volatile-ttl evicts keys with an expiry, soonest first, then refuses",
          "[integration][memory]") {
  ServerProcess server({"--shards", "1", "--max-memory", "4MiB", "--eviction", "volatile-ttl"});
  Client c(Opts(server));
  // 1.5 MiB that never expires, then keys with expiries one hour and more away.
  WriteRange(c, 0, 1500, 1000);
  int volatile_written = 0;
  for (int i = 100000; i < 104000; ++i) {
    Reply r = c.Call("SET", {S(Key(i)), S(ValueFor(i, 1000)), S("EX"), I(3600 + i - 100000)});
    REQUIRE(r.ok());
    ++volatile_written;
  }
  CHECK(InfoInt(c, "evicted_keys") > 0);
  // Persistent keys are all there; the volatile ones kept are the latest to expire.
  for (int i = 0; i < 1500; ++i) REQUIRE(Ok(c, "EXISTS", {S(Key(i))}) == I(1));
  CHECK(Ok(c, "EXISTS", {S(Key(100000))}) == I(0));
  CHECK(Ok(c, "EXISTS", {S(Key(103999))}) == I(1));
  // Only persistent keys now: nothing to evict, so writes fail.
  ValueList del;
  for (int i = 100000; i < 104000; ++i) del.push_back(S(Key(i)));
  Ok(c, "DEL", del);
  WriteRange(c, 1500, 6000, 1000);
  Reply r = c.Call("SET", {S("persistent"), S(std::string(1000, 'p'))});
  REQUIRE(!r.ok());
  CHECK(r.code == Code::kOutOfMemory);
}

TEST_CASE("expired keys are reclaimed within about a second without being read",
          "[integration][memory]") {
  ServerProcess server({"--shards", "2"});
  Client c(Opts(server));
  const int n = 200000;
  // Writing them takes well under the TTL, unless a sanitizer slows everything ten-fold.
  const int64_t ttl_ms = kSanitized ? 20000 : 1500;
  for (int i = 0; i < n; i += 500) {
    ValueList args{I(ttl_ms)};
    for (int k = i; k < i + 500; ++k) {
      args.push_back(S(Key(k)));
      args.push_back(S("v"));
    }
    const Reply stored = c.Call("MSETPX", std::move(args));
    REQUIRE(stored.ok());
  }
  CHECK(Ok(c, "SET", {S("stays"), S("here")}) == S("OK"));
  CHECK(InfoInt(c, "keys") == n + 1);
  const int64_t memory_full = InfoInt(c, "memory_bytes");
  // Meanwhile another client reads a key that stays, timing each read.
  std::atomic<bool> stop{false};
  std::vector<double> latencies_us;
  std::thread reader([&] {
    Client r(Opts(server));
    while (!stop.load()) {
      const auto t0 = std::chrono::steady_clock::now();
      Reply got = r.Call("GET", {S("stays")});
      const auto t1 = std::chrono::steady_clock::now();
      if (!got.ok()) break;
      latencies_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    }
  });
  // DBSIZE counts keys not yet reclaimed: it falls to 1 with nobody reading them.
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::seconds(kSanitized ? 60 : 10);
  int64_t keys = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    keys = Ok(c, "DBSIZE").AsInt();
    if (keys == 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const double took_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  stop = true;
  reader.join();
  CHECK(keys == 1);
  CHECK(InfoInt(c, "expired_keys") == n);
  CHECK(InfoInt(c, "memory_bytes") < memory_full / 10);
  CHECK(Ok(c, "GET", {S("stays")}) == S("here"));
  std::sort(latencies_us.begin(), latencies_us.end());
  if (!latencies_us.empty()) {
    auto pct = [&](double p) {
      return latencies_us[std::min(latencies_us.size() - 1,
                                   static_cast<size_t>(p * latencies_us.size()))];
    };
    WARN("mass expiry of " << n << " keys: reclaimed " << took_s << " s after the writes; "
                           << latencies_us.size() << " concurrent GETs, p50 " << pct(0.5)
                           << " us, p99 " << pct(0.99) << " us, max " << latencies_us.back()
                           << " us");
  }
}

}  // namespace dbkv::testing
