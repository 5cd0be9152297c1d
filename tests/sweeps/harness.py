"""Detection sweeps: one grid point's readings through `battwatch replay`, measured per rule.

A case is a grid name, its parameters and a battery model ("A": the simulator's own physics,
"B": scenarios/second_model.py). ``grids.build`` turns it into readings, a configuration and
what should happen (``Built``); ``run`` writes the readings as a CSV log and replays it with
``battwatch.replay.replay_file``, the function behind the ``replay`` command, so the log goes
through the CSV parser, the pipeline and the analysis exactly as a user's would. ``run_cli``
does the same through the installed command, to check that the two agree.
"""

from __future__ import annotations

import copy
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from battwatch.core.model import AlertTransition, HealthSummary, Reading

LEVEL = {"info": 1, "warning": 2, "critical": 3}

Params = tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class Case:
    grid: str
    params: Params
    model: str = "A"

    def p(self) -> dict[str, Any]:
        return dict(self.params)

    def label(self) -> str:
        inner = ", ".join(f"{k}={v}" for k, v in self.params)
        return f"{self.grid}[{inner}, model={self.model}]"


@dataclass
class Built:
    """A case made concrete: its log, its configuration and what the analysis must say.

    ``detect``: (battery, alert, least severity) any one of which is the detection; empty for a
    healthy case. ``onset``: when the fault began (delays count from it); ``deadline``: the
    latest time a detection counts. A healthy case fails on any transition above information.
    ``check``: a further judgement on the transitions and the final summary, returning what is
    wrong (empty when right), for the cases whose verdict is not an alert (``unknown``, counts).
    """

    readings: list[Reading]
    config: dict[str, Any]
    detect: tuple[tuple[str, str, str], ...] = ()
    onset: float | None = None
    deadline: float | None = None
    check: Callable[[list[AlertTransition], dict[str, Any]], str] | None = None
    # alerts a healthy case may raise above info without it being a false alarm (none by default)
    tolerated: tuple[tuple[str, str], ...] = ()
    # a configuration problem is the verdict this case asks for (``check`` judges it)
    config_expected: bool = False
    note: str = ""


@dataclass
class Outcome:
    case: Case
    ok: bool
    detected: bool | None  # None: a healthy case (nothing to detect)
    delay_s: float | None  # onset to the first detection
    budget_s: float | None  # onset to the deadline
    false_alarms: list[str] = field(default_factory=list)
    problem: str = ""
    transitions: list[tuple[str, str, str, str, float]] = field(default_factory=list)

    def line(self) -> str:
        d = "-" if self.delay_s is None else f"{self.delay_s / 3600:.2f} h"
        b = "-" if self.budget_s is None else f"{self.budget_s / 3600:.2f} h"
        fa = f" false alarms: {'; '.join(self.false_alarms)}" if self.false_alarms else ""
        pr = f" {self.problem}" if self.problem else ""
        return f"{'ok  ' if self.ok else 'FAIL'} {self.case.label()} delay {d} (deadline {b}){fa}{pr}"


class SummaryCapture:
    """A sink that keeps the last health summary the replay published."""

    name = "capture"

    def __init__(self) -> None:
        self.last: dict[str, Any] = {}

    def start(self) -> None:
        pass

    def reading(self, r: Reading, state: str) -> None:
        pass

    def transition(self, tr: AlertTransition) -> None:
        pass

    def summary(self, s: HealthSummary) -> None:
        self.last = s.data.to_json()  # the checks read its JSON form

    def reminder(self, tr: AlertTransition) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self, timeout: float = 5.0) -> None:
        pass

    def status(self) -> dict[str, Any]:
        return {}


def write_log(path: Path, readings: Iterable[Reading], vehicle: str = "sweep") -> int:
    from battwatch.core.csvlog import write_csv

    with path.open("w", newline="", encoding="utf-8") as fh:
        return write_csv(fh, readings, vehicle)


def replay(readings: Sequence[Reading], config: dict[str, Any], *, want_summary: bool = False
           ) -> tuple[list[AlertTransition], dict[str, Any]]:
    """The transitions (and the last published summary) of ``battwatch replay`` on these readings."""
    from battwatch import config as config_mod
    from battwatch.replay import replay_file

    cfg = config_mod.from_dict(copy.deepcopy(config))  # as the TOML file of run_cli gives it
    cap = SummaryCapture()
    with tempfile.TemporaryDirectory(prefix="battwatch-sweep-") as d:
        log = Path(d) / "case.csv"
        write_log(log, readings, cfg.vehicle.id)
        res = replay_file(log, cfg, sinks=[cap] if want_summary else None)
    assert res.skipped == 0, f"{res.skipped} rows skipped"
    return res.transitions, cap.last


def judge(case: Case, built: Built, transitions: list[AlertTransition], summary: dict[str, Any]) -> Outcome:
    trs = [(t.battery, t.alert, t.severity, t.state, t.t) for t in transitions]
    raised = [t for t in transitions if t.state == "raised"]
    tolerated = set(built.tolerated)
    problem = ""
    if not built.detect:
        false = [f"{t.battery}/{t.alert} {t.severity} at +{_rel(t.t, built):.1f} h"
                 for t in raised if LEVEL[t.severity] >= 2 and (t.battery, t.alert) not in tolerated
                 and not (built.config_expected and is_config_alert(t.alert))]
        if built.check is not None:
            problem = built.check(transitions, summary)
        return Outcome(case, not false and not problem, None, None, None, false, problem, trs)
    hits = [t for t in raised if any((t.battery, t.alert) == (b, a) and LEVEL[t.severity] >= LEVEL[s]
                                    for b, a, s in built.detect)]
    first = hits[0] if hits else None
    onset = built.onset if built.onset is not None else built.readings[0].t
    delay = None if first is None else first.t - onset
    budget = None if built.deadline is None else built.deadline - onset
    on_time = first is not None and (built.deadline is None or first.t <= built.deadline)
    if first is None:
        problem = "not detected; raised: " + (", ".join(
            f"{t.battery}/{t.alert} {t.severity} at +{_rel(t.t, built):.1f} h" for t in raised) or "nothing")
    elif not on_time:
        problem = f"late by {(first.t - (built.deadline or first.t)) / 3600:.2f} h"
    if built.check is not None:
        extra = built.check(transitions, summary)
        problem = "; ".join(x for x in (problem, extra) if x)
    return Outcome(case, on_time and not problem, first is not None, delay, budget, [], problem, trs)


def is_config_alert(alert: str) -> bool:
    """A configuration problem (the data cannot belong to the configured batteries), by name."""
    return "config" in alert or "mismatch" in alert


def _rel(t: float, built: Built) -> float:
    ref = built.onset if built.onset is not None else built.readings[0].t
    return (t - ref) / 3600.0


def run(case: Case) -> Outcome:
    from grids import build

    built = build(case)
    try:
        transitions, summary = replay(built.readings, built.config, want_summary=built.check is not None)
    except Exception as e:  # noqa: BLE001  (a crash in a case is a result, not the end of the sweep)
        return Outcome(case, False, None, None, None, [], f"replay failed: {type(e).__name__}: {e}")
    return judge(case, built, transitions, summary)


def run_cli(case: Case, battwatch_bin: str | None = None) -> list[tuple[str, str, str, str, str]]:
    """The same case through the installed ``battwatch replay --jsonl`` command."""
    from grids import build, toml_text

    built = build(case)
    exe = battwatch_bin or str(Path(sys.executable).parent / "battwatch")
    with tempfile.TemporaryDirectory(prefix="battwatch-sweep-") as d:
        log = Path(d) / "case.csv"
        write_log(log, built.readings, built.config["vehicle"]["id"])
        cfg = Path(d) / "case.toml"
        cfg.write_text(toml_text(built.config))
        done = subprocess.run([exe, "replay", str(log), "-c", str(cfg), "--jsonl"], check=True,
                              capture_output=True, text=True, timeout=600, env=os.environ.copy())
    out = [json.loads(x) for x in done.stdout.splitlines() if x.strip()]
    return [(d["battery"], d["alert"], d["severity"], d["state"], d["time"]) for d in out]


def run_all(cases: Sequence[Case], workers: int = 1, progress: Callable[[Outcome], None] | None = None
            ) -> list[Outcome]:
    if workers <= 1:
        out = []
        for c in cases:
            o = run(c)
            if progress is not None:
                progress(o)
            out.append(o)
        return out
    from multiprocessing import get_context

    with get_context("fork").Pool(workers) as pool:
        out = []
        for o in pool.imap(run, cases, chunksize=1):
            if progress is not None:
                progress(o)
            out.append(o)
        return out


@dataclass
class Row:
    """One line of the benchmark table: a rule over its grid."""

    rule: str
    cases: int
    detected: int | None
    on_time: int | None
    median_h: float | None
    worst_h: float | None
    healthy: int
    false_alarms: int
    failing: list[Outcome]


def table_row(rule: str, outcomes: Sequence[Outcome]) -> Row:
    faulty = [o for o in outcomes if o.detected is not None]
    healthy = [o for o in outcomes if o.detected is None]
    delays = [o.delay_s / 3600.0 for o in faulty if o.delay_s is not None]
    return Row(
        rule=rule,
        cases=len(outcomes),
        detected=sum(1 for o in faulty if o.detected) if faulty else None,
        on_time=sum(1 for o in faulty if o.ok) if faulty else None,
        median_h=statistics.median(delays) if delays else None,
        worst_h=max(delays) if delays else None,
        healthy=len(healthy),
        false_alarms=sum(1 for o in healthy if not o.ok),
        failing=[o for o in outcomes if not o.ok],
    )
