// Client connection options and URL parsing.
#ifndef DATABRIDGE_CLIENT_OPTIONS_H_
#define DATABRIDGE_CLIENT_OPTIONS_H_

#include <cstdint>
#include <string>
#include <string_view>

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
// and "databridges://..." (TLS). IPv6 hosts in brackets: "[::1]:7379". The parts found
// overwrite those fields of *out; others are left as they are.
Status ParseUrl(std::string_view url, ClientOptions* out);

}  // namespace dbkv::client

#endif  // DATABRIDGE_CLIENT_OPTIONS_H_
