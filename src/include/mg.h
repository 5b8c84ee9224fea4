/* cymongoose core: the one header applications include. */
#ifndef MG_H
#define MG_H

#include "mg_config.h"
#include "mg_base.h"
#include "mg_core.h"
#include "mg_util.h"
#include "mg_tls.h"

#if MG_ENABLE_HTTP
#include "mg_http.h"
#endif

#endif /* MG_H */
