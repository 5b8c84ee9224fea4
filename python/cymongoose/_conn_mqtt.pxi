
    # ---- MQTT (docs/api-contract.md#connection); part of `cdef class Connection` ----
    # These write packets on any attached connection (also non-MQTT ones) and
    # never raise for that; a detached connection raises as everywhere.

    def mqtt_pub(self, str topic not None, message, int qos=0, bint retain=False, *, properties=None):
        """Publish; returns the packet id (0 for QoS 0). properties: v5 only,
        a list of {"id", "iv", "key", "val"} dicts. A QoS 1/2 message beyond
        the in-flight limit waits in order; when that queue is full it is
        refused with RuntimeError (never dropped)."""
        cdef uint16_t pid
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
        pid = mg_mqtt_pub(self._c, &o)
        if pid == 0 and qos > 0:
            raise RuntimeError("MQTT publish refused: the connection's queue of messages "
                               "waiting for an in-flight slot is full (or out of memory)")
        return pid

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

    def mqtt_set_connect_timeout(self, milliseconds):
        """Our extension: deadline for CONNECT on an accepted MQTT connection
        (from accept) or for CONNACK on a client (from sending CONNECT);
        default 10000 ms, 0 restores it. Past it: MG_EV_ERROR and close."""
        cdef long long ms = _int_arg(milliseconds, "mqtt_set_connect_timeout",
                                     "milliseconds")
        if not 0 <= ms <= 0xFFFFFFFF:
            raise ValueError("mqtt_set_connect_timeout() argument 'milliseconds' must be "
                             f"0..4294967295, not {ms}")
        self._check()
        if self._c.is_listening or self._c.pfn != mg_mqtt_handler:
            raise ValueError("mqtt_set_connect_timeout() needs an MQTT client or an accepted "
                             "MQTT connection, not a listener or non-MQTT one")
        mg_mqtt_set_connect_timeout(self._c, <uint32_t>ms)

    def mqtt_disconnect(self):
        """Send DISCONNECT (the connection stays open)."""
        self._check()
        mg_mqtt_disconnect(self._c, NULL)
