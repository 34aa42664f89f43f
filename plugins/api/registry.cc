#include "plugins/api/registry.h"

#include "core/ascii.h"

namespace dbkv {

CommandRegistry::CommandRegistry() { by_opcode_.fill(nullptr); }

Status CommandRegistry::Register(CommandSpec spec) {
  if (spec.name.empty() || spec.name.size() > kMaxNameLength) {
    return Status::InvalidArgument("command name must be 1 to 64 characters");
  }
  spec.name = AsciiUpper(spec.name);
  if (by_name_.count(spec.name) != 0) {
    return Status::InvalidArgument("command " + spec.name + " is already registered");
  }
  if (spec.opcode != 0 && opcodes_reserved_) {
    return Status::InvalidArgument(spec.name + ": opcode " + std::to_string(spec.opcode) +
                                   " is reserved for built-in commands; a plugin command has "
                                   "opcode 0 and is called by name");
  }
  if (spec.opcode != 0 && by_opcode_[spec.opcode] != nullptr) {
    return Status::InvalidArgument("opcode " + std::to_string(spec.opcode) + " of " + spec.name +
                                   " is already taken by " + by_opcode_[spec.opcode]->name);
  }
  if (spec.min_args < 0 || (spec.max_args >= 0 && spec.max_args < spec.min_args)) {
    return Status::InvalidArgument(spec.name + ": inconsistent argument counts");
  }
  const bool on_connection = (spec.flags & kCmdConnection) != 0;
  const bool all_shards = (spec.flags & kCmdAllShards) != 0;
  if (on_connection && all_shards) {
    return Status::InvalidArgument(spec.name + ": a command runs on the connection or on shards");
  }
  if (on_connection) {
    if (!spec.connection) return Status::InvalidArgument(spec.name + ": no connection handler");
    if (spec.keys.has_keys())
      return Status::InvalidArgument(spec.name + ": connection commands take no key");
  } else {
    if (!spec.shard) return Status::InvalidArgument(spec.name + ": no shard handler");
    if (!all_shards && !spec.keys.has_keys()) {
      return Status::InvalidArgument(spec.name +
                                     ": a shard command needs a key position or kCmdAllShards");
    }
    Status keys = spec.keys.Validate(spec.name, spec.min_args);
    if (!keys.ok()) return keys;
    if ((all_shards || (spec.keys.multiple() && !(spec.flags & kCmdSingleShard))) && !spec.merge) {
      return Status::InvalidArgument(spec.name + ": a command that spans shards needs a merge");
    }
  }
  spec.id = static_cast<uint32_t>(commands_.size());
  auto owned = std::make_unique<CommandSpec>(std::move(spec));
  const CommandSpec* p = owned.get();
  by_name_.emplace(p->name, p);
  if (p->opcode != 0) by_opcode_[p->opcode] = p;
  commands_.push_back(std::move(owned));
  return Status::OK();
}

Status CommandRegistry::RegisterAll(std::vector<CommandSpec> specs) {
  for (CommandSpec& spec : specs) {
    Status s = Register(std::move(spec));
    if (!s.ok()) return s;
  }
  return Status::OK();
}

const CommandSpec* CommandRegistry::FindByName(std::string_view name) const {
  if (name.empty() || name.size() > kMaxNameLength) return nullptr;
  char buf[kMaxNameLength];
  for (size_t i = 0; i < name.size(); ++i) {
    buf[i] = absl::ascii_toupper(static_cast<unsigned char>(name[i]));
  }
  auto it = by_name_.find(std::string(buf, name.size()));
  return it == by_name_.end() ? nullptr : it->second;
}

}  // namespace dbkv
