// Recovery (storage/recovery.h): data directories built by hand with the encoders, then
// Recover() checked against the state they describe, one test per rule of the corruption
// policy in WAL_FORMAT.md and SNAPSHOT_FORMAT.md.
#include "storage/recovery.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/shard_hash.h"
#include "storage/data_dir.h"
#include "storage/fault_env.h"
#include "storage/log_format.h"
#include "storage/snapshot.h"
#include "storage/wal.h"

namespace dbkv::storage {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;

Value S(std::string_view s) { return Value::String(s); }
Value I(int64_t i) { return Value::Int(i); }

Entry E(Value v, uint64_t version, int64_t expire = kNoExpiry) {
  Entry e;
  e.value = std::move(v);
  e.version = version;
  e.expire_at_ms = expire;
  return e;
}

// The mutations of one WAL record.
class Batch {
 public:
  Batch& Put(std::string_view key, Value v, uint64_t version, int64_t expire = kNoExpiry,
             std::string_view ns = "") {
    enc_.Put(ns, key, E(std::move(v), version, expire));
    ++count_;
    return *this;
  }
  Batch& Del(std::string_view key, uint64_t version) {
    enc_.Del("", key, version);
    ++count_;
    return *this;
  }
  Batch& Push(std::string_view key, ValueList values, uint64_t version, bool tail = true,
              int64_t expire = kNoExpiry) {
    enc_.Push("", key, version, expire, tail, values.data(), values.size());
    ++count_;
    return *this;
  }
  Batch& Pop(std::string_view key, uint64_t count, uint64_t version, bool tail = false) {
    enc_.Pop("", key, version, tail, count);
    ++count_;
    return *this;
  }
  std::string Record(uint64_t lsn, uint32_t shard = 0) const {
    return EncodeWalRecord({lsn, shard, count_}, bytes_);
  }

 private:
  std::string bytes_;
  MutationEncoder enc_{&bytes_};
  uint32_t count_ = 0;
};

struct SnapEntry {
  std::string ns, key;
  Entry entry;
};

// A data directory written by hand, and recovered.
class DataDir {
 public:
  DataDir() : dir(NewTestDir("recovery")) {}

  // Starts a new WAL file (the previous one is synced and closed).
  void OpenWal(uint64_t first_lsn) {
    CloseWal();
    wal_path = JoinPath(dir, WalFileName(first_lsn));
    REQUIRE(env.NewWritableFile(wal_path, &wal_file_).ok());
    REQUIRE(env.SyncDir(dir).ok());
    wal_ = std::make_unique<log::Writer>(wal_file_.get());
  }
  Status Append(const std::string& record) { return wal_->AddRecord(record); }
  void Add(uint64_t lsn, const Batch& b, uint32_t shard = 0) {
    REQUIRE(Append(b.Record(lsn, shard)).ok());
  }
  // Offset where the next record will start (its first header, or the padding before it).
  uint64_t WalSize() const { return wal_file_->Size(); }
  Status SyncWal() { return wal_file_->Sync(); }
  void CloseWal() {
    if (wal_file_ == nullptr) return;
    REQUIRE(wal_file_->Sync().ok());
    REQUIRE(wal_file_->Close().ok());
    wal_.reset();
    wal_file_.reset();
  }

  // Writes a finished snapshot file (blocks of at most per_block entries).
  std::string WriteSnapshot(uint32_t shard, uint32_t shard_count, uint64_t start_lsn,
                            const std::vector<SnapEntry>& entries, uint64_t max_version = 0,
                            size_t per_block = 2) {
    SnapshotHeader h;
    h.shard = shard;
    h.shard_count = shard_count;
    h.start_lsn = start_lsn;
    h.created_ms = kNow;
    std::string bytes = EncodeSnapshotHeader(h);
    SnapshotBlockBuilder b;
    uint64_t blocks = 0;
    for (const SnapEntry& e : entries) {
      b.Add(e.ns, e.key, e.entry);
      max_version = std::max(max_version, e.entry.version);
      if (b.entries() == per_block) {
        bytes += b.Finish();
        ++blocks;
      }
    }
    if (!b.empty()) {
      bytes += b.Finish();
      ++blocks;
    }
    bytes += EncodeSnapshotFooter(entries.size(), max_version, blocks);
    std::string path = JoinPath(dir, SnapshotFileName(shard, start_lsn));
    WriteFile(path, bytes);
    return path;
  }

  void WriteFile(const std::string& path, const std::string& bytes) {
    std::unique_ptr<WritableFile> f;
    REQUIRE(env.NewWritableFile(path, &f).ok());
    REQUIRE(f->Append(bytes).ok());
    REQUIRE(f->Sync().ok());
    REQUIRE(f->Close().ok());
  }

  uint64_t FileSize(const std::string& path) {
    uint64_t size = 0;
    REQUIRE(env.GetFileSize(path, &size).ok());
    return size;
  }

  Status Recover(uint32_t shards, int64_t now = kNow) {
    warnings.clear();
    RecoveryOptions o;
    o.shard_count = shards;
    o.now_ms = now;
    o.warn = [this](const std::string& m) {
      std::lock_guard<std::mutex> lock(mu_);
      warnings.push_back(m);
    };
    infos.clear();
    o.info = [this](const std::string& m) {
      std::lock_guard<std::mutex> lock(mu_);
      infos.push_back(m);
    };
    return storage::Recover(&env, dir, o, &result);
  }

  // The entry of key in the partition its shard owns (checked), or nullptr.
  const Record* Get(std::string_view key, std::string_view ns = "") {
    const uint32_t n = static_cast<uint32_t>(result.partitions.size());
    for (uint32_t i = 0; i < n; ++i) {
      const Record* e = result.partitions[i]->Find(ns, key, kNow);
      if (e != nullptr) {
        CHECK(i == ShardOf(key, n));
        return e;
      }
    }
    return nullptr;
  }
  Value ValueOf(std::string_view key) {
    const Record* e = Get(key);
    INFO("key " << key);
    REQUIRE(e != nullptr);
    return e->value().ToValue();
  }

  bool Warned(const std::string& part) const {
    for (const auto& w : warnings)
      if (w.find(part) != std::string::npos) return true;
    return false;
  }
  std::string AllWarnings() const {
    std::string out;
    for (const auto& w : warnings) out += w + "\n";
    return out;
  }

  FaultInjectionEnv env;
  std::string dir;
  std::string wal_path;
  RecoveryResult result;
  std::vector<std::string> warnings;
  std::vector<std::string> infos;  // progress lines, the last one "recovered: ..."

 private:
  std::mutex mu_;
  std::unique_ptr<WritableFile> wal_file_;
  std::unique_ptr<log::Writer> wal_;
};

TEST_CASE("An empty directory recovers empty, at LSN 1", "[recovery]") {
  DataDir d;
  REQUIRE(d.Recover(4).ok());
  CHECK(d.result.partitions.size() == 4);
  CHECK(d.result.keys == 0);
  CHECK(d.result.next_lsn == 1);
  CHECK(d.warnings.empty());
}

TEST_CASE("The WAL alone replays every mutation in order", "[recovery]") {
  DataDir d;
  d.OpenWal(1);
  d.Add(1, Batch().Put("a", S("1"), 1).Put("b", S("1"), 2));
  d.Add(2, Batch().Push("l", {S("x"), S("y")}, 3).Put("a", S("2"), 4));
  d.Add(3, Batch().Pop("l", 1, 5).Del("b", 6));
  d.CloseWal();
  REQUIRE(d.Recover(1).ok());
  CHECK(d.ValueOf("a") == S("2"));
  CHECK(d.Get("b") == nullptr);
  CHECK(d.ValueOf("l") == Value::List({S("y")}));
  CHECK(d.result.keys == 2);
  CHECK(d.result.wal_records == 3);
  CHECK(d.result.next_lsn == 4);
  CHECK(d.result.partitions[0]->last_version() == 6);
  CHECK(d.warnings.empty());
}

TEST_CASE("Progress lines count the WAL's mutations as entries, once", "[recovery]") {
  const uint32_t shards = GENERATE(1u, 3u);
  DYNAMIC_SECTION(shards << " shard(s)") {
    DataDir d;
    // A snapshot of 2 entries at LSN 3, then 5 mutations from LSN 3 on; the records below 3
    // are not replayed, so not counted.
    d.WriteSnapshot(0, 1, 3, {{"", "s1", E(S("x"), 1)}, {"", "s2", E(S("y"), 2)}});
    d.OpenWal(1);
    d.Add(1, Batch().Put("old", S("1"), 1).Put("old2", S("1"), 2));
    d.Add(2, Batch().Put("old3", S("1"), 3));
    d.OpenWal(3);
    d.Add(3, Batch().Put("a", S("1"), 4).Put("b", S("1"), 5).Put("c", S("1"), 6));
    d.Add(4, Batch().Push("l", {S("x"), S("y")}, 7).Del("a", 8));
    d.CloseWal();
    REQUIRE(d.Recover(shards).ok());
    REQUIRE_FALSE(d.infos.empty());
    INFO(d.infos.back());
    CHECK_THAT(d.infos.back(), Catch::Matchers::StartsWith("recovered: 7 entries, "));
    CHECK_THAT(d.infos.back(), Catch::Matchers::EndsWith(", 100% done"));

    // The WAL alone (no snapshot): every mutation of every record.
    DataDir w;
    w.OpenWal(1);
    for (uint64_t lsn = 1; lsn <= 100; ++lsn) {
      const std::string k = "k" + std::to_string(lsn);
      w.Add(lsn, Batch().Put(k, S("v"), 2 * lsn - 1).Put(k + "x", S("v"), 2 * lsn));
    }
    w.CloseWal();
    REQUIRE(w.Recover(shards).ok());
    REQUIRE_FALSE(w.infos.empty());
    INFO(w.infos.back());
    CHECK_THAT(w.infos.back(), Catch::Matchers::StartsWith("recovered: 200 entries, "));
    CHECK(w.result.keys == 200);
  }
}

TEST_CASE("A fuzzy snapshot plus the WAL from its LSN gives the final state", "[recovery]") {
  // The snapshot starts at LSN 3 but was walked while the shard kept writing: it holds
  // a@4 (written by record 4), l after the push of record 4, and b before its delete.
  DataDir d;
  d.OpenWal(1);
  d.Add(1, Batch().Put("a", S("a1"), 1).Put("b", S("b1"), 2));
  d.Add(2, Batch().Put("c", S("c1"), 3));  // below the snapshot LSN: not replayed
  d.Add(3, Batch().Push("l", {S("x")}, 4));
  d.Add(4, Batch().Put("a", S("a2"), 5).Push("l", {S("y")}, 6));
  d.Add(5, Batch().Pop("l", 1, 7, /*tail=*/false).Put("a", S("a3"), 8));
  d.Add(6, Batch().Del("b", 9).Push("l", {S("z")}, 10));
  d.CloseWal();
  d.WriteSnapshot(0, 1, 3,
                  {{"", "a", E(S("a2"), 5)},
                   {"", "b", E(S("b1"), 2)},
                   {"", "c", E(S("c1"), 3)},
                   {"", "l", E(Value::List({S("x"), S("y")}), 6)}});
  REQUIRE(d.Recover(1).ok());
  CHECK(d.ValueOf("a") == S("a3"));
  CHECK(d.Get("b") == nullptr);
  CHECK(d.ValueOf("c") == S("c1"));
  // The pushes of records 3 and 4 are in the snapshot already: applied once, not twice.
  CHECK(d.ValueOf("l") == Value::List({S("y"), S("z")}));
  CHECK(d.result.snapshot_entries == 4);
  CHECK(d.result.wal_records == 4);  // records 3..6
  CHECK(d.result.next_lsn == 7);
  CHECK(d.result.partitions[0]->last_version() == 10);
  CHECK(d.warnings.empty());
}

TEST_CASE("WAL files wholly below the snapshot LSN are not read", "[recovery]") {
  DataDir d;
  d.OpenWal(1);
  d.Add(1, Batch().Put("a", S("old"), 1));
  d.OpenWal(2);
  d.Add(2, Batch().Put("b", S("b"), 2));
  d.CloseWal();
  // The first file is damaged beyond reading: it does not matter, nothing there is needed.
  REQUIRE(d.env.FlipByte(JoinPath(d.dir, WalFileName(1)), 10).ok());
  d.WriteSnapshot(0, 1, 2, {{"", "a", E(S("a"), 1)}});
  REQUIRE(d.Recover(1).ok());
  CHECK(d.ValueOf("a") == S("a"));
  CHECK(d.ValueOf("b") == S("b"));
  CHECK(d.warnings.empty());
}

TEST_CASE("Entries expired by now are neither loaded nor resurrected by the WAL", "[recovery]") {
  DataDir d;
  d.OpenWal(1);
  d.Add(1,
        Batch().Put("wal-expired", S("x"), 1, kNow - 1).Put("wal-live", S("y"), 2, kNow + 60000));
  // A key expired in the snapshot; the WAL from the snapshot's LSN holds its older PUT (the
  // walk reached the key later) and the PUT that gave it the expiry.
  d.Add(2,
        Batch().Put("snap-expired", S("older"), 3).Put("snap-expired", S("newer"), 4, kNow - 100));
  d.Add(3, Batch()
               .Put("list", Value::List({S("a")}), 5, kNow - 5)
               .Push("list", {S("b")}, 6, true, kNow - 5));
  d.CloseWal();
  d.WriteSnapshot(0, 1, 1,
                  {{"", "snap-expired", E(S("newer"), 4, kNow - 100)},
                   {"", "snap-live", E(S("z"), 4, kNow + 1)}});
  REQUIRE(d.Recover(1).ok());
  CHECK(d.Get("wal-expired") == nullptr);
  CHECK(d.Get("snap-expired") == nullptr);
  CHECK(d.Get("list") == nullptr);
  REQUIRE(d.Get("wal-live") != nullptr);
  CHECK(d.Get("wal-live")->expire_at_ms() == kNow + 60000);
  REQUIRE(d.Get("snap-live") != nullptr);
  CHECK(d.Get("snap-live")->expire_at_ms() == kNow + 1);
  CHECK(d.result.keys == 2);
  CHECK(d.result.partitions[0]->FindForRestore("", "snap-expired") == nullptr);
}

TEST_CASE("A damaged newest snapshot falls back to the previous one and loses nothing",
          "[recovery]") {
  DataDir d;
  d.OpenWal(1);
  d.Add(1, Batch().Put("a", S("a1"), 1));
  d.Add(2, Batch().Put("b", S("b1"), 2));
  d.OpenWal(3);
  d.Add(3, Batch().Put("a", S("a2"), 3).Put("c", S("c1"), 4));
  d.Add(4, Batch().Del("b", 5));
  d.OpenWal(5);
  d.Add(5, Batch().Put("d", S("d1"), 6));
  d.CloseWal();
  d.WriteSnapshot(0, 1, 3, {{"", "a", E(S("a1"), 1)}, {"", "b", E(S("b1"), 2)}});
  const std::string newest =
      d.WriteSnapshot(0, 1, 5, {{"", "a", E(S("a2"), 3)}, {"", "c", E(S("c1"), 4)}});
  REQUIRE(d.env.FlipByte(newest, kSnapshotHeaderSize + 12).ok());
  REQUIRE(d.Recover(1).ok());
  CHECK(d.result.damaged_snapshots == 1);
  CHECK(d.Warned(newest));
  CHECK(d.Warned("block checksum mismatch"));
  CHECK(d.ValueOf("a") == S("a2"));
  CHECK(d.Get("b") == nullptr);
  CHECK(d.ValueOf("c") == S("c1"));
  CHECK(d.ValueOf("d") == S("d1"));
  CHECK(d.result.snapshot_entries == 2);
  CHECK(d.result.wal_records == 3);  // from LSN 3, the older snapshot's
}

TEST_CASE("A newest snapshot without its footer falls back to the previous one", "[recovery]") {
  DataDir d;
  d.OpenWal(1);
  d.Add(1, Batch().Put("a", S("a1"), 1));
  d.OpenWal(2);
  d.Add(2, Batch().Put("a", S("a2"), 2));
  d.CloseWal();
  d.WriteSnapshot(0, 1, 2, {{"", "a", E(S("a1"), 1)}});
  const std::string newest = d.WriteSnapshot(0, 1, 3, {{"", "a", E(S("a2"), 2)}});
  REQUIRE(d.env.TruncateFile(newest, d.FileSize(newest) - kSnapshotFooterSize).ok());
  REQUIRE(d.Recover(1).ok());
  CHECK(d.result.damaged_snapshots == 1);
  CHECK(d.Warned("missing footer"));
  CHECK(d.ValueOf("a") == S("a2"));
}

TEST_CASE("With every snapshot damaged a shard replays the whole WAL", "[recovery]") {
  DataDir d;
  d.OpenWal(1);
  d.Add(1, Batch().Put("a", S("a1"), 1));
  d.Add(2, Batch().Put("b", S("b1"), 2));
  d.CloseWal();
  const std::string snap = d.WriteSnapshot(0, 1, 2, {{"", "a", E(S("a1"), 1)}});
  REQUIRE(d.env.FlipByte(snap, 20).ok());  // the header
  REQUIRE(d.Recover(1).ok());
  CHECK(d.result.damaged_snapshots == 1);
  CHECK(d.Warned("header checksum mismatch"));
  CHECK(d.ValueOf("a") == S("a1"));
  CHECK(d.ValueOf("b") == S("b1"));
}

TEST_CASE("A torn tail of the last WAL file is truncated, and a later restart is clean",
          "[recovery]") {
  DataDir d;
  d.OpenWal(1);
  d.Add(1, Batch().Put("a", S("a"), 1));
  d.Add(2, Batch().Put("b", S("b"), 2));
  const uint64_t good_end = d.WalSize();
  d.Add(3, Batch().Put("c", S(std::string(200, 'c')), 3));
  d.CloseWal();
  REQUIRE(d.env.TruncateFile(d.wal_path, good_end + 50).ok());  // the write of record 3 torn
  REQUIRE(d.Recover(1).ok());
  CHECK(d.Warned("torn tail at offset " + std::to_string(good_end)));
  CHECK(d.FileSize(d.wal_path) == good_end);
  CHECK(d.ValueOf("a") == S("a"));
  CHECK(d.ValueOf("b") == S("b"));
  CHECK(d.Get("c") == nullptr);
  CHECK(d.result.next_lsn == 3);
  CHECK(d.result.wal_bytes_dropped == 0);  // torn, not damaged

  // The server goes on in a new file; the next restart finds nothing wrong.
  const std::string first = d.wal_path;
  d.OpenWal(d.result.next_lsn);
  d.Add(3, Batch().Put("c", S("c2"), 3));
  d.CloseWal();
  REQUIRE(d.Recover(1).ok());
  CHECK(d.warnings.empty());
  CHECK(d.ValueOf("c") == S("c2"));
  CHECK(d.FileSize(first) == good_end);
}

TEST_CASE("A damaged tail of the last WAL file is reported and truncated", "[recovery]") {
  DataDir d;
  d.OpenWal(1);
  d.Add(1, Batch().Put("a", S("a"), 1));
  const uint64_t good_end = d.WalSize();
  d.Add(2, Batch().Put("b", S("b"), 2));
  d.CloseWal();
  const uint64_t size = d.FileSize(d.wal_path);
  REQUIRE(d.env.FlipByte(d.wal_path, size - 1).ok());
  REQUIRE(d.Recover(1).ok());
  CHECK(d.Warned("checksum mismatch at offset " + std::to_string(good_end)));
  CHECK(d.Warned("torn tail at offset " + std::to_string(good_end)));
  CHECK(d.FileSize(d.wal_path) == good_end);
  CHECK(d.result.wal_bytes_dropped == size - good_end);
  CHECK(d.Get("b") == nullptr);
}

TEST_CASE("Damage in the middle of a WAL file is reported with its offset and skipped",
          "[recovery]") {
  DataDir d;
  d.OpenWal(1);
  // Records of ~1 KiB: about 32 per block, over three blocks.
  uint64_t lsn = 1, damaged_at = 0;
  for (; lsn <= 90; ++lsn) {
    if (lsn == 5) damaged_at = d.WalSize();
    d.Add(lsn, Batch().Put("k" + std::to_string(lsn), S(std::string(1000, 'v')), lsn));
  }
  d.CloseWal();
  const uint64_t size = d.FileSize(d.wal_path);
  REQUIRE(size > 2 * log::kBlockSize);
  REQUIRE(d.env.FlipByte(d.wal_path, damaged_at + log::kHeaderSize + 100).ok());
  REQUIRE(d.Recover(1).ok());
  INFO(d.AllWarnings());
  CHECK(d.Warned("checksum mismatch at offset " + std::to_string(damaged_at)));
  // The rest of block 0; and the end of the record that spanned into block 1, whose start
  // was dropped with it.
  CHECK(d.result.wal_bytes_dropped >= log::kBlockSize - damaged_at);
  CHECK(d.FileSize(d.wal_path) == size);  // not truncated: valid records follow
  // Records 1-4 before the damage, and every record starting in a later block, are back.
  CHECK(d.Get("k1") != nullptr);
  CHECK(d.Get("k4") != nullptr);
  CHECK(d.Get("k5") == nullptr);
  CHECK(d.Get("k89") != nullptr);
  CHECK(d.Get("k90") != nullptr);
  CHECK(d.result.next_lsn == 91);
}

TEST_CASE("Damage in a WAL file that is not the last is reported, never truncated", "[recovery]") {
  DataDir d;
  d.OpenWal(1);
  d.Add(1, Batch().Put("a", S("a"), 1));
  const uint64_t b_at = d.WalSize();
  d.Add(2, Batch().Put("b", S("b"), 2));
  const std::string first = d.wal_path;
  d.OpenWal(3);
  d.Add(3, Batch().Put("c", S("c"), 3));
  d.CloseWal();
  const uint64_t size = d.FileSize(first);
  REQUIRE(d.env.FlipByte(first, b_at + log::kHeaderSize).ok());
  REQUIRE(d.Recover(1).ok());
  CHECK(d.Warned(first + ": checksum mismatch at offset " + std::to_string(b_at)));
  CHECK_FALSE(d.Warned("torn tail"));
  CHECK(d.FileSize(first) == size);
  CHECK(d.ValueOf("a") == S("a"));
  CHECK(d.ValueOf("c") == S("c"));
}

TEST_CASE("Damage is reported once, also when shards replay on threads of their own",
          "[recovery]") {
  // Two shards, two replay threads reading the same files.
  DataDir d;
  d.OpenWal(1);
  std::vector<std::string> keys;
  for (int i = 0; keys.size() < 4; ++i) {
    const std::string k = "key" + std::to_string(i);
    if (ShardOf(k, 2) == 1) keys.push_back(k);
  }
  d.Add(1, Batch().Put(keys[0], S("v"), 1), 1);
  const uint64_t damaged_at = d.WalSize();
  d.Add(2, Batch().Put(keys[1], S("v"), 2), 1);
  d.Add(3, Batch().Put(keys[2], S("v"), 3), 1);
  d.OpenWal(4);
  d.Add(4, Batch().Put(keys[3], S("v"), 4), 1);
  d.CloseWal();
  REQUIRE(d.env.FlipByte(JoinPath(d.dir, WalFileName(1)), damaged_at + 9).ok());
  REQUIRE(d.Recover(2).ok());
  INFO(d.AllWarnings());
  CHECK(d.warnings.size() == 1);
  CHECK(d.Warned("checksum mismatch at offset " + std::to_string(damaged_at)));
  CHECK(d.result.wal_records == 2);  // records 1 and 4 (each counted once, not per thread)
  CHECK(d.result.wal_bytes_dropped > 0);
  CHECK(d.Get(keys[0]) != nullptr);
  CHECK(d.Get(keys[1]) == nullptr);
  CHECK(d.Get(keys[3]) != nullptr);
}

TEST_CASE("Leftover temporary files are deleted", "[recovery]") {
  DataDir d;
  const std::string tmp = JoinPath(d.dir, SnapshotTempName(0));
  d.WriteFile(tmp, "half a snapshot");
  REQUIRE(d.Recover(1).ok());
  CHECK_FALSE(d.env.FileExists(tmp));
}

// Keys and values spread over `old` shards' snapshots plus a WAL, for resharding.
void BuildTwoShardDir(DataDir& d, int keys) {
  std::vector<std::vector<SnapEntry>> per_shard(2);
  for (int i = 0; i < keys; ++i) {
    const std::string k = "key" + std::to_string(i);
    per_shard[ShardOf(k, 2)].push_back({"", k, E(I(i), 100 + i)});
  }
  d.WriteSnapshot(0, 2, 5, per_shard[0], 0, 7);
  d.WriteSnapshot(1, 2, 5, per_shard[1], 0, 7);
  d.OpenWal(5);
  // After the snapshots: key0 changes, key1 is deleted, a new key appears (versions above).
  d.Add(5, Batch().Put("key0", S("changed"), 1000), ShardOf("key0", 2));
  d.Add(6, Batch().Del("key1", 1001), ShardOf("key1", 2));
  d.Add(7, Batch().Put("new", S("n"), 1002), ShardOf("new", 2));
  d.CloseWal();
}

void CheckResharded(DataDir& d, uint32_t n, int keys) {
  REQUIRE(d.result.partitions.size() == n);
  uint64_t total = 0;
  for (uint32_t s = 0; s < n; ++s) {
    const Partition& p = *d.result.partitions[s];
    for (const auto& [ns, table] : p.tables()) {
      for (size_t seg = 0; seg < table.segment_count(); ++seg) {
        for (const Record* r : table.segment(seg)) {
          INFO("key " << r->key().str() << " in shard " << s);
          CHECK(ShardOf(r->key().str(), n) == s);
          // New writes get versions above every version a key of this shard had.
          CHECK(p.last_version() >= r->version());
          ++total;
        }
      }
    }
  }
  // The delete of key1 (version 1001) counts too, in the shard that owns key1 now.
  CHECK(d.result.partitions[ShardOf("key1", n)]->last_version() >= 1001);
  CHECK(total == static_cast<uint64_t>(keys));  // keys - key1 + new
  CHECK(d.result.keys == static_cast<uint64_t>(keys));
  CHECK(d.ValueOf("key0") == S("changed"));
  CHECK(d.Get("key1") == nullptr);
  CHECK(d.ValueOf("new") == S("n"));
  for (int i = 2; i < keys; ++i) CHECK(d.ValueOf("key" + std::to_string(i)) == I(i));
}

TEST_CASE("Snapshots of 2 shards recover into 3: every key once, where ShardOf puts it",
          "[recovery][reshard]") {
  DataDir d;
  BuildTwoShardDir(d, 200);
  REQUIRE(d.Recover(3).ok());
  CheckResharded(d, 3, 200);
  CHECK(d.result.next_lsn == 8);
}

TEST_CASE("Snapshots of 2 shards recover into 1", "[recovery][reshard]") {
  DataDir d;
  BuildTwoShardDir(d, 200);
  REQUIRE(d.Recover(1).ok());
  CheckResharded(d, 1, 200);
}

TEST_CASE("Snapshots of 2 shards recover into 2 as they are", "[recovery][reshard]") {
  DataDir d;
  BuildTwoShardDir(d, 200);
  REQUIRE(d.Recover(2).ok());
  CheckResharded(d, 2, 200);
}

TEST_CASE("A fallback set of another shard count is loaded whole, each key where it goes now",
          "[recovery][reshard]") {
  // Resharded from 2 to 3: the 3-shard set is damaged; the 2-shard set before it holds every
  // key (in two files), and the WAL from its position the writes since.
  DataDir d;
  std::vector<std::vector<SnapEntry>> old(2);
  std::vector<std::string> keys;
  for (int i = 0; i < 60; ++i) {
    const std::string k = "key" + std::to_string(i);
    old[ShardOf(k, 2)].push_back({"", k, E(I(i), 10 + i)});
    keys.push_back(k);
  }
  d.WriteSnapshot(0, 2, 1, old[0]);
  d.WriteSnapshot(1, 2, 1, old[1]);
  d.OpenWal(1);
  d.Add(1, Batch().Put("key0", S("changed"), 100), ShardOf("key0", 3));
  d.Add(2, Batch().Put("new", S("n"), 101), ShardOf("new", 3));
  d.CloseWal();
  const std::string damaged = d.WriteSnapshot(0, 3, 3, {});
  d.WriteSnapshot(1, 3, 3, {});
  d.WriteSnapshot(2, 3, 3, {});
  REQUIRE(d.env.FlipByte(damaged, kSnapshotHeaderSize + 20).ok());
  REQUIRE(d.Recover(3).ok());
  INFO(d.AllWarnings());
  CHECK(d.Warned("snapshot " + damaged + " is damaged"));
  CHECK(d.result.damaged_snapshots == 1);
  CHECK(d.result.snapshot_entries == 60);
  CHECK(d.result.wal_records == 2);  // from the fallback set's LSN
  CHECK(d.ValueOf("key0") == S("changed"));
  CHECK(d.ValueOf("new") == S("n"));
  for (int i = 1; i < 60; ++i) CHECK(d.ValueOf(keys[i]) == I(i));  // Get checks the shard
  CHECK(d.result.keys == 61);
  // Every shard continues above every version of the set; the WAL's in their keys' shards.
  for (uint32_t s = 0; s < 3; ++s) CHECK(d.result.partitions[s]->last_version() >= 69);
  CHECK(d.result.partitions[ShardOf("key0", 3)]->last_version() >= 100);
  CHECK(d.result.partitions[ShardOf("new", 3)]->last_version() >= 101);
}

TEST_CASE("An incomplete newest set (a crash between two shards' renames) is ignored",
          "[recovery]") {
  std::string k0, k1;  // a key of each of two shards
  for (int i = 0; k0.empty() || k1.empty(); ++i) {
    const std::string k = "key" + std::to_string(i);
    (ShardOf(k, 2) == 0 ? k0 : k1) = k;
  }
  DataDir d;
  d.WriteSnapshot(0, 2, 1, {{"", k0, E(S("a1"), 1)}});
  d.WriteSnapshot(1, 2, 1, {});
  d.OpenWal(1);
  d.Add(1, Batch().Put(k0, S("a2"), 2));
  d.Add(2, Batch().Put(k1, S("b1"), 3));
  d.OpenWal(3);
  d.CloseWal();
  // Shard 0's file of the set at 3 was renamed into place, shard 1's was not.
  const std::string lone = d.WriteSnapshot(0, 2, 3, {{"", k0, E(S("a2"), 2)}});
  REQUIRE(d.Recover(2).ok());
  INFO(d.AllWarnings());
  CHECK(d.Warned("snapshot set at LSN 3 is not usable (1 of its 2 shards' files are there)"));
  CHECK(d.result.damaged_snapshots == 0);  // what a crash leaves is no damage
  CHECK(d.env.FileExists(lone));           // nor set aside
  CHECK(d.ValueOf(k0) == S("a2"));
  CHECK(d.ValueOf(k1) == S("b1"));   // the set at 3 lacks it: it is in shard 1's missing file
  CHECK(d.result.wal_records == 2);  // from the complete set's LSN
  CHECK(d.result.next_lsn == 4);
}

TEST_CASE("A damaged snapshot file is set aside and never read again", "[recovery]") {
  DataDir d;
  d.OpenWal(1);
  d.Add(1, Batch().Put("a", S("a1"), 1));
  d.OpenWal(2);
  d.Add(2, Batch().Put("a", S("a2"), 2));
  d.CloseWal();
  d.WriteSnapshot(0, 1, 2, {{"", "a", E(S("a1"), 1)}});
  const std::string newest = d.WriteSnapshot(0, 1, 3, {{"", "a", E(S("a2"), 2)}});
  REQUIRE(d.env.FlipByte(newest, d.FileSize(newest) - 10).ok());  // the footer
  REQUIRE(d.Recover(1).ok());
  CHECK(d.Warned("snapshot " + newest + " is damaged ("));
  CHECK(d.Warned("set aside as " + newest + ".damaged"));
  CHECK_FALSE(d.env.FileExists(newest));
  CHECK(d.env.FileExists(newest + ".damaged"));
  CHECK(d.ValueOf("a") == S("a2"));
  // The next recovery neither reads it nor reports it again.
  REQUIRE(d.Recover(1).ok());
  CHECK(d.warnings.empty());
  CHECK(d.result.damaged_snapshots == 0);
  CHECK(d.ValueOf("a") == S("a2"));
}

TEST_CASE("Versions continue above the highest persisted one", "[recovery]") {
  DataDir d;
  // The snapshot footer remembers version 500 (a key deleted before the snapshot).
  d.WriteSnapshot(0, 1, 1, {{"", "a", E(S("a"), 40)}}, 500);
  d.OpenWal(1);
  d.Add(1, Batch().Put("b", S("b"), 41));
  d.CloseWal();
  REQUIRE(d.Recover(1).ok());
  CHECK(d.result.partitions[0]->last_version() == 500);
  // A write after recovery takes a version no key has had.
  CHECK(d.result.partitions[0]->Put("", "c", S("c"), kNoExpiry)->version() == 501);

  DataDir w;  // a DEL and an ignored pop in the WAL count too
  w.OpenWal(1);
  w.Add(1, Batch().Put("a", S("a"), 3).Del("a", 700).Pop("never", 1, 800));
  w.CloseWal();
  REQUIRE(w.Recover(2).ok());
  CHECK(w.result.partitions[ShardOf("a", 2)]->last_version() >= 700);
  CHECK(w.result.partitions[ShardOf("never", 2)]->last_version() >= 800);
}

TEST_CASE("The next LSN follows the highest record or snapshot position", "[recovery]") {
  SECTION("records") {
    DataDir d;
    d.OpenWal(1);
    d.Add(1, Batch().Put("a", S("a"), 1));
    d.Add(2, Batch().Put("b", S("b"), 2));
    d.CloseWal();
    REQUIRE(d.Recover(1).ok());
    CHECK(d.result.next_lsn == 3);
  }
  SECTION("a snapshot with no WAL after it") {
    DataDir d;
    d.WriteSnapshot(0, 1, 42, {{"", "a", E(S("a"), 1)}});
    REQUIRE(d.Recover(1).ok());
    CHECK(d.result.next_lsn == 42);
  }
  SECTION("a snapshot that is not loaded") {
    DataDir d;
    d.OpenWal(1);
    d.Add(1, Batch().Put("a", S("a"), 1));
    d.CloseWal();
    d.WriteSnapshot(1, 2, 42, {});  // shard 0's file of that set is missing
    REQUIRE(d.Recover(2).ok());
    CHECK(d.ValueOf("a") == S("a"));
    CHECK(d.result.next_lsn == 42);  // at least the position every snapshot file names
  }
  SECTION("an empty last WAL file") {
    DataDir d;
    d.OpenWal(1);
    d.Add(1, Batch().Put("a", S("a"), 1));
    d.OpenWal(10);  // whatever was to go in it never reached the disk
    d.CloseWal();
    REQUIRE(d.Recover(1).ok());
    // The next file is named after the last one: a name never used, in LSN order.
    CHECK(d.result.next_lsn == 11);
  }
}

TEST_CASE("Recovery twice in a row gives the same state", "[recovery]") {
  DataDir d;
  BuildTwoShardDir(d, 50);
  REQUIRE(d.Recover(2).ok());
  const uint64_t keys = d.result.keys, next = d.result.next_lsn;
  REQUIRE(d.Recover(2).ok());
  CHECK(d.result.keys == keys);
  CHECK(d.result.next_lsn == next);
  CHECK(d.warnings.empty());
}

// -- With the fault-injection env.

TEST_CASE("After a crash, recovery returns exactly the records that were synced",
          "[recovery][fault]") {
  DataDir d;
  d.OpenWal(1);
  for (uint64_t lsn = 1; lsn <= 10; ++lsn) {
    d.Add(lsn, Batch().Put("k" + std::to_string(lsn), I(static_cast<int64_t>(lsn)), lsn));
    if (lsn == 6) REQUIRE(d.SyncWal().ok());
  }
  REQUIRE(d.env.UnsyncedBytes(d.wal_path) > 0);
  REQUIRE(d.env.DropUnsyncedData().ok());
  REQUIRE(d.Recover(1).ok());
  CHECK(d.result.keys == 6);
  for (uint64_t lsn = 1; lsn <= 10; ++lsn) {
    INFO("lsn " << lsn);
    CHECK((d.Get("k" + std::to_string(lsn)) != nullptr) == (lsn <= 6));
  }
  CHECK(d.result.next_lsn == 7);
  CHECK(d.warnings.empty());  // cut at a record boundary: nothing torn
}

TEST_CASE("A write torn by a crash is truncated and the synced records survive",
          "[recovery][fault]") {
  DataDir d;
  d.OpenWal(1);
  d.Add(1, Batch().Put("a", S("a"), 1));
  REQUIRE(d.SyncWal().ok());
  const uint64_t good_end = d.WalSize();
  d.env.TearNextWrite(4);  // part of the next header reaches the disk
  CHECK_FALSE(d.Append(Batch().Put("b", S("b"), 2).Record(2)).ok());
  REQUIRE(d.env.DropUnsyncedData().ok());
  REQUIRE(d.FileSize(d.wal_path) == good_end + 4);
  REQUIRE(d.Recover(1).ok());
  CHECK(d.Warned("torn tail"));
  CHECK(d.FileSize(d.wal_path) == good_end);
  CHECK(d.ValueOf("a") == S("a"));
  CHECK(d.Get("b") == nullptr);
}

TEST_CASE("A full disk fails the append without crashing; the synced records recover",
          "[recovery][fault]") {
  DataDir d;
  d.OpenWal(1);
  d.Add(1, Batch().Put("a", S("a"), 1));
  REQUIRE(d.SyncWal().ok());
  d.env.SetWriteLimit(30);
  const Status s = d.Append(Batch().Put("b", S(std::string(100, 'b')), 2).Record(2));
  CHECK(s.code() == Code::kIoError);
  CHECK(s.message().find("No space left") != std::string::npos);
  CHECK_FALSE(d.SyncWal().ok());
  REQUIRE(d.env.DropUnsyncedData().ok());
  d.env.ClearWriteLimit();
  REQUIRE(d.Recover(1).ok());
  CHECK(d.ValueOf("a") == S("a"));
  CHECK(d.Get("b") == nullptr);
  CHECK(d.result.keys == 1);
}

TEST_CASE("Files created but never made durable in the directory vanish at a crash",
          "[recovery][fault]") {
  DataDir d;
  d.OpenWal(1);
  d.Add(1, Batch().Put("a", S("a"), 1));
  d.CloseWal();
  // A snapshot written and synced, but its rename into place never made durable.
  const std::string tmp = JoinPath(d.dir, SnapshotTempName(0));
  {
    SnapshotHeader h;
    h.start_lsn = 2;
    h.shard_count = 1;
    d.WriteFile(tmp, EncodeSnapshotHeader(h) + EncodeSnapshotFooter(0, 0, 0));
    REQUIRE(d.env.SyncDir(d.dir).ok());
    REQUIRE(d.env.RenameFile(tmp, JoinPath(d.dir, SnapshotFileName(0, 2))).ok());
  }
  REQUIRE(d.env.DropUnsyncedData().ok());
  CHECK_FALSE(d.env.FileExists(JoinPath(d.dir, SnapshotFileName(0, 2))));
  REQUIRE(d.Recover(1).ok());
  CHECK_FALSE(d.env.FileExists(tmp));  // the leftover is deleted
  CHECK(d.ValueOf("a") == S("a"));
}

// -- Speed.

TEST_CASE("Recovery of 1M small keys from snapshots (speed, not asserted)", "[recovery][speed]") {
  DataDir d;
  constexpr uint32_t kShards = 4;
  constexpr int kKeys = 1'000'000;
  std::vector<std::string> bytes(kShards);
  std::vector<SnapshotBlockBuilder> blocks(kShards);
  std::vector<uint64_t> counts(kShards, 0), nblocks(kShards, 0);
  for (uint32_t s = 0; s < kShards; ++s) {
    SnapshotHeader h;
    h.shard = s;
    h.shard_count = kShards;
    h.start_lsn = 1;
    bytes[s] = EncodeSnapshotHeader(h);
  }
  char key[32];
  for (int i = 0; i < kKeys; ++i) {
    const int n = std::snprintf(key, sizeof(key), "celery-task-meta-%08d", i);
    const std::string_view k(key, static_cast<size_t>(n));
    const uint32_t s = ShardOf(k, kShards);
    blocks[s].Add("", k, E(S("SUCCESS"), static_cast<uint64_t>(i) + 1));
    ++counts[s];
    if (blocks[s].bytes() >= 512 * 1024) {
      bytes[s] += blocks[s].Finish();
      ++nblocks[s];
    }
  }
  for (uint32_t s = 0; s < kShards; ++s) {
    if (!blocks[s].empty()) {
      bytes[s] += blocks[s].Finish();
      ++nblocks[s];
    }
    bytes[s] += EncodeSnapshotFooter(counts[s], kKeys, nblocks[s]);
    d.WriteFile(JoinPath(d.dir, SnapshotFileName(s, 1)), bytes[s]);
  }
  const auto start = std::chrono::steady_clock::now();
  REQUIRE(d.Recover(kShards).ok());
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(d.result.keys == static_cast<uint64_t>(kKeys));
  CHECK(d.warnings.empty());
  std::printf("recovery: %d keys from %u snapshots in %.3f s: %.0f keys/s (%.1f MB/s)\n", kKeys,
              kShards, secs, kKeys / secs, d.result.bytes_read / 1e6 / secs);
  std::fflush(stdout);
}

}  // namespace
}  // namespace dbkv::storage
