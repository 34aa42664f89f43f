// FaultInjectionEnv itself: each fault does what the tests built on it assume.
#include "storage/fault_env.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <thread>

#include "storage/data_dir.h"

namespace dbkv::storage {
namespace {

std::string Contents(Env* env, const std::string& path) {
  std::string data;
  REQUIRE(ReadFileToString(env, path, &data).ok());
  return data;
}

TEST_CASE("A crash keeps synced bytes and drops the rest", "[fault_env]") {
  FaultInjectionEnv env;
  const std::string dir = NewTestDir("fault");
  const std::string path = JoinPath(dir, "f");
  std::unique_ptr<WritableFile> f;
  REQUIRE(env.NewWritableFile(path, &f).ok());
  REQUIRE(env.SyncDir(dir).ok());
  REQUIRE(f->Append("synced").ok());
  REQUIRE(f->Sync().ok());
  REQUIRE(f->Append(" lost").ok());
  CHECK(env.UnsyncedBytes(path) == 5);
  CHECK(env.SyncCount(path) == 1);
  CHECK(env.sync_count() == 1);
  REQUIRE(env.DropUnsyncedData().ok());
  CHECK(Contents(&env, path) == "synced");
  // The handle open at the crash is dead.
  CHECK_FALSE(f->Append("x").ok());
  CHECK_FALSE(f->Sync().ok());
  f->Close().IgnoreError();  // a dead handle: closing it has nothing to report
  CHECK(Contents(&env, path) == "synced");
}

TEST_CASE("A crash drops a file whose creation was not synced, and undoes a rename",
          "[fault_env]") {
  FaultInjectionEnv env;
  const std::string dir = NewTestDir("fault");
  std::unique_ptr<WritableFile> f;
  REQUIRE(env.NewWritableFile(JoinPath(dir, "new"), &f).ok());
  REQUIRE(f->Append("data").ok());
  REQUIRE(f->Sync().ok());
  REQUIRE(f->Close().ok());
  std::unique_ptr<WritableFile> g;
  REQUIRE(env.NewWritableFile(JoinPath(dir, "a.tmp"), &g).ok());
  REQUIRE(g->Append("snap").ok());
  REQUIRE(g->Sync().ok());
  REQUIRE(g->Close().ok());
  REQUIRE(env.SyncDir(dir).ok());
  REQUIRE(env.RenameFile(JoinPath(dir, "a.tmp"), JoinPath(dir, "a")).ok());
  std::unique_ptr<WritableFile> h;
  REQUIRE(env.NewWritableFile(JoinPath(dir, "later"), &h).ok());
  REQUIRE(h->Append("x").ok());
  REQUIRE(h->Sync().ok());  // synced data, but the directory entry is not
  REQUIRE(env.DropUnsyncedData().ok());
  CHECK(env.FileExists(JoinPath(dir, "new")));
  CHECK_FALSE(env.FileExists(JoinPath(dir, "later")));
  CHECK_FALSE(env.FileExists(JoinPath(dir, "a")));
  CHECK(Contents(&env, JoinPath(dir, "a.tmp")) == "snap");
}

TEST_CASE("A write limit fails Append, Flush and Sync like a full disk", "[fault_env]") {
  FaultInjectionEnv env;
  const std::string dir = NewTestDir("fault");
  const std::string path = JoinPath(dir, "f");
  std::unique_ptr<WritableFile> f;
  REQUIRE(env.NewWritableFile(path, &f).ok());
  env.SetWriteLimit(10);
  REQUIRE(f->Append("0123456").ok());
  Status s = f->Append("789abc");
  CHECK(s.code() == Code::kIoError);
  CHECK(s.message().find("No space left on device") != std::string::npos);
  CHECK(Contents(&env, path) == "0123456789");  // what fitted
  CHECK_FALSE(f->Flush().ok());
  CHECK_FALSE(f->Sync().ok());
  CHECK_FALSE(f->Append("z").ok());
  env.ClearWriteLimit();
  CHECK(f->Append("z").ok());
  CHECK(f->Sync().ok());
  CHECK(Contents(&env, path) == "0123456789z");
}

TEST_CASE("A torn write leaves only part of the append, which survives a crash", "[fault_env]") {
  FaultInjectionEnv env;
  const std::string dir = NewTestDir("fault");
  const std::string path = JoinPath(dir, "f");
  std::unique_ptr<WritableFile> f;
  REQUIRE(env.NewWritableFile(path, &f).ok());
  REQUIRE(env.SyncDir(dir).ok());
  REQUIRE(f->Append("head").ok());
  REQUIRE(f->Sync().ok());
  env.TearNextWrite(3);
  CHECK_FALSE(f->Append("torn-record").ok());
  REQUIRE(env.DropUnsyncedData().ok());
  CHECK(Contents(&env, path) == "headtor");
}

TEST_CASE("FlipByte changes one byte in place", "[fault_env]") {
  FaultInjectionEnv env;
  const std::string path = JoinPath(NewTestDir("fault"), "f");
  std::unique_ptr<WritableFile> f;
  REQUIRE(env.NewWritableFile(path, &f).ok());
  REQUIRE(f->Append("abc").ok());
  REQUIRE(f->Close().ok());
  REQUIRE(env.FlipByte(path, 1, 0x01).ok());
  CHECK(Contents(&env, path) == "acc");
  CHECK_FALSE(env.FlipByte(path, 3).ok());
  REQUIRE(env.TruncateFile(path, 1).ok());
  CHECK(Contents(&env, path) == "a");
}

// The real env's background sync, which the WAL syncer relies on.
TEST_CASE("PosixEnv: SyncWritten runs beside the owner's appends; after Close it fails", "[env]") {
  Env* env = Env::Default();
  const std::string path = JoinPath(NewTestDir("env"), "f");
  std::shared_ptr<WritableFile> f;
  {
    std::unique_ptr<WritableFile> u;
    REQUIRE(env->NewWritableFile(path, &u).ok());
    f = std::move(u);
  }
  std::atomic<bool> stop{false};
  std::atomic<int> syncs{0};
  std::string unexpected;  // a failure other than finding the file closed
  std::thread syncer([&] {
    while (!stop) {
      const Status s = f->SyncWritten();
      if (s.ok()) {
        ++syncs;
      } else if (s.message().find("the file is closed") == std::string::npos) {
        unexpected = s.ToString();
      }
    }
  });
  std::string expected;
  for (int i = 0; i < 2000; ++i) {
    const std::string line = "line " + std::to_string(i) + "\n";
    REQUIRE(f->Append(line).ok());
    expected += line;
    if (i % 10 == 0) REQUIRE(f->Flush().ok());
  }
  REQUIRE(f->Sync().ok());
  while (syncs == 0) std::this_thread::yield();
  REQUIRE(f->Close().ok());  // waits for a running SyncWritten
  stop = true;
  syncer.join();
  CHECK(unexpected.empty());
  CHECK_FALSE(f->SyncWritten().ok());
  CHECK(Contents(env, path) == expected);
}

}  // namespace
}  // namespace dbkv::storage
