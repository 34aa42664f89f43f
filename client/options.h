// Client connection options and URL parsing.
#ifndef DATABRIDGE_CLIENT_OPTIONS_H_
#define DATABRIDGE_CLIENT_OPTIONS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace dbkv::client {

struct ClientOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 7379;
  std::string ns;        // namespace chosen at handshake; "" is the default namespace
  std::string password;  // sent with HELLO ... AUTH when non-empty
  bool tls = false;
  // TLS: CA bundle to verify the server with (empty: the system's); a client certificate and
  // key for mutual TLS; the name to verify the certificate against (empty: host).
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string server_name;
  double connect_timeout_s = 5.0;
  // Default deadline of a blocking call, in seconds.
  double timeout_s = 5.0;
};

// Accepts "host:port[/ns]", "host[/ns]" (port 7379), "databridge://[:password@]host:port[/ns]"
// and "databridges://..." (TLS); "kv://" and "kvs://" are aliases. IPv6 hosts in brackets:
// "[::1]:7379". The parts found overwrite those fields of *out; others are left as they are.
//
// An optional query string sets options: "?timeout=2.5&connect_timeout=1&ca_file=/ca.pem".
// Keys (see kUrlQueryKeys): timeout and connect_timeout (seconds, > 0), ca_file, cert_file,
// key_file and server_name (%-escapes decoded; '+' is kept as it is). An unknown key, a key
// given twice, an empty or a bad value is an InvalidArgument error: nothing is dropped silently.
// query_keys, if given, receives the keys the query set, in order.
Status ParseUrl(std::string_view url, ClientOptions* out,
                std::vector<std::string>* query_keys = nullptr);

// The keys a URL's query string may set, comma-separated (for messages and documentation).
extern const char kUrlQueryKeys[];

}  // namespace dbkv::client

#endif  // DATABRIDGE_CLIENT_OPTIONS_H_
