// Tiered storage through the real server binary (storage/COLD_FORMAT.md): more data than
// --max-memory, read back exactly, across restarts; cold values overwritten, deleted and expired
// without disk reads; compaction; damaged records.
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "client/client.h"
#include "core/status.h"
#include "protocol/resp.h"
#include "tests/server_process.h"
#include "tests/test_util.h"

namespace dbkv::testing {
namespace {

using client::Client;
using Clock = std::chrono::steady_clock;

// A Celery result key: "celery-task-meta-" and a UUID, 53 bytes.
std::string TaskKey(int i) {
  char uuid[40];
  const uint32_t h = static_cast<uint32_t>(i) * 2654435761u;
  std::snprintf(uuid, sizeof(uuid), "%08x-%04x-4%03x-a%03x-%012x", h, i & 0xffff, (i >> 4) & 0xfff,
                (h >> 8) & 0xfff, i);
  return std::string("celery-task-meta-") + uuid;
}

// A Celery-like result document of 1 to 4 KiB, different for every i (and compressible as JSON
// is).
std::string TaskResult(int i) {
  const size_t size = 1000 + (static_cast<uint32_t>(i) * 7919u) % 3096;
  std::string v = "{\"status\": \"SUCCESS\", \"task_id\": \"" + TaskKey(i).substr(17) +
                  "\", \"date_done\": \"2026-11-26T04:" + std::to_string(i % 60) +
                  ":00\", \"result\": [";
  uint32_t x = static_cast<uint32_t>(i) + 1;
  while (v.size() < size) {
    x = x * 1103515245u + 12345u;
    v += "{\"row\": " + std::to_string(x % 100000) + ", \"name\": \"item-" +
         std::to_string((x >> 8) % 977) + "\"}, ";
  }
  v.resize(size - 2);
  v += "]}";
  return v;
}

uint64_t RssBytes(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

// Writes keys [from, to) with MSET, 100 at a time; with ex, each expires after ex seconds.
void WriteTasks(Client& c, int from, int to, int ex = 0) {
  for (int i = from; i < to; i += 100) {
    const int end = std::min(to, i + 100);
    if (ex > 0) {
      ValueList args{I(static_cast<int64_t>(ex) * 1000)};
      for (int k = i; k < end; ++k) {
        args.push_back(S(TaskKey(k)));
        args.push_back(S(TaskResult(k)));
      }
      const Reply stored = c.Call("MSETPX", std::move(args));
      REQUIRE(stored.ok());
    } else {
      ValueList args;
      for (int k = i; k < end; ++k) {
        args.push_back(S(TaskKey(k)));
        args.push_back(S(TaskResult(k)));
      }
      Reply r = c.Call("MSET", std::move(args));
      REQUIRE(r.ok());
    }
  }
}

// Reads keys [from, to) with MGET and checks every value; returns how many were found.
int CheckTasks(Client& c, int from, int to) {
  int found = 0;
  for (int i = from; i < to; i += 100) {
    const int end = std::min(to, i + 100);
    ValueList args;
    for (int k = i; k < end; ++k) args.push_back(S(TaskKey(k)));
    Reply r = c.Call("MGET", std::move(args));
    REQUIRE(r.ok());
    const ValueList& got = r.value.AsList();
    REQUIRE(got.size() == static_cast<size_t>(end - i));
    for (int k = i; k < end; ++k) {
      const Value& v = got[k - i];
      if (v.is_null()) continue;
      ++found;
      if (v != S(TaskResult(k))) {
        FAIL("value of " << TaskKey(k) << " differs: " << v.DebugString().substr(0, 80));
      }
    }
  }
  return found;
}

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

std::vector<std::string> ColdFiles(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  REQUIRE(d != nullptr);
  while (dirent* e = readdir(d)) {
    const std::string n = e->d_name;
    if (n.rfind("cold-", 0) == 0) out.push_back(dir + "/" + n);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE(
    "ten times more data than --max-memory: RSS stays near the limit, every value reads "
    "back exactly, across a restart",
    "[integration][tiering]") {
  const std::string dir = MakeTempDir("tiering");
  // Large enough that the process's own footprint (code, threads, allocator arenas: ~14 MiB
  // idle) is not most of the margin.
  const uint64_t limit = 128 << 20;
  const std::vector<std::string> flags = {"--shards", "2",          "--max-memory",
                                          "128MiB",   "--data-dir", dir};
  // About 1.3 GB of 1-4 KiB results: ten times the limit.
  const int n = 512000;
  {
    ServerProcess server(flags);
    Client c(Opts(server, 60.0));
    const uint64_t idle_rss = RssBytes(server.pid());
    const auto t0 = Clock::now();
    WriteTasks(c, 0, n);
    const double write_s = Seconds(t0);
    const int64_t memory = InfoInt(c, "memory_bytes");
    const int64_t cold = InfoInt(c, "cold_keys");
    const uint64_t rss = RssBytes(server.pid());
    const int64_t allocated = InfoInt(c, "allocated_bytes");
    CHECK(InfoInt(c, "keys") == n);
    CHECK(memory <= static_cast<int64_t>(limit + limit / 20));
    CHECK(cold > n * 8 / 10);
    if (!kSanitized) CHECK(rss < limit + limit / 2);
    const auto t1 = Clock::now();
    CHECK(CheckTasks(c, 0, n) == n);
    const double read_s = Seconds(t1);
    const int64_t disk = InfoInt(c, "disk_bytes");
    const int64_t reads = InfoInt(c, "cold_reads");
    CHECK(reads >= cold / 2);
    WARN("tiering: " << n << " keys, ~1.3 GB written in " << write_s << " s (" << n / write_s
                     << " keys/s); memory_bytes " << memory << " (" << memory / n
                     << " B/key), cold keys " << cold << ", disk " << disk << " B; RSS "
                     << (rss >> 20) << " MiB (allocated " << (allocated >> 20) << " MiB, idle "
                     << (idle_rss >> 20) << " MiB) for a " << (limit >> 20)
                     << " MiB limit; read back all in " << read_s << " s (" << n / read_s
                     << " keys/s, " << reads << " from disk)");
    REQUIRE(server.Stop() == 0);
  }
  // After a restart: recovered as they were (cold values stay on disk), and exact.
  ServerProcess server(flags);
  Client c(Opts(server, 60.0));
  CHECK(InfoInt(c, "keys") == n);
  CHECK(InfoInt(c, "cold_keys") > n * 8 / 10);
  if (!kSanitized) CHECK(RssBytes(server.pid()) < limit + limit / 2);
  CHECK(CheckTasks(c, 0, n) == n);
  if (!kSanitized) CHECK(RssBytes(server.pid()) < limit + limit / 2);
}

TEST_CASE("overwriting, deleting and expiring cold values never reads them from disk",
          "[integration][tiering]") {
  const std::string dir = MakeTempDir("tiering-nodisk");
  ServerProcess server({"--shards", "2", "--max-memory", "4MiB", "--data-dir", dir});
  Client c(Opts(server, 30.0));
  const int n = 12000;  // ~30 MB
  WriteTasks(c, 0, n / 2);
  WriteTasks(c, n / 2, n, /*ex=*/3);
  const int64_t cold = InfoInt(c, "cold_keys");
  REQUIRE(cold > n / 2);
  const int64_t reads = InfoInt(c, "cold_reads");
  // Commands that do not read values: never a load, whatever is cold.
  for (int i = 0; i < 1000; ++i) {
    REQUIRE(c.Call("EXISTS", {S(TaskKey(i))}).ok());
    REQUIRE(c.Call("TTL", {S(TaskKey(i))}).ok());
  }
  for (int i = 0; i < 500; ++i) CHECK(Ok(c, "EXPIRE", {S(TaskKey(i)), I(3600)}) == I(1));
  for (int i = 500; i < 1000; ++i) CHECK(Ok(c, "SET", {S(TaskKey(i)), S("new")}) == S("OK"));
  ValueList del;
  for (int i = 1000; i < 2000; ++i) del.push_back(S(TaskKey(i)));
  CHECK(Ok(c, "DEL", del) == I(1000));
  CHECK(InfoInt(c, "cold_reads") == reads);
  // Expiry reclaims the cold keys that expire, without reading them either.
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  int64_t keys = 0;
  while (Clock::now() < deadline) {
    keys = Ok(c, "DBSIZE").AsInt();
    if (keys == n / 2 - 1000) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(keys == n / 2 - 1000);
  CHECK(InfoInt(c, "cold_reads") == reads);
  // What is left reads back exactly (and now from disk).
  CHECK(Ok(c, "GET", {S(TaskKey(700))}) == S("new"));
  CHECK(Ok(c, "TTL", {S(TaskKey(7))}).AsInt() > 3000);
  CHECK(CheckTasks(c, 0, 500) == 500);
  CHECK(CheckTasks(c, 2000, n / 2) == n / 2 - 2000);
  CHECK(InfoInt(c, "cold_reads") > reads);
}

TEST_CASE("compaction and snapshots keep disk use proportional to live data",
          "[integration][tiering]") {
  const std::string dir = MakeTempDir("tiering-compact");
  ServerProcess server({"--shards", "1", "--max-memory", "4MiB", "--data-dir", dir,
                        "--snapshot-every-writes", "5000", "--fsync", "never"});
  Client c(Opts(server, 30.0));
  const int n = 8000;
  WriteTasks(c, 0, n);
  // Overwrite 90% with new values (spilled in their turn): most of the first records die.
  for (int round = 0; round < 3; ++round) {
    ValueList args;
    for (int i = 0; i < n; ++i) {
      if (i % 10 == 0) continue;
      args.push_back(S(TaskKey(i)));
      args.push_back(S(TaskResult(i + 1000000 * (round + 1))));
      if (args.size() == 200) {
        const Reply stored = c.Call("MSET", std::exchange(args, ValueList()));
        REQUIRE(stored.ok());
      }
    }
    if (!args.empty()) {
      const Reply stored = c.Call("MSET", std::move(args));
      REQUIRE(stored.ok());
    }
  }
  // Compaction copies live records out of mostly-dead segments; dead segments go once two
  // snapshots no longer need them. Disk use comes down to about the live records.
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  int64_t disk = 0, live = 0;
  while (Clock::now() < deadline) {
    disk = InfoInt(c, "disk_bytes");
    live = InfoInt(c, "cold_bytes");
    if (InfoInt(c, "compactions") > 0 && InfoInt(c, "deleted_segments") > 0 && disk < 3 * live)
      break;
    // Snapshots come with writes (one per 5000): keep them coming, about one a second, so
    // that dead segments are released on a loaded machine too.
    ValueList ticks;
    for (int k = 0; k < 250; ++k) {
      ticks.push_back(S("tick:" + std::to_string(k)));
      ticks.push_back(S(std::string(100, 't')));
    }
    const Reply ticked = c.Call("MSET", std::move(ticks));
    REQUIRE(ticked.ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(InfoInt(c, "compactions") > 0);
  CHECK(InfoInt(c, "deleted_segments") > 0);
  CHECK(disk < 3 * live);
  WARN("compaction: disk " << disk << " B for " << live << " B of live records");
  // Every value is the latest one.
  for (int i = 0; i < n; i += 97) {
    const Value want = S(i % 10 == 0 ? TaskResult(i) : TaskResult(i + 3000000));
    CHECK(Ok(c, "GET", {S(TaskKey(i))}) == want);
  }
}

TEST_CASE("a damaged cold record is an error, never a wrong value", "[integration][tiering]") {
  const std::string dir = MakeTempDir("tiering-damage");
  const std::vector<std::string> flags = {"--shards", "1",          "--max-memory",
                                          "2MiB",     "--data-dir", dir};
  const int n = 3000;
  {
    ServerProcess server(flags);
    Client c(Opts(server, 30.0));
    WriteTasks(c, 0, n);
    REQUIRE(InfoInt(c, "cold_keys") > n / 2);
    REQUIRE(server.Stop() == 0);
  }
  // Flip a byte in the middle of every segment.
  const std::vector<std::string> files = ColdFiles(dir);
  REQUIRE(!files.empty());
  for (const std::string& f : files) {
    const int fd = open(f.c_str(), O_RDWR);
    REQUIRE(fd >= 0);
    const off_t size = lseek(fd, 0, SEEK_END);
    char b;
    REQUIRE(pread(fd, &b, 1, size / 2) == 1);
    b ^= 0x20;
    REQUIRE(pwrite(fd, &b, 1, size / 2) == 1);
    close(fd);
  }
  ServerProcess server(flags);
  Client c(Opts(server, 30.0));
  int errors = 0, exact = 0;
  for (int i = 0; i < n; ++i) {
    Reply r = c.Call("GET", {S(TaskKey(i))});
    if (!r.ok()) {
      CHECK(r.code == Code::kCorruption);
      ++errors;
      continue;
    }
    REQUIRE(r.value == S(TaskResult(i)));  // never a wrong value
    ++exact;
  }
  CHECK(errors >= 1);
  CHECK(exact > n / 2);
  CHECK(InfoInt(c, "cold_read_errors") >= errors);
  // The key is still there; writing it replaces the damage.
  CHECK(Ok(c, "SET", {S(TaskKey(0)), S("fresh")}) == S("OK"));
  CHECK(Ok(c, "GET", {S(TaskKey(0))}) == S("fresh"));
}

TEST_CASE("lists and typed values go cold and come back exact", "[integration][tiering]") {
  const std::string dir = MakeTempDir("tiering-types");
  ServerProcess server({"--shards", "1", "--max-memory", "2MiB", "--data-dir", dir});
  Client c(Opts(server, 30.0));
  for (int i = 0; i < 20; ++i) {
    ValueList items;
    items.push_back(S("list-" + std::to_string(i)));
    for (int k = 0; k < 200; ++k) items.push_back(S(TaskResult(k).substr(0, 100)));
    REQUIRE(c.Call("RPUSH", items).ok());
  }
  REQUIRE(c.Call("SET", {S("bytes"), Value::Bytes(std::string(5000, '\x01'))}).ok());
  WriteTasks(c, 0, 2000);  // pushes the lists and the bytes out
  REQUIRE(InfoInt(c, "cold_keys") > 1000);
  for (int i = 0; i < 20; ++i) {
    // A push onto a cold list loads it first.
    CHECK(Ok(c, "RPUSH", {S("list-" + std::to_string(i)), S("tail")}) == I(201));
    const Value range = Ok(c, "LRANGE", {S("list-" + std::to_string(i)), I(0), I(-1)});
    REQUIRE(range.AsList().size() == 201);
    CHECK(range.AsList()[0] == S(TaskResult(0).substr(0, 100)));
    CHECK(range.AsList()[200] == S("tail"));
  }
  CHECK(Ok(c, "GET", {S("bytes")}) == Value::Bytes(std::string(5000, '\x01')));
  CHECK(CheckTasks(c, 0, 2000) == 2000);
}

TEST_CASE("RESP clients read cold values; TYPE, SCAN, UNLINK and SETNX never load them",
          "[integration][tiering][resp]") {
  const std::string dir = MakeTempDir("tiering-resp");
  ServerProcess server({"--shards", "2", "--max-memory", "4MiB", "--data-dir", dir});
  Client c(Opts(server, 30.0));
  const int n = 8000;  // ~20 MB
  WriteTasks(c, 0, n);
  ValueList list;
  for (int i = 0; i < 50; ++i) list.push_back(S(TaskResult(i)));
  REQUIRE(c.Call("RPUSH",
                 [&] {
                   ValueList args = {S("a-list")};
                   for (const Value& v : list) args.push_back(v);
                   return args;
                 }())
              .ok());
  // Push the list out too: more results after it.
  WriteTasks(c, n, n + 2000);
  REQUIRE(InfoInt(c, "cold_keys") > n / 2);
  const int64_t reads = InfoInt(c, "cold_reads");
  RespConnection r(server.port());
  CHECK(r.Call({"TYPE", TaskKey(1)}) == "+string\r\n");
  CHECK(r.Call({"TYPE", "a-list"}) == "+list\r\n");
  CHECK(r.Call({"TYPE", "nothing"}) == "+none\r\n");
  CHECK(r.Call({"SETNX", TaskKey(2), "x"}) == ":0\r\n");
  CHECK(r.Call({"UNLINK", TaskKey(3), TaskKey(4)}) == ":2\r\n");
  std::vector<std::string> lists;
  std::string cursor = "0";
  for (int calls = 0; calls < 100; ++calls) {
    r.Command({"SCAN", cursor, "TYPE", "list", "COUNT", "100000"});
    Reply scan = r.Read();
    REQUIRE(scan.ok());
    cursor = std::string(scan.value.AsList()[0].AsStringView());
    for (const Value& k : scan.value.AsList()[1].AsList()) {
      lists.emplace_back(k.AsStringView());
    }
    if (cursor == "0") break;
  }
  CHECK(cursor == "0");
  CHECK(lists == std::vector<std::string>{"a-list"});
  CHECK(InfoInt(c, "cold_reads") == reads);
  // Values read through RESP are the exact bytes, from disk.
  for (int i = 10; i < 200; ++i) {
    const std::string want = TaskResult(i);
    REQUIRE(r.Call({"GET", TaskKey(i)}) ==
            "$" + std::to_string(want.size()) + "\r\n" + want + "\r\n");
  }
  CHECK(r.Call({"GETDEL", TaskKey(5)}) ==
        "$" + std::to_string(TaskResult(5).size()) + "\r\n" + TaskResult(5) + "\r\n");
  CHECK(r.Call({"EXISTS", TaskKey(5)}) == ":0\r\n");
  CHECK(r.Call({"LLEN", "a-list"}) == ":50\r\n");
  CHECK(InfoInt(c, "cold_reads") > reads);
}

}  // namespace dbkv::testing
