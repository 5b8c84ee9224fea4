/* HTTP/1.1 parser and server/client glue (src/proto/http*.c). */
#ifndef MG_HTTP_H
#define MG_HTTP_H

#include "mg_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Declarations are added by the HTTP work (issue 4). */

#ifdef __cplusplus
}
#endif
#endif /* MG_HTTP_H */
