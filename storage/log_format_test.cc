// The record log (storage/WAL_FORMAT.md, "Record log"): fragmentation around block boundaries,
// and one test per corruption rule of the reader.
#include "storage/log_format.h"

#include <catch2/catch.hpp>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "storage/data_dir.h"
#include "storage/fault_env.h"

namespace dbkv::storage::log {
namespace {

// A record whose bytes tell which record and which position they are.
std::string Payload(size_t n, int seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (seed * 7 + i * 13) % 26);
  return s;
}

struct Damage {
  uint64_t bytes;
  uint64_t offset;
  std::string why;
};

// Writes records to a file, and reads them back.
class LogTest {
 public:
  LogTest() : dir_(NewTestDir("log")), path_(JoinPath(dir_, "test.log")) {
    REQUIRE(env_.NewWritableFile(path_, &file_).ok());
    writer_ = std::make_unique<Writer>(file_.get());
  }

  // Appends a record; returns the file offset it starts at (its first header).
  uint64_t Write(const std::string& record) {
    const uint64_t before = file_->Size();
    const uint64_t left = kBlockSize - before % kBlockSize;
    REQUIRE(writer_->AddRecord(record).ok());
    REQUIRE(file_->Sync().ok());
    size_ = file_->Size();
    return left < kHeaderSize ? before + left : before;
  }

  // The file's size as written (not counting later patches or truncation).
  uint64_t Size() const { return size_; }
  const std::string& path() const { return path_; }
  FaultInjectionEnv& env() { return env_; }

  // Overwrites bytes at offset (the file is closed first).
  void Patch(uint64_t offset, std::string_view bytes) {
    Close();
    std::string data;
    REQUIRE(ReadFileToString(&env_, path_, &data).ok());
    REQUIRE(offset + bytes.size() <= data.size());
    std::memcpy(data.data() + offset, bytes.data(), bytes.size());
    Rewrite(data);
  }
  // Sets a fragment's type and recomputes its checksum, so that only the type is wrong.
  void SetTypeWithValidCrc(uint64_t header_offset, uint8_t type) {
    Close();
    std::string data;
    REQUIRE(ReadFileToString(&env_, path_, &data).ok());
    const size_t length = static_cast<unsigned char>(data[header_offset + 4]) |
                          (static_cast<unsigned char>(data[header_offset + 5]) << 8);
    const uint32_t crc =
        MaskedCrc(type, std::string_view(data).substr(header_offset + kHeaderSize, length));
    for (int i = 0; i < 4; ++i) data[header_offset + i] = static_cast<char>(crc >> (8 * i));
    data[header_offset + 6] = static_cast<char>(type);
    Rewrite(data);
  }
  void Truncate(uint64_t size) {
    Close();
    REQUIRE(env_.TruncateFile(path_, size).ok());
  }
  void Close() {
    if (file_ != nullptr) {
      REQUIRE(file_->Close().ok());
      file_.reset();
    }
  }

  // Reads every record back, gathering what the reader reports.
  std::vector<std::string> ReadAll() {
    Close();
    std::unique_ptr<SequentialFile> f;
    REQUIRE(env_.NewSequentialFile(path_, &f).ok());
    damage.clear();
    Reader reader(f.get(), [this](uint64_t bytes, uint64_t offset, const std::string& why) {
      damage.push_back({bytes, offset, why});
    });
    std::vector<std::string> out;
    std::string scratch;
    std::string_view record;
    ends.clear();
    while (reader.ReadRecord(&record, &scratch)) {
      out.emplace_back(record);
      ends.push_back(reader.last_record_end());
    }
    REQUIRE(reader.status().ok());
    truncated_tail = reader.truncated_tail();
    last_record_end = reader.last_record_end();
    return out;
  }

  std::vector<Damage> damage;
  std::vector<uint64_t> ends;
  bool truncated_tail = false;
  uint64_t last_record_end = 0;

 private:
  void Rewrite(const std::string& data) {
    std::unique_ptr<WritableFile> f;
    REQUIRE(env_.NewWritableFile(path_, &f).ok());
    REQUIRE(f->Append(data).ok());
    REQUIRE(f->Close().ok());
  }

  FaultInjectionEnv env_;
  std::string dir_;
  std::string path_;
  std::unique_ptr<WritableFile> file_;
  std::unique_ptr<Writer> writer_;
  uint64_t size_ = 0;
};

constexpr size_t kMaxFragment = kBlockSize - kHeaderSize;  // a FULL record filling a block

TEST_CASE("Every record size around the block boundary round-trips", "[log]") {
  const std::vector<size_t> sizes = {0,
                                     1,
                                     100,
                                     kMaxFragment - kHeaderSize - 1,
                                     kMaxFragment - kHeaderSize,
                                     kMaxFragment - kHeaderSize + 1,
                                     kMaxFragment - 1,
                                     kMaxFragment,
                                     kMaxFragment + 1,
                                     kBlockSize,
                                     2 * kMaxFragment,
                                     2 * kBlockSize + 17,
                                     100000};
  // Each size after each other size: the second record starts at every interesting position
  // of a block (7 bytes left, 6 bytes left: padding, exactly at the boundary).
  for (size_t first : sizes) {
    for (size_t second : sizes) {
      INFO("first " << first << ", second " << second);
      LogTest t;
      t.Write(Payload(first, 1));
      t.Write(Payload(second, 2));
      t.Write(Payload(3, 3));
      const auto got = t.ReadAll();
      REQUIRE(got.size() == 3);
      CHECK(got[0] == Payload(first, 1));
      CHECK(got[1] == Payload(second, 2));
      CHECK(got[2] == Payload(3, 3));
      CHECK(t.damage.empty());
      CHECK_FALSE(t.truncated_tail);
      CHECK(t.last_record_end == t.Size());
    }
  }
}

TEST_CASE("A record exactly filling a block leaves no padding", "[log]") {
  LogTest t;
  t.Write(Payload(kMaxFragment, 1));
  CHECK(t.Size() == kBlockSize);
  CHECK(t.Write("next") == kBlockSize);
  CHECK(t.ReadAll() == std::vector<std::string>{Payload(kMaxFragment, 1), "next"});
}

TEST_CASE("Fewer than a header's bytes left in a block are zero padding", "[log]") {
  LogTest t;
  // Leaves 6 bytes: padded with zeros, the next record starts in the next block.
  t.Write(Payload(kMaxFragment - 6, 1));
  CHECK(t.Size() == kBlockSize - 6);
  CHECK(t.Write("next") == kBlockSize);
  CHECK(t.Size() == kBlockSize + kHeaderSize + 4);
  CHECK(t.ReadAll() == std::vector<std::string>{Payload(kMaxFragment - 6, 1), "next"});
  CHECK(t.damage.empty());
}

TEST_CASE("Exactly a header's bytes left in a block hold an empty first fragment", "[log]") {
  LogTest t;
  t.Write(Payload(kMaxFragment - 7, 1));  // leaves 7 bytes
  CHECK(t.Size() == kBlockSize - kHeaderSize);
  t.Write("spans");
  // An empty FIRST at the end of block 0, the LAST with all the bytes in block 1.
  CHECK(t.Size() == kBlockSize + kHeaderSize + 5);
  CHECK(t.ReadAll() == std::vector<std::string>{Payload(kMaxFragment - 7, 1), "spans"});
  CHECK(t.damage.empty());
}

TEST_CASE("A multi-block record is cut into FIRST, MIDDLE and LAST fragments", "[log]") {
  LogTest t;
  const std::string big = Payload(3 * kBlockSize, 9);
  t.Write(big);
  // Three full blocks of payload need four blocks once each fragment has its header.
  CHECK(t.Size() == 3 * kBlockSize + 4 * kHeaderSize);
  CHECK(t.ReadAll() == std::vector<std::string>{big});
}

TEST_CASE("Many records of random sizes round-trip in order", "[log]") {
  LogTest t;
  std::mt19937 rng(42);
  std::vector<std::string> written;
  for (int i = 0; i < 5000; ++i) {
    const size_t n = rng() % 7 == 0 ? rng() % 100000 : rng() % 300;
    written.push_back(Payload(n, i));
    t.Write(written.back());
  }
  CHECK(t.ReadAll() == written);
  CHECK(t.damage.empty());
  CHECK(t.ends.back() == t.Size());
}

TEST_CASE("A file cut inside a record's payload is a torn tail", "[log]") {
  LogTest t;
  t.Write("first");
  const uint64_t second = t.Write("second record");
  t.Truncate(second + kHeaderSize + 3);
  CHECK(t.ReadAll() == std::vector<std::string>{"first"});
  CHECK(t.truncated_tail);
  CHECK(t.last_record_end == second);
  CHECK(t.damage.empty());  // a torn write is not damage
}

TEST_CASE("A file cut inside a record's header is a torn tail", "[log]") {
  LogTest t;
  t.Write("first");
  const uint64_t second = t.Write("second record");
  for (uint64_t cut = 1; cut < kHeaderSize; ++cut) {
    INFO("cut after " << cut << " header bytes");
    LogTest u;
    u.Write("first");
    u.Write("second record");
    u.Truncate(second + cut);
    CHECK(u.ReadAll() == std::vector<std::string>{"first"});
    CHECK(u.truncated_tail);
    CHECK(u.last_record_end == second);
    CHECK(u.damage.empty());
  }
}

TEST_CASE("A file cut between the fragments of a multi-block record is a torn tail", "[log]") {
  const std::string big = Payload(2 * kBlockSize, 5);
  SECTION("cut at the block boundary after the FIRST fragment") {
    LogTest t;
    t.Write("first");
    t.Write(big);
    t.Truncate(kBlockSize);
    CHECK(t.ReadAll() == std::vector<std::string>{"first"});
    CHECK(t.truncated_tail);
    CHECK(t.last_record_end == kHeaderSize + 5);
    CHECK(t.damage.empty());
  }
  SECTION("cut inside the LAST fragment") {
    LogTest t;
    t.Write("first");
    t.Write(big);
    t.Truncate(t.Size() - 10);
    CHECK(t.ReadAll() == std::vector<std::string>{"first"});
    CHECK(t.truncated_tail);
    CHECK(t.damage.empty());
  }
}

TEST_CASE("A file cut after a whole record has no torn tail", "[log]") {
  LogTest t;
  t.Write("first");
  t.Write("second");
  CHECK(t.ReadAll().size() == 2);
  CHECK_FALSE(t.truncated_tail);
  CHECK(t.last_record_end == t.Size());
}

TEST_CASE("An empty file holds no records and no damage", "[log]") {
  LogTest t;
  CHECK(t.ReadAll().empty());
  CHECK_FALSE(t.truncated_tail);
  CHECK(t.damage.empty());
}

// Three records in block 0, a filler that ends it exactly, two records in block 1.
struct TwoBlocks {
  LogTest t;
  uint64_t r2 = 0;
  TwoBlocks() {
    t.Write(Payload(100, 1));
    r2 = t.Write(Payload(100, 2));
    t.Write(Payload(100, 3));
    t.Write(Payload(kBlockSize - 3 * (kHeaderSize + 100) - kHeaderSize, 4));
    REQUIRE(t.Size() == kBlockSize);
    t.Write(Payload(100, 5));
    t.Write(Payload(100, 6));
  }
};

TEST_CASE("A checksum mismatch drops the rest of its block and reading resumes at the next",
          "[log]") {
  TwoBlocks b;
  b.t.Patch(b.r2 + kHeaderSize + 50, "X");
  const auto got = b.t.ReadAll();
  CHECK(got == std::vector<std::string>{Payload(100, 1), Payload(100, 5), Payload(100, 6)});
  REQUIRE(b.t.damage.size() == 1);
  CHECK(b.t.damage[0].why == "checksum mismatch");
  CHECK(b.t.damage[0].offset == b.r2);
  CHECK(b.t.damage[0].bytes == kBlockSize - b.r2);
  CHECK_FALSE(b.t.truncated_tail);
}

TEST_CASE("A damaged checksum field is a checksum mismatch", "[log]") {
  TwoBlocks b;
  b.t.Patch(b.r2 + 1, "\x55");
  CHECK(b.t.ReadAll().size() == 3);
  REQUIRE(b.t.damage.size() == 1);
  CHECK(b.t.damage[0].why == "checksum mismatch");
  CHECK(b.t.damage[0].offset == b.r2);
}

TEST_CASE("A length running past its block is reported as a bad length", "[log]") {
  TwoBlocks b;
  b.t.Patch(b.r2 + 4, std::string("\xff\xff", 2));
  CHECK(b.t.ReadAll() ==
        std::vector<std::string>{Payload(100, 1), Payload(100, 5), Payload(100, 6)});
  REQUIRE(b.t.damage.size() == 1);
  CHECK(b.t.damage[0].why == "bad record length");
  CHECK(b.t.damage[0].offset == b.r2);
  CHECK(b.t.damage[0].bytes == kBlockSize - b.r2);
}

TEST_CASE("A length still inside its block but wrong is a checksum mismatch", "[log]") {
  TwoBlocks b;
  b.t.Patch(b.r2 + 4, std::string("\x10\x00", 2));
  CHECK(b.t.ReadAll().size() == 3);
  REQUIRE(b.t.damage.size() == 1);
  CHECK(b.t.damage[0].why == "checksum mismatch");
  CHECK(b.t.damage[0].offset == b.r2);
}

TEST_CASE("A length running past the end of the file is taken for a torn write", "[log]") {
  LogTest t;
  t.Write("first");
  const uint64_t second = t.Write("second");
  t.Patch(second + 4, std::string("\x00\x10", 2));
  CHECK(t.ReadAll() == std::vector<std::string>{"first"});
  CHECK(t.truncated_tail);
  CHECK(t.damage.empty());
  CHECK(t.last_record_end == second);
}

TEST_CASE("Zeros where a header should be skip the rest of the block silently", "[log]") {
  SECTION("zeros at the end of the file (preallocated space)") {
    LogTest t;
    t.Write("first");
    t.Write("second");
    t.Close();
    const uint64_t end = t.Size();
    std::string data;
    REQUIRE(ReadFileToString(&t.env(), t.path(), &data).ok());
    data.append(kBlockSize + 1000, '\0');
    {
      std::unique_ptr<WritableFile> f;
      REQUIRE(t.env().NewWritableFile(t.path(), &f).ok());
      REQUIRE(f->Append(data).ok());
      REQUIRE(f->Close().ok());
    }
    CHECK(t.ReadAll() == std::vector<std::string>{"first", "second"});
    CHECK(t.damage.empty());
    CHECK_FALSE(t.truncated_tail);
    CHECK(t.last_record_end == end);
  }
  SECTION("a zeroed header in the middle of a block") {
    TwoBlocks b;
    b.t.Patch(b.r2, std::string(kHeaderSize, '\0'));
    CHECK(b.t.ReadAll() ==
          std::vector<std::string>{Payload(100, 1), Payload(100, 5), Payload(100, 6)});
    CHECK(b.t.damage.empty());
  }
}

TEST_CASE("An unknown fragment type is reported and skipped", "[log]") {
  TwoBlocks b;
  b.t.SetTypeWithValidCrc(b.r2, 9);
  CHECK(b.t.ReadAll() ==
        std::vector<std::string>{Payload(100, 1), Payload(100, 3),
                                 Payload(kBlockSize - 3 * (kHeaderSize + 100) - kHeaderSize, 4),
                                 Payload(100, 5), Payload(100, 6)});
  REQUIRE(b.t.damage.size() == 1);
  CHECK(b.t.damage[0].why == "unknown record type 9");
  CHECK(b.t.damage[0].offset == b.r2);
  CHECK(b.t.damage[0].bytes == kHeaderSize + 100);
}

TEST_CASE("A damaged FIRST fragment makes its MIDDLE and LAST 'missing start'", "[log]") {
  LogTest t;
  t.Write(Payload(93, 1));
  const uint64_t big_at = t.Write(Payload(2 * kBlockSize + 500, 2));
  REQUIRE(big_at == 100);
  const uint64_t after = t.Write("after");
  t.Patch(big_at + kHeaderSize + 10, "?");
  CHECK(t.ReadAll() == std::vector<std::string>{Payload(93, 1), "after"});
  REQUIRE(t.damage.size() == 3);
  CHECK(t.damage[0].why == "checksum mismatch");
  CHECK(t.damage[0].offset == big_at);
  CHECK(t.damage[0].bytes == kBlockSize - big_at);
  CHECK(t.damage[1].why == "missing start of fragmented record");
  CHECK(t.damage[1].offset == kBlockSize);
  CHECK(t.damage[1].bytes == kBlockSize);  // the whole MIDDLE fragment fills block 1
  CHECK(t.damage[2].why == "missing start of fragmented record");
  CHECK(t.damage[2].offset == 2 * kBlockSize);
  CHECK(t.damage[2].bytes == after - 2 * kBlockSize);
}

TEST_CASE("A damaged MIDDLE fragment drops the partial record at its start", "[log]") {
  LogTest t;
  t.Write(Payload(93, 1));
  const uint64_t big_at = t.Write(Payload(2 * kBlockSize + 500, 2));
  t.Write("after");
  t.Patch(kBlockSize + kHeaderSize + 10, "?");
  CHECK(t.ReadAll() == std::vector<std::string>{Payload(93, 1), "after"});
  REQUIRE(t.damage.size() == 3);
  CHECK(t.damage[0].why == "checksum mismatch");
  CHECK(t.damage[0].offset == kBlockSize);
  CHECK(t.damage[0].bytes == kBlockSize);
  CHECK(t.damage[1].why == "error in middle of record");
  CHECK(t.damage[1].offset == big_at);
  CHECK(t.damage[1].bytes == kBlockSize - big_at - kHeaderSize);  // the FIRST's payload
  CHECK(t.damage[2].why == "missing start of fragmented record");
  CHECK(t.damage[2].offset == 2 * kBlockSize);
}

TEST_CASE("A FIRST fragment followed by a new record is a partial record without end", "[log]") {
  LogTest t;
  t.Write(Payload(93, 1));
  const uint64_t big_at = t.Write(Payload(kBlockSize, 2));  // FIRST in block 0, LAST in 1
  t.Write("after");
  // Turn the LAST into a FULL: the FIRST before it never ends.
  t.SetTypeWithValidCrc(kBlockSize, kFullType);
  const auto got = t.ReadAll();
  REQUIRE(got.size() == 3);
  CHECK(got[0] == Payload(93, 1));
  CHECK(got[2] == "after");
  REQUIRE(t.damage.size() == 1);
  CHECK(t.damage[0].why == "partial record without end");
  CHECK(t.damage[0].offset == big_at);
  CHECK(t.damage[0].bytes == kBlockSize - big_at - kHeaderSize);
}

TEST_CASE("Records read after damage report their own end offsets", "[log]") {
  TwoBlocks b;
  b.t.Patch(b.r2 + kHeaderSize, "!");
  b.t.ReadAll();
  REQUIRE(b.t.ends.size() == 3);
  CHECK(b.t.ends[0] == kHeaderSize + 100);
  CHECK(b.t.ends[1] == kBlockSize + kHeaderSize + 100);
  CHECK(b.t.ends[2] == kBlockSize + 2 * (kHeaderSize + 100));
}

TEST_CASE("The masked CRC is not the plain CRC and masks differently per type", "[log]") {
  CHECK(MaskedCrc(kFullType, "abc") != MaskedCrc(kFirstType, "abc"));
  CHECK(MaskedCrc(kFullType, "abc") != MaskedCrc(kFullType, "abd"));
  // The value worked out in WAL_FORMAT.md: crc32(01 61 62 63) = 0x539d20a9, rotated right by
  // 15 bits and 0xa282ead8 added.
  CHECK(MaskedCrc(kFullType, "abc") == 0xe3d59212u);
}

}  // namespace
}  // namespace dbkv::storage::log
