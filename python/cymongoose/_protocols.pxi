# Protocol glue between the dispatcher and the protocol views: which Python
# object a protocol event carries, and how it is invalidated afterwards.
# Protocols register here as they land (HTTP, WebSocket, MQTT).

cdef object _protocol_event_data(int ev, void *ev_data):
    if ev == 10 or ev == 11 or ev == 12:  # HTTP_HDRS, HTTP_MSG, WS_OPEN
        return _http_message_new(<mg_http_message *>ev_data)
    if ev == 13:  # WS_MSG (WS_CTL carries None, docs/api-contract.md#events)
        return _ws_message_new(<mg_ws_message *>ev_data)
    if ev == 15 or ev == 16:  # MQTT_CMD, MQTT_MSG
        return _mqtt_message_new(<mg_mqtt_message *>ev_data)
    return None


cdef void _invalidate_event_data(int ev, object data) noexcept:
    if type(data) is HttpMessage:
        (<HttpMessage>data)._invalidate()
    elif type(data) is WsMessage:
        (<WsMessage>data)._invalidate()
    elif type(data) is MqttMessage:
        (<MqttMessage>data)._invalidate()
