/* mqtt: see src/proto/mqtt.c. */
#ifndef MG_MQTT_H
#define MG_MQTT_H

#include "mg_core.h"

#endif /* MG_MQTT_H */
