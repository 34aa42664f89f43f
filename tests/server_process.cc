#include "tests/server_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace dbkv::testing {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int PidfdOpen(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

[[noreturn]] void ExecOrDie(const std::string& path, const std::vector<std::string>& args) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(path.c_str()));
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  execv(path.c_str(), argv.data());
  _exit(127);
}

}  // namespace

std::string MakeTempDir(const std::string& prefix) {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string tmpl = std::string(base != nullptr ? base : "/tmp") + "/" + prefix + "XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  return tmpl;
}

std::string RunfilePath(const std::string& relative) {
  // Bazel runs tests from the runfiles tree of the workspace.
  if (access(relative.c_str(), X_OK) == 0) return relative;
  const char* srcdir = std::getenv("TEST_SRCDIR");
  if (srcdir != nullptr) {
    std::string p = std::string(srcdir) + "/data_bridge_kv/" + relative;
    if (access(p.c_str(), X_OK) == 0) return p;
  }
  std::string p = "bazel-bin/" + relative;
  if (access(p.c_str(), X_OK) == 0) return p;
  throw std::runtime_error("binary not found: " + relative);
}

ServerProcess::ServerProcess(std::vector<std::string> extra_args, uint16_t port) {
  dir_ = MakeTempDir("server");
  log_path_ = dir_ + "/server.log";
  const std::string port_file = dir_ + "/port";
  const std::string binary = RunfilePath("server/data-bridge-kv-server");

  int ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (ino < 0 || inotify_add_watch(ino, dir_.c_str(), IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
    throw std::runtime_error("inotify failed");
  }
  // Both ports chosen by the system, so that tests can run side by side.
  std::vector<std::string> args = {"--bind",      "127.0.0.1:" + std::to_string(port),
                                   "--http-bind", "127.0.0.1:0",
                                   "--port-file", port_file,
                                   "--log-level", "debug"};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    int fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    ExecOrDie(binary, args);
  }
  pidfd_ = PidfdOpen(pid_);

  const int64_t deadline = NowMs() + 30000;
  for (;;) {
    if (access(port_file.c_str(), R_OK) == 0) break;
    const int64_t left = deadline - NowMs();
    if (left <= 0) {
      Kill();
      close(ino);
      throw std::runtime_error("server did not start; log:\n" + Log());
    }
    pollfd fds[2] = {{ino, POLLIN, 0}, {pidfd_, POLLIN, 0}};
    poll(fds, 2, static_cast<int>(left));
    if (fds[1].revents & POLLIN) {
      int status = WaitExit(1000);
      close(ino);
      pid_ = -1;
      throw std::runtime_error("server exited at start-up (status " + std::to_string(status) +
                               "); log:\n" + ReadFile(log_path_));
    }
    char buf[4096];
    while (read(ino, buf, sizeof(buf)) > 0) {
    }
  }
  close(ino);
  // The port file holds the data port, then the HTTP port, one per line.
  std::istringstream ports(ReadFile(port_file));
  int data_port = 0, http_port = 0;
  ports >> data_port >> http_port;
  port_ = static_cast<uint16_t>(data_port);
  http_port_ = static_cast<uint16_t>(http_port);
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) Stop();
  if (pidfd_ >= 0) close(pidfd_);
}

std::string ServerProcess::Log() const { return ReadFile(log_path_); }

int ServerProcess::WaitExit(int timeout_ms) {
  if (pidfd_ >= 0) {
    pollfd fd = {pidfd_, POLLIN, 0};
    if (poll(&fd, 1, timeout_ms) <= 0) return -1;
  }
  int status = 0;
  if (waitpid(pid_, &status, 0) < 0) return -1;
  return status;
}

int ServerProcess::Stop(int timeout_ms) {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = WaitExit(timeout_ms);
  if (status < 0) {
    Kill();
    return -1;
  }
  pid_ = -1;
  return status;
}

void ServerProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

ProgramResult RunProgram(const std::string& path, const std::vector<std::string>& args,
                         const std::string& stdin_data, int timeout_ms) {
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0 ||
      pipe2(err_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  pid_t pid = fork();
  if (pid == 0) {
    dup2(in_pipe[0], 0);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    ExecOrDie(path, args);
  }
  close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  fcntl(in_pipe[1], F_SETFL, O_NONBLOCK);
  ProgramResult result;
  size_t written = 0;
  int in_fd = in_pipe[1];
  if (stdin_data.empty()) {
    close(in_fd);
    in_fd = -1;
  }
  const int64_t deadline = NowMs() + timeout_ms;
  int open_outputs = 2;
  while (open_outputs > 0) {
    const int64_t left = deadline - NowMs();
    if (left <= 0) {
      kill(pid, SIGKILL);
      break;
    }
    pollfd fds[3] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}, {in_fd, POLLOUT, 0}};
    poll(fds, in_fd >= 0 ? 3 : 2, static_cast<int>(left));
    char buf[65536];
    for (int k = 0; k < 2; ++k) {
      if (fds[k].fd < 0 || !(fds[k].revents & (POLLIN | POLLHUP))) continue;
      ssize_t n = read(fds[k].fd, buf, sizeof(buf));
      if (n > 0) {
        (k == 0 ? result.out : result.err).append(buf, static_cast<size_t>(n));
      } else {
        close(fds[k].fd);
        (k == 0 ? out_pipe[0] : err_pipe[0]) = -1;
        --open_outputs;
      }
    }
    if (in_fd >= 0 && (fds[2].revents & (POLLOUT | POLLERR))) {
      ssize_t n = write(in_fd, stdin_data.data() + written, stdin_data.size() - written);
      if (n > 0) written += static_cast<size_t>(n);
      if (n < 0 || written == stdin_data.size()) {
        close(in_fd);
        in_fd = -1;
      }
    }
  }
  if (in_fd >= 0) close(in_fd);
  if (out_pipe[0] >= 0) close(out_pipe[0]);
  if (err_pipe[0] >= 0) close(err_pipe[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace dbkv::testing
