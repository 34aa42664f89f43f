// Env: the file-system operations persistence uses, behind an interface (as leveldb's Env), so
// that tests can inject faults: data not yet synced lost at a "crash", torn writes, flipped
// bytes, a full disk. PosixEnv is the real one.
#ifndef DATABRIDGE_STORAGE_ENV_H_
#define DATABRIDGE_STORAGE_ENV_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace dbkv::storage {

// A file being written, at its end. Not thread-safe, except SyncWritten (below).
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual Status Append(std::string_view data) = 0;
  // Data appended reaches the OS (no durability promise).
  virtual Status Flush() = 0;
  // Data appended is on stable storage (Flush, then fdatasync).
  virtual Status Sync() = 0;
  // What Flush has written so far is on stable storage (fdatasync alone). The one call that
  // may run on another thread while the owner appends, flushes and syncs (a background syncer):
  // it covers at least what was flushed before it began. Close waits for a running one; after
  // Close it fails. A failed sync is sticky: every later Sync and SyncWritten of this file fails
  // too (the kernel may have dropped the pages it could not write back, and says so only once).
  virtual Status SyncWritten() = 0;
  virtual Status Close() = 0;
  // Bytes in the file, including what is not flushed yet.
  virtual uint64_t Size() const = 0;
};

// A file read from start to end.
class SequentialFile {
 public:
  virtual ~SequentialFile() = default;
  // Reads up to n bytes into scratch; *result points into scratch (empty at the end).
  virtual Status Read(size_t n, std::string_view* result, char* scratch) = 0;
  virtual Status Skip(uint64_t n) = 0;
};

// A file read at any offset; Read may be called from several threads at once.
class RandomAccessFile {
 public:
  virtual ~RandomAccessFile() = default;
  // Reads n bytes at offset into scratch; *result points into scratch. Fewer bytes than n
  // only at the end of the file.
  virtual Status Read(uint64_t offset, size_t n, std::string_view* result, char* scratch) const = 0;
};

class Env {
 public:
  virtual ~Env() = default;
  static Env* Default();

  // Creates (truncating) a file for writing.
  virtual Status NewWritableFile(const std::string& path, std::unique_ptr<WritableFile>* f) = 0;
  virtual Status NewSequentialFile(const std::string& path, std::unique_ptr<SequentialFile>* f) = 0;
  // Not every Env has it (the default says so).
  virtual Status NewRandomAccessFile(const std::string& path,
                                     std::unique_ptr<RandomAccessFile>* f) {
    (void)f;
    return Status::IoError("random access to " + path + " is not supported by this Env");
  }
  virtual Status GetFileSize(const std::string& path, uint64_t* size) = 0;
  virtual Status RenameFile(const std::string& from, const std::string& to) = 0;
  virtual Status DeleteFile(const std::string& path) = 0;
  virtual Status TruncateFile(const std::string& path, uint64_t size) = 0;
  virtual Status CreateDirIfMissing(const std::string& dir) = 0;
  // Makes the directory's entries (creations, renames) durable.
  virtual Status SyncDir(const std::string& dir) = 0;
  // Names (not paths) of the directory's entries.
  virtual Status GetChildren(const std::string& dir, std::vector<std::string>* names) = 0;
  virtual bool FileExists(const std::string& path) = 0;
  // Takes an exclusive lock on path (created if missing) for the life of the process, so that
  // two servers never share a data directory.
  virtual Status LockFile(const std::string& path) = 0;
};

// Reads a whole file.
Status ReadFileToString(Env* env, const std::string& path, std::string* data);

}  // namespace dbkv::storage

#endif  // DATABRIDGE_STORAGE_ENV_H_
