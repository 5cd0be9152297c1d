"""A wall-clock step while the analysis runs must not invent rest, drain or trend evidence."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from battwatch import config, scenarios
from battwatch.app import build_pipeline
from battwatch.core.model import AlertTransition, Reading

START = datetime(2025, 1, 6, tzinfo=UTC).timestamp()


def _run(name: str, jump_at: int | None, delta: float) -> list[AlertTransition]:
    facts = scenarios.scenario_config(name)
    cfg = config.from_dict({"vehicle": {"id": "jump"}, "battery": facts["battery"]})
    pipe = build_pipeline(cfg)
    out: list[AlertTransition] = []
    for i, r in enumerate(scenarios.generate(name, seed=0, start=START)):
        if jump_at is not None and i >= jump_at:
            if i == jump_at:
                pipe.time_jump(r.t + delta, delta)
            r = r._replace(t=r.t + delta)
        out += [o for o in pipe.reading(r) if isinstance(o, AlertTransition)]
    return out


def _shape(trs: list[AlertTransition]) -> list[tuple[str, str, str, str]]:
    return [(t.battery, t.alert, t.severity, t.state) for t in trs]


@pytest.mark.parametrize("delta", [6 * 3600.0, -3 * 3600.0, 400 * 86400.0])
@pytest.mark.parametrize("name", ["main-parasitic-drain", "main-healthy-week-park", "sos-step-drop"])
def test_a_clock_step_mid_park_changes_only_the_labels(name: str, delta: float) -> None:
    plain = _run(name, None, 0.0)
    n = sum(1 for _ in scenarios.generate(name, seed=0, start=START))
    jumped = _run(name, n // 3, delta)
    # the same alerts, the same severities, in the same order: nothing invented, nothing lost;
    # only age is calendar-based, and a clock that was 400 days behind rightly ages the packs
    def judged(trs: list[AlertTransition]) -> list[tuple[str, str, str, str]]:
        return [x for x in _shape(trs) if x[1] != "age"]

    assert judged(jumped) == judged(plain)
    assert not any(t.alert == "sensor_fault" for t in jumped)
    if delta < 86400.0:
        assert _shape(jumped) == _shape(plain)


def test_without_the_jump_notice_a_forward_step_looks_like_a_silent_gap() -> None:
    """Proof the test above can fail: an unannounced 6 h step is read as missing data."""
    name = "main-healthy-week-park"
    facts = scenarios.scenario_config(name)
    cfg = config.from_dict({"vehicle": {"id": "jump"}, "battery": facts["battery"]})
    pipe = build_pipeline(cfg)
    rs: list[Reading] = list(scenarios.generate(name, seed=0, start=START))
    out = []
    for i, r in enumerate(rs):
        if i >= len(rs) // 3:
            r = r._replace(t=r.t + 6 * 3600.0)
        out += [o for o in pipe.reading(r) if isinstance(o, AlertTransition)]
    assert any(t.alert == "sensor_fault" for t in out)
