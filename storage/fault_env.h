// FaultInjectionEnv: an Env for tests that wraps a real one (PosixEnv on a temporary directory)
// and injects the faults persistence must survive, as leveldb's FaultInjectionTestEnv does.
//
// What it models:
//  - A crash (DropUnsyncedData): every file written through this env is cut back to the size
//    it had at its last Sync(); a file created since its directory's last SyncDir() disappears;
//    a rename not followed by SyncDir() is undone (the file goes back to its old name). Every
//    file handle open at the crash is dead from then on (its calls fail), as the process that
//    held it would be.
//  - A full disk (SetWriteLimit): once that many bytes have been appended (over all files, from
//    the call on), an Append writes what still fits and fails, and Append, Flush and Sync all
//    fail with "No space left on device" until ClearWriteLimit().
//  - A torn write (TearNextWrite): only the first keep_bytes of the next Append reach the file
//    (and stay there across a crash, as bytes the disk got before the power went), and the
//    Append fails.
//  - Damage at rest: FlipByte (one byte changed in place) and TruncateFile.
//  - A failing device (SetSyncError): Sync fails with EIO.
//  - fdatasync cost (SetSyncDelay), and counters of syncs.
// What it does not model: a deleted file coming back at a crash, the old content of a file
// replaced by a rename, or reordering of writes within unsynced data (unsynced bytes are lost
// whole, from the synced size on).
//
// Only files written through this env are tracked: files already on disk are left as they are
// by a crash. Thread-safe.
#ifndef DATABRIDGE_STORAGE_FAULT_ENV_H_
#define DATABRIDGE_STORAGE_FAULT_ENV_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "storage/env.h"

namespace dbkv::storage {

class FaultInjectionEnv final : public Env {
 public:
  // base must outlive this env.
  explicit FaultInjectionEnv(Env* base = Env::Default()) : base_(base) {}

  // -- Env.
  Status NewWritableFile(const std::string& path, std::unique_ptr<WritableFile>* f) override;
  Status NewSequentialFile(const std::string& path, std::unique_ptr<SequentialFile>* f) override {
    return base_->NewSequentialFile(path, f);
  }
  Status GetFileSize(const std::string& path, uint64_t* size) override {
    return base_->GetFileSize(path, size);
  }
  Status RenameFile(const std::string& from, const std::string& to) override;
  Status DeleteFile(const std::string& path) override;
  // Truncation is durable at once (as the recovery code that calls it assumes after a sync).
  Status TruncateFile(const std::string& path, uint64_t size) override;
  Status CreateDirIfMissing(const std::string& dir) override {
    return base_->CreateDirIfMissing(dir);
  }
  Status SyncDir(const std::string& dir) override;
  Status GetChildren(const std::string& dir, std::vector<std::string>* names) override {
    return base_->GetChildren(dir, names);
  }
  bool FileExists(const std::string& path) override { return base_->FileExists(path); }
  Status LockFile(const std::string& path) override { return base_->LockFile(path); }

  // -- Faults.

  // The crash: see the file comment. Returns the first error of the base env, if any.
  Status DropUnsyncedData();
  // Whether a crash drops files (and undoes renames) not made durable by SyncDir (default
  // true). With false, only unsynced bytes are lost.
  void SetDropUnsyncedDirEntries(bool drop);

  void SetWriteLimit(uint64_t bytes);
  void ClearWriteLimit();
  // The next Append (to any file) writes only its first keep_bytes, then fails.
  void TearNextWrite(uint64_t keep_bytes);
  // Every Sync takes at least this long (fdatasync is ~0.4 ms on the target machines).
  void SetSyncDelay(std::chrono::microseconds delay);
  // While set, every Sync fails with an I/O error (a failing device: EIO from fdatasync),
  // and the data stays unsynced.
  void SetSyncError(bool fail);

  // Changes one byte of a file in place (XOR with mask).
  Status FlipByte(const std::string& path, uint64_t offset, uint8_t mask = 0x80);

  // -- Observations.
  uint64_t sync_count() const;  // successful Sync() calls on any file
  uint64_t SyncCount(const std::string& path) const;
  uint64_t bytes_appended() const;  // bytes that reached files through Append
  // Bytes of path that a crash would drop now (0 for untracked files).
  uint64_t UnsyncedBytes(const std::string& path) const;
  // The size path would have after a crash.
  uint64_t SyncedSize(const std::string& path) const;

 private:
  class File;
  friend class File;

  struct FileState {
    uint64_t size = 0;    // bytes appended through this env
    uint64_t synced = 0;  // size at the last Sync
    uint64_t syncs = 0;
    uint64_t generation = 0;
    bool new_entry = false;    // created since its directory's last SyncDir
    std::string renamed_from;  // renamed since its directory's last SyncDir: the old name
  };

  // Called by File, with the env's lock taken inside.
  Status Append(const std::string& path, uint64_t generation, WritableFile* base,
                std::string_view data);
  Status Flush(const std::string& path, uint64_t generation);
  Status Sync(const std::string& path, uint64_t generation, WritableFile* base);
  Status Close(const std::string& path, uint64_t generation, WritableFile* base);
  uint64_t Size(const std::string& path, uint64_t generation) const;

  // Requires mu_.
  Status CheckAlive(const std::string& path, uint64_t generation) const;
  bool DiskFull() const { return limited_ && written_since_limit_ >= limit_; }
  static Status NoSpace(const std::string& path);

  Env* const base_;
  mutable std::mutex mu_;
  std::map<std::string, FileState> files_;
  uint64_t next_generation_ = 1;
  bool drop_dir_entries_ = true;
  bool limited_ = false;
  uint64_t limit_ = 0;
  uint64_t written_since_limit_ = 0;
  bool tear_ = false;
  uint64_t tear_keep_ = 0;
  std::chrono::microseconds sync_delay_{0};
  bool sync_error_ = false;
  uint64_t sync_count_ = 0;
  uint64_t bytes_appended_ = 0;
};

// A new, empty directory for one test: $TEST_TMPDIR/<name>-<n> (or /tmp when not under Bazel).
std::string NewTestDir(const std::string& name);

}  // namespace dbkv::storage

#endif  // DATABRIDGE_STORAGE_FAULT_ENV_H_
