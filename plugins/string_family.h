// The string family: APPEND, STRLEN, GETRANGE (SUBSTR), SETRANGE, GETEX, SETBIT, GETBIT,
// BITCOUNT, with Redis's semantics.
//
// They work on a key's text as Redis sees it: a string or bytes value as it is, a number as
// RESP shows it (the int 10 is "10"), a typed null as "". A list or a map is a WRONGTYPE
// error. A value they write keeps its type when it was text (string or bytes); a number
// becomes the text it was shown as, typed as the argument that changed it (bytes from RESP).
// SETBIT always leaves bytes: the bits it sets need not be UTF-8.
#ifndef DATABRIDGE_PLUGINS_STRING_FAMILY_H_
#define DATABRIDGE_PLUGINS_STRING_FAMILY_H_

#include "core/status.h"
#include "plugins/api/registry.h"

namespace dbkv {

Status RegisterStringFamily(CommandRegistry* registry);

}  // namespace dbkv

#endif  // DATABRIDGE_PLUGINS_STRING_FAMILY_H_
