// Snapshot sets (storage/snapshot_set.h): which files make a complete set, and what retention
// keeps once a new set is complete.
#include "storage/snapshot_set.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "storage/fault_env.h"
#include "storage/snapshot.h"

namespace dbkv::storage {
namespace {

class Dir {
 public:
  Dir() : dir(NewTestDir("snapshot-set")) {}

  // An empty snapshot file (header and footer) whose header says what is given.
  std::string Snapshot(uint32_t shard, uint32_t count, uint64_t lsn, uint32_t header_shard = ~0u,
                       uint64_t header_lsn = 0) {
    SnapshotHeader h;
    h.shard = header_shard == ~0u ? shard : header_shard;
    h.shard_count = count;
    h.start_lsn = header_lsn == 0 ? lsn : header_lsn;
    std::string path = JoinPath(dir, SnapshotFileName(shard, lsn));
    Write(path, EncodeSnapshotHeader(h) + EncodeSnapshotFooter(0, 0, 0));
    return path;
  }
  std::string Wal(uint64_t first_lsn) {
    std::string path = JoinPath(dir, WalFileName(first_lsn));
    Write(path, "");
    return path;
  }
  void Write(const std::string& path, const std::string& bytes) {
    std::unique_ptr<WritableFile> f;
    REQUIRE(env.NewWritableFile(path, &f).ok());
    REQUIRE(f->Append(bytes).ok());
    REQUIRE(f->Close().ok());
  }
  std::vector<SnapshotSet> Sets() {
    REQUIRE(ListDataDir(&env, dir, &listing).ok());
    return GroupSnapshotSets(&env, listing.snapshots);
  }

  FaultInjectionEnv env;
  std::string dir;
  DirListing listing;
};

TEST_CASE("Snapshot files group into sets by LSN, newest first", "[snapshot_set]") {
  Dir d;
  d.Snapshot(0, 2, 10);
  d.Snapshot(1, 2, 10);
  d.Snapshot(0, 1, 20);
  d.Snapshot(2, 3, 5);
  d.Snapshot(0, 3, 5);
  d.Snapshot(1, 3, 5);
  const auto sets = d.Sets();
  REQUIRE(sets.size() == 3);
  CHECK(sets[0].lsn == 20);
  CHECK(sets[0].complete());
  CHECK(sets[0].shard_count == 1);
  CHECK(sets[1].lsn == 10);
  CHECK(sets[1].shard_count == 2);
  CHECK(sets[2].lsn == 5);
  CHECK(sets[2].complete());
  CHECK(sets[2].shard_count == 3);
  REQUIRE(sets[2].files.size() == 3);
  for (uint32_t i = 0; i < 3; ++i) CHECK(sets[2].files[i].shard == i);
}

TEST_CASE("A set with a shard's file missing is incomplete", "[snapshot_set]") {
  Dir d;
  d.Snapshot(0, 3, 10);
  d.Snapshot(2, 3, 10);  // shard 1's rename never happened
  const auto sets = d.Sets();
  REQUIRE(sets.size() == 1);
  CHECK_FALSE(sets[0].complete());
  CHECK(sets[0].problem == "2 of its 3 shards' files are there");
  CHECK(sets[0].damaged.empty());
}

TEST_CASE("Headers that disagree make a set incomplete", "[snapshot_set]") {
  Dir d;
  SECTION("shard counts") {
    d.Snapshot(0, 2, 10);
    d.Snapshot(1, 3, 10);
    CHECK_FALSE(d.Sets()[0].complete());
  }
  SECTION("a header naming another shard") {
    d.Snapshot(0, 2, 10);
    d.Snapshot(1, 2, 10, 0);
    const auto sets = d.Sets();
    CHECK_FALSE(sets[0].complete());
    CHECK(sets[0].problem.find("says shard 0") != std::string::npos);
  }
  SECTION("a header naming another LSN") {
    d.Snapshot(0, 1, 10, ~0u, 9);
    CHECK_FALSE(d.Sets()[0].complete());
  }
  SECTION("a shard past its count") {
    d.Snapshot(0, 1, 10);
    d.Snapshot(1, 1, 10);
    CHECK_FALSE(d.Sets()[0].complete());
  }
}

TEST_CASE("A header that does not read makes its file damaged and its set incomplete",
          "[snapshot_set]") {
  Dir d;
  d.Snapshot(0, 2, 10);
  const std::string bad = d.Snapshot(1, 2, 10);
  REQUIRE(d.env.FlipByte(bad, 20).ok());
  const auto sets = d.Sets();
  CHECK_FALSE(sets[0].complete());
  REQUIRE(sets[0].damaged.size() == 1);
  CHECK(sets[0].damaged[0].path == bad);
  CHECK(sets[0].damaged[0].why.find("header checksum mismatch") != std::string::npos);
}

TEST_CASE("A damaged file set aside is no snapshot any more", "[snapshot_set]") {
  Dir d;
  d.Snapshot(0, 2, 10);
  const std::string bad = d.Snapshot(1, 2, 10);
  REQUIRE(SetAsideDamagedSnapshot(&d.env, d.dir, bad).ok());
  CHECK(d.env.FileExists(bad + ".damaged"));
  CHECK_FALSE(d.env.FileExists(bad));
  const auto sets = d.Sets();
  CHECK(d.listing.snapshots.size() == 1);
  CHECK(d.listing.temp.empty());
  CHECK_FALSE(sets[0].complete());
}

TEST_CASE("Retention keeps the new set and the previous complete one, whatever its shard count",
          "[snapshot_set]") {
  Dir d;
  // An old 4-shard set, the 4-shard set before a reshard, an incomplete 2-shard set (a failed
  // snapshot), and the new 2-shard set.
  std::vector<std::string> old, previous, incomplete, newest;
  for (uint32_t i = 0; i < 4; ++i) old.push_back(d.Snapshot(i, 4, 5));
  for (uint32_t i = 0; i < 4; ++i) previous.push_back(d.Snapshot(i, 4, 20));
  incomplete.push_back(d.Snapshot(0, 2, 30));
  for (uint32_t i = 0; i < 2; ++i) newest.push_back(d.Snapshot(i, 2, 40));
  const std::string w1 = d.Wal(1), w12 = d.Wal(12), w20 = d.Wal(20), w25 = d.Wal(25),
                    w40 = d.Wal(40);
  const auto sets = d.Sets();
  const SnapshotRetention r = PlanSnapshotRetention(d.listing, sets, 40);
  REQUIRE(r.kept.size() == 2);
  CHECK(r.kept[0] == 40);
  CHECK(r.kept[1] == 20);
  CHECK(r.wal_from == 20);
  std::vector<std::string> want = old;
  want.insert(want.end(), incomplete.begin(), incomplete.end());
  want.push_back(w1);
  want.push_back(w12);  // holds LSNs 12..19: all below the older kept set
  std::sort(want.begin(), want.end());
  std::vector<std::string> got = r.deletions;
  std::sort(got.begin(), got.end());
  CHECK(got == want);
}

TEST_CASE("Retention with no previous complete set keeps the WAL from the new set only",
          "[snapshot_set]") {
  Dir d;
  const std::string partial = d.Snapshot(1, 2, 10);  // shard 0's file of that set is damaged
  d.Snapshot(0, 1, 30);
  const std::string w1 = d.Wal(1), w30 = d.Wal(30);
  const SnapshotRetention r = PlanSnapshotRetention(d.listing, d.Sets(), 30);
  REQUIRE(r.kept.size() == 1);
  CHECK(r.wal_from == 30);
  CHECK(r.deletions == std::vector<std::string>{partial, w1});
}

TEST_CASE("Retention deletes nothing if the new set is not whole", "[snapshot_set]") {
  Dir d;
  d.Snapshot(0, 1, 10);
  d.Snapshot(0, 2, 30);
  d.Wal(1);
  d.Wal(30);
  const SnapshotRetention r = PlanSnapshotRetention(d.listing, d.Sets(), 30);
  CHECK(r.kept.empty());
  CHECK(r.deletions.empty());
}

}  // namespace
}  // namespace dbkv::storage
