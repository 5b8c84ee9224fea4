# cython: language_level=3, embedsignature=True, binding=True
"""cymongoose._mongoose: Python binding of the cymongoose C networking core."""

include "_core.pxi"
include "_utils.pxi"
include "_http.pxi"
include "_tls.pxi"
include "_ws.pxi"
include "_mqtt.pxi"
include "_dns.pxi"
include "_sntp.pxi"
include "_protocols.pxi"
include "_connection_gen.pxi"
include "_manager.pxi"
include "_stack.pxi"
# Public names of the API contract (docs/api-contract.md#exported-names), minus AsyncManager which lives
# in cymongoose.aio. Names not implemented yet are left out rather than faked.
_PUBLIC_NAMES = (
    "Connection", "HttpMessage", "Manager", "MqttMessage", "Rpc", "RpcReq", "Timer",
    "TlsOpts", "WsMessage",
    "MG_EV_ERROR", "MG_EV_OPEN", "MG_EV_POLL", "MG_EV_RESOLVE", "MG_EV_CONNECT",
    "MG_EV_ACCEPT", "MG_EV_TLS_HS", "MG_EV_READ", "MG_EV_WRITE", "MG_EV_CLOSE",
    "MG_EV_HTTP_HDRS", "MG_EV_HTTP_MSG", "MG_EV_WS_OPEN", "MG_EV_WS_MSG", "MG_EV_WS_CTL",
    "MG_EV_MQTT_CMD", "MG_EV_MQTT_MSG", "MG_EV_MQTT_OPEN", "MG_EV_SNTP_TIME",
    "MG_EV_WAKEUP", "MG_EV_USER",
    "WEBSOCKET_OP_TEXT", "WEBSOCKET_OP_BINARY", "WEBSOCKET_OP_PING", "WEBSOCKET_OP_PONG",
    "MQTT_PROP_TYPE_BYTE", "MQTT_PROP_TYPE_STRING", "MQTT_PROP_TYPE_STRING_PAIR",
    "MQTT_PROP_TYPE_BINARY_DATA", "MQTT_PROP_TYPE_VARIABLE_INT", "MQTT_PROP_TYPE_INT",
    "MQTT_PROP_TYPE_SHORT",
    "base64_decode", "base64_encode", "crc32", "event_name", "hmac_sha256",
    "http_parse_multipart", "http_var", "json_get", "json_get_bool", "json_get_long",
    "json_get_num", "json_get_str", "log_get", "log_set", "match", "md5", "millis",
    "random_bytes", "random_str", "sha1", "sha256", "url_encode", "url_host", "url_is_ssl",
    "url_pass", "url_port", "url_uri", "url_user",
    "MG_LL_NONE", "MG_LL_ERROR", "MG_LL_INFO", "MG_LL_DEBUG", "MG_LL_VERBOSE",
)
__all__ = [_n for _n in _PUBLIC_NAMES if _n in globals()]
