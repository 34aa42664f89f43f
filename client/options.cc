#include "client/options.h"

#include <cctype>

namespace dbkv::client {
namespace {

// Decodes %XX escapes (passwords in URLs).
bool PercentDecode(std::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out->push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size() || !std::isxdigit(static_cast<unsigned char>(in[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(in[i + 2]))) {
      return false;
    }
    out->push_back(static_cast<char>(std::stoi(std::string(in.substr(i + 1, 2)), nullptr, 16)));
    i += 2;
  }
  return true;
}

}  // namespace

Status ParseUrl(std::string_view url, ClientOptions* out) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("invalid URL '" + std::string(url) + "': " + why);
  };
  std::string_view rest = url;
  if (size_t p = rest.find("://"); p != std::string_view::npos) {
    std::string_view scheme = rest.substr(0, p);
    if (scheme == "databridge" || scheme == "kv") {
      out->tls = false;
    } else if (scheme == "databridges" || scheme == "kvs") {
      out->tls = true;
    } else {
      return bad("unknown scheme '" + std::string(scheme) + "' (databridge:// or databridges://)");
    }
    rest = rest.substr(p + 3);
  }
  // Query strings are not used; ignore them.
  if (size_t q = rest.find('?'); q != std::string_view::npos) rest = rest.substr(0, q);
  std::string_view path;
  const size_t slash = rest.find('/');
  if (slash != std::string_view::npos) {
    path = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
  }
  if (size_t at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    // "[user]:password" or "password"
    std::string_view pw = userinfo;
    if (size_t colon = userinfo.find(':'); colon != std::string_view::npos) {
      pw = userinfo.substr(colon + 1);
    }
    if (!PercentDecode(pw, &out->password)) return bad("bad %-escape in the password");
  }
  std::string_view host = rest;
  std::string_view port;
  if (!rest.empty() && rest.front() == '[') {
    size_t close = rest.find(']');
    if (close == std::string_view::npos) return bad("unclosed '['");
    host = rest.substr(1, close - 1);
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("expected ':' after ']'");
      port = after.substr(1);
    }
  } else if (size_t colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  if (host.empty()) return bad("no host");
  out->host = std::string(host);
  if (!port.empty()) {
    unsigned long p = 0;
    for (char c : port) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return bad("port is not a number");
      p = p * 10 + static_cast<unsigned long>(c - '0');
      if (p > 65535) return bad("port out of range");
    }
    if (p == 0) return bad("port 0");
    out->port = static_cast<uint16_t>(p);
  }
  if (slash != std::string_view::npos) {
    std::string ns;
    if (!PercentDecode(path, &ns)) return bad("bad %-escape in the namespace");
    if (ns.size() > 255) return bad("namespace longer than 255 bytes");
    out->ns = ns;
  }
  return Status::OK();
}

}  // namespace dbkv::client
