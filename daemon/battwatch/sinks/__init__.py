"""Sinks: where readings, alert transitions and health summaries go (store, MQTT, InfluxDB)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Protocol

from battwatch.core.model import AlertTransition, HealthSummary, Reading

if TYPE_CHECKING:
    from battwatch.config import Config


class Sink(Protocol):
    """Called from the main thread only; must never block on the network.

    The router (battwatch.router) also hands a sink the analysis' other events when it has
    the method for them: ``started(Start)``, ``rested(Rested)``, ``drove(Drive)`` and
    ``replaced(Replaced)`` (core/events.py).
    """

    name: str

    def start(self) -> None: ...

    def reading(self, r: Reading, state: str) -> None: ...

    def transition(self, tr: AlertTransition) -> None: ...

    def summary(self, s: HealthSummary) -> None: ...

    def reminder(self, tr: AlertTransition) -> None:
        """A still-active alert due for re-notification (sinks that notify people use it)."""

    def flush(self) -> None: ...

    def close(self, timeout: float = 5.0) -> None: ...

    def status(self) -> dict[str, Any]: ...


# Static registry (import strings, not plugins): a sink is on when its config section exists.
# The heavy client libraries load only when their sink is configured.
SINKS: dict[str, str] = {
    "mqtt": "battwatch.sinks.mqtt:MqttSink",
    "influx": "battwatch.sinks.influx:InfluxSink",
}


def build_sinks(cfg: Config, *, store_dir: Any = None, role: str = "daemon") -> list[Sink]:
    """The network sinks a configuration turns on, in registry order.

    Each sink class takes ``(cfg, store_dir)``: ``store_dir`` is where it keeps its durable
    outbox (the daemon's store directory), so nothing is lost while its server is away.
    ``role="backfill"`` (replay --publish) tells the MQTT sink it is not the car: no last
    will, no online/offline, no takeover of the daemon's client id.
    """
    sinks: list[Sink] = []
    for name, target in SINKS.items():
        if getattr(cfg, name, None) is None:
            continue
        module, _, cls = target.partition(":")
        sink_cls = getattr(importlib.import_module(module), cls)
        options = {"role": role} if name == "mqtt" else {}
        sinks.append(sink_cls(cfg, store_dir if store_dir is not None else cfg.store.path, **options))
    return sinks
