#ifndef DATABRIDGE_CORE_VERSION_H_
#define DATABRIDGE_CORE_VERSION_H_

namespace dbkv {

constexpr char kServerName[] = "data-bridge-kv";
constexpr char kVersion[] = "0.1.0";

}  // namespace dbkv

#endif  // DATABRIDGE_CORE_VERSION_H_
