// Crash tests: the real server under concurrent writes, killed with SIGKILL at random moments
// and restarted on the same data directory, in a bounded loop. Every writer records each reply
// the server acknowledged, and when; after each restart, in every --fsync mode (a reply goes
// out only once its WAL record is written to the file, and a killed process loses nothing the
// OS has; the modes differ only on power loss), every acknowledged write is there (zero lost),
// nothing is there that was never sent, values are exact, the server comes back every time
// without reporting damage, and snapshots keep the WAL on disk bounded.
//
// The RNG seed is printed; set CRASH_TEST_SEED to replay a run's kill times.
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"
#include "tests/server_process.h"
#include "tests/test_util.h"

namespace dbkv::testing {
namespace {

using client::Client;
using Clock = std::chrono::steady_clock;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
      .count();
}

uint64_t Seed() {
  if (const char* s = std::getenv("CRASH_TEST_SEED"); s != nullptr && *s != '\0') {
    return std::strtoull(s, nullptr, 10);
  }
  return std::random_device{}();
}

// WAL files of dir: how many, how many bytes; and whether snapshot temp files are left.
struct DirUsage {
  size_t wal_files = 0;
  uint64_t wal_bytes = 0;
  size_t snapshots = 0;
  size_t temp_files = 0;
  bool first_wal = false;  // wal-00000000000000000001.log still there
};

DirUsage Usage(const std::string& dir) {
  DirUsage u;
  DIR* d = opendir(dir.c_str());
  REQUIRE(d != nullptr);
  while (dirent* e = readdir(d)) {
    const std::string n = e->d_name;
    auto ends = [&](const std::string& s) {
      return n.size() >= s.size() && n.compare(n.size() - s.size(), s.size(), s) == 0;
    };
    if (n.rfind("wal-", 0) == 0 && ends(".log")) {
      struct stat st {};
      REQUIRE(stat((dir + "/" + n).c_str(), &st) == 0);
      ++u.wal_files;
      u.wal_bytes += static_cast<uint64_t>(st.st_size);
      if (n == "wal-00000000000000000001.log") u.first_wal = true;
    } else if (n.rfind("snapshot-", 0) == 0 && ends(".snap")) {
      ++u.snapshots;
    } else if (ends(".tmp")) {
      ++u.temp_files;
    }
  }
  closedir(d);
  return u;
}

std::string SetKey(int writer, int64_t i) {
  return "crash:" + std::to_string(writer) + ":" + std::to_string(i);
}
Value SetValue(int writer, int64_t i) {
  return S("value " + std::to_string(writer) + "/" + std::to_string(i) +
           " ..................................................");
}

// One writer's history. Confirmed by the last check: SET keys [0, base_index) present, the
// counter at base_counter. The rest is this round's, written by the writer thread and read
// once it has been joined.
struct Writer {
  int id = 0;
  std::string counter_key;
  int64_t base_index = 0;
  int64_t base_counter = 0;

  int64_t max_sent = -1;     // highest SET index ever sent
  int64_t max_present = -1;  // highest SET index found at the last check

  int64_t sent_index = -1;                             // highest SET index sent this round
  std::vector<int64_t> set_ack_ms;                     // ack time of index base_index + i
  std::vector<std::pair<int64_t, int64_t>> incr_acks;  // (ack time, value)
  Reply error;                                         // the reply that ended the round
  int64_t error_ms = 0;

  void Round(uint16_t port, const std::atomic<bool>& stop) {
    sent_index = base_index - 1;
    set_ack_ms.clear();
    incr_acks.clear();
    error = Reply();
    error_ms = 0;
    client::ClientOptions o;
    o.port = port;
    o.timeout_s = 10;
    Client c(o);
    for (int64_t i = base_index; !stop; ++i) {
      Reply r = c.Call("INCR", {S(counter_key)});
      if (!r.ok()) {
        error = r;
        break;
      }
      incr_acks.emplace_back(NowMs(), r.value.AsInt());
      sent_index = i;
      max_sent = std::max(max_sent, i);
      r = c.Call("SET", {S(SetKey(id, i)), SetValue(id, i)});
      if (!r.ok()) {
        error = r;
        break;
      }
      set_ack_ms.push_back(NowMs());
    }
    error_ms = NowMs();
  }
};

struct Losses {
  int64_t acked_lost = 0;       // acknowledged, not found (allowed within the window only)
  int64_t unacked_landed = 0;   // in flight at the kill, found
  int64_t oldest_lost_ms = -1;  // the earliest ack time of a write lost (-1: none)
  // Keys found after a writer's first missing one: a loss that is not a suffix of the
  // writer's sequence (a log written in order loses only a suffix).
  int64_t holes = 0;
  void Lost(int64_t ack_ms) {
    ++acked_lost;
    if (oldest_lost_ms < 0 || ack_ms < oldest_lost_ms) oldest_lost_ms = ack_ms;
  }
};

// Checks what the restarted server holds against what the writer saw acknowledged: every
// acknowledged write must be there. Then moves the writer's base to what the server holds.
void CheckWriter(Client& c, Writer& w, Losses* losses) {
  INFO("writer " << w.id << ": base " << w.base_index << ", sent up to " << w.sent_index << ", "
                 << w.set_ack_ms.size() << " SETs and " << w.incr_acks.size()
                 << " INCRs acknowledged this round");
  // SET keys: [0, max_sent + 2): the last one never sent. (Keys past a loss, of an earlier
  // round, may be there unsent this round.)
  const int64_t end = w.max_sent + 2;
  int64_t first_missing = -1;
  int64_t max_present = w.max_present;
  for (int64_t from = 0; from < end; from += 1000) {
    ValueList keys;
    for (int64_t i = from; i < std::min(end, from + 1000); ++i) keys.push_back(S(SetKey(w.id, i)));
    const Value got = Ok(c, "MGET", keys);
    REQUIRE(got.AsList().size() == keys.size());
    for (size_t j = 0; j < keys.size(); ++j) {
      const int64_t i = from + static_cast<int64_t>(j);
      const Value& v = got.AsList()[j];
      INFO("key " << SetKey(w.id, i) << " holds " << v.DebugString());
      if (!v.is_null()) {
        CHECK(v == SetValue(w.id, i));
        CHECK(i <= w.max_sent);  // never sent, never there
        if (i >= w.base_index + static_cast<int64_t>(w.set_ack_ms.size())) ++losses->unacked_landed;
        if (first_missing >= 0 && i > w.max_present) ++losses->holes;
        max_present = std::max(max_present, i);
        continue;
      }
      if (first_missing < 0) first_missing = i;
      CHECK(i >= w.base_index);  // held after the previous restart: must stay
      const int64_t k = i - w.base_index;
      if (k < static_cast<int64_t>(w.set_ack_ms.size())) {
        losses->Lost(w.set_ack_ms[k]);
        FAIL_CHECK("an acknowledged write is lost");
      }
    }
  }
  // The counter: at least the last value acknowledged, at most one more (one INCR may have
  // been in flight).
  const Value got = Ok(c, "GET", {S(w.counter_key)});
  const int64_t now = got.is_null() ? 0 : got.AsInt();
  const int64_t last = w.incr_acks.empty() ? w.base_counter : w.incr_acks.back().second;
  INFO("counter " << now << ", last acknowledged " << last);
  CHECK(now >= last);
  CHECK(now <= last + 1);
  for (const auto& [ms, value] : w.incr_acks) {
    if (value > now) losses->Lost(ms);
  }
  if (now > last) ++losses->unacked_landed;

  w.base_index = first_missing < 0 ? w.max_sent + 1 : first_missing;
  w.max_present = max_present;
  w.base_counter = now;
}

// The regex of the recovery summary line; its tail says whether damage was found.
bool RecoveredCleanly(const ServerProcess& server, std::string* line) {
  static const std::regex re(R"(recovered \d+ keys in [^\n]*)");
  const std::string log = server.Log();
  std::smatch m;
  if (!std::regex_search(log, m, re)) return false;
  *line = m[0];
  return line->find("damage was found") == std::string::npos;
}

struct CrashOptions {
  std::vector<std::string> flags;
  int iterations = 10;
  int min_run_ms = 100;
  int max_run_ms = 1000;
};

void CrashLoop(const CrashOptions& opt) {
  const uint64_t seed = Seed();
  std::printf("crash_test seed %llu (set CRASH_TEST_SEED to replay)\n",
              static_cast<unsigned long long>(seed));
  std::fflush(stdout);
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> run_ms(opt.min_run_ms, opt.max_run_ms);

  const std::string dir = MakeTempDir("crash");
  std::vector<std::string> flags = {"--data-dir", dir};
  flags.insert(flags.end(), opt.flags.begin(), opt.flags.end());
  constexpr int kWriters = 4;
  std::vector<Writer> writers(kWriters);
  for (int w = 0; w < kWriters; ++w) {
    writers[w].id = w;
    writers[w].counter_key = "counter:" + std::to_string(w);
  }
  Losses total;
  int64_t acked_total = 0;
  uint64_t max_wal_bytes = 0;
  size_t max_wal_files = 0;
  bool first_wal_gone = false;

  auto server = std::make_unique<ServerProcess>(flags);
  for (int iter = 0; iter < opt.iterations; ++iter) {
    INFO("iteration " << iter);
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    threads.reserve(writers.size());
    for (Writer& w : writers) {
      threads.emplace_back([&w, &stop, port = server->port()] { w.Round(port, stop); });
    }
    const int ms = run_ms(rng);
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    const int64_t kill_ms = NowMs();
    server->Kill();
    stop = true;
    for (auto& t : threads) t.join();
    int64_t acked = 0;
    for (const Writer& w : writers) {
      acked += static_cast<int64_t>(w.set_ack_ms.size() + w.incr_acks.size());
      // Each round ends with the kill, never before: no write was refused.
      INFO("writer " << w.id << " stopped " << (w.error_ms - kill_ms)
                     << " ms after the kill: " << CodeName(w.error.code) << " " << w.error.error);
      CHECK(w.error_ms >= kill_ms);
    }
    acked_total += acked;

    server = std::make_unique<ServerProcess>(flags);  // throws if it does not come back
    std::string line;
    const bool clean = RecoveredCleanly(*server, &line);
    INFO("log:\n" << server->Log());
    CHECK(clean);
    const DirUsage u = Usage(dir);
    max_wal_bytes = std::max(max_wal_bytes, u.wal_bytes);
    max_wal_files = std::max(max_wal_files, u.wal_files);
    first_wal_gone = first_wal_gone || !u.first_wal;
    CHECK(u.temp_files == 0);  // a snapshot cut by the kill is removed at recovery
    // Two kept per shard, and one more while the kill cut the pruning after a snapshot.
    CHECK(u.snapshots <= 3 * 2);

    Losses losses;
    Client c([&] {
      client::ClientOptions o;
      o.port = server->port();
      o.timeout_s = 30;
      return o;
    }());
    for (Writer& w : writers) CheckWriter(c, w, &losses);
    std::printf(
        "iteration %d: killed after %d ms, %lld writes acknowledged, %lld acknowledged lost%s, "
        "%lld unacknowledged landed, %lld out of order; WAL on disk %zu files, %llu bytes; %s\n",
        iter, ms, static_cast<long long>(acked), static_cast<long long>(losses.acked_lost),
        losses.oldest_lost_ms < 0
            ? ""
            : (" (the oldest acknowledged " +
               std::to_string(std::max<int64_t>(0, kill_ms - losses.oldest_lost_ms)) +
               " ms before the kill)")
                  .c_str(),
        static_cast<long long>(losses.unacked_landed), static_cast<long long>(losses.holes),
        u.wal_files, static_cast<unsigned long long>(u.wal_bytes), line.c_str());
    std::fflush(stdout);
    total.acked_lost += losses.acked_lost;
    if (losses.oldest_lost_ms >= 0) {
      // (An ack taken just after kill_ms counts as 0 ms before the kill.)
      total.oldest_lost_ms =
          std::max(total.oldest_lost_ms, std::max<int64_t>(0, kill_ms - losses.oldest_lost_ms));
    }
    total.unacked_landed += losses.unacked_landed;
    CHECK(losses.acked_lost == 0);
    CHECK(losses.holes == 0);  // whatever is lost is the last of each writer's writes
  }

  // A last clean stop: everything confirmed so far comes back once more.
  {
    const int status = server->Stop();
    CHECK(status == 0);
    server = std::make_unique<ServerProcess>(flags);
    Client c([&] {
      client::ClientOptions o;
      o.port = server->port();
      o.timeout_s = 30;
      return o;
    }());
    Losses none;
    for (Writer& w : writers) {
      w.sent_index = w.base_index - 1;
      w.set_ack_ms.clear();
      w.incr_acks.clear();
      CheckWriter(c, w, &none);
    }
    CHECK(none.acked_lost == 0);
  }

  std::printf(
      "%d iterations: %lld writes acknowledged, %lld acknowledged lost%s, %lld unacknowledged "
      "landed; WAL on disk at most %zu files, %llu bytes\n",
      opt.iterations, static_cast<long long>(acked_total), static_cast<long long>(total.acked_lost),
      total.oldest_lost_ms < 0 ? ""
                               : (" (acknowledged at most " + std::to_string(total.oldest_lost_ms) +
                                  " ms before the kill)")
                                     .c_str(),
      static_cast<long long>(total.unacked_landed), max_wal_files,
      static_cast<unsigned long long>(max_wal_bytes));
  CHECK(acked_total > 1000);  // the load was real
  // Snapshots every 1000 writes keep about two snapshots' worth of WAL, whatever was written.
  CHECK(first_wal_gone);
  CHECK(max_wal_files < 40);
  CHECK(max_wal_bytes < (2u << 20));
}

const std::vector<std::string> kSnapshotFlags = {
    "--shards",         "2",    "--snapshot-every-writes", "1000", "--snapshot-interval-s", "0",
    "--wal-file-bytes", "64KiB"};

std::vector<std::string> With(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST_CASE("fsync always: no acknowledged write is lost to SIGKILL", "[crash]") {
  CrashOptions o;
  o.flags = With({"--fsync", "always"}, kSnapshotFlags);
  o.iterations = 12;
  o.min_run_ms = 100;
  o.max_run_ms = 1200;
  CrashLoop(o);
}

// A process crash loses nothing acknowledged in periodic mode either: the reply waited for the
// write(2) of its record, and the OS keeps what was written (only power loss takes the last
// interval).
TEST_CASE("fsync periodic: no acknowledged write is lost to SIGKILL", "[crash]") {
  CrashOptions o;
  o.flags = With({"--fsync", "periodic", "--fsync-interval-ms", "100"}, kSnapshotFlags);
  o.iterations = 8;
  o.min_run_ms = 300;
  o.max_run_ms = 2500;
  CrashLoop(o);
}

TEST_CASE("fsync never: no acknowledged write is lost to SIGKILL", "[crash]") {
  CrashOptions o;
  o.flags = With({"--fsync", "never"}, kSnapshotFlags);
  o.iterations = 5;
  o.min_run_ms = 300;
  o.max_run_ms = 1500;
  CrashLoop(o);
}

}  // namespace
}  // namespace dbkv::testing
