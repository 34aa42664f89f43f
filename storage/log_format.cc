#include "storage/log_format.h"

#include <zlib.h>

#include <cstring>

namespace dbkv::storage::log {
namespace {

constexpr uint32_t kMaskDelta = 0xa282ead8u;

void EncodeFixed32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (8 * i));
}

uint32_t DecodeFixed32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

}  // namespace

uint32_t MaskedCrc(uint8_t type, std::string_view data) {
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, &type, 1);
  crc = crc32_z(crc, reinterpret_cast<const Bytef*>(data.data()), data.size());
  const uint32_t c = static_cast<uint32_t>(crc);
  return ((c >> 15) | (c << 17)) + kMaskDelta;
}

Writer::Writer(WritableFile* dest, uint64_t initial_size)
    : dest_(dest), block_offset_(initial_size % kBlockSize) {}

Status Writer::AddRecord(std::string_view record) {
  bool begin = true;
  do {
    const size_t left = kBlockSize - block_offset_;
    if (left < kHeaderSize) {
      // Not even a header fits: pad the block with zeros (readers skip them).
      if (left > 0) {
        Status s = dest_->Append(std::string_view("\0\0\0\0\0\0", left));
        if (!s.ok()) return s;
      }
      block_offset_ = 0;
    }
    const size_t avail = kBlockSize - block_offset_ - kHeaderSize;
    const size_t n = record.size() < avail ? record.size() : avail;
    const bool end = n == record.size();
    const RecordType type = begin && end ? kFullType
                            : begin      ? kFirstType
                            : end        ? kLastType
                                         : kMiddleType;
    Status s = EmitFragment(type, record.substr(0, n));
    if (!s.ok()) return s;
    record.remove_prefix(n);
    begin = false;
  } while (!record.empty());
  return Status::OK();
}

Status Writer::EmitFragment(RecordType type, std::string_view data) {
  char header[kHeaderSize];
  EncodeFixed32(header, MaskedCrc(type, data));
  header[4] = static_cast<char>(data.size() & 0xff);
  header[5] = static_cast<char>(data.size() >> 8);
  header[6] = static_cast<char>(type);
  Status s = dest_->Append(std::string_view(header, kHeaderSize));
  if (s.ok()) s = dest_->Append(data);
  block_offset_ += kHeaderSize + data.size();
  return s;
}

Reader::Reader(SequentialFile* file, Reporter reporter)
    : file_(file), reporter_(std::move(reporter)), backing_(new char[kBlockSize]) {}

void Reader::Report(uint64_t bytes, uint64_t offset, const std::string& why) {
  if (reporter_) reporter_(bytes, offset, why);
}

bool Reader::ReadRecord(std::string_view* record, std::string* scratch) {
  scratch->clear();
  bool in_fragmented = false;
  uint64_t record_start = 0;
  for (;;) {
    std::string_view fragment;
    const unsigned type = ReadFragment(&fragment);
    const uint64_t whole_fragment = kHeaderSize + fragment.size();
    switch (type) {
      case kFullType:
        if (in_fragmented) Report(scratch->size(), record_start, "partial record without end");
        *record = fragment;
        last_record_end_ = buffer_end_offset_ - buffer_.size();
        return true;
      case kFirstType:
        if (in_fragmented) Report(scratch->size(), record_start, "partial record without end");
        scratch->assign(fragment.data(), fragment.size());
        in_fragmented = true;
        record_start = fragment_offset_;
        break;
      case kMiddleType:
        if (!in_fragmented) {
          Report(whole_fragment, fragment_offset_, "missing start of fragmented record");
        } else {
          scratch->append(fragment.data(), fragment.size());
        }
        break;
      case kLastType:
        if (!in_fragmented) {
          Report(whole_fragment, fragment_offset_, "missing start of fragmented record");
        } else {
          scratch->append(fragment.data(), fragment.size());
          *record = *scratch;
          last_record_end_ = buffer_end_offset_ - buffer_.size();
          return true;
        }
        break;
      case kEof:
        // The last record cut by the end of the file: a torn write, not damage.
        if (in_fragmented) truncated_tail_ = true;
        return false;
      case kBad:
        if (in_fragmented) {
          Report(scratch->size(), record_start, "error in middle of record");
          in_fragmented = false;
          scratch->clear();
        }
        break;
      default:
        Report(whole_fragment, fragment_offset_, "unknown record type " + std::to_string(type));
        in_fragmented = false;
        scratch->clear();
        break;
    }
  }
}

unsigned Reader::ReadFragment(std::string_view* fragment) {
  for (;;) {
    if (buffer_.size() < kHeaderSize) {
      if (!eof_) {
        // The rest of this block is padding (too short to hold a header): read the next.
        std::string_view block;
        Status s = file_->Read(kBlockSize, &block, backing_.get());
        if (!s.ok()) {
          status_ = s;
          buffer_ = {};
          eof_ = true;
          Report(kBlockSize, buffer_end_offset_, "read error: " + s.message());
          return kEof;
        }
        buffer_ = block;
        buffer_end_offset_ += block.size();
        if (block.size() < kBlockSize) eof_ = true;
        if (buffer_.empty()) return kEof;
        continue;
      }
      // At the end of the file. Leftover bytes shorter than a header: a torn header.
      if (!buffer_.empty()) {
        buffer_ = {};
        truncated_tail_ = true;
      }
      return kEof;
    }
    fragment_offset_ = buffer_end_offset_ - buffer_.size();
    const char* h = buffer_.data();
    const uint32_t length = static_cast<uint32_t>(static_cast<unsigned char>(h[4])) |
                            (static_cast<uint32_t>(static_cast<unsigned char>(h[5])) << 8);
    const uint8_t type = static_cast<uint8_t>(h[6]);
    if (kHeaderSize + length > buffer_.size()) {
      const size_t drop = buffer_.size();
      buffer_ = {};
      if (!eof_) {
        Report(drop, fragment_offset_, "bad record length");
        return kBad;
      }
      // The file ends inside this fragment: a torn write.
      truncated_tail_ = true;
      return kEof;
    }
    if (type == kZeroType && length == 0) {
      // Zeros (preallocated or padded space): skip the rest of the block.
      buffer_ = {};
      continue;
    }
    const uint32_t expected = DecodeFixed32(h);
    std::string_view data(h + kHeaderSize, length);
    if (MaskedCrc(type, data) != expected) {
      // The length may be the damaged part: drop the rest of the block.
      const size_t drop = buffer_.size();
      buffer_ = {};
      Report(drop, fragment_offset_, "checksum mismatch");
      return kBad;
    }
    buffer_.remove_prefix(kHeaderSize + length);
    *fragment = data;
    return type;
  }
}

}  // namespace dbkv::storage::log
