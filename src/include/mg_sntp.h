/* sntp: see src/proto/sntp.c. */
#ifndef MG_SNTP_H
#define MG_SNTP_H

#include "mg_core.h"

#endif /* MG_SNTP_H */
