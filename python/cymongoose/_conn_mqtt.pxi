
    # ---- MQTT (API.md 2.2); part of `cdef class Connection` ----
    # These write packets on any attached connection (also non-MQTT ones) and
    # never raise for that; a detached connection raises as everywhere.

    def mqtt_pub(self, str topic not None, message, int qos=0, bint retain=False, *, properties=None):
        """Publish; returns the packet id (0 for QoS 0). properties: v5 only,
        a list of {"id", "iv", "key", "val"} dicts."""
        cdef mg_mqtt_opts o
        cdef bytes t = topic.encode("utf-8")
        cdef bytes m = _to_bytes(message)
        cdef _MqttProps props = _MqttProps()
        self._check()
        if qos < 0 or qos > 2:
            raise ValueError("qos must be 0, 1 or 2")
        props.fill(properties)
        memset(&o, 0, sizeof(o))
        o.topic = _mgstr_of(t)
        o.message = _mgstr_of(m)
        o.qos = <uint8_t>qos
        o.retain = retain
        o.props = props.arr
        o.num_props = props.n
        return mg_mqtt_pub(self._c, &o)

    def mqtt_sub(self, str topic not None, int qos=0):
        """Subscribe to a topic filter (consumes a packet id)."""
        cdef mg_mqtt_opts o
        cdef bytes t = topic.encode("utf-8")
        self._check()
        memset(&o, 0, sizeof(o))
        o.topic = _mgstr_of(t)
        o.qos = <uint8_t>(qos & 3)
        mg_mqtt_sub(self._c, &o)

    def mqtt_unsub(self, str topic not None):
        """Unsubscribe from a topic filter (consumes a packet id)."""
        cdef mg_mqtt_opts o
        cdef bytes t = topic.encode("utf-8")
        self._check()
        memset(&o, 0, sizeof(o))
        o.topic = _mgstr_of(t)
        mg_mqtt_unsub(self._c, &o)

    def mqtt_ping(self):
        """Send PINGREQ."""
        self._check()
        mg_mqtt_ping(self._c)

    def mqtt_pong(self):
        """Send PINGRESP."""
        self._check()
        mg_mqtt_pong(self._c)

    def mqtt_disconnect(self):
        """Send DISCONNECT (the connection stays open)."""
        self._check()
        mg_mqtt_disconnect(self._c, NULL)
