// --check-config: everything start-up would refuse, found without starting.
#ifndef DATABRIDGE_SERVER_CHECK_CONFIG_H_
#define DATABRIDGE_SERVER_CHECK_CONFIG_H_

#include <string>

#include "core/status.h"
#include "server/options.h"

namespace dbkv {

// Checks what the server checks at start-up, short of binding ports and recovering data:
// the built-in commands register; every --plugin loads (ABI, names, opcodes); the TLS files
// make a context (readable, the key matches the certificate, the CA loads); --data-dir is a
// writable directory, or one that can be created. The flags' own values were checked when they
// were parsed (ParseServerOptions). Writes nothing and binds nothing. On success *summary
// says, in one line, what the server would start with.
Status CheckConfig(const ServerOptions& options, std::string* summary);

}  // namespace dbkv

#endif  // DATABRIDGE_SERVER_CHECK_CONFIG_H_
