#include "storage/cold_segment.h"

#include <catch2/catch.hpp>
#include <string>

#include "storage/data_dir.h"
#include "storage/fault_env.h"
#include "storage/snapshot.h"

namespace dbkv::storage {
namespace {

std::string Json(size_t n) {
  std::string s = "{\"status\": \"SUCCESS\", \"result\": [";
  while (s.size() < n) s += "1234, \"text\", ";
  s += "0]}";
  return s;
}

}  // namespace

TEST_CASE("cold segment file names round-trip", "[cold]") {
  CHECK(ColdSegmentFileName(7) == "cold-00000007.seg");
  uint32_t id = 0;
  CHECK(ParseColdSegmentFileName("cold-00000007.seg", &id));
  CHECK(id == 7);
  CHECK_FALSE(ParseColdSegmentFileName("cold-0000007.seg", &id));
  CHECK_FALSE(ParseColdSegmentFileName("cold-0000000x.seg", &id));
  CHECK_FALSE(ParseColdSegmentFileName("wal-00000000000000000001.log", &id));
}

TEST_CASE("cold segment headers are checked", "[cold]") {
  const std::string h = EncodeColdHeader(42, 3, 1'700'000'000'000);
  REQUIRE(h.size() == kColdHeaderSize);
  CHECK(CheckColdHeader(h, 42).ok());
  CHECK(CheckColdHeader(h, 43).code() == Code::kCorruption);  // another segment's file
  std::string bad = h;
  bad[20] ^= 1;
  CHECK(CheckColdHeader(bad, 42).code() == Code::kCorruption);
  bad = h;
  bad[0] = 'X';
  CHECK(CheckColdHeader(bad, 42).code() == Code::kCorruption);
  CHECK(CheckColdHeader(h.substr(0, 10), 42).code() == Code::kCorruption);
}

TEST_CASE("cold records keep every value type exactly, compressing when it pays", "[cold]") {
  ColdRecordEncoder enc;
  ColdRecordDecoder dec;
  ValueMap map;
  map.emplace_back(Value::String("a"), Value::Int(1));
  const Value values[] = {
      Value::String(Json(3000)),  // compresses
      Value::String("short text, stored as it is, not compressed"),
      Value::Bytes(std::string(1000, '\0')),
      Value::Dec(*Decimal::Parse("1.10")),
      Value::List({Value::Int(1), Value::String(Json(500)), Value::Null()}),
      Value::Map(map),
  };
  std::string buf;
  std::vector<std::pair<size_t, size_t>> spans;
  for (size_t i = 0; i < std::size(values); ++i) {
    const size_t start = buf.size();
    const size_t len = enc.Append("ns", "key" + std::to_string(i), 100 + i, values[i], &buf);
    CHECK(len == buf.size() - start);
    CHECK(ColdRecordLength(std::string_view(buf).substr(start)) == len);
    spans.emplace_back(start, len);
  }
  CHECK(enc.stored_bytes() == buf.size());
  CHECK(enc.stored_bytes() < enc.raw_bytes());  // the JSON and the zeros compressed
  for (size_t i = 0; i < std::size(values); ++i) {
    ColdRecord r;
    REQUIRE(dec.Decode(std::string_view(buf).substr(spans[i].first, spans[i].second), &r).ok());
    CHECK(r.ns == "ns");
    CHECK(r.key == "key" + std::to_string(i));
    CHECK(r.version == 100 + i);
    CHECK(r.value == values[i]);
    ColdRecord keys_only;
    REQUIRE(
        dec.Decode(std::string_view(buf).substr(spans[i].first, spans[i].second), &keys_only, false)
            .ok());
    CHECK(keys_only.key == r.key);
    CHECK(keys_only.value.is_null());
  }
  // The 3000-byte JSON took well under half its size.
  CHECK(spans[0].second < 1500);
}

TEST_CASE("a damaged cold record is reported, never decoded", "[cold]") {
  ColdRecordEncoder enc;
  ColdRecordDecoder dec;
  std::string rec;
  enc.Append("", "k", 1, Value::String(Json(2000)), &rec);
  ColdRecord r;
  for (size_t pos : {size_t{0}, size_t{5}, size_t{9}, rec.size() / 2, rec.size() - 1}) {
    std::string bad = rec;
    bad[pos] ^= 0x40;
    CHECK(dec.Decode(bad, &r).code() == Code::kCorruption);
  }
  CHECK(dec.Decode(std::string_view(rec).substr(0, rec.size() - 1), &r).code() ==
        Code::kCorruption);
  CHECK(dec.Decode("", &r).code() == Code::kCorruption);
}

TEST_CASE("cold segments are listed and read back at any offset", "[cold]") {
  Env* env = Env::Default();
  const std::string dir = NewTestDir("cold_segment_test");
  ColdRecordEncoder enc;
  std::string data = EncodeColdHeader(5, 0, 0);
  const size_t off = data.size();
  const size_t len = enc.Append("", "k", 9, Value::String(Json(800)), &data);
  std::unique_ptr<WritableFile> f;
  REQUIRE(env->NewWritableFile(JoinPath(dir, ColdSegmentFileName(5)), &f).ok());
  REQUIRE(f->Append(data).ok());
  REQUIRE(f->Close().ok());
  std::unique_ptr<WritableFile> other;
  REQUIRE(env->NewWritableFile(JoinPath(dir, "wal-00000000000000000001.log"), &other).ok());
  std::vector<ColdSegmentFile> files;
  REQUIRE(ListColdSegments(env, dir, &files).ok());
  REQUIRE(files.size() == 1);
  CHECK(files[0].id == 5);
  CHECK(files[0].size == data.size());
  std::unique_ptr<RandomAccessFile> rf;
  REQUIRE(env->NewRandomAccessFile(files[0].path, &rf).ok());
  std::string scratch(len, '\0');
  std::string_view got;
  REQUIRE(rf->Read(off, len, &got, scratch.data()).ok());
  ColdRecordDecoder dec;
  ColdRecord r;
  REQUIRE(dec.Decode(got, &r).ok());
  CHECK(r.value == Value::String(Json(800)));
  // Past the end: a short read, which the record check turns into corruption.
  REQUIRE(rf->Read(off + 10, len, &got, scratch.data()).ok());
  CHECK(got.size() == len - 10);
}

}  // namespace dbkv::storage

namespace dbkv::storage {

TEST_CASE("the COLD_FORMAT.md record example is what the encoder writes", "[cold]") {
  ColdRecordEncoder enc;
  std::string rec;
  enc.Append("", "k", 9, Value::String("hello"), &rec);
  const std::string expected_after_crc(
      "\x13\x00\x00\x00"
      "\x00"
      "\x00"
      "\x01k"
      "\x09\x00\x00\x00\x00\x00\x00\x00"
      "\x06"
      "\xa5hello",
      4 + 1 + 1 + 2 + 8 + 1 + 6);
  CHECK(rec.substr(4) == expected_after_crc);
}

}  // namespace dbkv::storage

namespace dbkv::storage {

TEST_CASE("a snapshot keeps cold entries as references to their records", "[cold][snapshot]") {
  Env* env = Env::Default();
  const std::string dir = NewTestDir("cold_snapshot_test");
  SnapshotHeader h;
  h.shard = 0;
  h.shard_count = 1;
  h.start_lsn = 3;
  SnapshotBlockBuilder block;
  Entry cold;
  cold.value = Value::Cold(ColdRef{12, 4096, 777, ValueType::kBytes});
  cold.version = 9;
  cold.expire_at_ms = 1'900'000'000'000;
  Entry hot;
  hot.value = Value::String("hot value");
  hot.version = 10;
  block.Add("ns", "cold-key", cold);
  block.Add("ns", "hot-key", hot);
  std::string file = EncodeSnapshotHeader(h) + block.Finish() + EncodeSnapshotFooter(2, 10, 1);
  const std::string path = JoinPath(dir, SnapshotFileName(0, 3));
  std::unique_ptr<WritableFile> f;
  REQUIRE(env->NewWritableFile(path, &f).ok());
  REQUIRE(f->Append(file).ok());
  REQUIRE(f->Close().ok());
  std::vector<std::pair<std::string, Entry>> got;
  SnapshotHeader read_header;
  SnapshotStats stats;
  REQUIRE(ReadSnapshot(
              env, path, &read_header,
              [&](std::string_view, std::string_view key, Entry e) {
                got.emplace_back(std::string(key), std::move(e));
              },
              &stats)
              .ok());
  REQUIRE(got.size() == 2);
  CHECK(got[0].first == "cold-key");
  REQUIRE(got[0].second.value.is_cold());
  const ColdRef r = got[0].second.value.cold_ref();
  CHECK(r.segment == 12);
  CHECK(r.offset == 4096);
  CHECK(r.length == 777);
  CHECK(r.type == ValueType::kBytes);
  CHECK(got[0].second.version == 9);
  CHECK(got[0].second.expire_at_ms == 1'900'000'000'000);
  CHECK(got[1].second.value == Value::String("hot value"));
}

}  // namespace dbkv::storage
