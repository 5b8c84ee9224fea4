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
#if MG_ENABLE_WS
#include "mg_ws.h"
#endif
#if MG_ENABLE_MQTT
#include "mg_mqtt.h"
#endif
#if MG_ENABLE_SNTP
#include "mg_sntp.h"
#endif
#if MG_ENABLE_DNS
#include "mg_dns.h"
#endif

#endif /* MG_H */
