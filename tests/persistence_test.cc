// Persistence through the real server binary: what a data directory gives back after a clean
// stop (SIGTERM, final snapshot), a crash (SIGKILL), a change of shard count, and damaged files
// (storage/recovery.h states the corruption policy these tests hold the server to).
//
// Every test gets a fresh data directory; a "restart" is the old ServerProcess going down and
// a new one started on the same directory (on a new port: clients are made per server).
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "client/client.h"
#include "tests/server_process.h"
#include "tests/test_util.h"

namespace dbkv::testing {
namespace {

using Catch::Matchers::Contains;
using client::AsyncClient;
using client::Client;
using Clock = std::chrono::steady_clock;

// -- The data directory.

// Server flags for data directory dir, then extra.
std::vector<std::string> DirFlags(const std::string& dir, std::vector<std::string> extra = {}) {
  std::vector<std::string> flags = {"--data-dir", dir};
  flags.insert(flags.end(), extra.begin(), extra.end());
  return flags;
}

// Names in dir starting with prefix and ending with suffix, sorted.
std::vector<std::string> Files(const std::string& dir, const std::string& prefix,
                               const std::string& suffix) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  REQUIRE(d != nullptr);
  while (dirent* e = readdir(d)) {
    const std::string n = e->d_name;
    if (n.size() >= prefix.size() + suffix.size() && n.compare(0, prefix.size(), prefix) == 0 &&
        n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0) {
      out.push_back(n);
    }
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}
std::vector<std::string> WalFiles(const std::string& dir) { return Files(dir, "wal-", ".log"); }
std::vector<std::string> Snapshots(const std::string& dir) {
  return Files(dir, "snapshot-", ".snap");
}
// Snapshot file names of one shard, oldest first (the LSN is zero-padded: names sort by it).
std::vector<std::string> ShardSnapshots(const std::string& dir, int shard) {
  char prefix[32];
  std::snprintf(prefix, sizeof(prefix), "snapshot-%04d-", shard);
  return Files(dir, prefix, ".snap");
}

uint64_t FileSize(const std::string& path) {
  struct stat st {};
  REQUIRE(stat(path.c_str(), &st) == 0);
  return static_cast<uint64_t>(st.st_size);
}

uint64_t TotalSize(const std::string& dir, const std::vector<std::string>& names) {
  uint64_t n = 0;
  for (const std::string& name : names) n += FileSize(dir + "/" + name);
  return n;
}

// Inverts every bit of the byte at offset.
void FlipByte(const std::string& path, uint64_t offset) {
  const int fd = open(path.c_str(), O_RDWR);
  REQUIRE(fd >= 0);
  unsigned char b = 0;
  REQUIRE(pread(fd, &b, 1, static_cast<off_t>(offset)) == 1);
  b = static_cast<unsigned char>(~b);
  REQUIRE(pwrite(fd, &b, 1, static_cast<off_t>(offset)) == 1);
  close(fd);
}

void TruncateTo(const std::string& path, uint64_t size) {
  REQUIRE(truncate(path.c_str(), static_cast<off_t>(size)) == 0);
}

// -- Servers going down and coming back.

enum class Down { kTerm, kKill };

const char* Name(Down how) { return how == Down::kTerm ? "SIGTERM" : "SIGKILL"; }

// SIGTERM must end in exit status 0; SIGKILL is a crash.
void TakeDown(ServerProcess& server, Down how) {
  if (how == Down::kKill) {
    server.Kill();
    return;
  }
  const int status = server.Stop();
  INFO("log:\n" << server.Log());
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
}

// Takes the server down, then starts a new one with flags.
void Restart(std::unique_ptr<ServerProcess>* server, Down how, std::vector<std::string> flags) {
  TakeDown(**server, how);
  *server = std::make_unique<ServerProcess>(std::move(flags));
}

// The figures of the "recovered N keys in S s (E snapshot entries, R WAL records, ...)" line.
struct Recovered {
  int64_t keys = -1;
  int64_t snapshot_entries = -1;
  int64_t wal_records = -1;
  bool damage = false;
};

Recovered RecoveredLine(const ServerProcess& server) {
  static const std::regex re(
      R"(recovered (\d+) keys in [0-9.]+ s \((\d+) snapshot entries, (\d+) WAL records, [0-9]+ )"
      R"(keys/s\)(.*))");
  const std::string log = server.Log();
  std::smatch m;
  INFO("log:\n" << log);
  REQUIRE(std::regex_search(log, m, re));
  Recovered r;
  r.keys = std::stoll(m[1]);
  r.snapshot_entries = std::stoll(m[2]);
  r.wal_records = std::stoll(m[3]);
  r.damage = m[4].str().find("damage was found") != std::string::npos;
  return r;
}

// Lines of the log at warn level or above.
std::string Warnings(const ServerProcess& server) {
  std::string out;
  const std::string log = server.Log();
  size_t pos = 0;
  while (pos < log.size()) {
    size_t end = log.find('\n', pos);
    if (end == std::string::npos) end = log.size();
    const std::string line = log.substr(pos, end - pos);
    if (line.find(" warning ") != std::string::npos || line.find(" error ") != std::string::npos ||
        line.find(" critical ") != std::string::npos) {
      out += line + "\n";
    }
    pos = end + 1;
  }
  return out;
}

// -- What the server should hold.

// (namespace, key) -> value.
using Model = std::map<std::pair<std::string, std::string>, Value>;

// Every key of the model holds its value, and each namespace of the model holds no other key.
void CheckModel(const ServerProcess& server, const Model& model) {
  std::map<std::string, std::vector<std::pair<std::string, Value>>> by_ns;
  for (const auto& [nk, v] : model) by_ns[nk.first].emplace_back(nk.second, v);
  for (const auto& [ns, entries] : by_ns) {
    Client c(Opts(server, 30, ns));
    for (size_t i = 0; i < entries.size(); i += 500) {
      ValueList keys;
      for (size_t j = i; j < std::min(entries.size(), i + 500); ++j) {
        keys.push_back(S(entries[j].first));
      }
      const Value got = Ok(c, "MGET", keys);
      REQUIRE(got.AsList().size() == keys.size());
      for (size_t j = 0; j < keys.size(); ++j) {
        const auto& [key, want] = entries[i + j];
        INFO("namespace '" << ns << "' key '" << key << "': want " << want.DebugString() << ", got "
                           << got.AsList()[j].DebugString());
        CHECK(got.AsList()[j] == want);
      }
    }
    INFO("namespace '" << ns << "'");
    CHECK(Ok(c, "DBSIZE") == I(static_cast<int64_t>(entries.size())));
  }
}

struct Call {
  std::string cmd;
  ValueList args;
};

// Sends the calls pipelined on one connection (at most window in flight) and waits for every
// reply; fails the test on an error reply.
void Pipelined(const ServerProcess& server, const std::string& ns, const std::vector<Call>& calls,
               size_t window = 64) {
  std::mutex mu;
  std::condition_variable cv;
  size_t done = 0;
  size_t errors = 0;
  std::string first_error;
  AsyncClient ac(Opts(server, 30, ns));  // after what its callbacks use: destroyed first
  for (size_t i = 0; i < calls.size(); ++i) {
    {
      std::unique_lock<std::mutex> lock(mu);
      REQUIRE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return i - done < window; }));
    }
    ac.Call(calls[i].cmd, calls[i].args, [&](const Reply& r) {
      std::lock_guard<std::mutex> lock(mu);
      if (!r.ok() && errors++ == 0) first_error = std::string(CodeName(r.code)) + " " + r.error;
      ++done;
      cv.notify_all();
    });
  }
  std::unique_lock<std::mutex> lock(mu);
  REQUIRE(cv.wait_for(lock, std::chrono::seconds(60), [&] { return done == calls.size(); }));
  INFO("first error: " << first_error);
  REQUIRE(errors == 0);
}

std::string Padded(const std::string& prefix, int i) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%06d", i);
  return prefix + buf;
}

// SETs keys prefix000000.. (n of them) to a value of about value_bytes naming the key, through
// Pipelined, and records them in the model.
void FillKeys(const ServerProcess& server, Model* model, const std::string& ns,
              const std::string& prefix, int first, int n, size_t value_bytes = 100,
              size_t window = 64) {
  std::vector<Call> calls;
  for (int i = first; i < first + n; ++i) {
    const std::string key = Padded(prefix, i);
    std::string value = "value of " + key + " ";
    value.resize(std::max(value.size(), value_bytes), static_cast<char>('a' + i % 26));
    calls.push_back({"SET", {S(key), S(value)}});
    (*model)[{ns, key}] = S(value);
  }
  Pipelined(server, ns, calls, window);
}

// The indexes i of prefix<i> (first <= i < first + n) that the server does not hold with the
// value FillKeys wrote; fails the test on a key holding anything else.
std::vector<int> MissingKeys(const ServerProcess& server, const Model& model, const std::string& ns,
                             const std::string& prefix, int first, int n) {
  Client c(Opts(server, 30, ns));
  std::vector<int> missing;
  for (int i = first; i < first + n; i += 500) {
    ValueList keys;
    for (int j = i; j < std::min(first + n, i + 500); ++j) keys.push_back(S(Padded(prefix, j)));
    const Value got = Ok(c, "MGET", keys);
    for (size_t j = 0; j < keys.size(); ++j) {
      const Value& v = got.AsList()[j];
      const std::string key(keys[j].AsStringView());
      if (v.is_null()) {
        missing.push_back(i + static_cast<int>(j));
        continue;
      }
      INFO("key " << key << " holds " << v.DebugString());
      CHECK(v == model.at({ns, key}));
    }
  }
  return missing;
}

// Missing indexes form one run [front, back].
bool Contiguous(const std::vector<int>& v) {
  return v.empty() || v.back() - v.front() + 1 == static_cast<int>(v.size());
}

// -- Every kind of data.

constexpr int64_t kShortPx = 200;

struct Written {
  Model model;
  Clock::time_point short_written;  // the key "short" (PX 200) was written
  Clock::time_point ttl_written;
};

// Writes strings, numbers, Decimals, bytes, nested values, lists after pushes and pops, maps,
// keys in three namespaces, counters, deletes, TTLs and a lock.
Written WriteEverything(const ServerProcess& server) {
  Written w;
  Model& m = w.model;
  Client c(Opts(server));
  Client ca(Opts(server, "tenant-a"));
  Client cb(Opts(server, "tenant-b"));
  auto set = [&](Client& cl, const std::string& ns, const std::string& key, const Value& v) {
    CHECK(Ok(cl, "SET", {S(key), v}) == S("OK"));
    m[{ns, key}] = v;
  };
  ValueMap map;
  map.emplace_back(S("a"), I(-1));
  map.emplace_back(I(7), Value::Bytes(std::string("\0\xff", 2)));
  map.emplace_back(S("nested"), L({D("0.001"), Value::Null(), B(false)}));
  set(c, "", "str", S("h\xc3\xa9llo w\xc3\xb6rld, longer than fourteen bytes"));
  set(c, "", "empty", S(""));
  set(c, "", "int-min", I(INT64_MIN));
  set(c, "", "int-max", I(INT64_MAX));
  set(c, "", "double", Value::Double(-2.5e-3));
  set(c, "", "dec", D("1.10"));
  set(c, "", "dec-zero", D("-0.000"));
  set(c, "", "dec-38", D("12345678901234567890123456789012345678"));
  set(c, "", "dec-exp", D("1E-7"));
  set(c, "", "bytes", Value::Bytes(std::string("\0\1\2\xff\x80", 5)));
  set(c, "", "bool", B(true));
  set(c, "", "null", Value::Null());
  set(c, "", "map", Value::Map(map));
  set(c, "", "nested", L({I(1), S("two"), D("3.000"), L({Value::Null(), B(true)})}));
  // Larger than a 32 KiB WAL block: a record in several fragments.
  set(c, "", "big", S(std::string(200 * 1024, 'x') + "end"));
  set(c, "", "overwritten", S("first"));
  set(c, "", "overwritten", I(2));

  // Lists, after pushes and pops from both ends.
  CHECK(Ok(c, "RPUSH",
           {S("list"), I(1), D("2.50"), S("three"), Value::Bytes("4"), L({I(5)}), S("six")}) ==
        I(6));
  CHECK(Ok(c, "LPUSH", {S("list"), S("z"), S("y")}) == I(8));
  CHECK(Ok(c, "LPOP", {S("list")}) == S("y"));
  CHECK(Ok(c, "LPOP", {S("list")}) == S("z"));
  CHECK(Ok(c, "RPOP", {S("list"), I(2)}) == L({S("six"), L({I(5)})}));
  m[{"", "list"}] = L({I(1), D("2.50"), S("three"), Value::Bytes("4")});
  CHECK(Ok(c, "LPUSH", {S("heads"), S("h1"), S("h2"), S("h3")}) == I(3));
  m[{"", "heads"}] = L({S("h3"), S("h2"), S("h1")});
  CHECK(Ok(c, "RPUSH", {S("drained"), S("x"), S("y")}) == I(2));
  CHECK(Ok(c, "RPOP", {S("drained"), I(2)}) == L({S("y"), S("x")}));  // deletes the key
  CHECK(Ok(c, "RPUSH", {S("list-then-string"), S("x")}) == I(1));
  set(c, "", "list-then-string", S("was a list"));
  ValueList long_list;
  for (int i = 0; i < 300; ++i) {
    CHECK(Ok(c, "RPUSH", {S("long-list"), I(i)}) == I(i + 1));
    long_list.push_back(I(i));
  }
  for (int i = 0; i < 100; ++i) CHECK(Ok(c, "LPOP", {S("long-list")}) == I(i));
  m[{"", "long-list"}] = L(ValueList(long_list.begin() + 100, long_list.end()));

  // Counters, exact.
  for (int i = 1; i <= 150; ++i) CHECK(Ok(c, "INCR", {S("counter")}) == I(i));
  CHECK(Ok(c, "INCR", {S("counter"), I(1000000000000)}) == I(1000000000150));
  CHECK(Ok(c, "DECR", {S("counter"), I(7)}) == I(1000000000143));
  m[{"", "counter"}] = I(1000000000143);
  for (int i = 0; i < 3; ++i) Ok(c, "INCR", {S("money"), D("0.10")});
  CHECK(Ok(c, "INCR", {S("money"), S("1.005")}) == D("1.305"));
  m[{"", "money"}] = D("1.305");

  // Namespaces: the same key in three of them, and keys only one has.
  set(c, "", "shared", S("default"));
  set(ca, "tenant-a", "shared", S("a"));
  set(cb, "tenant-b", "shared", L({S("b")}));
  for (int i = 0; i < 20; ++i) set(ca, "tenant-a", "only-a:" + std::to_string(i), I(i));
  CHECK(Ok(cb, "INCR", {S("counter"), I(5)}) == I(5));
  m[{"tenant-b", "counter"}] = I(5);

  // Deletes, by every command that deletes.
  Ok(c, "SET", {S("gone-del"), S("v")});
  CHECK(Ok(c, "DEL", {S("gone-del")}) == I(1));
  Ok(c, "MSET", {S("gone-mdel1"), S("v"), S("gone-mdel2"), S("v"), S("kept-mset"), S("v")});
  m[{"", "kept-mset"}] = S("v");
  CHECK(Ok(c, "MDEL", {S("gone-mdel1"), S("gone-mdel2")}) == I(2));
  Ok(c, "SET", {S("gone-expire0"), S("v"), S("EX"), I(100)});
  CHECK(Ok(c, "EXPIRE", {S("gone-expire0"), I(0)}) == I(1));
  Ok(ca, "SET", {S("gone-ns"), S("v")});
  CHECK(Ok(ca, "DEL", {S("gone-ns")}) == I(1));

  // TTLs.
  w.ttl_written = Clock::now();
  Ok(c, "SET", {S("ttl-ex"), S("v"), S("EX"), I(100)});
  m[{"", "ttl-ex"}] = S("v");
  Ok(c, "SET", {S("ttl-px"), S("v"), S("PX"), I(600000)});
  m[{"", "ttl-px"}] = S("v");
  Ok(c, "SET", {S("persisted"), S("v"), S("EX"), I(100)});
  CHECK(Ok(c, "PERSIST", {S("persisted")}) == I(1));
  m[{"", "persisted"}] = S("v");
  Ok(c, "MSETPX", {I(300000), S("msetpx1"), I(1), S("msetpx2"), I(2)});
  m[{"", "msetpx1"}] = I(1);
  m[{"", "msetpx2"}] = I(2);
  // A list with a TTL: pushes and pops keep it.
  Ok(c, "SET", {S("ttl-list"), L({S("a"), S("b")}), S("EX"), I(100)});
  CHECK(Ok(c, "RPUSH", {S("ttl-list"), S("c"), S("d")}) == I(4));
  CHECK(Ok(c, "LPOP", {S("ttl-list")}) == S("a"));
  m[{"", "ttl-list"}] = L({S("b"), S("c"), S("d")});
  Ok(c, "RPUSH", {S("list-expire"), S("x")});
  CHECK(Ok(c, "EXPIRE", {S("list-expire"), I(100)}) == I(1));
  CHECK(Ok(c, "LPUSH", {S("list-expire"), S("w")}) == I(2));
  m[{"", "list-expire"}] = L({S("w"), S("x")});
  Ok(c, "SET", {S("short"), S("v"), S("PX"), I(kShortPx)});
  w.short_written = Clock::now();

  // Celery-shaped results (53-byte ASCII keys, ~171-byte JSON values, a TTL): records that
  // hold key and value packed in memory (docs/MEMORY.md), written to disk unpacked. And the
  // same shape with a binary value, which stays unpacked.
  for (int i = 0; i < 20; ++i) {
    const std::string id = std::to_string(i);
    const std::string key = "celery-task-meta-" + std::string(36 - id.size(), '0') + id;
    // 172 bytes: only key and value both packed reach the 224-byte class (16 + 8 + 2 + 47 + 151).
    std::string json = R"({"status": "SUCCESS", "result": )" + std::to_string(1000000000 + i) +
                       R"(, "traceback": null, )";
    json += R"("children": [], "date_done": "2026-12-07T20:00:00.000000", "task_id": ")";
    json += key.substr(17) + R"("})";
    Ok(c, "SET", {S(key), S(json), S("EX"), I(100)});
    m[{"", key}] = S(json);
    const Value binary = Value::Bytes(std::string(171, static_cast<char>(0x80 + i)));
    Ok(c, "SET", {S(key + "-bin"), binary, S("EX"), I(100)});
    m[{"", key + "-bin"}] = binary;
  }

  // Locks: one held (lease extended), one taken and released.
  CHECK(Ok(c, "LOCK", {S("lock"), S("token-1"), I(60000)}) == I(1));
  CHECK(Ok(c, "LOCKEXTEND", {S("lock"), S("token-1"), I(120000)}) == I(1));
  m[{"", "lock"}] = S("token-1");
  CHECK(Ok(c, "LOCK", {S("released"), S("token-2"), I(60000)}) == I(1));
  CHECK(Ok(c, "UNLOCK", {S("released"), S("token-2")}) == I(1));
  return w;
}

// What WriteEverything wrote, after a restart.
void CheckEverything(const ServerProcess& server, const Written& w) {
  CheckModel(server, w.model);
  Client c(Opts(server));
  Client ca(Opts(server, "tenant-a"));
  for (const char* key :
       {"drained", "gone-del", "gone-mdel1", "gone-mdel2", "gone-expire0", "released", "short"}) {
    INFO("key " << key << " must stay deleted (or expired)");
    CHECK(Ok(c, "EXISTS", {S(key)}) == I(0));
    CHECK(Ok(c, "GET", {S(key)}).is_null());
  }
  CHECK(Ok(ca, "EXISTS", {S("gone-ns")}) == I(0));

  // TTLs: what is left of them, give or take the time the restart took.
  const int64_t elapsed_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - w.ttl_written).count();
  const int64_t ttl_ex = Ok(c, "PTTL", {S("ttl-ex")}).AsInt();
  CHECK(ttl_ex <= 100000);
  CHECK(ttl_ex >= 100000 - elapsed_ms - 1000);
  const int64_t ttl_px = Ok(c, "PTTL", {S("ttl-px")}).AsInt();
  CHECK(ttl_px <= 600000);
  CHECK(ttl_px >= 600000 - elapsed_ms - 1000);
  const int64_t ttl_m = Ok(c, "PTTL", {S("msetpx2")}).AsInt();
  CHECK(ttl_m <= 300000);
  CHECK(ttl_m >= 300000 - elapsed_ms - 1000);
  for (const char* key : {"ttl-list", "list-expire"}) {
    INFO(key);
    const int64_t t = Ok(c, "PTTL", {S(key)}).AsInt();
    CHECK(t <= 100000);
    CHECK(t >= 100000 - elapsed_ms - 1000);
  }
  CHECK(Ok(c, "TTL", {S("persisted")}) == I(-1));
  // The packed Celery keys come back whole through KEYS (the records' keys unpacked).
  const Value celery = Ok(c, "KEYS", {S("celery-task-meta-*")});
  CHECK(celery.AsList().size() == 40);
  for (const Value& k : celery.AsList()) CHECK(k.AsStringView().size() >= 53);
  CHECK(Ok(c, "TTL", {S("str")}) == I(-1));
  CHECK(Ok(c, "TTL", {S("list")}) == I(-1));

  // The lock: same owner, lease about what was left, and it still excludes others.
  const int64_t lease = Ok(c, "PTTL", {S("lock")}).AsInt();
  CHECK(lease <= 120000);
  CHECK(lease >= 120000 - elapsed_ms - 1000);
  CHECK(Ok(c, "LOCK", {S("lock"), S("intruder"), I(1000)}) == I(0));
  CHECK(Err(c, "UNLOCK", {S("lock"), S("intruder")}).code == Code::kNotOwner);
  CHECK(Ok(c, "GET", {S("lock")}) == S("token-1"));

  // Everything counted: INFO covers every namespace.
  CHECK(InfoInt(c, "keys") == static_cast<int64_t>(w.model.size()));
  CHECK(RecoveredLine(server).keys == static_cast<int64_t>(w.model.size()));
}

// Writes everything, goes down as told (after "short" has been written, and restarts only
// once its 200 ms have surely passed), restarts, checks; then once more, with writes made by
// the recovered server, to check that it logs on where the old one stopped.
void EverythingSurvives(Down how, std::vector<std::string> extra) {
  const std::string dir = MakeTempDir("data");
  const auto flags = DirFlags(dir, std::move(extra));
  auto server = std::make_unique<ServerProcess>(flags);
  Written w = WriteEverything(*server);
  TakeDown(*server, how);
  std::this_thread::sleep_until(w.short_written + std::chrono::milliseconds(kShortPx + 300));
  server = std::make_unique<ServerProcess>(flags);
  CheckEverything(*server, w);
  CHECK_FALSE(RecoveredLine(*server).damage);

  {
    Client c(Opts(*server));
    // The lock is still held: its owner keeps the lease; the counters go on exactly.
    CHECK(Ok(c, "LOCK", {S("lock"), S("token-1"), I(120000)}) == I(1));
    CHECK(Ok(c, "INCR", {S("counter")}) == I(1000000000144));
    w.model[{"", "counter"}] = I(1000000000144);
    CHECK(Ok(c, "RPUSH", {S("list"), S("after")}) == I(5));
    w.model[{"", "list"}] = L({I(1), D("2.50"), S("three"), Value::Bytes("4"), S("after")});
    CHECK(Ok(c, "DEL", {S("kept-mset")}) == I(1));
    w.model.erase({"", "kept-mset"});
    Ok(c, "SET", {S("after-restart"), D("9.99")});
    w.model[{"", "after-restart"}] = D("9.99");
  }
  Restart(&server, how, flags);
  CheckEverything(*server, w);
}

TEST_CASE("every kind of data survives SIGTERM and a restart", "[persistence]") {
  EverythingSurvives(Down::kTerm, {"--shards", "3"});
}

TEST_CASE("every kind of data survives SIGKILL with --fsync always", "[persistence]") {
  EverythingSurvives(Down::kKill, {"--shards", "3", "--fsync", "always"});
}

TEST_CASE("every kind of data survives SIGKILL from the WAL alone on one shard", "[persistence]") {
  EverythingSurvives(Down::kKill, {"--shards", "1", "--fsync", "always", "--snapshot-interval-s",
                                   "0", "--snapshot-every-writes", "0"});
}

// -- Versions.

TEST_CASE("CAS keeps working across restarts; versions only grow", "[persistence]") {
  const std::string dir = MakeTempDir("data");
  const auto flags = DirFlags(dir, {"--shards", "2", "--fsync", "always"});
  auto server = std::make_unique<ServerProcess>(flags);
  for (Down how : {Down::kTerm, Down::kKill}) {
    INFO("after " << Name(how));
    {
      int64_t v = 0, deleted_v = 0, expired_v = 0;
      {
        Client c(Opts(*server));
        Ok(c, "SET", {S("a"), S("v1")});
        const Value got = Ok(c, "GETV", {S("a")});
        REQUIRE(got.AsList().size() == 2);
        CHECK(got.AsList()[0] == S("v1"));
        v = got.AsList()[1].AsInt();
        // A key deleted, and one expired: created again after the restart, neither may get
        // back a version it had (no ABA across restarts).
        Ok(c, "SET", {S("deleted"), S("x")});
        deleted_v = Ok(c, "GETV", {S("deleted")}).AsList()[1].AsInt();
        Ok(c, "DEL", {S("deleted")});
        Ok(c, "SET", {S("expired"), S("x"), S("PX"), I(50)});
        expired_v = Ok(c, "GETV", {S("expired")}).AsList()[1].AsInt();
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      Restart(&server, how, flags);
      Client c(Opts(*server));
      const Value got = Ok(c, "GETV", {S("a")});
      REQUIRE(got.type() == ValueType::kList);
      CHECK(got.AsList()[0] == S("v1"));
      CHECK(got.AsList()[1] == I(v));  // the same version as before the restart
      const int64_t v2 = Ok(c, "CAS", {S("a"), I(v), S("v2")}).AsInt();
      CHECK(v2 > v);
      CHECK(Ok(c, "CAS", {S("a"), I(v), S("v3")}) == I(0));  // the old version: refused
      CHECK(Ok(c, "GET", {S("a")}) == S("v2"));
      CHECK(Ok(c, "GETV", {S("a")}).AsList()[1] == I(v2));
      CHECK(Ok(c, "CAS", {S("deleted"), I(deleted_v), S("y")}) == I(0));
      CHECK(Ok(c, "CAS", {S("deleted"), I(0), S("y")}).AsInt() > deleted_v);
      CHECK(Ok(c, "CAS", {S("expired"), I(expired_v), S("y")}) == I(0));
      Ok(c, "SET", {S("expired"), S("again")});
      CHECK(Ok(c, "GETV", {S("expired")}).AsList()[1].AsInt() > expired_v);
      // Reset for the next round.
      Ok(c, "DEL", {S("a"), S("deleted"), S("expired")});
    }
  }
}

// -- Snapshots.

TEST_CASE("snapshots by write count bound the WAL; restart uses snapshot + WAL",
          "[persistence][snapshot]") {
  const std::string dir = MakeTempDir("data");
  const auto flags =
      DirFlags(dir, {"--shards", "2", "--fsync", "always", "--snapshot-every-writes", "500",
                     "--snapshot-interval-s", "0", "--wal-file-bytes", "16KiB"});
  auto server = std::make_unique<ServerProcess>(flags);
  Model model;
  size_t max_wal_files = 0;
  uint64_t max_wal_bytes = 0;
  for (int round = 0; round < 12; ++round) {
    FillKeys(*server, &model, "", "key:", round * 1000, 1000, 100, 16);
    max_wal_files = std::max(max_wal_files, WalFiles(dir).size());
    max_wal_bytes = std::max(max_wal_bytes, TotalSize(dir, WalFiles(dir)));
  }
  Client c(Opts(*server));
  // Snapshots are taken in the background: wait (bounded) for the last to finish.
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  int64_t snapshots = InfoInt(c, "snapshots");
  while (snapshots < 2 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    snapshots = InfoInt(c, "snapshots");
  }
  const int64_t wal_bytes_written = InfoInt(c, "wal_bytes");
  INFO("snapshots " << snapshots << ", WAL bytes written " << wal_bytes_written
                    << ", most WAL files at once " << max_wal_files << " (" << max_wal_bytes
                    << " bytes)");
  CHECK(snapshots >= 10);  // 12000 writes, one snapshot per 500 at most
  const auto snaps = Snapshots(dir);
  CHECK(snaps.size() >= 2);
  CHECK(snaps.size() <= 4);  // two per shard are kept
  CHECK(ShardSnapshots(dir, 0).size() <= 2);
  CHECK(ShardSnapshots(dir, 1).size() <= 2);
  CHECK(Files(dir, "snapshot-", ".tmp").empty());
  // Old WAL files go: the first is long gone, and the WAL on disk never held more than a
  // fraction of what was written.
  const auto wal = WalFiles(dir);
  CHECK(std::find(wal.begin(), wal.end(), "wal-00000000000000000001.log") == wal.end());
  CHECK(max_wal_bytes < static_cast<uint64_t>(wal_bytes_written) / 3);
  CHECK(max_wal_files < 60);

  // Writes after the last snapshot (fewer than 500: no new one), then a crash: recovery needs
  // the snapshot and the WAL after it.
  // One at a time: a snapshot the 200 writes may trigger still leaves most of them after it.
  FillKeys(*server, &model, "", "late:", 0, 200, 100, 1);
  Ok(c, "DEL", {S(Padded("key:", 7))});
  model.erase({"", Padded("key:", 7)});
  Ok(c, "SET", {S(Padded("key:", 8)), S("overwritten after the snapshot")});
  model[{"", Padded("key:", 8)}] = S("overwritten after the snapshot");
  Restart(&server, Down::kKill, flags);
  const Recovered r = RecoveredLine(*server);
  CHECK(r.keys == static_cast<int64_t>(model.size()));
  CHECK(r.snapshot_entries > 0);
  CHECK(r.wal_records > 0);
  CHECK_FALSE(r.damage);
  CheckModel(*server, model);

  // And a clean stop: everything in the final snapshot, nothing to replay.
  Restart(&server, Down::kTerm, flags);
  const Recovered r2 = RecoveredLine(*server);
  CHECK(r2.keys == static_cast<int64_t>(model.size()));
  CHECK(r2.snapshot_entries == static_cast<int64_t>(model.size()));
  CHECK(r2.wal_records == 0);
  CheckModel(*server, model);
}

// Waits, at most timeout, until done() holds: checked whenever the data directory changes
// (inotify: a snapshot renamed into place, a file created or deleted) and at least every 100 ms
// (the INFO counters move just after the files). True if it came to hold.
bool WaitFor(const std::string& dir, std::chrono::milliseconds timeout,
             const std::function<bool()>& done) {
  const int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  REQUIRE(fd >= 0);
  REQUIRE(inotify_add_watch(fd, dir.c_str(), IN_MOVED_TO | IN_CREATE | IN_DELETE) >= 0);
  const auto deadline = Clock::now() + timeout;
  bool ok = done();
  while (!ok && Clock::now() < deadline) {
    pollfd p = {fd, POLLIN, 0};
    poll(&p, 1, std::min(100, MsLeft(deadline)));
    char buf[4096];
    while (read(fd, buf, sizeof(buf)) > 0) {
    }
    ok = done();
  }
  close(fd);
  return ok;
}

TEST_CASE("timed snapshots (--snapshot-interval-s) are taken, pruned, and used by recovery",
          "[persistence][snapshot]") {
  const std::string dir = MakeTempDir("data");
  // Only the timer starts snapshots: no write count, and no shutdown before the checks.
  const auto flags = DirFlags(dir, {"--shards", "2", "--fsync", "always", "--snapshot-interval-s",
                                    "1", "--snapshot-every-writes", "0"});
  auto server = std::make_unique<ServerProcess>(flags);
  Model model;
  FillKeys(*server, &model, "", "key:", 0, 500);
  Client c(Opts(*server));
  const int64_t written_to = InfoInt(c, "wal_next_lsn");  // every record so far is below it
  // A snapshot that started after the writes covers them all.
  REQUIRE(WaitFor(dir, std::chrono::seconds(15),
                  [&] { return InfoInt(c, "last_snapshot_lsn") >= written_to; }));
  const int64_t lsn = InfoInt(c, "last_snapshot_lsn");
  for (int shard = 0; shard < 2; ++shard) {
    char want[64];
    std::snprintf(want, sizeof(want), "snapshot-%04d-%020lld.snap", shard,
                  static_cast<long long>(lsn));
    const auto snaps = ShardSnapshots(dir, shard);
    INFO("shard " << shard);
    CHECK(std::find(snaps.begin(), snaps.end(), want) != snaps.end());
  }
  CHECK_THAT(server->Log(), Contains("snapshot: done at lsn " + std::to_string(lsn)));
  // The timer keeps going without writes, and retention keeps up with it: two sets (a third
  // may be half renamed into place), and the WAL does not grow a file per snapshot.
  const int64_t before = InfoInt(c, "snapshots");
  REQUIRE(WaitFor(dir, std::chrono::seconds(15),
                  [&] { return InfoInt(c, "snapshots") >= before + 2; }));
  CHECK(Snapshots(dir).size() <= 6);
  CHECK(WalFiles(dir).size() <= 3);

  // Writes after them, then a crash: the newest timed snapshot plus the WAL after it.
  FillKeys(*server, &model, "", "late:", 0, 50, 100, 1);
  Ok(c, "DEL", {S(Padded("key:", 3))});
  model.erase({"", Padded("key:", 3)});
  Restart(&server, Down::kKill, flags);
  const Recovered r = RecoveredLine(*server);
  CHECK(r.keys == static_cast<int64_t>(model.size()));
  CHECK(r.snapshot_entries >= 500);  // the keys written before the first timed snapshot
  CHECK_FALSE(r.damage);
  CheckModel(*server, model);
}

TEST_CASE("SIGTERM flushes the WAL and takes a final snapshot before exiting 0",
          "[persistence][snapshot]") {
  const std::string dir = MakeTempDir("data");
  const auto flags = DirFlags(dir, {"--shards", "3", "--fsync", "periodic", "--fsync-interval-ms",
                                    "60000"});  // no timed sync
  auto server = std::make_unique<ServerProcess>(flags);
  Model model;
  FillKeys(*server, &model, "", "key:", 0, 1000);
  FillKeys(*server, &model, "other", "key:", 0, 100);
  int64_t next_lsn = 0;
  {
    Client c(Opts(*server));
    CHECK(InfoInt(c, "snapshots") == 0);
    next_lsn = InfoInt(c, "wal_next_lsn");  // periodic: the last records may not be in yet
  }
  const int status = server->Stop();
  const std::string log = server->Log();
  INFO("log:\n" << log);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK_THAT(log, Contains("received SIGTERM"));
  CHECK_THAT(log, Contains("persistence: flushing and taking the final snapshot"));
  std::smatch m;
  REQUIRE(std::regex_search(log, m, std::regex(R"(snapshot: starting at lsn (\d+) \(3 shards\))")));
  const int64_t lsn = std::stoll(m[1]);
  CHECK(lsn >= next_lsn);
  CHECK_THAT(log, Contains("snapshot: done at lsn " + std::to_string(lsn)));
  CHECK_THAT(log, Contains("bye"));
  CHECK(Warnings(*server).empty());
  // One snapshot per shard, at that LSN; the WAL before it deleted.
  for (int shard = 0; shard < 3; ++shard) {
    const auto snaps = ShardSnapshots(dir, shard);
    REQUIRE(snaps.size() == 1);
    char want[64];
    std::snprintf(want, sizeof(want), "snapshot-%04d-%020lld.snap", shard,
                  static_cast<long long>(lsn));
    CHECK(snaps[0] == want);
  }
  for (const std::string& f : WalFiles(dir)) CHECK(FileSize(dir + "/" + f) == 0);

  server = std::make_unique<ServerProcess>(flags);
  const Recovered r = RecoveredLine(*server);
  CHECK(r.keys == 1100);
  CHECK(r.snapshot_entries == 1100);
  CHECK(r.wal_records == 0);
  CheckModel(*server, model);
}

TEST_CASE("SIGTERM under write load keeps every acknowledged write", "[persistence]") {
  const std::string dir = MakeTempDir("data");
  // Periodic fsync (the default); snapshots so often that one is likely running at SIGTERM.
  const auto flags = DirFlags(dir, {"--shards", "2", "--snapshot-every-writes", "300"});
  auto server = std::make_unique<ServerProcess>(flags);
  constexpr int kWriters = 4;
  std::atomic<bool> stop{false};
  std::vector<int> acked(kWriters, -1);  // the writer's last acknowledged index
  std::vector<std::thread> writers;
  writers.reserve(kWriters);
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      Client c(Opts(*server, 5.0));
      for (int i = 0; !stop; ++i) {
        Reply r = c.Call("SET", {S("w" + std::to_string(w) + ":" + std::to_string(i)), I(i)});
        if (!r.ok()) break;  // the server is going away
        acked[w] = i;
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const int status = server->Stop();
  stop = true;
  for (auto& t : writers) t.join();
  INFO("log:\n" << server->Log());
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  server = std::make_unique<ServerProcess>(flags);
  Client c(Opts(*server, 30));
  for (int w = 0; w < kWriters; ++w) {
    INFO("writer " << w << " had " << acked[w] + 1 << " writes acknowledged");
    CHECK(acked[w] > 0);
    ValueList keys;
    for (int i = 0; i <= acked[w]; ++i)
      keys.push_back(S("w" + std::to_string(w) + ":" + std::to_string(i)));
    const Value got = Ok(c, "MGET", keys);
    int lost = 0;
    for (int i = 0; i <= acked[w]; ++i) lost += got.AsList()[i] == I(i) ? 0 : 1;
    CHECK(lost == 0);
  }
}

// -- Plugin writes.

std::string PluginPath(const std::string& label) {
  // Shared libraries are data files, not executables: found through the runfiles tree.
  for (std::string p : {label, "bazel-bin/" + label}) {
    if (access(p.c_str(), R_OK) == 0) return p;
  }
  const char* srcdir = std::getenv("TEST_SRCDIR");
  if (srcdir != nullptr) return std::string(srcdir) + "/data_bridge_kv/" + label;
  return label;
}

TEST_CASE("plugin writes (THROTTLE) survive SIGKILL and SIGTERM", "[persistence][plugin]") {
  const std::string dir = MakeTempDir("data");
  const auto flags = DirFlags(dir, {"--shards", "2", "--fsync", "always", "--snapshot-interval-s",
                                    "0", "--snapshot-every-writes", "0", "--plugin",
                                    PluginPath("plugins/examples/throttle.so")});
  auto server = std::make_unique<ServerProcess>(flags);
  // 5 requests per 600 s, burst 4: the 6th is limited, for 120 s (one emission interval).
  const ValueList args = {S("user:1"), I(4), I(5), I(600)};
  auto throttle = [&](const ValueList& a) {
    Client c(Opts(*server));
    const Value r = Ok(c, "THROTTLE", a);
    REQUIRE(r.AsList().size() == 5);
    return r.AsList();
  };
  for (int i = 0; i < 5; ++i) {
    const ValueList r = throttle(args);
    CHECK(r[0] == I(0));      // allowed
    CHECK(r[2] == I(4 - i));  // remaining
  }
  CHECK(throttle(args)[0] == I(1));  // limited
  // Another bucket, written by the plugin once.
  CHECK(throttle({S("user:2"), I(0), I(1), I(3600)})[0] == I(0));
  int64_t tat = 0;
  {
    Client c(Opts(*server));
    tat = Ok(c, "GET", {S("user:1")}).AsInt();  // the plugin's state: an int, with a TTL
    CHECK(Ok(c, "TTL", {S("user:1")}).AsInt() > 0);
  }

  // A crash: the plugin's writes come back from the WAL, expiry included.
  for (Down how : {Down::kKill, Down::kTerm}) {
    INFO(Name(how));
    Restart(&server, how, flags);
    Client c(Opts(*server));
    CHECK(Ok(c, "GET", {S("user:1")}) == I(tat));
    const int64_t ttl = Ok(c, "TTL", {S("user:1")}).AsInt();
    CHECK(ttl > 0);
    CHECK(ttl <= 600);
    CHECK(Ok(c, "TTL", {S("user:2")}).AsInt() > 3000);
    // And the limiter still limits: the bucket is as full as before the restart.
    const ValueList r = throttle(args);
    CHECK(r[0] == I(1));
    CHECK(r[2] == I(0));
    CHECK(throttle({S("user:2"), I(0), I(1), I(3600)})[0] == I(1));
  }
  const Recovered r = RecoveredLine(*server);
  CHECK(r.keys == 2);
  CHECK(r.snapshot_entries == 2);  // after SIGTERM: the final snapshot holds both
}

// -- Shard count changes.

TEST_CASE("a restart with another --shards count recovers every key", "[persistence]") {
  const std::string dir = MakeTempDir("data");
  auto flags = [&](int shards) {
    return DirFlags(dir, {"--shards", std::to_string(shards), "--fsync", "always"});
  };
  auto server = std::make_unique<ServerProcess>(flags(4));
  Model model;
  FillKeys(*server, &model, "", "key:", 0, 2000);
  FillKeys(*server, &model, "ns1", "key:", 0, 500);
  FillKeys(*server, &model, "ns2", "{tag}:", 0, 300);
  int64_t version = 0;
  {
    Client c(Opts(*server));
    for (int i = 0; i < 10; ++i) Ok(c, "RPUSH", {S("list"), I(i)});
    Ok(c, "LPOP", {S("list")});
    model[{"", "list"}] = L({I(1), I(2), I(3), I(4), I(5), I(6), I(7), I(8), I(9)});
    for (int i = 0; i < 25; ++i) Ok(c, "INCR", {S("counter")});
    model[{"", "counter"}] = I(25);
    version = Ok(c, "GETV", {S("key:000001")}).AsList()[1].AsInt();
  }
  // 4 -> 2 after a clean stop (snapshots of 4 shards), 2 -> 7 after a crash (those snapshots
  // plus the WAL of the 2-shard server), 7 -> 1 after a clean stop, 1 -> 4 after a crash.
  const std::vector<std::pair<Down, int>> steps = {
      {Down::kTerm, 2}, {Down::kKill, 7}, {Down::kTerm, 1}, {Down::kKill, 4}};
  int step = 0;
  for (const auto& [how, shards] : steps) {
    INFO("step " << step << ": " << Name(how) << ", then " << shards << " shards");
    Restart(&server, how, flags(shards));
    CheckModel(*server, model);
    Client c(Opts(*server));
    CHECK(Ok(c, "HELLO").AsMap().back().second == I(shards));
    // Versions came along: CAS with the version read before still works, once.
    const int64_t now = Ok(c, "GETV", {S("key:000001")}).AsList()[1].AsInt();
    CHECK(now == version);
    version = Ok(c, "CAS", {S("key:000001"), I(now), S("cas " + std::to_string(step))}).AsInt();
    CHECK(version > now);
    CHECK(Ok(c, "CAS", {S("key:000001"), I(now), S("stale")}) == I(0));
    model[{"", "key:000001"}] = S("cas " + std::to_string(step));
    CHECK(Ok(c, "INCR", {S("counter")}) == I(26 + step));
    model[{"", "counter"}] = I(26 + step);
    FillKeys(*server, &model, "", "step" + std::to_string(step) + ":", 0, 300);
    CHECK(Ok(c, "DEL", {S(Padded("key:", 100 + step))}) == I(1));
    model.erase({"", Padded("key:", 100 + step)});
    ++step;
  }
  Restart(&server, Down::kTerm, flags(3));
  CheckModel(*server, model);
}

// -- One server per directory.

TEST_CASE("a second server on the same --data-dir refuses to start", "[persistence]") {
  const std::string dir = MakeTempDir("data");
  auto first = std::make_unique<ServerProcess>(DirFlags(dir));
  Client c(Opts(*first));
  Ok(c, "SET", {S("k"), S("v")});
  std::string error;
  try {
    ServerProcess second(DirFlags(dir));
  } catch (const std::runtime_error& e) {
    error = e.what();
  }
  INFO(error);
  CHECK_THAT(error, Contains("exited at start-up (status 256)"));  // exit code 1
  CHECK_THAT(error, Contains(dir + "/LOCK is locked: another server uses this data directory"));
  // The first one is untouched.
  CHECK(Ok(c, "GET", {S("k")}) == S("v"));
  Ok(c, "SET", {S("k2"), S("v2")});
  // A crash releases the lock with the process.
  first->Kill();
  first = std::make_unique<ServerProcess>(DirFlags(dir));
  Client c2(Opts(*first));
  CHECK(Ok(c2, "GET", {S("k")}) == S("v"));
}

// -- Damaged files.

// Flags for WAL damage tests: no snapshots, every write acknowledged once on disk.
std::vector<std::string> WalOnlyFlags(const std::string& dir, int shards,
                                      const std::string& wal_file_bytes) {
  return DirFlags(
      dir, {"--shards", std::to_string(shards), "--fsync", "always", "--snapshot-interval-s", "0",
            "--snapshot-every-writes", "0", "--wal-file-bytes", wal_file_bytes});
}

// The WAL warnings of a log, without their timestamps.
std::vector<std::string> WalWarnings(const std::string& warnings) {
  std::vector<std::string> out;
  size_t pos = 0;
  while ((pos = warnings.find("warning WAL ", pos)) != std::string::npos) {
    const size_t end = warnings.find('\n', pos);
    out.push_back(warnings.substr(pos, end - pos));
    pos = end;
  }
  return out;
}

TEST_CASE("a flipped byte in a WAL file loses that block only", "[persistence][damage]") {
  const std::string dir = MakeTempDir("data");
  const auto [last_file, shards] = GENERATE(table<bool, int>({{true, 1}, {false, 1}, {false, 3}}));
  DYNAMIC_SECTION((last_file ? "in the last WAL file" : "in an earlier WAL file")
                  << ", " << shards << " shard(s)") {
    // Small records (pipeline window 4): damage costs the rest of one 32 KiB block, plus the
    // records crossing its edges. With one shard the records are in write order.
    const auto flags = WalOnlyFlags(dir, shards, last_file ? "64MiB" : "128KiB");
    auto server = std::make_unique<ServerProcess>(flags);
    Model model;
    constexpr int kKeys = 4000;
    FillKeys(*server, &model, "", "key:", 0, kKeys, 100, 4);
    server->Kill();
    const auto wal = WalFiles(dir);
    REQUIRE(wal.size() >= (last_file ? 1u : 3u));
    const std::string victim = dir + "/" + (last_file ? wal.back() : wal[1]);
    const uint64_t size = FileSize(victim);
    REQUIRE(size >= 3 * 32768);
    const uint64_t offset = (size / 2) / 32768 * 32768 + 1000;  // inside a block, not padding
    FlipByte(victim, offset);

    server = std::make_unique<ServerProcess>(flags);
    const std::string warnings = Warnings(*server);
    INFO("warnings:\n" << warnings);
    CHECK_THAT(warnings, Contains("WAL " + victim + ": "));
    CHECK_THAT(warnings, Contains("bytes skipped"));
    // Reported once, however many threads replay the WAL.
    std::vector<std::string> lines = WalWarnings(warnings);
    CHECK(!lines.empty());
    std::sort(lines.begin(), lines.end());
    CHECK(std::adjacent_find(lines.begin(), lines.end()) == lines.end());
    CHECK(RecoveredLine(*server).damage);
    const std::vector<int> missing = MissingKeys(*server, model, "", "key:", 0, kKeys);
    INFO(missing.size() << " keys lost, from " << (missing.empty() ? -1 : missing.front()));
    CHECK(!missing.empty());
    if (shards == 1) CHECK(Contiguous(missing));
    CHECK(missing.size() < 32768 / 100 + 16);  // one block of ~130-byte mutations, and edges
    CHECK(missing.size() < kKeys / 8);

    // The server goes on from there: new writes are kept, the old damage is still reported
    // (the file is what it is) until a snapshot makes that WAL obsolete.
    for (int i : missing) model.erase({"", Padded("key:", i)});
    FillKeys(*server, &model, "", "more:", 0, 500, 100, 4);
    Restart(&server, Down::kKill, flags);
    CHECK(RecoveredLine(*server).damage);
    CheckModel(*server, model);
    Restart(&server, Down::kTerm, flags);  // the final snapshot: the damaged WAL is deleted
    const auto wal_now = WalFiles(dir);
    CHECK(std::find(wal_now.begin(), wal_now.end(), victim.substr(dir.size() + 1)) ==
          wal_now.end());
    Restart(&server, Down::kTerm, flags);
    CHECK(Warnings(*server).empty());
    CHECK_FALSE(RecoveredLine(*server).damage);
    CheckModel(*server, model);
  }
}

TEST_CASE("a WAL torn inside its last record is truncated there", "[persistence][damage]") {
  const std::string dir = MakeTempDir("data");
  const int shards = GENERATE(1, 3);  // one replay thread, or one per shard plus the tail pass
  DYNAMIC_SECTION(shards << " shard(s)") {
    const auto flags =
        DirFlags(dir, {"--shards", std::to_string(shards), "--fsync", "always",
                       "--snapshot-interval-s", "0", "--snapshot-every-writes", "0"});
    auto server = std::make_unique<ServerProcess>(flags);
    Model model;
    FillKeys(*server, &model, "", "key:", 0, 1000);
    {
      Client c(Opts(*server));
      Ok(c, "SET", {S("last"), S(std::string(3000, 'L'))});  // the last record: ~3 KB
    }
    server->Kill();
    const auto wal = WalFiles(dir);
    REQUIRE(!wal.empty());
    const std::string path = dir + "/" + wal.back();
    const uint64_t size = FileSize(path);
    TruncateTo(path, size - 1500);  // in the middle of "last"

    server = std::make_unique<ServerProcess>(flags);
    const std::string warnings = Warnings(*server);
    INFO("warnings:\n" << warnings);
    CHECK_THAT(warnings, Contains("WAL " + path + ": torn tail at offset"));
    CHECK_THAT(warnings, Contains("truncated"));
    CHECK(FileSize(path) < size - 3000);  // cut where the torn record started
    CheckModel(*server, model);           // all but the torn write
    {
      Client c(Opts(*server));
      CHECK(Ok(c, "EXISTS", {S("last")}) == I(0));
      Ok(c, "SET", {S("after"), S("v")});
      model[{"", "after"}] = S("v");
    }
    // Written on from there: the next crash recovery finds nothing wrong.
    Restart(&server, Down::kKill, flags);
    INFO("log:\n" << server->Log());
    CHECK(Warnings(*server).empty());
    CheckModel(*server, model);
  }
}

// Two generations of snapshots (a clean stop, writes, a clean stop), then the newest damaged.
TEST_CASE("a damaged newest snapshot falls back to the older one plus the WAL",
          "[persistence][damage][snapshot]") {
  const std::string dir = MakeTempDir("data");
  const auto flags = DirFlags(
      dir, {"--shards", "2", "--snapshot-interval-s", "0", "--snapshot-every-writes", "0"});
  auto server = std::make_unique<ServerProcess>(flags);
  Model model;
  FillKeys(*server, &model, "", "a:", 0, 3000);
  FillKeys(*server, &model, "ns", "a:", 0, 500);
  Restart(&server, Down::kTerm, flags);
  FillKeys(*server, &model, "", "b:", 0, 2000);
  {
    Client c(Opts(*server));
    for (int i = 0; i < 3000; i += 10) {
      Ok(c, "SET", {S(Padded("a:", i)), S("rewritten")});
      model[{"", Padded("a:", i)}] = S("rewritten");
    }
    for (int i = 5; i < 3000; i += 10) {
      CHECK(Ok(c, "DEL", {S(Padded("a:", i))}) == I(1));
      model.erase({"", Padded("a:", i)});
    }
  }
  TakeDown(*server, Down::kTerm);
  REQUIRE(ShardSnapshots(dir, 0).size() == 2);
  REQUIRE(ShardSnapshots(dir, 1).size() == 2);

  const std::string how = GENERATE(as<std::string>{}, "flipped byte", "truncated", "both shards");
  DYNAMIC_SECTION(how) {
    std::vector<std::string> damaged = {dir + "/" + ShardSnapshots(dir, 0).back()};
    if (how == "both shards") damaged.push_back(dir + "/" + ShardSnapshots(dir, 1).back());
    for (const std::string& path : damaged) {
      const uint64_t size = FileSize(path);
      if (how == "truncated") {
        TruncateTo(path, size - 20);  // the footer is gone: an unfinished file
      } else {
        FlipByte(path, size / 2);
      }
    }
    server = std::make_unique<ServerProcess>(flags);
    const std::string warnings = Warnings(*server);
    INFO("warnings:\n" << warnings);
    for (const std::string& path : damaged) {
      CHECK_THAT(warnings, Contains("snapshot " + path + " is damaged"));
    }
    CHECK_THAT(warnings, Contains("falling back to the previous one"));
    const Recovered r = RecoveredLine(*server);
    CHECK(r.damage);
    CHECK(r.wal_records > 0);
    CheckModel(*server, model);

    // It goes on from there, and a later restart gives the same data back.
    FillKeys(*server, &model, "", "c:", 0, 100);
    Restart(&server, Down::kTerm, flags);
    CheckModel(*server, model);
    Restart(&server, Down::kKill, flags);
    CheckModel(*server, model);
  }
}

// After a restart with another shard count, the set kept to fall back on is the old layout's
// whole set (every old shard's file), with the WAL from its position: when the new layout's
// set is unusable, recovery loads the old one and routes its keys. Two ways to get there: the
// newest snapshot damaged, or a SIGKILL between two shards' renames of the new layout's first
// snapshot (reproduced by removing the file that one shard had not renamed yet: the disk then
// holds what such a crash leaves, the .tmp aside).
TEST_CASE("after a shard-count change an unusable newest snapshot still loses no key",
          "[persistence][damage][snapshot]") {
  const std::string dir = MakeTempDir("data");
  auto flags = [&](int shards) {
    return DirFlags(dir, {"--shards", std::to_string(shards), "--snapshot-interval-s", "0",
                          "--snapshot-every-writes", "0"});
  };
  // Snapshots of a 4-shard layout, then of a 2-shard one.
  auto server = std::make_unique<ServerProcess>(flags(4));
  Model model;
  FillKeys(*server, &model, "", "a:", 0, 2000);
  Restart(&server, Down::kTerm, flags(2));
  FillKeys(*server, &model, "", "b:", 0, 500);
  TakeDown(*server, Down::kTerm);
  const auto snaps0 = ShardSnapshots(dir, 0);
  const auto snaps1 = ShardSnapshots(dir, 1);
  REQUIRE(snaps0.size() == 2);
  REQUIRE(snaps1.size() == 2);
  // The 4-shard set is kept whole.
  REQUIRE(ShardSnapshots(dir, 2).size() == 1);
  REQUIRE(ShardSnapshots(dir, 3).size() == 1);

  const bool damaged = GENERATE(true, false);
  DYNAMIC_SECTION((damaged ? "shard 0's newest snapshot damaged"
                           : "killed before shard 1 renamed its first new-layout snapshot")) {
    if (damaged) {
      FlipByte(dir + "/" + snaps0.back(), FileSize(dir + "/" + snaps0.back()) / 2);
    } else {
      REQUIRE(unlink((dir + "/" + snaps1.back()).c_str()) == 0);
    }
    server = std::make_unique<ServerProcess>(flags(2));
    INFO("warnings:\n" << Warnings(*server));
    if (damaged) CHECK(RecoveredLine(*server).damage);
    const std::vector<int> missing = MissingKeys(*server, model, "", "a:", 0, 2000);
    INFO(missing.size() << " of the 2000 keys written under 4 shards are lost");
    CHECK(missing.empty());
    CHECK(MissingKeys(*server, model, "", "b:", 0, 500).empty());
    CheckModel(*server, model);
  }
}

// A damaged snapshot is set aside (renamed *.damaged), so that the next snapshot keeps the set
// that recovery fell back on, not the damaged one: a second fault still has something to fall
// back to.
TEST_CASE("after a fallback the next snapshot keeps the good set, not the damaged one",
          "[persistence][damage][snapshot]") {
  const std::string dir = MakeTempDir("data");
  const auto flags = DirFlags(
      dir, {"--shards", "2", "--snapshot-interval-s", "0", "--snapshot-every-writes", "0"});
  auto server = std::make_unique<ServerProcess>(flags);
  Model model;
  FillKeys(*server, &model, "", "a:", 0, 1000);
  Restart(&server, Down::kTerm, flags);  // set A
  FillKeys(*server, &model, "", "b:", 0, 500);
  TakeDown(*server, Down::kTerm);  // set B
  const std::string b0 = dir + "/" + ShardSnapshots(dir, 0).back();
  FlipByte(b0, FileSize(b0) / 2);

  // B is damaged: recovery falls back on A and the WAL, and sets B's damaged file aside.
  server = std::make_unique<ServerProcess>(flags);
  CHECK(RecoveredLine(*server).damage);
  CHECK(access((b0 + ".damaged").c_str(), F_OK) == 0);
  CheckModel(*server, model);
  FillKeys(*server, &model, "", "c:", 0, 300);
  TakeDown(*server, Down::kTerm);  // set C: kept with A (B is not whole any more)
  CHECK(ShardSnapshots(dir, 0).size() == 2);
  CHECK(ShardSnapshots(dir, 1).size() == 2);
  CHECK(access((b0 + ".damaged").c_str(), F_OK) == 0);  // left for an operator to look at

  // A second fault, in the same shard: C damaged too. A and the WAL from it still hold
  // everything.
  const std::string c0 = dir + "/" + ShardSnapshots(dir, 0).back();
  FlipByte(c0, FileSize(c0) / 2);
  server = std::make_unique<ServerProcess>(flags);
  INFO("warnings:\n" << Warnings(*server));
  CHECK_THAT(Warnings(*server), Contains("snapshot " + c0 + " is damaged"));
  CHECK(MissingKeys(*server, model, "", "a:", 0, 1000).empty());
  CHECK(MissingKeys(*server, model, "", "b:", 0, 500).empty());
  CHECK(MissingKeys(*server, model, "", "c:", 0, 300).empty());
  CheckModel(*server, model);
}

// The summary line counts each WAL record once, however many shards replay it.
TEST_CASE("the recovered line counts each WAL record once", "[persistence]") {
  const std::string dir = MakeTempDir("data");
  const int shards = GENERATE(1, 4);
  DYNAMIC_SECTION(shards << " shard(s)") {
    const auto flags =
        DirFlags(dir, {"--shards", std::to_string(shards), "--fsync", "always",
                       "--snapshot-interval-s", "0", "--snapshot-every-writes", "0"});
    auto server = std::make_unique<ServerProcess>(flags);
    int64_t records = 0;
    {
      Client c(Opts(*server));
      for (int i = 0; i < 40; ++i) Ok(c, "SET", {S("k" + std::to_string(i)), I(i)});
      records = InfoInt(c, "wal_records");
    }
    CHECK(records == 40);  // one at a time: a record each
    Restart(&server, Down::kKill, flags);
    const Recovered r = RecoveredLine(*server);
    CHECK(r.keys == 40);
    CHECK(r.wal_records == records);
    CHECK(r.snapshot_entries == 0);
    // After a snapshot and more writes: the records after the snapshot only.
    {
      Client c(Opts(*server));
      for (int i = 0; i < 10; ++i) Ok(c, "SET", {S("late" + std::to_string(i)), I(i)});
    }
    Restart(&server, Down::kTerm, flags);
    {
      Client c(Opts(*server));
      for (int i = 0; i < 7; ++i) Ok(c, "DEL", {S("k" + std::to_string(i))});
    }
    Restart(&server, Down::kKill, flags);
    const Recovered r2 = RecoveredLine(*server);
    CHECK(r2.keys == 43);
    CHECK(r2.snapshot_entries == 50);
    CHECK(r2.wal_records == 7);
  }
}

}  // namespace
}  // namespace dbkv::testing
