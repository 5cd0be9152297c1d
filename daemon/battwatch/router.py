"""The one router: what the pipeline hands out, given to each sink's typed method."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from battwatch.core.events import Drive, Outbound, Replaced, Rested, Start
from battwatch.core.model import AlertTransition, Reading
from battwatch.core.pipeline import Pipeline

# Each kind of event and the sink method that takes it. A sink has the methods of the kinds
# it writes; the others pass it by (the store keeps no starts, say).
METHODS: dict[type, str] = {
    AlertTransition: "transition",
    Start: "started",
    Rested: "rested",
    Drive: "drove",
    Replaced: "replaced",
}

Call = Callable[..., None]


def direct(sink: Any, what: str, fn: Callable[..., None], *args: Any) -> None:
    fn(*args)


class Router:
    """Hands every reading (with its vehicle state) to the reading sinks, and every event to
    the event sinks' method for its kind, in the order the pipeline gave them.

    ``call(sink, what, fn, *args)`` makes each call (the daemon isolates a failing sink
    there). ``before_event`` runs before each event that some sink takes (the daemon commits
    the store there, so the readings before an alert are durable before it goes out).
    The daemon gives readings to the store only: the network sinks get them at its commit.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        *,
        readings: Sequence[Any] = (),
        events: Sequence[Any] = (),
        call: Call = direct,
        before_event: Callable[[], None] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.call = call
        self.before_event = before_event
        self._readings: list[tuple[Any, Callable[..., None]]] = [(s, s.reading) for s in readings]
        self._events: dict[type, list[tuple[Any, str, Callable[..., None]]]] = {}
        for kind, name in METHODS.items():
            takers = [(s, name, getattr(s, name)) for s in events if callable(getattr(s, name, None))]
            if takers:
                self._events[kind] = takers

    def route(self, outs: Sequence[Outbound]) -> None:
        call = self.call
        for out in outs:
            if type(out) is Reading:
                if self._readings:
                    state = self.pipeline.state
                    for sink, fn in self._readings:
                        call(sink, "reading", fn, out, state)
                continue
            takers = self._events.get(type(out))
            if not takers:
                continue
            if self.before_event is not None:
                self.before_event()
            for sink, name, fn in takers:
                call(sink, name, fn, out)
