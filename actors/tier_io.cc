#include "actors/tier_io.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/clock.h"
#include "storage/data_dir.h"

namespace dbkv {

// -- Writer.

void TierWriterFiles::Append(TierAppend* a) {
  auto it = open_.find(a->segment);
  if (it == open_.end()) {
    if (!a->create) {
      a->status = Status::Internal("segment " + std::to_string(a->segment) + " is not open");
      return;
    }
    std::unique_ptr<storage::WritableFile> f;
    const std::string path = storage::JoinPath(dir_, storage::ColdSegmentFileName(a->segment));
    a->status = env_->NewWritableFile(path, &f);
    if (!a->status.ok()) return;
    a->status = f->Append(storage::EncodeColdHeader(a->segment, a->shard, WallClockMs()));
    if (a->status.ok()) a->status = env_->SyncDir(dir_);  // the file survives a crash
    if (!a->status.ok()) return;
    it = open_.emplace(a->segment, std::move(f)).first;
  }
  storage::WritableFile* f = it->second.get();
  a->status = f->Append(a->data);
  if (a->status.ok()) a->status = f->Flush();  // readers see it once the shard hears back
  if (a->status.ok() && a->seal) a->status = f->Sync();
  a->file_bytes = f->Size();
  if (a->seal || !a->status.ok()) {
    // Sealed, or failed: nothing more goes into this segment. A failed close of a segment
    // that was written and synced fails the append like any other write error.
    Status closed = f->Close();
    if (a->status.ok()) a->status = closed;
    open_.erase(it);
  }
  a->data.clear();
  a->data.shrink_to_fit();
}

Status TierWriterFiles::Sync() {
  for (auto& [id, f] : open_) {
    Status s = f->Sync();
    if (!s.ok()) return s;
  }
  return Status::OK();
}

// -- Reader.

namespace {
constexpr size_t kMaxOpenSegments = 256;
}  // namespace

Status TierReaderFiles::File(uint32_t segment, const storage::RandomAccessFile** f) {
  auto it = files_.find(segment);
  if (it == files_.end()) {
    if (files_.size() >= kMaxOpenSegments) files_.erase(files_.begin());
    std::unique_ptr<storage::RandomAccessFile> file;
    const std::string path = storage::JoinPath(dir_, storage::ColdSegmentFileName(segment));
    Status s = env_->NewRandomAccessFile(path, &file);
    if (!s.ok()) return s;
    // The header says which segment this is: a renamed or foreign file is not read.
    char header[storage::kColdHeaderSize];
    std::string_view got;
    s = file->Read(0, sizeof(header), &got, header);
    if (s.ok()) s = storage::CheckColdHeader(got, segment);
    if (!s.ok()) return Status(s.code(), path + ": " + s.message());
    it = files_.emplace(segment, std::move(file)).first;
  }
  *f = it->second.get();
  return Status::OK();
}

Status TierReaderFiles::ReadOne(const ColdRef& ref, Value* out) {
  const storage::RandomAccessFile* f = nullptr;
  Status s = File(ref.segment, &f);
  if (!s.ok()) return s;
  if (scratch_.size() < ref.length) scratch_.resize(ref.length);
  std::string_view got;
  s = f->Read(ref.offset, ref.length, &got, scratch_.data());
  if (!s.ok()) return s;
  storage::ColdRecord rec;
  s = decoder_.Decode(got, &rec);
  if (!s.ok()) {
    return Status(s.code(), "segment " + std::to_string(ref.segment) + " offset " +
                                std::to_string(ref.offset) + ": " + s.message());
  }
  *out = std::move(rec.value);
  return Status::OK();
}

void TierReaderFiles::Read(TierRead* r) {
  r->status.resize(r->refs.size());
  r->values.resize(r->refs.size());
  for (size_t i = 0; i < r->refs.size(); ++i) r->status[i] = ReadOne(r->refs[i], &r->values[i]);
}

void TierReaderFiles::Scan(TierScan* s) {
  s->data.clear();
  const storage::RandomAccessFile* f = nullptr;
  s->status = File(s->segment, &f);
  if (!s->status.ok()) return;
  std::string buf(s->max_bytes, '\0');
  std::string_view got;
  s->status = f->Read(s->offset, buf.size(), &got, buf.data());
  if (!s->status.ok()) return;
  // Whole records only; a record larger than the stretch is read on its own.
  size_t pos = 0;
  while (pos + storage::kColdRecordPrefix <= got.size()) {
    const uint32_t len = storage::ColdRecordLength(got.substr(pos));
    if (len == 0) {
      s->status =
          Status::Corruption("segment " + std::to_string(s->segment) +
                             ": bad record length at offset " + std::to_string(s->offset + pos));
      return;
    }
    if (pos + len > got.size()) {
      if (pos == 0) {
        std::string big(len, '\0');
        std::string_view whole;
        s->status = f->Read(s->offset, len, &whole, big.data());
        if (!s->status.ok()) return;
        if (whole.size() < len) break;  // a torn tail: the segment ends here
        s->data.assign(whole.data(), whole.size());
        s->next = s->offset + len;
        s->eof = false;
        return;
      }
      break;
    }
    pos += len;
  }
  s->data.assign(got.data(), pos);
  s->next = s->offset + pos;
  // Fewer bytes than asked: the end of the file (a partial record there is a torn write).
  s->eof = got.size() < buf.size();
}

// -- The segment table.

void TierSegments::SeeSegmentId(uint32_t id) {
  uint32_t cur = next_id_.load();
  while (cur <= id && !next_id_.compare_exchange_weak(cur, id + 1)) {
  }
}

void TierSegments::Recount() {
  uint64_t bytes = 0, dead = 0;
  for (const auto& kv : segments_) {
    bytes += kv.second.file_bytes;
    if (kv.second.dead) dead += kv.second.file_bytes;
  }
  disk_bytes_.store(bytes, std::memory_order_relaxed);
  dead_bytes_.store(dead, std::memory_order_relaxed);
  count_.store(segments_.size(), std::memory_order_relaxed);
}

void TierSegments::MaybeDead(uint32_t id, Segment& s) {
  (void)id;
  if (s.sealed && s.live_bytes <= 0 && !s.dead) {
    s.dead = true;
    s.died_round = round.load();
  }
}

void TierSegments::Added(uint32_t id, uint64_t file_bytes, bool sealed) {
  std::lock_guard<std::mutex> lock(mu_);
  Segment& s = segments_[id];
  s.file_bytes = file_bytes;
  s.sealed = s.sealed || sealed;
  MaybeDead(id, s);
  Recount();
}

void TierSegments::ApplyDeltas(const std::vector<std::pair<uint32_t, int64_t>>& deltas) {
  if (deltas.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, d] : deltas) {
    Segment& s = segments_[id];
    s.live_bytes += d;
    if (s.live_bytes > 0) s.dead = false;
    MaybeDead(id, s);
  }
  Recount();
}

std::vector<uint32_t> TierSegments::CompactionCandidates(double ratio, size_t max) {
  std::vector<std::pair<double, uint32_t>> c;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, s] : segments_) {
      if (!s.sealed || s.dead || s.file_bytes <= storage::kColdHeaderSize) continue;
      const double live = static_cast<double>(std::max<int64_t>(0, s.live_bytes)) /
                          static_cast<double>(s.file_bytes);
      if (live < ratio) c.emplace_back(live, id);
    }
  }
  std::sort(c.begin(), c.end());
  std::vector<uint32_t> out;
  for (size_t i = 0; i < c.size() && i < max; ++i) out.push_back(c[i].second);
  return out;
}

std::vector<uint32_t> TierSegments::TakeDeletable(uint64_t before_round) {
  std::vector<uint32_t> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = segments_.begin(); it != segments_.end();) {
    if (it->second.dead && it->second.died_round < before_round) {
      out.push_back(it->first);
      it = segments_.erase(it);
    } else {
      ++it;
    }
  }
  Recount();
  return out;
}

}  // namespace dbkv
