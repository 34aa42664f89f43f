#include "storage/snapshot.h"

#include <cstring>
#include <memory>

#include "protocol/value_codec.h"
#include "storage/coding.h"
#include "storage/log_format.h"
#include "storage/stored_value.h"

namespace dbkv::storage {
namespace {

// Checksums here reuse the log's masked CRC with type byte 0.
uint32_t Crc(std::string_view data) { return log::MaskedCrc(0, data); }

// Reads exactly n bytes (or fewer at the end of the file).
Status ReadExactly(SequentialFile* f, size_t n, std::string* out) {
  out->resize(n);
  size_t got = 0;
  while (got < n) {
    std::string_view chunk;
    Status s = f->Read(n - got, &chunk, out->data() + got);
    if (!s.ok()) return s;
    if (chunk.empty()) break;
    if (chunk.data() != out->data() + got)
      std::memmove(out->data() + got, chunk.data(), chunk.size());
    got += chunk.size();
  }
  out->resize(got);
  return Status::OK();
}

}  // namespace

std::string EncodeSnapshotHeader(const SnapshotHeader& h) {
  std::string out(kSnapshotMagic, sizeof(kSnapshotMagic));
  PutFixed32(&out, h.shard);
  PutFixed32(&out, h.shard_count);
  PutFixed64(&out, h.start_lsn);
  PutFixed64(&out, static_cast<uint64_t>(h.created_ms));
  PutFixed64(&out, 0);  // reserved
  PutFixed32(&out, Crc(out));
  return out;
}

void SnapshotBlockBuilder::Add(std::string_view ns, std::string_view key, uint64_t version,
                               int64_t expire_at_ms, const ValueRef& v) {
  PutLengthPrefixed(&payload_, ns);
  PutLengthPrefixed(&payload_, key);
  PutFixed64(&payload_, version);
  PutFixed64(&payload_, static_cast<uint64_t>(expire_at_ms));
  std::string value;
  AppendStoredValue(&value, v);
  PutLengthPrefixed(&payload_, value);
  ++entries_;
}

std::string SnapshotBlockBuilder::Finish() {
  std::string body;
  PutVarint(&body, entries_);
  body += payload_;
  std::string out;
  PutFixed32(&out, static_cast<uint32_t>(body.size()));
  PutFixed32(&out, Crc(body));
  out += body;
  payload_.clear();
  entries_ = 0;
  return out;
}

std::string EncodeSnapshotFooter(uint64_t entries, uint64_t max_version, uint64_t blocks) {
  std::string out;
  PutFixed32(&out, 0);  // a block of length 0: the footer
  std::string body;
  PutFixed64(&body, entries);
  PutFixed64(&body, max_version);
  PutFixed64(&body, blocks);
  out += body;
  PutFixed32(&out, Crc(body));
  return out;
}

namespace {

Status DecodeHeader(const std::string& path, const std::string& buf, SnapshotHeader* header) {
  if (buf.size() < kSnapshotHeaderSize) return Status::Corruption(path + ": truncated header");
  if (std::memcmp(buf.data(), kSnapshotMagic, sizeof(kSnapshotMagic)) != 0) {
    return Status::Corruption(path + ": not a snapshot file (bad magic)");
  }
  std::string_view in(buf);
  std::string_view covered = in.substr(0, kSnapshotHeaderSize - 4);
  in.remove_prefix(sizeof(kSnapshotMagic));
  uint64_t created = 0, reserved = 0;
  uint32_t crc = 0;
  GetFixed32(&in, &header->shard);
  GetFixed32(&in, &header->shard_count);
  GetFixed64(&in, &header->start_lsn);
  GetFixed64(&in, &created);
  GetFixed64(&in, &reserved);
  GetFixed32(&in, &crc);
  header->created_ms = static_cast<int64_t>(created);
  if (crc != Crc(covered)) return Status::Corruption(path + ": header checksum mismatch");
  return Status::OK();
}

}  // namespace

Status ReadSnapshotHeader(Env* env, const std::string& path, SnapshotHeader* header) {
  std::unique_ptr<SequentialFile> f;
  Status s = env->NewSequentialFile(path, &f);
  if (!s.ok()) return s;
  std::string buf;
  s = ReadExactly(f.get(), kSnapshotHeaderSize, &buf);
  if (!s.ok()) return s;
  return DecodeHeader(path, buf, header);
}

Status ReadSnapshot(
    Env* env, const std::string& path, SnapshotHeader* header,
    const std::function<void(std::string_view ns, std::string_view key, Entry entry)>& fn,
    SnapshotStats* stats) {
  std::unique_ptr<SequentialFile> f;
  Status s = env->NewSequentialFile(path, &f);
  if (!s.ok()) return s;
  *stats = SnapshotStats();
  auto corrupt = [&](const std::string& why) {
    return Status::Corruption(path + " at offset " + std::to_string(stats->bytes) + ": " + why);
  };
  // The file's size bounds every block: a damaged length is found before anything is read or
  // allocated for it (SNAPSHOT_FORMAT.md, "Reading").
  uint64_t file_size = 0;
  s = env->GetFileSize(path, &file_size);
  if (!s.ok()) return s;
  std::string buf;
  s = ReadExactly(f.get(), kSnapshotHeaderSize, &buf);
  if (!s.ok()) return s;
  s = DecodeHeader(path, buf, header);
  if (!s.ok()) return s;
  stats->bytes = kSnapshotHeaderSize;

  uint64_t blocks = 0, entries = 0, max_version = 0;
  for (;;) {
    s = ReadExactly(f.get(), 8, &buf);
    if (!s.ok()) return s;
    if (buf.size() < 4) return corrupt("missing footer (the snapshot was not finished)");
    std::string_view h(buf);
    uint32_t length = 0;
    GetFixed32(&h, &length);
    if (length == 0) {
      // The footer: counts, then their checksum.
      std::string rest;
      s = ReadExactly(f.get(), kSnapshotFooterSize - 8, &rest);
      if (!s.ok()) return s;
      std::string body = buf.substr(4) + rest;
      if (body.size() != kSnapshotFooterSize - 4) return corrupt("truncated footer");
      std::string_view b(body);
      uint64_t f_entries = 0, f_max_version = 0, f_blocks = 0;
      uint32_t f_crc = 0;
      GetFixed64(&b, &f_entries);
      GetFixed64(&b, &f_max_version);
      GetFixed64(&b, &f_blocks);
      GetFixed32(&b, &f_crc);
      if (f_crc != Crc(std::string_view(body).substr(0, 24)))
        return corrupt("footer checksum mismatch");
      if (f_entries != entries || f_blocks != blocks) {
        return corrupt("footer counts " + std::to_string(f_entries) + " entries / " +
                       std::to_string(f_blocks) + " blocks, read " + std::to_string(entries) +
                       " / " + std::to_string(blocks));
      }
      stats->entries = entries;
      stats->max_version = std::max(max_version, f_max_version);
      stats->bytes += kSnapshotFooterSize;
      return Status::OK();
    }
    if (buf.size() < 8) return corrupt("truncated block header");
    uint32_t block_crc;
    GetFixed32(&h, &block_crc);
    if (length > kSnapshotMaxBlockBytes) return corrupt("block length " + std::to_string(length));
    // What the file still holds after this block's header: a longer block is cut short (or its
    // length is damaged), and the read would only allocate for bytes that are not there.
    const uint64_t left = file_size - std::min(file_size, stats->bytes + 8);
    if (length > left) {
      return corrupt("truncated block (length " + std::to_string(length) + ", " +
                     std::to_string(left) + " bytes left in the file)");
    }
    std::string body;
    s = ReadExactly(f.get(), length, &body);
    if (!s.ok()) return s;
    if (body.size() < length) return corrupt("truncated block");
    if (Crc(body) != block_crc) return corrupt("block checksum mismatch");
    std::string_view in_block(body);
    uint64_t count;
    if (!GetVarint(&in_block, &count)) return corrupt("bad block");
    for (uint64_t i = 0; i < count; ++i) {
      std::string_view ns, key, value_bytes;
      uint64_t version, expire;
      if (!GetLengthPrefixed(&in_block, &ns) || !GetLengthPrefixed(&in_block, &key) ||
          !GetFixed64(&in_block, &version) || !GetFixed64(&in_block, &expire) ||
          !GetLengthPrefixed(&in_block, &value_bytes)) {
        return corrupt("bad entry in block");
      }
      Entry e;
      Status vs = DecodeStoredValue(value_bytes, &e.value);
      if (!vs.ok()) return corrupt(vs.message());
      e.version = version;
      e.expire_at_ms = static_cast<int64_t>(expire);
      max_version = std::max(max_version, version);
      fn(ns, key, std::move(e));
      ++entries;
    }
    if (!in_block.empty()) return corrupt("trailing bytes in block");
    ++blocks;
    stats->bytes += 8 + length;
  }
}

}  // namespace dbkv::storage
