#include "server/check_config.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/ssl/context.hpp>
#include <cerrno>
#include <cstring>
#include <memory>

#include "plugins/api/registry.h"
#include "plugins/builtin.h"
#include "server/plugin_loader.h"
#include "server/tls_context.h"

namespace dbkv {
namespace {

// dir is a writable directory, or the nearest existing one above it is (the server creates
// the missing ones at start-up).
Status CheckDataDir(const std::string& dir) {
  std::string path = dir;
  bool exists = true;
  for (;;) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode)) {
        return Status::InvalidArgument("--data-dir " + dir + ": " + path +
                                       " exists and is not a directory");
      }
      if (::access(path.c_str(), W_OK | X_OK) != 0) {
        return Status::InvalidArgument("--data-dir " + dir + ": " +
                                       (exists ? "" : "cannot create it in " + path + ": ") +
                                       std::strerror(errno));
      }
      return Status::OK();
    }
    if (errno != ENOENT && errno != ENOTDIR) {
      return Status::InvalidArgument("--data-dir " + dir + ": " + path + ": " +
                                     std::strerror(errno));
    }
    exists = false;
    const size_t slash = path.find_last_of('/', path.size() > 1 ? path.size() - 2 : 0);
    if (slash == std::string::npos) {
      path = ".";
    } else {
      path = slash == 0 ? "/" : path.substr(0, slash);
    }
  }
}

}  // namespace

Status CheckConfig(const ServerOptions& o, std::string* summary) {
  CommandRegistry registry;
  Status s = RegisterBuiltinFamilies(&registry);
  if (!s.ok()) return Status(s.code(), "registering commands: " + s.message());
  std::string plugins;
  for (const std::string& path : o.plugins) {
    std::string name;
    s = LoadPlugin(path, &registry, &name);
    if (!s.ok()) return s;
    plugins += (plugins.empty() ? "" : ", ") + name;
  }
  if (!o.tls_cert.empty()) {
    std::unique_ptr<boost::asio::ssl::context> tls;
    s = MakeTlsContext(o, &tls);
    if (!s.ok()) return s;
  }
  if (!o.data_dir.empty()) {
    s = CheckDataDir(o.data_dir);
    if (!s.ok()) return s;
  }
  *summary = fmt::format(
      "bind {}{}, http {}, {}, {} commands{}{}, max memory {}", o.bind,
      o.tls_cert.empty() ? "" : (o.tls_ca.empty() ? " (TLS)" : " (mutual TLS)"), o.http_bind,
      o.data_dir.empty() ? std::string("memory only")
                         : fmt::format("data in {} (fsync {})", o.data_dir, o.fsync),
      registry.commands().size(), plugins.empty() ? "" : " with plugins ", plugins,
      o.max_memory == 0 ? std::string("unlimited") : fmt::format("{} bytes", o.max_memory));
  return Status::OK();
}

}  // namespace dbkv
