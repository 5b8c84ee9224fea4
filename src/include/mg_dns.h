/* dns: see src/proto/dns.c. */
#ifndef MG_DNS_H
#define MG_DNS_H

#include "mg_core.h"

#endif /* MG_DNS_H */
