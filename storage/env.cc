#include "storage/env.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>

namespace dbkv::storage {
namespace {

Status PosixError(const std::string& context, int err) {
  return Status::IoError(context + ": " + std::strerror(err));
}

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixWritableFile() override {
    if (fd_ >= 0) Close().IgnoreError();  // nobody left to tell: callers Close() to know
  }

  Status Append(std::string_view data) override {
    // Small appends are gathered; large ones go straight through.
    if (buf_.size() + data.size() > kBufferSize) {
      Status s = Flush();
      if (!s.ok()) return s;
      if (data.size() > kBufferSize) {
        s = WriteAll(data);
        if (s.ok()) size_ += data.size();
        return s;
      }
    }
    buf_.append(data.data(), data.size());
    size_ += data.size();
    return Status::OK();
  }

  Status Flush() override {
    if (buf_.empty()) return Status::OK();
    Status s = WriteAll(buf_);
    if (s.ok()) {
      buf_.clear();
    } else {
      // Unwritten bytes do not count: the file is what reached the OS.
      size_ -= buf_.size();
      buf_.clear();
    }
    return s;
  }

  Status Sync() override {
    Status s = Flush();
    if (!s.ok()) return s;
    return SyncWritten();
  }

  Status SyncWritten() override {
    std::lock_guard<std::mutex> lock(sync_mu_);
    if (!sync_error_.ok()) return sync_error_;
    if (fd_ < 0) return Status::IoError("fdatasync " + path_ + ": the file is closed");
    if (::fdatasync(fd_) != 0) sync_error_ = PosixError("fdatasync " + path_, errno);
    return sync_error_;
  }

  Status Close() override {
    Status s = Flush();
    std::lock_guard<std::mutex> lock(sync_mu_);  // not while a background sync uses fd_
    if (fd_ >= 0 && ::close(fd_) != 0 && s.ok()) s = PosixError("close " + path_, errno);
    fd_ = -1;
    return s;
  }

  uint64_t Size() const override { return size_; }

 private:
  static constexpr size_t kBufferSize = 64 * 1024;

  Status WriteAll(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return PosixError("write " + path_, errno);
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return Status::OK();
  }

  std::string path_;
  // Written only by Close, under sync_mu_; read by the owner's calls and by SyncWritten (under
  // sync_mu_), which may run on another thread.
  int fd_;
  std::string buf_;
  uint64_t size_ = 0;
  std::mutex sync_mu_;
  Status sync_error_;  // the first failed fdatasync (guarded by sync_mu_)
};

class PosixSequentialFile final : public SequentialFile {
 public:
  PosixSequentialFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixSequentialFile() override { ::close(fd_); }

  Status Read(size_t n, std::string_view* result, char* scratch) override {
    for (;;) {
      const ssize_t r = ::read(fd_, scratch, n);
      if (r < 0) {
        if (errno == EINTR) continue;
        return PosixError("read " + path_, errno);
      }
      *result = std::string_view(scratch, static_cast<size_t>(r));
      return Status::OK();
    }
  }

  Status Skip(uint64_t n) override {
    if (::lseek(fd_, static_cast<off_t>(n), SEEK_CUR) < 0)
      return PosixError("lseek " + path_, errno);
    return Status::OK();
  }

 private:
  std::string path_;
  int fd_;
};

class PosixRandomAccessFile final : public RandomAccessFile {
 public:
  PosixRandomAccessFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixRandomAccessFile() override { ::close(fd_); }

  Status Read(uint64_t offset, size_t n, std::string_view* result, char* scratch) const override {
    size_t got = 0;
    while (got < n) {
      const ssize_t r = ::pread(fd_, scratch + got, n - got, static_cast<off_t>(offset + got));
      if (r < 0) {
        if (errno == EINTR) continue;
        return PosixError("pread " + path_, errno);
      }
      if (r == 0) break;  // end of file
      got += static_cast<size_t>(r);
    }
    *result = std::string_view(scratch, got);
    return Status::OK();
  }

 private:
  std::string path_;
  int fd_;
};

class PosixEnv final : public Env {
 public:
  Status NewRandomAccessFile(const std::string& path,
                             std::unique_ptr<RandomAccessFile>* f) override {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return PosixError("open " + path, errno);
    *f = std::make_unique<PosixRandomAccessFile>(path, fd);
    return Status::OK();
  }

  Status NewWritableFile(const std::string& path, std::unique_ptr<WritableFile>* f) override {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return PosixError("open " + path, errno);
    *f = std::make_unique<PosixWritableFile>(path, fd);
    return Status::OK();
  }

  Status NewSequentialFile(const std::string& path, std::unique_ptr<SequentialFile>* f) override {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return PosixError("open " + path, errno);
    *f = std::make_unique<PosixSequentialFile>(path, fd);
    return Status::OK();
  }

  Status GetFileSize(const std::string& path, uint64_t* size) override {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return PosixError("stat " + path, errno);
    *size = static_cast<uint64_t>(st.st_size);
    return Status::OK();
  }

  Status RenameFile(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return PosixError("rename " + from, errno);
    return Status::OK();
  }

  Status DeleteFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return PosixError("unlink " + path, errno);
    return Status::OK();
  }

  Status TruncateFile(const std::string& path, uint64_t size) override {
    if (::truncate(path.c_str(), static_cast<off_t>(size)) != 0) {
      return PosixError("truncate " + path, errno);
    }
    return Status::OK();
  }

  Status CreateDirIfMissing(const std::string& dir) override {
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
      return PosixError("mkdir " + dir, errno);
    return Status::OK();
  }

  Status SyncDir(const std::string& dir) override {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return PosixError("open " + dir, errno);
    Status s;
    if (::fsync(fd) != 0) s = PosixError("fsync " + dir, errno);
    ::close(fd);
    return s;
  }

  Status GetChildren(const std::string& dir, std::vector<std::string>* names) override {
    names->clear();
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return PosixError("opendir " + dir, errno);
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") names->push_back(std::move(name));
    }
    ::closedir(d);
    return Status::OK();
  }

  bool FileExists(const std::string& path) override { return ::access(path.c_str(), F_OK) == 0; }

  Status LockFile(const std::string& path) override {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return PosixError("open " + path, errno);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      ::close(fd);
      if (err == EWOULDBLOCK) {
        return Status::IoError(path + " is locked: another server uses this data directory");
      }
      return PosixError("flock " + path, err);
    }
    return Status::OK();  // the descriptor stays open (and locked) until the process exits
  }
};

}  // namespace

Env* Env::Default() {
  static PosixEnv* env = new PosixEnv();
  return env;
}

Status ReadFileToString(Env* env, const std::string& path, std::string* data) {
  std::unique_ptr<SequentialFile> f;
  Status s = env->NewSequentialFile(path, &f);
  if (!s.ok()) return s;
  data->clear();
  std::string scratch(1 << 16, '\0');
  for (;;) {
    std::string_view chunk;
    s = f->Read(scratch.size(), &chunk, scratch.data());
    if (!s.ok()) return s;
    if (chunk.empty()) return Status::OK();
    data->append(chunk.data(), chunk.size());
  }
}

}  // namespace dbkv::storage
