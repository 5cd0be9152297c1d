"""The fault scenarios give the same alerts, in the same order of severities, whatever the seed.

A seed changes the schedule, the weather and the noise, not the story: a shorted cell must be a
critical step drop on every seed, a dying pack must reach critical on every seed. Times move
with the seed, so only kinds, severities and states are compared; the exact days are checked
for seed 0 by test_scenario_replays.py. The analysis runs in-process to keep this quick.
"""

from __future__ import annotations

from typing import Any

import pytest
from expected import EXPECTED, MESSAGES

from battwatch import config, scenarios
from battwatch.core.analysis import build_analyzer
from battwatch.core.model import AlertTransition


def alerts(outs: list[Any]) -> list[AlertTransition]:
    """The alert transitions among what the analysis hands out (its other events aside)."""
    return [o for o in outs if isinstance(o, AlertTransition)]

SEEDS = range(5)

# The fault scenarios of the SOS pack, the sensors and the 12 V drains, and their false-alarm twins.
# (sos-low-voltage-recovery is left out on purpose: how a pack climbs back through the levels,
# straight to clear or via information, depends on the weather of the seed.)
FAULTS = [
    "sos-step-drop", "sos-low-voltage", "sos-self-discharge", "sos-age-overdue", "sos-decline-critical",
    "sensor-loose-wire", "sensor-open-wire", "sensor-stuck", "sensor-stuck-average-only",
    "sensor-stuck-running", "sensor-silent", "sensor-out-of-range", "main-heavy-drain",
    "main-parasitic-drain",
]
TWINS = ["adc-glitches", "sos-long-park-normal", "sos-liion-long-park", "sos-lifepo4-long-park",
         "quiet-park-coarse-adc", "sos-hot-long-park", "main-healthy-week-park", "main-healthy-winter-cranks"]

Seen = tuple[str, str, str, str]


def transitions(name: str, seed: int) -> list[Seen]:
    return [tr[:4] for tr in with_messages(name, seed)]  # type: ignore[misc]


def with_messages(name: str, seed: int) -> list[tuple[str, str, str, str, str]]:
    cfg = config.from_dict(scenarios.scenario_config(name), env={})
    an = build_analyzer(cfg)
    out = []
    last = None
    for r in scenarios.generate(name, seed=seed):
        out.extend(alerts(an.feed(r)))
        last = r
    assert last is not None
    out.extend(alerts(an.tick(last.t)))
    return [(tr.battery, tr.alert, tr.severity, tr.state, tr.message) for tr in out]


def of(seen: list[Seen], key: str) -> list[Seen]:
    battery, alert = key.split(":")
    return [s for s in seen if s[0] == battery and s[1] == alert]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", FAULTS)
def test_fault_scenarios_raise_the_same_alerts_on_every_seed(name: str, seed: int) -> None:
    full = with_messages(name, seed)
    seen: list[Seen] = [x[:4] for x in full]  # type: ignore[misc]
    want = [tuple(e[:4]) for e in EXPECTED[name]]
    for battery, alert, severity, state, words in MESSAGES.get(name, []):
        msgs = [x[4] for x in full if x[:4] == (battery, alert, severity, state)]
        assert any(words in m for m in msgs), (alert, words, msgs)
    meant = scenarios.expected_alerts(name)
    for key in meant:
        # each alert the scenario is about goes through exactly the severities of seed 0
        assert of(seen, key) == of(want, key), (key, seen)  # type: ignore[arg-type]
    others = [s for s in seen if f"{s[0]}:{s[1]}" not in meant]
    # side effects other than information notes are the ones listed for seed 0, in that order
    assert [s for s in others if s[2] != "info"] == [s for s in want if f"{s[0]}:{s[1]}" not in meant
                                                     and s[2] != "info"], seen


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", TWINS)
def test_false_alarm_twins_stay_quiet_on_every_seed(name: str, seed: int) -> None:
    seen = transitions(name, seed)
    assert {s[2] for s in seen} <= {"info"}, seen
