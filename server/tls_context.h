// The TLS context of the data port, made from --tls-cert, --tls-key and --tls-ca.
#ifndef DATABRIDGE_SERVER_TLS_CONTEXT_H_
#define DATABRIDGE_SERVER_TLS_CONTEXT_H_

#include <boost/asio/ssl/context.hpp>
#include <memory>

#include "core/status.h"
#include "server/options.h"

namespace dbkv {

// TLS 1.2 or newer, the certificate and key, and with a CA, client certificates required.
// A file that cannot be read, a key that does not match its certificate: InvalidArgument
// naming the flag.
Status MakeTlsContext(const ServerOptions& o, std::unique_ptr<boost::asio::ssl::context>* out);

}  // namespace dbkv

#endif  // DATABRIDGE_SERVER_TLS_CONTEXT_H_
