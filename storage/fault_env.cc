#include "storage/fault_env.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <thread>

namespace dbkv::storage {
namespace {

std::string ParentDir(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

std::string StripSlash(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

}  // namespace

// A file written through the env: every call goes to the env, which checks for faults and
// keeps the file's synced size. Data goes through to the base file at once (no buffering of
// its own), so that the base file always holds exactly what was appended.
class FaultInjectionEnv::File final : public WritableFile {
 public:
  File(FaultInjectionEnv* env, std::string path, uint64_t generation,
       std::unique_ptr<WritableFile> base)
      : env_(env), path_(std::move(path)), generation_(generation), base_(std::move(base)) {}

  Status Append(std::string_view data) override {
    return env_->Append(path_, generation_, base_.get(), data);
  }
  Status Flush() override { return env_->Flush(path_, generation_); }
  Status Sync() override { return env_->Sync(path_, generation_, base_.get()); }
  // Everything appended is written (nothing is buffered here): the same as Sync. The env's
  // lock keeps it apart from the owner's calls.
  Status SyncWritten() override { return env_->Sync(path_, generation_, base_.get()); }
  Status Close() override { return env_->Close(path_, generation_, base_.get()); }
  uint64_t Size() const override { return env_->Size(path_, generation_); }

 private:
  FaultInjectionEnv* env_;
  std::string path_;
  uint64_t generation_;
  std::unique_ptr<WritableFile> base_;
};

Status FaultInjectionEnv::CheckAlive(const std::string& path, uint64_t generation) const {
  auto it = files_.find(path);
  if (it == files_.end() || it->second.generation != generation) {
    return Status::IoError(path + ": file handle lost in a simulated crash");
  }
  return Status::OK();
}

Status FaultInjectionEnv::NoSpace(const std::string& path) {
  return Status::IoError("write " + path + ": No space left on device (simulated)");
}

Status FaultInjectionEnv::NewWritableFile(const std::string& path,
                                          std::unique_ptr<WritableFile>* f) {
  std::lock_guard<std::mutex> lock(mu_);
  const bool existed = base_->FileExists(path);
  std::unique_ptr<WritableFile> base;
  Status s = base_->NewWritableFile(path, &base);
  if (!s.ok()) return s;
  FileState& st = files_[path];
  const bool was_new = st.new_entry;
  st = FileState();
  st.generation = next_generation_++;
  st.new_entry = !existed || was_new;
  *f = std::make_unique<File>(this, path, st.generation, std::move(base));
  return Status::OK();
}

Status FaultInjectionEnv::RenameFile(const std::string& from, const std::string& to) {
  std::lock_guard<std::mutex> lock(mu_);
  Status s = base_->RenameFile(from, to);
  if (!s.ok()) return s;
  auto it = files_.find(from);
  FileState st;
  if (it != files_.end()) {
    st = it->second;
    files_.erase(it);
  } else {
    // An untracked file: all of it is durable, only the rename is not.
    uint64_t size = 0;
    base_->GetFileSize(to, &size).IgnoreError();  // not there: nothing of it is durable
    st.size = st.synced = size;
  }
  if (!st.new_entry && st.renamed_from.empty()) st.renamed_from = from;
  files_[to] = st;
  return Status::OK();
}

Status FaultInjectionEnv::DeleteFile(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  Status s = base_->DeleteFile(path);
  if (s.ok()) files_.erase(path);
  return s;
}

Status FaultInjectionEnv::TruncateFile(const std::string& path, uint64_t size) {
  std::lock_guard<std::mutex> lock(mu_);
  Status s = base_->TruncateFile(path, size);
  if (!s.ok()) return s;
  auto it = files_.find(path);
  if (it != files_.end()) {
    it->second.size = std::min(it->second.size, size);
    it->second.synced = std::min(it->second.synced, size);
  }
  return Status::OK();
}

Status FaultInjectionEnv::SyncDir(const std::string& dir) {
  std::lock_guard<std::mutex> lock(mu_);
  Status s = base_->SyncDir(dir);
  if (!s.ok()) return s;
  const std::string d = StripSlash(dir);
  for (auto& [path, st] : files_) {
    if (ParentDir(path) != d) continue;
    st.new_entry = false;
    st.renamed_from.clear();
  }
  return Status::OK();
}

Status FaultInjectionEnv::Append(const std::string& path, uint64_t generation, WritableFile* base,
                                 std::string_view data) {
  std::lock_guard<std::mutex> lock(mu_);
  Status s = CheckAlive(path, generation);
  if (!s.ok()) return s;
  FileState& st = files_[path];
  std::string_view part = data;
  Status fault;
  bool torn = false;
  if (tear_) {
    tear_ = false;
    torn = true;
    part = data.substr(0, std::min<uint64_t>(tear_keep_, data.size()));
    fault = Status::IoError("write " + path + ": torn write (simulated)");
  }
  if (limited_) {
    const uint64_t room = written_since_limit_ >= limit_ ? 0 : limit_ - written_since_limit_;
    if (part.size() > room) {
      part = part.substr(0, room);
      fault = NoSpace(path);
    }
  }
  if (!part.empty()) {
    s = base->Append(part);
    if (s.ok()) s = base->Flush();
    if (!s.ok()) return s;
    st.size += part.size();
    bytes_appended_ += part.size();
    if (limited_) written_since_limit_ += part.size();
  }
  // The part of a torn write that got out reached the disk before the "power went".
  if (torn) st.synced = st.size;
  return fault;
}

Status FaultInjectionEnv::Flush(const std::string& path, uint64_t generation) {
  std::lock_guard<std::mutex> lock(mu_);
  Status s = CheckAlive(path, generation);
  if (!s.ok()) return s;
  if (DiskFull()) return NoSpace(path);
  return Status::OK();
}

Status FaultInjectionEnv::Sync(const std::string& path, uint64_t generation, WritableFile* base) {
  std::chrono::microseconds delay;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Status s = CheckAlive(path, generation);
    if (!s.ok()) return s;
    if (DiskFull()) return NoSpace(path);
    if (sync_error_)
      return Status::IoError("fdatasync " + path + ": Input/output error (simulated)");
    delay = sync_delay_;
  }
  if (delay.count() > 0) std::this_thread::sleep_for(delay);
  std::lock_guard<std::mutex> lock(mu_);
  Status s = CheckAlive(path, generation);
  if (s.ok()) s = base->Sync();
  if (!s.ok()) return s;
  FileState& st = files_[path];
  st.synced = st.size;
  ++st.syncs;
  ++sync_count_;
  return Status::OK();
}

Status FaultInjectionEnv::Close(const std::string& path, uint64_t generation, WritableFile* base) {
  // Nothing is buffered here; a dead handle only lets its descriptor go. Under the lock: a
  // background sync (SyncWritten) of the file may be running.
  std::lock_guard<std::mutex> lock(mu_);
  Status s = CheckAlive(path, generation);
  Status c = base->Close();
  return s.ok() ? c : s;
}

uint64_t FaultInjectionEnv::Size(const std::string& path, uint64_t generation) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(path);
  if (it == files_.end() || it->second.generation != generation) return 0;
  return it->second.size;
}

Status FaultInjectionEnv::DropUnsyncedData() {
  std::lock_guard<std::mutex> lock(mu_);
  Status first;
  auto note = [&](const Status& s) {
    if (!s.ok() && first.ok()) first = s;
  };
  std::map<std::string, FileState> kept;
  for (auto& [path, st] : files_) {
    if (drop_dir_entries_ && st.new_entry) {
      note(base_->DeleteFile(path));
      continue;
    }
    note(base_->TruncateFile(path, st.synced));
    FileState after;
    after.size = after.synced = st.synced;
    after.generation = next_generation_++;  // handles open at the crash are dead
    std::string name = path;
    if (drop_dir_entries_ && !st.renamed_from.empty()) {
      note(base_->RenameFile(path, st.renamed_from));
      name = st.renamed_from;
    }
    kept[name] = after;
  }
  files_ = std::move(kept);
  tear_ = false;
  return first;
}

void FaultInjectionEnv::SetDropUnsyncedDirEntries(bool drop) {
  std::lock_guard<std::mutex> lock(mu_);
  drop_dir_entries_ = drop;
}

void FaultInjectionEnv::SetWriteLimit(uint64_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  limited_ = true;
  limit_ = bytes;
  written_since_limit_ = 0;
}

void FaultInjectionEnv::ClearWriteLimit() {
  std::lock_guard<std::mutex> lock(mu_);
  limited_ = false;
}

void FaultInjectionEnv::TearNextWrite(uint64_t keep_bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  tear_ = true;
  tear_keep_ = keep_bytes;
}

void FaultInjectionEnv::SetSyncDelay(std::chrono::microseconds delay) {
  std::lock_guard<std::mutex> lock(mu_);
  sync_delay_ = delay;
}

void FaultInjectionEnv::SetSyncError(bool fail) {
  std::lock_guard<std::mutex> lock(mu_);
  sync_error_ = fail;
}

Status FaultInjectionEnv::FlipByte(const std::string& path, uint64_t offset, uint8_t mask) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string data;
  Status s = ReadFileToString(base_, path, &data);
  if (!s.ok()) return s;
  if (offset >= data.size()) {
    return Status::InvalidArgument(path + ": offset " + std::to_string(offset) + " past the end (" +
                                   std::to_string(data.size()) + " bytes)");
  }
  data[offset] = static_cast<char>(data[offset] ^ mask);
  std::unique_ptr<WritableFile> f;
  s = base_->NewWritableFile(path, &f);
  if (s.ok()) s = f->Append(data);
  if (s.ok()) s = f->Sync();
  if (s.ok()) s = f->Close();
  return s;
}

uint64_t FaultInjectionEnv::sync_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sync_count_;
}

uint64_t FaultInjectionEnv::SyncCount(const std::string& path) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(path);
  return it == files_.end() ? 0 : it->second.syncs;
}

uint64_t FaultInjectionEnv::bytes_appended() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_appended_;
}

uint64_t FaultInjectionEnv::UnsyncedBytes(const std::string& path) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(path);
  return it == files_.end() ? 0 : it->second.size - it->second.synced;
}

uint64_t FaultInjectionEnv::SyncedSize(const std::string& path) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(path);
  if (it != files_.end()) return it->second.synced;
  uint64_t size = 0;
  base_->GetFileSize(path, &size).IgnoreError();  // not there: 0 bytes are durable
  return size;
}

std::string NewTestDir(const std::string& name) {
  static std::atomic<int> counter{0};
  const char* root = std::getenv("TEST_TMPDIR");
  std::filesystem::path dir =
      std::filesystem::path(root != nullptr ? root : "/tmp") /
      (name + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1)));
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::filesystem::create_directories(dir, ec);
  return dir.string();
}

}  // namespace dbkv::storage
