// Snapshot files (storage/SNAPSHOT_FORMAT.md): round trip, and one test per corruption rule,
// each naming the offset of the part found damaged.
#include "storage/snapshot.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "storage/coding.h"
#include "storage/data_dir.h"
#include "storage/fault_env.h"
#include "storage/log_format.h"

namespace dbkv::storage {
namespace {

Value S(std::string_view s) { return Value::String(s); }

struct Read {
  std::string ns, key;
  Entry entry;
};

class SnapshotTest {
 public:
  SnapshotTest() : path_(JoinPath(NewTestDir("snapshot"), SnapshotFileName(2, 77))) {}

  void WriteFile(const std::string& bytes) {
    std::unique_ptr<WritableFile> f;
    REQUIRE(env_.NewWritableFile(path_, &f).ok());
    REQUIRE(f->Append(bytes).ok());
    REQUIRE(f->Close().ok());
  }

  Status ReadBack() {
    got.clear();
    return ReadSnapshot(
        &env_, path_, &header,
        [this](std::string_view ns, std::string_view key, Entry e) {
          got.push_back({std::string(ns), std::string(key), std::move(e)});
        },
        &stats);
  }

  const std::string& path() const { return path_; }
  FaultInjectionEnv& env() { return env_; }

  SnapshotHeader header;
  SnapshotStats stats;
  std::vector<Read> got;

 private:
  FaultInjectionEnv env_;
  std::string path_;
};

Entry E(Value v, uint64_t version, int64_t expire = kNoExpiry) {
  Entry e;
  e.value = std::move(v);
  e.version = version;
  e.expire_at_ms = expire;
  return e;
}

// A snapshot of shard 2 of 4 at LSN 77: two blocks (3 entries, then 1), then the footer.
struct Sample {
  std::string header, block1, block2, footer;
  Sample() {
    SnapshotHeader h;
    h.shard = 2;
    h.shard_count = 4;
    h.start_lsn = 77;
    h.created_ms = 1'700'000'000'123;
    header = EncodeSnapshotHeader(h);
    SnapshotBlockBuilder b;
    b.Add("", "a", E(S("alpha"), 10));
    b.Add("ns", "b", E(Value::List({S("x"), Value::Int(2)}), 12, 1'800'000'000'000));
    b.Add("ns", "c", E(Value::Dec(Decimal::Parse("9.99").value()), 11));
    REQUIRE(b.entries() == 3);
    block1 = b.Finish();
    REQUIRE(b.empty());
    b.Add("", std::string("k\0z", 3), E(Value::Bytes(std::string(100000, 'q')), 4));
    block2 = b.Finish();
    footer = EncodeSnapshotFooter(4, 15, 2);
  }
  std::string All() const { return header + block1 + block2 + footer; }
};

TEST_CASE("A snapshot round-trips its header, every entry and the footer's figures", "[snapshot]") {
  SnapshotTest t;
  Sample s;
  REQUIRE(s.header.size() == kSnapshotHeaderSize);
  REQUIRE(s.footer.size() == kSnapshotFooterSize);
  t.WriteFile(s.All());
  REQUIRE(t.ReadBack().ok());
  CHECK(t.header.shard == 2);
  CHECK(t.header.shard_count == 4);
  CHECK(t.header.start_lsn == 77);
  CHECK(t.header.created_ms == 1'700'000'000'123);
  REQUIRE(t.got.size() == 4);
  CHECK(t.got[0].ns.empty());
  CHECK(t.got[0].key == "a");
  CHECK(t.got[0].entry.value == S("alpha"));
  CHECK(t.got[0].entry.version == 10);
  CHECK(t.got[1].ns == "ns");
  CHECK(t.got[1].entry.value == Value::List({S("x"), Value::Int(2)}));
  CHECK(t.got[1].entry.expire_at_ms == 1'800'000'000'000);
  CHECK(t.got[2].entry.value == Value::Dec(Decimal::Parse("9.99").value()));
  CHECK(t.got[3].key == std::string("k\0z", 3));
  CHECK(t.got[3].entry.value == Value::Bytes(std::string(100000, 'q')));
  CHECK(t.stats.entries == 4);
  // The footer's max version (15: a deleted key's) beats the entries' (12).
  CHECK(t.stats.max_version == 15);
  CHECK(t.stats.bytes == s.All().size());

  SnapshotHeader only;
  REQUIRE(ReadSnapshotHeader(&t.env(), t.path(), &only).ok());
  CHECK(only.start_lsn == 77);
}

TEST_CASE("An empty snapshot is a header and a footer", "[snapshot]") {
  SnapshotTest t;
  Sample s;
  t.WriteFile(s.header + EncodeSnapshotFooter(0, 9, 0));
  REQUIRE(t.ReadBack().ok());
  CHECK(t.got.empty());
  CHECK(t.stats.entries == 0);
  CHECK(t.stats.max_version == 9);
  CHECK(t.stats.bytes == kSnapshotHeaderSize + kSnapshotFooterSize);
}

// The offset the error message names.
bool SaysOffset(const Status& s, uint64_t offset) {
  return s.message().find(" at offset " + std::to_string(offset) + ":") != std::string::npos;
}

TEST_CASE("A snapshot without its footer is an error at the end of the last block", "[snapshot]") {
  SnapshotTest t;
  Sample s;
  t.WriteFile(s.header + s.block1 + s.block2);
  const Status st = t.ReadBack();
  CHECK(st.code() == Code::kCorruption);
  CHECK(st.message().find("missing footer") != std::string::npos);
  CHECK(SaysOffset(st, s.header.size() + s.block1.size() + s.block2.size()));
}

TEST_CASE("A snapshot cut anywhere is an error", "[snapshot]") {
  Sample s;
  const std::string all = s.All();
  for (size_t n = 0; n < all.size(); n += (n < 200 || n + 200 > all.size()) ? 1 : 997) {
    INFO("cut at " << n);
    SnapshotTest t;
    t.WriteFile(all.substr(0, n));
    CHECK(t.ReadBack().code() == Code::kCorruption);
  }
}

TEST_CASE("A cut header, block header, block or footer is named as such", "[snapshot]") {
  Sample s;
  const size_t b1 = s.header.size(), b2 = b1 + s.block1.size(), f = b2 + s.block2.size();
  struct Case {
    size_t cut;
    const char* why;
    uint64_t offset;
  };
  for (const Case& c :
       {Case{kSnapshotHeaderSize - 1, "truncated header", 0},
        Case{b2 + 6, "truncated block header", b2}, Case{b2 + 100, "truncated block", b2},
        Case{f + 10, "truncated footer", f}}) {
    INFO(c.why);
    SnapshotTest t;
    t.WriteFile(s.All().substr(0, c.cut));
    const Status st = t.ReadBack();
    CHECK(st.message().find(c.why) != std::string::npos);
    if (c.offset != 0) CHECK(SaysOffset(st, c.offset));
  }
}

TEST_CASE("A flipped byte in the header fails its checksum", "[snapshot]") {
  Sample s;
  for (size_t at = sizeof(kSnapshotMagic); at < kSnapshotHeaderSize; ++at) {
    INFO("byte " << at);
    SnapshotTest t;
    t.WriteFile(s.All());
    REQUIRE(t.env().FlipByte(t.path(), at).ok());
    const Status st = t.ReadBack();
    CHECK(st.code() == Code::kCorruption);
    CHECK(st.message().find("header checksum mismatch") != std::string::npos);
    CHECK(t.got.empty());
    SnapshotHeader h;
    CHECK(ReadSnapshotHeader(&t.env(), t.path(), &h).code() == Code::kCorruption);
  }
}

TEST_CASE("A file without the snapshot magic is refused", "[snapshot]") {
  SnapshotTest t;
  Sample s;
  t.WriteFile(s.All());
  REQUIRE(t.env().FlipByte(t.path(), 3).ok());
  const Status st = t.ReadBack();
  CHECK(st.message().find("bad magic") != std::string::npos);
}

TEST_CASE("A flipped byte in a block fails its checksum, at the block's offset", "[snapshot]") {
  Sample s;
  const size_t b2 = s.header.size() + s.block1.size();
  for (size_t at : {b2 + 4, b2 + 8, b2 + 500, b2 + s.block2.size() - 1}) {
    INFO("byte " << at);
    SnapshotTest t;
    t.WriteFile(s.All());
    REQUIRE(t.env().FlipByte(t.path(), at).ok());
    const Status st = t.ReadBack();
    CHECK(st.code() == Code::kCorruption);
    CHECK(st.message().find("block checksum mismatch") != std::string::npos);
    CHECK(SaysOffset(st, b2));
    // The first block was delivered before the damage was found; the caller discards it.
    CHECK(t.got.size() == 3);
  }
}

TEST_CASE("A damaged block length is an error", "[snapshot]") {
  Sample s;
  const size_t b1 = s.header.size();
  SECTION("too long for any block") {
    SnapshotTest t;
    t.WriteFile(s.All());
    REQUIRE(t.env().FlipByte(t.path(), b1 + 3, 0x40).ok());
    const Status st = t.ReadBack();
    CHECK(st.message().find("block length") != std::string::npos);
    CHECK(SaysOffset(st, b1));
  }
  SECTION("shorter: the checksum no longer matches") {
    SnapshotTest t;
    t.WriteFile(s.All());
    REQUIRE(t.env().FlipByte(t.path(), b1, 0x01).ok());
    const Status st = t.ReadBack();
    CHECK(st.code() == Code::kCorruption);
    CHECK(SaysOffset(st, b1));
  }
}

// An Env that remembers the largest read asked of a sequential file: the reader sizes its
// buffer for a block, then reads that much, so this is what it allocated for one.
class LargestReadEnv : public Env {
 public:
  explicit LargestReadEnv(Env* base) : base_(base) {}
  size_t largest_read() const { return largest_; }

  Status NewSequentialFile(const std::string& path, std::unique_ptr<SequentialFile>* f) override {
    std::unique_ptr<SequentialFile> inner;
    Status s = base_->NewSequentialFile(path, &inner);
    if (s.ok()) *f = std::make_unique<File>(std::move(inner), &largest_);
    return s;
  }
  Status NewWritableFile(const std::string& path, std::unique_ptr<WritableFile>* f) override {
    return base_->NewWritableFile(path, f);
  }
  Status GetFileSize(const std::string& path, uint64_t* size) override {
    return base_->GetFileSize(path, size);
  }
  Status RenameFile(const std::string& from, const std::string& to) override {
    return base_->RenameFile(from, to);
  }
  Status DeleteFile(const std::string& path) override { return base_->DeleteFile(path); }
  Status TruncateFile(const std::string& path, uint64_t size) override {
    return base_->TruncateFile(path, size);
  }
  Status CreateDirIfMissing(const std::string& dir) override {
    return base_->CreateDirIfMissing(dir);
  }
  Status SyncDir(const std::string& dir) override { return base_->SyncDir(dir); }
  Status GetChildren(const std::string& dir, std::vector<std::string>* names) override {
    return base_->GetChildren(dir, names);
  }
  bool FileExists(const std::string& path) override { return base_->FileExists(path); }
  Status LockFile(const std::string& path) override { return base_->LockFile(path); }

 private:
  class File : public SequentialFile {
   public:
    File(std::unique_ptr<SequentialFile> inner, size_t* largest)
        : inner_(std::move(inner)), largest_(largest) {}
    Status Read(size_t n, std::string_view* result, char* scratch) override {
      *largest_ = std::max(*largest_, n);
      return inner_->Read(n, result, scratch);
    }
    Status Skip(uint64_t n) override { return inner_->Skip(n); }

   private:
    std::unique_ptr<SequentialFile> inner_;
    size_t* largest_;
  };
  Env* base_;
  size_t largest_ = 0;
};

TEST_CASE("A block length past the end of the file is refused before anything is allocated",
          "[snapshot]") {
  Sample s;
  const size_t b1 = s.header.size(), b2 = b1 + s.block1.size();
  SECTION("a crafted block claiming just under the 1 GiB maximum") {
    // The header, then a block header saying 2^30 - 1 bytes, a few bytes of body, a footer.
    std::string crafted = s.header;
    PutFixed32(&crafted, kSnapshotMaxBlockBytes - 1);
    PutFixed32(&crafted, 0x12345678);
    crafted += s.block1.substr(8, 40) + s.footer;
    SnapshotTest t;
    t.WriteFile(crafted);
    LargestReadEnv env(&t.env());
    SnapshotHeader h;
    SnapshotStats stats;
    size_t delivered = 0;
    const Status st = ReadSnapshot(
        &env, t.path(), &h, [&](std::string_view, std::string_view, const Entry&) { ++delivered; },
        &stats);
    INFO(st.ToString());
    CHECK(st.code() == Code::kCorruption);
    CHECK(st.message().find("truncated block (length 1073741823, 72 bytes left in the file)") !=
          std::string::npos);
    CHECK(SaysOffset(st, b1));
    CHECK(delivered == 0);
    CHECK(env.largest_read() <= crafted.size());
  }
  SECTION("the second block's length damaged to about 1 GiB") {
    SnapshotTest t;
    t.WriteFile(s.All());
    REQUIRE(t.env().FlipByte(t.path(), b2 + 3, 0x3f).ok());  // + 0x3f000000: under the maximum
    LargestReadEnv env(&t.env());
    SnapshotHeader h;
    SnapshotStats stats;
    size_t delivered = 0;
    const Status st = ReadSnapshot(
        &env, t.path(), &h, [&](std::string_view, std::string_view, const Entry&) { ++delivered; },
        &stats);
    INFO(st.ToString());
    CHECK(st.code() == Code::kCorruption);
    CHECK(st.message().find("truncated block") != std::string::npos);
    CHECK(SaysOffset(st, b2));
    CHECK(delivered == 3);  // the first block, which the caller discards
    CHECK(env.largest_read() <= s.All().size());
  }
  SECTION("a length exactly up to the end of the file is read, and fails its checksum") {
    // Nothing is refused that the file could hold: the policy is unchanged.
    std::string cut = s.header + s.block1;
    PutFixed32(&cut, 16);
    PutFixed32(&cut, 0);
    cut += std::string(16, 'x');
    SnapshotTest t;
    t.WriteFile(cut);
    const Status st = t.ReadBack();
    CHECK(st.message().find("block checksum mismatch") != std::string::npos);
    CHECK(SaysOffset(st, b2));
  }
}

TEST_CASE("A flipped byte in the footer fails its checksum", "[snapshot]") {
  Sample s;
  const size_t f = s.All().size() - kSnapshotFooterSize;
  for (size_t at = f + 4; at < f + kSnapshotFooterSize; ++at) {
    INFO("byte " << at);
    SnapshotTest t;
    t.WriteFile(s.All());
    REQUIRE(t.env().FlipByte(t.path(), at).ok());
    const Status st = t.ReadBack();
    CHECK(st.message().find("footer checksum mismatch") != std::string::npos);
    CHECK(SaysOffset(st, f));
  }
}

TEST_CASE("Footer counts that disagree with the blocks read are an error", "[snapshot]") {
  Sample s;
  const size_t f = s.All().size() - kSnapshotFooterSize;
  for (const std::string& footer : {EncodeSnapshotFooter(5, 15, 2), EncodeSnapshotFooter(4, 15, 1),
                                    EncodeSnapshotFooter(3, 15, 3)}) {
    SnapshotTest t;
    t.WriteFile(s.header + s.block1 + s.block2 + footer);
    const Status st = t.ReadBack();
    CHECK(st.code() == Code::kCorruption);
    CHECK(st.message().find("footer counts") != std::string::npos);
    CHECK(SaysOffset(st, f));
  }
  SECTION("a whole block missing") {
    SnapshotTest t;
    t.WriteFile(s.header + s.block1 + s.footer);
    const Status st = t.ReadBack();
    CHECK(st.message().find("footer counts 4 entries / 2 blocks, read 3 / 1") != std::string::npos);
  }
}

// A block with a valid checksum around a payload that does not parse.
std::string BlockOf(const std::string& body) {
  std::string out;
  PutFixed32(&out, static_cast<uint32_t>(body.size()));
  PutFixed32(&out, log::MaskedCrc(0, body));
  return out + body;
}

TEST_CASE("A block whose entries do not parse is an error even with a valid checksum",
          "[snapshot]") {
  Sample s;
  std::string payload;
  PutLengthPrefixed(&payload, "");
  PutLengthPrefixed(&payload, "k");
  PutFixed64(&payload, 1);
  PutFixed64(&payload, 0);
  PutLengthPrefixed(&payload, "\xa1v");
  SECTION("fewer entries than its count") {
    std::string body;
    PutVarint(&body, 2);
    SnapshotTest t;
    t.WriteFile(s.header + BlockOf(body + payload) + EncodeSnapshotFooter(2, 1, 1));
    const Status st = t.ReadBack();
    CHECK(st.message().find("bad entry in block") != std::string::npos);
    CHECK(SaysOffset(st, kSnapshotHeaderSize));
  }
  SECTION("bytes after its entries") {
    std::string body;
    PutVarint(&body, 1);
    SnapshotTest t;
    t.WriteFile(s.header + BlockOf(body + payload + "junk") + EncodeSnapshotFooter(1, 1, 1));
    CHECK(t.ReadBack().message().find("trailing bytes in block") != std::string::npos);
  }
  SECTION("a value that does not decode") {
    std::string body;
    PutVarint(&body, 1);
    std::string bad = payload;
    bad[bad.size() - 2] = '\xa5';
    SnapshotTest t;
    t.WriteFile(s.header + BlockOf(body + bad) + EncodeSnapshotFooter(1, 1, 1));
    CHECK(t.ReadBack().message().find("bad value") != std::string::npos);
  }
}

std::string FromHex(const std::string& hex) {
  std::istringstream in(hex);
  std::string out;
  unsigned byte;
  while (in >> std::hex >> byte) out.push_back(static_cast<char>(byte));
  return out;
}

TEST_CASE("The worked example of SNAPSHOT_FORMAT.md is what the encoders write",
          "[snapshot][doc]") {
  SnapshotHeader h;
  h.shard = 0;
  h.shard_count = 1;
  h.start_lsn = 7;
  h.created_ms = 1'700'000'000'000;
  SnapshotBlockBuilder b;
  b.Add("", "k", E(S("v"), 5));
  const std::string bytes = EncodeSnapshotHeader(h) + b.Finish() + EncodeSnapshotFooter(1, 5, 1);
  CHECK(bytes == FromHex("44 42 4b 56 53 4e 50 31 00 00 00 00 01 00 00 00"
                         " 07 00 00 00 00 00 00 00 00 68 e5 cf 8b 01 00 00"
                         " 00 00 00 00 00 00 00 00 3d cc 0c ad 17 00 00 00"
                         " ad fd 77 33 01 00 01 6b 05 00 00 00 00 00 00 00"
                         " 00 00 00 00 00 00 00 00 02 a1 76 00 00 00 00 01"
                         " 00 00 00 00 00 00 00 05 00 00 00 00 00 00 00 01"
                         " 00 00 00 00 00 00 00 0b a7 c4 0e"));
  CHECK(SnapshotFileName(0, 7) == "snapshot-0000-00000000000000000007.snap");
  CHECK(SnapshotTempName(0) == "snapshot-0000.tmp");
}

TEST_CASE("Bytes after the footer are ignored", "[snapshot]") {
  SnapshotTest t;
  Sample s;
  t.WriteFile(s.All() + "trailing");
  CHECK(t.ReadBack().ok());
  CHECK(t.got.size() == 4);
}

}  // namespace
}  // namespace dbkv::storage
