// ServerProcess: runs the real data-bridge-kv-server binary for a test, on a free port.
//
// The server binds port 0 and reports the port it got through --port-file; the harness waits
// for that file with inotify (no sleeps), and stops the server with SIGTERM on destruction,
// checking that it exits 0. The server's log goes to a file in the test's temp directory.
#ifndef DATABRIDGE_TESTS_SERVER_PROCESS_H_
#define DATABRIDGE_TESTS_SERVER_PROCESS_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace dbkv::testing {

// A fresh directory under $TEST_TMPDIR (or /tmp), removed by nobody: Bazel cleans it.
std::string MakeTempDir(const std::string& prefix);

// Path of a binary built by Bazel, e.g. "server/data-bridge-kv-server", from the test's
// runfiles.
std::string RunfilePath(const std::string& relative);

class ServerProcess {
 public:
  // Starts the server with extra flags; fails the test (throws) if it does not come up. With a
  // port, binds that one (to restart a server where a client expects it) instead of any.
  explicit ServerProcess(std::vector<std::string> extra_args = {}, uint16_t port = 0);
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  uint16_t port() const { return port_; }
  // The HTTP endpoints' port (/metrics, /health, /ready).
  uint16_t http_port() const { return http_port_; }
  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return log_path_; }
  std::string Log() const;

  // Sends SIGTERM and waits (up to timeout_ms) for exit. Returns the exit status as from
  // waitpid, or -1 on timeout (the process is then killed).
  int Stop(int timeout_ms = 20000);
  // SIGKILL, no questions asked.
  void Kill();
  bool running() const { return pid_ > 0; }

 private:
  int WaitExit(int timeout_ms);

  pid_t pid_ = -1;
  int pidfd_ = -1;
  uint16_t port_ = 0;
  uint16_t http_port_ = 0;
  std::string dir_;
  std::string log_path_;
};

// Runs a program to completion, returns its exit code and stdout (stderr appended after a
// "--stderr--" line if non-empty). stdin_data is fed to its stdin.
struct ProgramResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
ProgramResult RunProgram(const std::string& path, const std::vector<std::string>& args,
                         const std::string& stdin_data = "", int timeout_ms = 30000);

}  // namespace dbkv::testing

#endif  // DATABRIDGE_TESTS_SERVER_PROCESS_H_
