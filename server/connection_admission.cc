// Connection, admission: which command a request names, whether it may run (argument count,
// authentication), and AUTH itself (constant-time comparison, throttled failures). Commands
// that run on the connection run here; the others go to DispatchToShards
// (connection_routing.cc).
#include <spdlog/spdlog.h>

#include "core/ascii.h"
#include "core/clock.h"
#include "protocol/wire_format.h"
#include "server/connection.h"
#include "server/io_loop.h"

namespace dbkv {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

// Compares in time that depends only on the expected length, not on where they differ.
bool ConstantTimeEquals(std::string_view given, std::string_view expected) {
  unsigned char diff = given.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < expected.size(); ++i) {
    const unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    diff |= g ^ static_cast<unsigned char>(expected[i]);
  }
  return diff == 0;
}

}  // namespace

bool Connection::auth_required() const { return !loop_->state()->options.password.empty(); }

bool Connection::Authenticate(std::string_view password) {
  const std::string& expected = loop_->state()->options.password;
  if (expected.empty()) return false;
  authenticated_ = ConstantTimeEquals(password, expected);
  AuthThrottle& throttle = loop_->state()->auth_throttle;
  if (authenticated_) {
    throttle.OnSuccess(peer_);
  } else {
    // Counted, and answered late: each failure in a row from this address (on any of its
    // connections) doubles the delay, up to 4 s, which makes guessing slow without holding
    // anything but this connection.
    loop_->state()->auth_failures.fetch_add(1, std::memory_order_relaxed);
    const int64_t now = WallClockMs();
    const AuthThrottle::Penalty p = throttle.OnFailure(peer_, now);
    hold_output_until_ms_ = now + p.delay_ms;
    spdlog::warn("connection {} from {}: wrong password ({} in a row from that address)", id_,
                 peer_, p.failures);
  }
  return authenticated_;
}

ServerInfo Connection::server_info() const { return loop_->state()->Info(); }

void Connection::Resolve(PendingRequest& r, uint8_t opcode) {
  const CommandRegistry& registry = loop_->state()->registry;
  if (opcode == protocol::kOpByName) {
    std::string_view name = r.argv[0].AsStringView();
    // Clients by name (all of RESP) mostly repeat a command: skip the registry's hash lookup.
    r.cmd = last_by_name_ != nullptr && EqualsIgnoreCase(name, last_by_name_->name)
                ? last_by_name_
                : registry.FindByName(name);
    if (r.cmd != nullptr) {
      last_by_name_ = r.cmd;
      r.metric_id = r.cmd->id;
      r.stored_reply = (r.cmd->flags & kCmdStoredReply) != 0;
    }
    r.arg_offset = 1;
    if (r.cmd == nullptr) {
      r.reply = Reply::Error(Code::kUnknownCommand,
                             "unknown command '" + std::string(name.substr(0, 64)) + "'");
    }
    return;
  }
  r.cmd = registry.FindByOpcode(opcode);
  if (r.cmd != nullptr) {
    r.metric_id = r.cmd->id;
    r.stored_reply = (r.cmd->flags & kCmdStoredReply) != 0;
  }
  if (r.cmd == nullptr) {
    r.reply = Reply::Error(Code::kUnknownCommand, "unknown opcode " + std::to_string(opcode));
  }
}

void Connection::Dispatch(Pipeline& p, uint32_t index) {
  PendingRequest& r = p[index];
  const CommandSpec& cmd = *r.cmd;
  const size_t nargs = r.argv.size() - r.arg_offset;
  if (nargs < static_cast<size_t>(cmd.min_args) ||
      (cmd.max_args >= 0 && nargs > static_cast<size_t>(cmd.max_args))) {
    r.reply = Reply::Error(Code::kInvalidArgument,
                           "wrong number of arguments for '" + AsciiLower(cmd.name) + "' command");
    r.cmd = nullptr;
    return;
  }
  if (!authenticated_ && (cmd.flags & kCmdNoAuth) == 0) {
    r.reply = Reply::Error(Code::kAuth, "Authentication required.");
    r.cmd = nullptr;
    return;
  }
  CommandArgs args(r.argv.data() + r.arg_offset, nargs);
  if (cmd.flags & kCmdConnection) {
    r.reply = cmd.connection(*this, args);
    r.cmd = nullptr;
    return;
  }
  DispatchToShards(p, index, args, CurrentNamespace(p));
}

}  // namespace dbkv
