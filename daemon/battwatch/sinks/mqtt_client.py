"""The paho-mqtt 2.x client every battwatch MQTT user builds: log filter, login, TLS, callbacks."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from battwatch.config import MqttConfig

# paho's callbacks, each taken from the owner's ``_on_<name>`` method when it has one
CALLBACKS = ("connect", "connect_fail", "disconnect", "publish", "message", "subscribe", "unsubscribe", "log")


class _PahoNoise(logging.Filter):
    """Drops paho's per-attempt errors while the broker is away: our own callbacks report
    the lost connection and the failed attempts once, at a sensible level."""

    NOISE = ("Client is not connected", "failed to receive on socket")

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.NOISE)


def prepare_client(client: Any, m: MqttConfig, logger_name: str) -> None:
    """What every battwatch paho client gets: paho's log through a filter that keeps a
    broker outage quiet, and username, password and TLS from ``[mqtt]``."""
    import ssl

    paho_log = logging.getLogger(f"{logger_name}.paho")
    if not any(isinstance(f, _PahoNoise) for f in paho_log.filters):
        paho_log.addFilter(_PahoNoise())
    client.enable_logger(paho_log)

    if m.username:
        client.username_pw_set(m.username, m.password.get_secret_value() if m.password else None)
    if m.tls is not None:
        client.tls_set(
            ca_certs=str(m.tls.ca_file) if m.tls.ca_file else None,
            certfile=str(m.tls.cert_file) if m.tls.cert_file else None,
            keyfile=str(m.tls.key_file) if m.tls.key_file else None,
            cert_reqs=ssl.CERT_REQUIRED,
            tls_version=ssl.PROTOCOL_TLS_CLIENT,
        )
        client.tls_insecure_set(m.tls.insecure)


def paho_client(m: MqttConfig, client_id: str, owner: object, logger_name: str, *, v5: bool = False,
                **options: Any) -> Any:
    """A paho client (callback API 2) for ``[mqtt]``, prepared as above, whose callbacks are
    ``owner``'s ``_on_connect``, ``_on_message`` ... (those it has; see CALLBACKS).

    ``v5``: MQTT 5 (the collector's shared subscriptions and session expiry), else 3.1.1;
    ``options`` go to paho's constructor (``clean_session``, ``manual_ack``). Not connected.
    """
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311, **options)
    prepare_client(client, m, logger_name)
    for name in CALLBACKS:
        handler = getattr(owner, f"_on_{name}", None)
        if handler is not None:
            setattr(client, f"on_{name}", handler)
    return client


def stop_client(client: Any, logger: logging.Logger) -> None:
    """Disconnect and stop paho's thread; a failure is logged, never raised (a shutdown goes on)."""
    try:
        client.disconnect()
        client.loop_stop()
    except Exception:  # noqa: BLE001 - whatever paho raises, the rest of the stop must run
        logger.exception("MQTT disconnect failed")
