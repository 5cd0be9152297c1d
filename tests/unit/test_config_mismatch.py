"""config_mismatch: readings that cannot belong to the configured battery are said to be a
configuration problem, once, instead of battery alerts; worn and shorted batteries are not one."""

from __future__ import annotations

import itertools
import json
import random
from typing import Any

import pytest

from battwatch import config
from battwatch.core.analysis import build_analyzer
from battwatch.core.analysis.analyzer import BatteryAnalyzer
from battwatch.core.model import AlertTransition, Reading


def alerts(outs: list[Any]) -> list[AlertTransition]:
    """The alert transitions among what the analysis hands out (its other events aside)."""
    return [o for o in outs if isinstance(o, AlertTransition)]

T0 = 1_736_121_600.0  # 2025-01-06 00:00 UTC
H = 3600.0
# what one cell reads resting and on charge, by chemistry (a model of its own, not the rules')
CELL = {"nimh": (1.30, 1.45), "li-ion": (3.85, 4.15), "lifepo4": (3.30, 3.45)}


def make(main: dict[str, Any] | None = None, sos: dict[str, Any] | None = None) -> BatteryAnalyzer:
    raw = {"vehicle": {"id": "car"}, "battery": {"main": main or {}, "sos": sos or {}}}
    an = build_analyzer(config.from_dict(raw, env={}))
    assert isinstance(an, BatteryAnalyzer)
    return an


def day_of(rest: float, charge: float, sos_rest: float, sos_charge: float, t: float,
           rng: random.Random) -> list[Reading]:
    """A parked night (600 s windows) and a 40-min ride (60 s windows) of both channels."""
    out = []
    for _ in range(6 * 22):
        t += 600.0
        v = rest + rng.uniform(-0.01, 0.01)
        s = sos_rest + rng.uniform(-0.005, 0.005)
        out.append(Reading(t, v, v - 0.002, v + 0.002, s, s - 0.002, s + 0.002, 12.0, 600.0))
    for i in range(40):
        t += 60.0
        v = charge + rng.uniform(-0.1, 0.1)
        s = sos_charge if i > 2 else sos_rest
        out.append(Reading(t, v, v - 0.3, v + 0.2, s, s - 0.004, s + 0.004, 14.0, 60.0))
    return out


def run(an: BatteryAnalyzer, days: int, rest: float, charge: float, sos_rest: float, sos_charge: float,
        t: float = T0) -> list[AlertTransition]:
    rng = random.Random(7)
    out: list[AlertTransition] = []
    for _ in range(days):
        readings = day_of(rest, charge, sos_rest, sos_charge, t, rng)
        for r in readings:
            out.extend(alerts(an.feed(r)))
        t = readings[-1].t
    return out


def test_a_6v_battery_on_a_12v_configuration_is_a_configuration_problem() -> None:
    # a motorcycle's 6 V lead-acid battery: rests 6.4 V, the generator charges at ~7.2 V
    an = make(main={"installed": "2015-03-01"})  # ten years old: an age alert at the first reading
    out = run(an, 4, 6.40, 7.20, 5.30, 5.45)
    main = [(tr.alert, tr.severity, tr.state) for tr in out if tr.battery == "main"]
    assert main == [("age", "critical", "raised"), ("config_mismatch", "warning", "raised"),
                    ("age", "critical", "cleared")]  # withdrawn: it is about the configured battery
    mismatch = next(tr for tr in out if tr.alert == "config_mismatch")
    assert mismatch.t - T0 <= 0.75 * H  # half an hour of readings, before any low_voltage could come
    assert "looks like a 6 V battery (3 lead-acid cells)" in mismatch.message
    assert "[adc.calibration.main] gain" in mismatch.message
    withdrawn = [tr for tr in out if tr.alert == "age" and tr.state == "cleared"]
    assert "Withdrawn" in withdrawn[0].message and "config_mismatch" in withdrawn[0].message
    # the SOS pack on the same car is judged as usual: it fits its 4 NiMH cells
    assert not [tr for tr in out if tr.battery == "sos" and tr.alert == "config_mismatch"]
    summary = an.summary(an.last_t or T0).to_json()
    assert summary["main"]["health"] == "unknown"
    # the reason says what the readings look like, as the alert does (issue 13 class 7)
    reason = summary["main"]["health_reason"]
    assert reason.startswith("the readings do not fit the configured battery (config_mismatch): readings of ")
    assert reason.endswith(" V look like a 6 V battery, not a 12 V one"), reason
    assert [a["alert"] for a in summary["main"]["alerts"]] == ["config_mismatch"]
    assert summary["sos"]["health"] == "good"


def test_a_24v_pair_of_batteries_is_a_configuration_problem_not_a_sensor_fault() -> None:
    # two 12 V batteries in series (a truck): 25.4 V at rest, ~28.4 V on charge, above the
    # 20 V a 12 V channel can read: the configuration is wrong, the divider is not
    an = make()
    out = run(an, 3, 25.40, 28.4, 5.30, 5.45)
    main = [(tr.alert, tr.severity, tr.state) for tr in out if tr.battery == "main"]
    assert main == [("config_mismatch", "warning", "raised")]
    mismatch = out[[tr.alert for tr in out].index("config_mismatch")]
    assert "looks like a 24 V battery (12 lead-acid cells)" in mismatch.message
    # a channel confirmed as a 12 V one that then reads 25 V is a sensor's fault
    an = make()
    out = run(an, 1, 12.70, 14.2, 5.30, 5.45)
    out += run(an, 1, 25.40, 28.4, 5.30, 5.45, t=T0 + 86400.0 + 40 * 60.0)
    assert [(tr.alert, tr.state) for tr in out if tr.battery == "main"] == [("sensor_fault", "raised")]


def test_a_12v_battery_with_a_shorted_cell_is_a_battery_verdict_not_a_configuration_problem() -> None:
    # one cell shorted from the start of the log: ~10.5 V at rest, charging at ~12.3 V
    an = make()
    out = run(an, 2, 10.45, 12.3, 5.30, 5.45)
    kinds = {(tr.battery, tr.alert, tr.severity) for tr in out}
    assert ("main", "low_voltage", "critical") in kinds
    assert not any(tr.alert == "config_mismatch" for tr in out)


def test_a_12v_battery_that_dies_is_no_configuration_problem() -> None:
    an = make()
    out = run(an, 2, 12.70, 14.2, 5.30, 5.45)
    out += run(an, 2, 6.2, 6.6, 5.30, 5.45, t=T0 + 2 * 86400.0 + 2 * 40 * 60.0)
    assert not any(tr.alert == "config_mismatch" for tr in out)
    assert any(tr.alert == "low_voltage" and tr.severity == "critical" for tr in out)


PACKS = list(itertools.product(("nimh", "li-ion", "lifepo4"), (1, 2, 3, 4, 6, 8)))


@pytest.mark.parametrize(("conf_chem", "conf_cells", "chem", "cells"),
                         [c + p for c, p in itertools.product(PACKS, PACKS)
                          if random.Random(str(c + p)).random() < 0.12])
def test_sos_packs_of_every_kind_against_every_configuration(conf_chem: str, conf_cells: int, chem: str,
                                                             cells: int) -> None:
    rest, charge = (cells * v for v in CELL[chem])
    an = make(sos={"chemistry": conf_chem, "cells": conf_cells})
    out = run(an, 3, 12.70, 14.2, rest, charge)
    sos = [tr for tr in out if tr.battery == "sos"]
    mismatch = [tr for tr in sos if tr.alert == "config_mismatch"]
    lo, hi = an.fit_sos.lo, an.fit_sos.hi
    if lo <= rest <= hi:
        # the readings can be the configured pack's (itself, or one alike enough)
        assert mismatch == []
        return
    if lo <= charge <= hi:
        # only on charge does it read like the configured pack: raised over the park, and
        # ended for good by the first drive
        assert [tr.state for tr in mismatch] in ([], ["raised", "cleared"])
        return
    if charge > an.sos.max_v:
        return  # beyond the channel's range: a sensor fault, judged there
    assert [(tr.severity, tr.state) for tr in mismatch] == [("warning", "raised")], [t.message for t in sos]
    names = {"nimh": "NiMH", "li-ion": "Li-ion", "lifepo4": "LiFePO4"}
    text = mismatch[0].message
    assert "[battery.sos] chemistry" in text and "[battery.sos] cells" in text
    # what the pack really is, or a look-alike of the same voltage, is named
    assert f"({cells} {names[chem]} cell" in text or "V pack (" in text
    # instead of battery alerts: nothing else about the pack after it
    assert [tr.alert for tr in sos if tr.t > mismatch[0].t] == []


def test_a_1_cell_li_ion_on_the_default_4_cell_nimh_configuration_gets_no_repair_bill() -> None:
    an = make()
    out = run(an, 5, 12.70, 14.2, 3.70, 4.10)
    sos = [tr for tr in out if tr.battery == "sos"]
    assert [(tr.alert, tr.severity, tr.state) for tr in sos] == [("config_mismatch", "warning", "raised")]
    assert "1 Li-ion cell" in sos[0].message and "$" not in sos[0].message


def test_a_worn_pack_of_the_configured_kind_is_never_a_configuration_problem() -> None:
    # a 4-cell NiMH pack that has run down to its critical level, from the first reading
    an = make()
    out = run(an, 3, 12.70, 14.2, 4.45, 4.60)
    assert not any(tr.alert == "config_mismatch" for tr in out)
    assert any(tr.battery == "sos" and tr.alert == "low_voltage" for tr in out)


def test_the_mismatch_ends_when_the_readings_fit_and_survives_a_restart() -> None:
    an = make()
    out = run(an, 1, 6.40, 7.20, 5.30, 5.45)
    assert [tr.alert for tr in out if tr.battery == "main"] == ["config_mismatch"]
    state = json.loads(json.dumps(an.export_state()))
    again = make()
    again.import_state(state)
    assert again.fit_main.active and again.engine.slots[("main", "low_voltage")].muted
    out = run(again, 2, 12.70, 14.2, 5.30, 5.45, t=an.last_t or T0)
    main = [(tr.alert, tr.state) for tr in out if tr.battery == "main"]
    assert main[0] == ("config_mismatch", "cleared")
    assert "fit the configuration again" in next(tr.message for tr in out if tr.alert == "config_mismatch")
    assert not again.engine.slots[("main", "low_voltage")].muted


@pytest.mark.parametrize(("rest", "charge", "cells"), [
    (3.80, 4.15, "1 Li-ion cell"),  # an 18650 cell, one column imported onto the 12 V channel
    (3.30, 3.45, "1 LiFePO4 cell"),
    (5.20, 5.60, "4 NiMH cells"),  # a BMW TCB pack
])
def test_a_backup_pack_in_the_12v_column_is_named_with_the_import_option(rest: float, charge: float,
                                                                         cells: str) -> None:
    """Issue 13 (class 7): a pack's readings on the 12 V channel are no "4 V battery (2 lead-acid
    cells)": they look like an SOS pack on the 12 V column, and the import option moves them."""
    an = make()
    out = run(an, 2, rest, charge, 5.30, 5.45)
    main = [tr for tr in out if tr.battery == "main"]
    assert [(tr.alert, tr.severity, tr.state) for tr in main] == [("config_mismatch", "warning", "raised")]
    m = main[0]
    assert "an SOS backup pack on the 12 V column (" in m.message and cells in m.message, m.message
    assert "lead-acid" not in m.message and "--column sos_v=" in m.message
    assert m.headline is not None and "on the 12 V column" in m.headline and cells in m.headline
    assert m.action is not None and "--column sos_v=" in m.action


def test_a_6v_battery_is_still_a_6v_battery_not_a_pack() -> None:
    """A 6 V lead-acid battery's readings also fit 5 NiMH cells (and 2 Li-ion cells rest where a
    6 V battery charges): the battery wins."""
    an = make()
    out = run(an, 2, 6.40, 7.20, 5.30, 5.45)
    m = next(tr for tr in out if tr.alert == "config_mismatch")
    assert "looks like a 6 V battery (3 lead-acid cells)" in m.message and "SOS" not in m.message


def test_a_battery_that_does_not_fit_tells_no_vehicle_state() -> None:
    """Issue 13 (class 7): a 6 V battery resting 22 h is no car "awake": the states are told by
    a 12 V battery's thresholds, so while the readings do not fit, the state is unknown (in the
    typed summary, and so in status, MQTT and the picture)."""
    from battwatch.core.pipeline import Pipeline

    an = make()
    pipe = Pipeline("car", an)
    states = []
    for r in day_of(6.40, 7.20, 5.30, 5.45, T0, random.Random(3)):
        pipe.reading(r)
        states.append(pipe.state)
    assert set(states) == {"unknown"}, set(states)
    assert an.summary(an.last_t or T0).to_json()["state"] == "unknown"
    # a 12 V battery's states are told from its first reading
    an = make()
    pipe = Pipeline("car", an)
    pipe.reading(day_of(12.6, 14.2, 5.30, 5.45, T0, random.Random(3))[0])
    assert pipe.state != "unknown"
