// How long the CLI waits for a reply. Like redis-cli, it waits for a blocking command (BLPOP q 0,
// WAIT, LOCK with a timeout) as long as the command itself waits, instead of giving up at -t.
#ifndef DATABRIDGE_TOOLS_CLI_BLOCKING_H_
#define DATABRIDGE_TOOLS_CLI_BLOCKING_H_

#include <string>
#include <string_view>
#include <vector>

namespace dbkv::cli {

// The timeout argument (seconds, as the server reads it) of `command args...` if the command
// blocks: WAIT key timeout; MWAIT, WAITANY, WAITANYV timeout ...; BLPOP, BRPOP ... timeout;
// LOCK name token ttl timeout. nullptr for commands that do not block (and LOCK without a
// timeout, which tries once). command is matched case-insensitively.
const std::string* BlockingTimeoutArg(std::string_view command,
                                      const std::vector<std::string>& args);

// The reply deadline for `command args...` with -t default_s, in seconds; 0 means none.
//  - A command that does not block: default_s.
//  - A blocking command: its own timeout plus default_s (the server answers at its timeout;
//    default_s covers the way back); none for timeout 0 (it waits forever, and so does the
//    CLI, as redis-cli does) or when default_s is 0.
//  - A blocking command whose timeout does not parse: default_s (the server answers it with an
//    error at once).
double ReplyTimeout(std::string_view command, const std::vector<std::string>& args,
                    double default_s);

}  // namespace dbkv::cli

#endif  // DATABRIDGE_TOOLS_CLI_BLOCKING_H_
