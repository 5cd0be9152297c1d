"""A fixed sample of every detection grid of issue 13, through replay, with both battery models.

The whole grids run in ``make bench`` (bench/RESULTS.md); here a handful of each, chosen in
``grids.SAMPLES``, must detect their fault by the grid's deadline, or say nothing above
information about a healthy car, or give the verdict their grid checks.
"""

from __future__ import annotations

import random

import pytest
from grids import build, crossing, sample, trip
from harness import Case, replay, run, run_cli

from battwatch.core.model import Reading
from battwatch.scenarios.usage import HOUR_S


@pytest.mark.parametrize("case", sample(), ids=lambda c: c.label())
def test_sweep_case(case: Case) -> None:
    out = run(case)
    assert out.ok, out.line() + "\n" + "\n".join(map(str, out.transitions))


def test_the_command_gives_what_the_harness_measures(battwatch_bin: str) -> None:
    """The harness replays in process; the installed command must say the same of a case."""
    case = Case("step", (("hour", 4), ("state", "rested"), ("temp_c", -20), ("pack", "nimh4")), "B")
    built = build(case)
    inproc, _ = replay(built.readings, built.config)
    cli = run_cli(case, battwatch_bin)
    assert [(t.battery, t.alert, t.severity, t.state) for t in inproc] == [x[:4] for x in cli]
    assert any(x[1] == "step_drop" for x in cli)  # the case is not empty


def test_crossing_is_taken_from_rested_readings_only() -> None:
    """The truth of the pack grids: a day's rested median under the level, and the next day's."""
    d = trip(86_400.0 * 10 + 9 * HOUR_S, 30.0)
    rows = []
    for i in range(4 * 24 * 6):
        t = 86_400.0 * 10 + i * 600.0
        v = 5.2 if i < 2 * 24 * 6 else 4.6  # below 4 x 1.22 V from day 12 on
        on_charge = d.key_on < t <= d.key_off + 3 * HOUR_S
        rows.append(Reading(t, 12.6, None, None, 4.5 if on_charge else v, None, None, 20.0, 600.0))
    # the 4.5 V on-charge readings of day 10 never count; day 12 and 13 are below the level
    assert crossing(rows, [d], 4, 0.0, 1.22) == 86_400.0 * 13
    assert crossing(rows, [d], 4, 0.0, 1.10) is None


def test_the_second_model_is_another_model() -> None:
    """Model B must differ where the rules lean on the simulator: the 12 V battery's rest after a
    drive, and how a lithium pack is charged."""
    from grids import pack_params, run_plan, steady, weekday_drives

    out = {}
    for m in ("A", "B"):
        case = Case("x", (("fade_h", 18),), m)
        drives = weekday_drives(random.Random(1), [0])
        rs = run_plan(case, drives[-1].key_off + 20 * HOUR_S, drives, steady(15.0, 0.0), fade_h=18.0,
                      pack=pack_params("li-ion1"))
        off = drives[-1].key_off
        rest = {h: next(r.main_v for r in rs if r.t >= off + h * HOUR_S) for h in (8, 20)}
        on_charge = max(r.sos_v for r in rs if drives[-1].crank + 600 < r.t < drives[-1].stop)
        out[m] = (rest[8] - rest[20], on_charge)
    (fall_a, charge_a), (fall_b, charge_b) = out["A"], out["B"]
    assert fall_b >= 0.015 and fall_b > 2 * fall_a  # B's surface charge still fades between 8 and 20 h
    assert charge_a >= 4.14 and charge_b <= 4.11  # A floats the cell at 4.15 V; B charges CC/CV to 4.10 V, then stops


def test_the_second_model_compensates_its_charging_voltage_by_a_law_of_its_own() -> None:
    """The analysis reads the charging voltage after a start as a thermometer: model B must
    raise it in the cold by another law than A's (§2.3, §2.5), or the sweep proves nothing."""
    from battwatch.scenarios.lead_acid import AgmParams, AlternatorParams, MainBattery
    from battwatch.scenarios.second_model import TwoTauAgm

    alt = AlternatorParams()
    a, b = MainBattery(AgmParams()), TwoTauAgm(AgmParams())
    law_a = {t: a.charge_setpoint(alt, t) for t in (-10.0, 5.0, 15.0, 25.0, 35.0)}
    law_b = {t: b.charge_setpoint(alt, t) for t in (-10.0, 5.0, 15.0, 25.0, 35.0)}
    for law in (law_a, law_b):  # both higher in the cold, both at BMW's 14.8 V ceiling in frost
        assert law[-10.0] == 14.8 and law[-10.0] >= law[5.0] >= law[15.0] > law[25.0] >= law[35.0]
    assert law_b[5.0] == 14.8 > law_a[5.0]  # B: full charge below 8 °C; A: 12 mV/°C from 14.5 V
    assert law_b[25.0] < law_a[25.0] and law_b[15.0] - law_b[25.0] > law_a[15.0] - law_a[25.0]
