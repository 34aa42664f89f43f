// CommandRegistry: every command the server knows, by name and by opcode.
//
// Filled at start-up (built-in families, then --plugin libraries), then read-only: lookups
// from any thread need no lock once the server runs. The binary protocol's opcodes belong to the
// built-in commands: once they are registered (ReserveOpcodes), a command with an opcode is
// refused, so a plugin can never take one that a later built-in command would need.
#ifndef DATABRIDGE_PLUGINS_API_REGISTRY_H_
#define DATABRIDGE_PLUGINS_API_REGISTRY_H_

#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "plugins/api/command.h"

namespace dbkv {

class CommandRegistry {
 public:
  CommandRegistry();
  CommandRegistry(const CommandRegistry&) = delete;
  CommandRegistry& operator=(const CommandRegistry&) = delete;

  // Adds a command. Errors (InvalidArgument): empty or over-long name, a name or opcode that is
  // already registered, an opcode after ReserveOpcodes, inconsistent key positions or arities, a
  // missing handler, a command whose keys may span shards without a merge function.
  Status Register(CommandSpec spec);
  // Adds the commands in order; stops at the first that Register refuses and returns its error
  // (the commands before it stay registered).
  Status RegisterAll(std::vector<CommandSpec> specs);

  // From now on every opcode is reserved for built-in commands: Register refuses a spec whose
  // opcode is not 0 (plugin commands are called by name). RegisterBuiltinFamilies calls it.
  void ReserveOpcodes() { opcodes_reserved_ = true; }
  bool opcodes_reserved() const { return opcodes_reserved_; }

  // Case-insensitive. nullptr if unknown.
  const CommandSpec* FindByName(std::string_view name) const;
  const CommandSpec* FindByOpcode(uint8_t opcode) const { return by_opcode_[opcode]; }

  // Every command, in registration order.
  const std::vector<std::unique_ptr<CommandSpec>>& commands() const { return commands_; }

  static constexpr size_t kMaxNameLength = 64;

 private:
  std::vector<std::unique_ptr<CommandSpec>> commands_;
  std::unordered_map<std::string, const CommandSpec*> by_name_;
  std::array<const CommandSpec*, 256> by_opcode_{};
  bool opcodes_reserved_ = false;
};

}  // namespace dbkv

#endif  // DATABRIDGE_PLUGINS_API_REGISTRY_H_
