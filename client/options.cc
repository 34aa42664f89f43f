#include "client/options.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>

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

// A number of seconds > 0 (finite), or false.
bool ParseSeconds(const std::string& text, double* out) {
  if (text.empty() || std::isspace(static_cast<unsigned char>(text[0]))) return false;
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || errno != 0 || !std::isfinite(v) || !(v > 0)) {
    return false;
  }
  *out = v;
  return true;
}

}  // namespace

const char kUrlQueryKeys[] = "timeout, connect_timeout, ca_file, cert_file, key_file, server_name";

namespace {

// Applies "key=value&key=value" to *out. Returns "" or why not.
std::string ApplyQuery(std::string_view query, ClientOptions* out, std::vector<std::string>* keys) {
  std::vector<std::string> seen;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (item.empty()) continue;  // "?a=1&&b=2", a trailing '&'
    const size_t eq = item.find('=');
    std::string key, value;
    if (!PercentDecode(item.substr(0, eq), &key)) return "bad %-escape in a query key";
    if (eq == std::string_view::npos) return "query option '" + key + "' has no value";
    if (!PercentDecode(item.substr(eq + 1), &value)) {
      return "bad %-escape in the value of '" + key + "'";
    }
    for (const std::string& k : seen) {
      if (k == key) return "query option '" + key + "' given twice";
    }
    if (value.empty()) return "query option '" + key + "' has an empty value";
    if (key == "timeout" || key == "connect_timeout") {
      double seconds = 0;
      if (!ParseSeconds(value, &seconds)) {
        return key + " must be a number of seconds > 0, got '" + value + "'";
      }
      (key == "timeout" ? out->timeout_s : out->connect_timeout_s) = seconds;
    } else if (key == "ca_file") {
      out->ca_file = value;
    } else if (key == "cert_file") {
      out->cert_file = value;
    } else if (key == "key_file") {
      out->key_file = value;
    } else if (key == "server_name") {
      out->server_name = value;
    } else {
      return "unknown query option '" + key + "' (known: " + kUrlQueryKeys + ")";
    }
    seen.push_back(key);
  }
  if (keys != nullptr) *keys = std::move(seen);
  return "";
}

}  // namespace

Status ParseUrl(std::string_view url, ClientOptions* out, std::vector<std::string>* query_keys) {
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
  std::string_view query;
  bool has_query = false;
  if (size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
    has_query = true;
  }
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
  if (query_keys != nullptr) query_keys->clear();
  if (has_query) {
    // Applied to a copy, so that a bad query leaves *out as the other parts set it.
    ClientOptions with_query = *out;
    std::string why = ApplyQuery(query, &with_query, query_keys);
    if (!why.empty()) return bad(why);
    *out = std::move(with_query);
  }
  return Status::OK();
}

}  // namespace dbkv::client
