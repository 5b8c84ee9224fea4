/* Utilities: encodings, hashes, JSON and glob helpers (src/core/util_*.c). */
#ifndef MG_UTIL_H
#define MG_UTIL_H

#include "mg_base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Declarations are added by the utilities work (issue 10). */

#ifdef __cplusplus
}
#endif
#endif /* MG_UTIL_H */
