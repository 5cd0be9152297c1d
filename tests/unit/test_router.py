"""The one router: each reading with its vehicle state, and each event to the sink method for its kind."""

from __future__ import annotations

from typing import Any

from battwatch import config
from battwatch.core.analysis import build_analyzer
from battwatch.core.events import Drive, Replaced, Rested, Start
from battwatch.core.model import AlertTransition, Reading
from battwatch.core.pipeline import Pipeline
from battwatch.router import Router

T0 = 1_736_121_600.0


class Everything:
    def __init__(self) -> None:
        self.got: list[tuple[str, Any]] = []

    def reading(self, r: Reading, state: str) -> None:
        self.got.append(("reading", (r.t, state)))

    def transition(self, tr: AlertTransition) -> None:
        self.got.append(("transition", tr))

    def started(self, ev: Start) -> None:
        self.got.append(("started", ev))

    def rested(self, ev: Rested) -> None:
        self.got.append(("rested", ev))

    def drove(self, ev: Drive) -> None:
        self.got.append(("drove", ev))

    def replaced(self, ev: Replaced) -> None:
        self.got.append(("replaced", ev))


class AlertsOnly:
    def __init__(self) -> None:
        self.got: list[AlertTransition] = []

    def transition(self, tr: AlertTransition) -> None:
        self.got.append(tr)


def test_each_kind_goes_to_its_method_in_order_and_a_sink_without_one_is_passed_by() -> None:
    every, alerts = Everything(), AlertsOnly()
    commits: list[int] = []
    router = Router(Pipeline("car"), readings=[every], events=[every, alerts],
                    before_event=lambda: commits.append(len(every.got)))
    tr = AlertTransition(T0 + 2, "car", "main", "low_voltage", "warning", "raised", 11.9, "low")
    start = Start(T0 + 1, "car", 9.6, 12.6, 3.0, 14.1, 5.0, 9.5, False, False, False, "ok")
    rest = Rested(T0 + 3, "car", "sos", 5.2, 7200.0, None)
    drive = Drive(T0 + 4, "car", T0 + 1, 3.0, 14.0, 14.3, True, 14.1)
    mark = Replaced(T0 + 5, "car", "sos", T0, "dealer")
    router.route([Reading(T0, 12.6, 12.5, 12.7, 5.2, 5.2, 5.2), start, tr, rest, drive, mark])
    assert every.got == [("reading", (T0, "")), ("started", start), ("transition", tr), ("rested", rest),
                         ("drove", drive), ("replaced", mark)]
    assert alerts.got == [tr]
    assert commits == [1, 2, 3, 4, 5]  # before each event, after the reading


def test_a_reading_carries_the_analysis_vehicle_state() -> None:
    cfg = config.from_dict({"vehicle": {"id": "car"}}, env={})
    pipeline = Pipeline("car", build_analyzer(cfg))
    sink = Everything()
    router = Router(pipeline, readings=[sink])
    t = T0
    for _ in range(40):  # a parked car: 10-minute windows, no activity
        t += 600.0
        router.route(pipeline.reading(Reading(t, 12.7, 12.699, 12.701, 5.2, 5.199, 5.201, 10.0, 600.0)))
    states = [state for kind, (_, state) in sink.got if kind == "reading"]
    assert states[-1] in ("asleep", "resting") and states[-1] == pipeline.state


def test_the_call_wrapper_makes_every_call() -> None:
    calls: list[str] = []

    def call(sink: Any, what: str, fn: Any, *args: Any) -> None:
        calls.append(what)
        fn(*args)

    sink = Everything()
    Router(Pipeline("car"), readings=[sink], events=[sink], call=call).route(
        [Reading(T0, 12.6, None, None, None, None, None), Rested(T0, "car", "main", 12.6, 1.0, None)])
    assert calls == ["reading", "rested"] and len(sink.got) == 2


def test_a_resting_car_gives_one_rested_event_per_battery_per_hour() -> None:
    cfg = config.from_dict({"vehicle": {"id": "car"}}, env={})
    pipeline = Pipeline("car", build_analyzer(cfg))
    sink = Everything()
    router = Router(pipeline, events=[sink])
    t = T0
    for _ in range(12 * 6):  # twelve hours parked in 10-minute windows
        t += 600.0
        router.route(pipeline.reading(Reading(t, 12.7, 12.699, 12.701, 5.2, 5.199, 5.201, 10.0, 600.0)))
    rested = [ev for kind, ev in sink.got if kind == "rested"]
    for battery in ("main", "sos"):
        hours = [int(ev.t // 3600) for ev in rested if ev.battery == battery]
        assert len(hours) >= 6 and hours == sorted(set(hours))  # one an hour, every hour once rested
        assert hours == list(range(hours[0], hours[0] + len(hours)))
    assert all(ev.v in (12.7, 5.2) and ev.rest_s > 0 for ev in rested)
