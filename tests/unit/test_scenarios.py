"""The scenario simulator: battery and charging physics, the catalogue and the CSV contract."""

from __future__ import annotations

import csv
import io
import math
import random
import re
import statistics
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from functools import cache
from itertools import islice

import pytest

from battwatch import scenarios
from battwatch.core.csvlog import RowParser, write_csv
from battwatch.core.model import Reading
from battwatch.scenarios.__main__ import main as cli_main
from battwatch.scenarios.backup import LI_ION, LIFEPO4, NIMH, BackupPack, PackParams
from battwatch.scenarios.catalogue import CATALOGUE, DEFAULT_START, WORN
from battwatch.scenarios.engine import Windowing, simulate
from battwatch.scenarios.lead_acid import AGM_OCV_TABLE, AgmParams, MainAgeing, MainBattery
from battwatch.scenarios.usage import Drive

HOUR = 3600.0
DAY = 86_400.0
LONG = {"demo", "long-healthy-year", "main-decline", "main-rested-decline", "sos-decline"}  # > 30k windows each
CSV_ROWS = 5000  # rows of each scenario pushed through the CSV round trip (all of the short ones)

REQUIRED = {
    "main-low-voltage", "main-healthy-week-park", "main-weak-crank", "main-healthy-winter-cranks",
    "main-undercharging", "main-smart-alternator", "main-overvoltage", "main-load-dump-spike",
    "main-parasitic-drain", "main-decline", "long-healthy-year", "sos-low-voltage",
    "sos-long-park-normal", "sos-step-drop", "adc-glitches", "sos-self-discharge", "sos-decline",
    "sensor-loose-wire", "sensor-open-wire", "sensor-stuck", "sensor-silent", "sensor-out-of-range", "demo",
}  # fmt: skip


@cache
def run(name: str, seed: int = 0) -> tuple[Reading, ...]:
    """Each scenario is generated once per test session (an alias shares its original's run)."""
    alias = CATALOGUE[name].alias_of
    if alias is not None:
        return run(alias, seed)
    return tuple(scenarios.generate(name, seed=seed))


def _param(name: str) -> object:
    return pytest.param(name, marks=pytest.mark.slow) if name in LONG else name


def drives(name: str) -> tuple[Drive, ...]:
    return scenarios.plan(name).drives


def between(rs: tuple[Reading, ...], a: float, b: float) -> list[Reading]:
    return [r for r in rs if a < r.t <= b]


def driving(rs: tuple[Reading, ...], d: Drive) -> list[Reading]:
    return between(rs, d.crank, d.stop)


def fresh_battery(soc: float) -> MainBattery:
    return MainBattery(AgmParams(initial_soc=soc))


# -- catalogue and API -------------------------------------------------------------------------


def test_catalogue_names_are_sorted_kebab_case_and_complete() -> None:
    names = scenarios.names()
    assert names == sorted(names)
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", n) for n in names)
    assert REQUIRED <= set(names)


@pytest.mark.parametrize("name", scenarios.names())
def test_describe_says_what_alert_or_which_twin(name: str) -> None:
    text = scenarios.describe(name)
    assert "\n" not in text and len(text) > 60
    if scenarios.expected_alerts(name):
        assert all(a in text for a in scenarios.expected_alerts(name))
    else:
        assert "none: false-alarm twin of " in text


def test_unknown_scenario_is_a_key_error_naming_the_catalogue() -> None:
    with pytest.raises(KeyError, match="main-low-voltage"):
        scenarios.describe("no-such-thing")


@pytest.mark.parametrize("name", scenarios.names())
def test_scenario_config_is_a_valid_battwatch_config(name: str) -> None:
    cfg = scenarios.scenario_config(name)
    assert {"vehicle", "battery"} <= set(cfg) <= {"vehicle", "battery", "analysis"}
    battery = cfg["battery"]
    assert isinstance(battery, dict)
    for part in ("main", "sos"):
        datetime.strptime(battery[part]["installed"], "%Y-%m-%d")
    assert battery["sos"]["chemistry"] in {"nimh", "li-ion", "lifepo4"}
    from battwatch import config

    config.from_dict(cfg, name)  # raises ConfigError on anything the daemon would reject


def test_same_seed_same_readings_other_seed_other_readings() -> None:
    a = list(scenarios.generate("sos-step-drop", seed=7))
    b = list(scenarios.generate("sos-step-drop", seed=7))
    c = list(scenarios.generate("sos-step-drop", seed=8))
    assert a == b
    assert a != c


def test_first_window_ends_at_start_default_2025_01_06() -> None:
    assert DEFAULT_START == datetime(2025, 1, 6, tzinfo=UTC).timestamp()
    assert next(scenarios.generate("main-overvoltage")).t == DEFAULT_START
    later = DEFAULT_START + 7 * DAY + 12.5 * HOUR  # not a midnight: clock-time schedule kept
    rs = list(scenarios.generate("main-overvoltage", start=later))
    assert rs[0].t == later
    assert all(r.t > later for r in rs[1:])


@pytest.mark.parametrize("name", [_param(n) for n in scenarios.names()])
def test_every_scenario_gives_ordered_consistent_windows_that_round_trip_csv(name: str) -> None:
    rs = run(name)
    win = scenarios.plan(name).windowing
    # (an ignition-switched logger starts with the first key-on instead)
    assert rs and (rs[0].t == DEFAULT_START or win.ignition_only)
    prev = -math.inf
    for r in rs:
        assert r.t > prev and 0.0 < r.window_s <= 600.0
        assert r.vehicle is None and r.flags == 0 and r.temp_c is not None
        for avg, lo, hi in ((r.main_v, r.main_min_v, r.main_max_v), (r.sos_v, r.sos_min_v, r.sos_max_v)):
            assert avg is not None
            assert round(avg / win.resolution_v) * win.resolution_v == pytest.approx(avg, abs=1e-9)  # its steps
            if not win.extremes:  # an average-only logger
                assert lo is None and hi is None
                continue
            assert lo is not None and hi is not None
            assert lo <= avg <= hi
            assert round(avg, 3) == avg and round(lo, 3) == lo and round(hi, 3) == hi  # 1 mV
        prev = r.t
    some = rs[:CSV_ROWS]
    buf = io.StringIO()
    assert write_csv(buf, some, "sim") == len(some)
    rows = csv.reader(io.StringIO(buf.getvalue()))
    parser = RowParser(next(rows))
    back = [parser.parse(row) for row in rows]
    for got, want in zip(back, some, strict=True):
        assert got.t == pytest.approx(want.t, abs=1e-3)
        if win.extremes:
            assert got[1:7] == want[1:7]
        else:  # an empty extreme reads as the row's average (the CSV log contract)
            assert got[1:7] == (want.main_v, want.main_v, want.main_v, want.sos_v, want.sos_v, want.sos_v)
        assert got.temp_c == want.temp_c and got.vehicle == "sim"


def test_window_lengths_and_sizes() -> None:
    rs = run("main-smart-alternator")
    lengths = {r.window_s for r in rs}
    assert 600.0 in lengths and 60.0 in lengths
    per_day = len(rs) / 7
    assert 150 <= per_day <= 300


@pytest.mark.slow
def test_a_year_stays_under_100k_windows_and_the_demo_under_60k() -> None:
    assert len(run("long-healthy-year")) <= 100_000
    assert len(run("demo")) <= 60_000


def test_demo_is_the_sos_decline_run() -> None:
    assert list(islice(scenarios.generate("demo"), 3000)) == list(
        islice(scenarios.generate("sos-decline"), 3000)
    )
    assert scenarios.expected_alerts("demo") == scenarios.expected_alerts("sos-decline")


def test_cli_lists_and_writes_a_csv(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["--list"]) == 0
    listed = capsys.readouterr().out.split("\n")
    assert [line.split()[0] for line in listed if line] == scenarios.names()
    out = f"{tmp_path}/x.csv"
    assert cli_main(["main-load-dump-spike", "-o", out, "--seed", "2"]) == 0
    with open(out, encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    parser = RowParser(rows[0])
    parsed = [parser.parse(row) for row in rows[1:]]
    assert len(parsed) == len(list(scenarios.generate("main-load-dump-spike", seed=2)))
    assert {p.vehicle for p in parsed} == {"sim-main-load-dump-spike"}
    assert cli_main(["no-such-scenario"]) == 2


# -- 12 V battery physics ----------------------------------------------------------------------


@pytest.mark.parametrize(("soc", "volts"), AGM_OCV_TABLE)
def test_resting_ocv_follows_the_agm_table_and_3_mv_per_degree(soc: float, volts: float) -> None:
    bat = fresh_battery(soc)
    assert bat.ocv(25.0) == pytest.approx(volts, abs=1e-9)
    assert bat.ocv(5.0) == pytest.approx(volts - 0.060, abs=1e-9)


def test_surface_charge_decays_over_hours_after_key_off() -> None:
    """A reading 1 h after key-off is higher than one 8 h after, by tenths of a volt at most."""
    rs = run("main-healthy-week-park")
    off = drives("main-healthy-week-park")[1].key_off  # Monday evening, then a week parked

    def at(h: float) -> float:
        return next(r.main_v for r in rs if r.t >= off + h * HOUR and r.main_v is not None)

    assert 0.05 < at(1) - at(8) < 0.4
    assert at(8) - at(24) < 0.03  # rested: only the closed-circuit current and temperature left
    bat = fresh_battery(0.85)
    bat.surface_v = 0.3
    bat.draw(0.035, 1 * HOUR, 20.0, rested=True)
    after_1h = bat.surface_v
    bat.draw(0.035, 7 * HOUR, 20.0, rested=True)
    assert after_1h > 0.15 and bat.surface_v < 0.02


def test_crank_dip_is_deeper_when_colder_and_when_older() -> None:
    def v_min(temp_c: float, ageing: MainAgeing | None = None) -> float:
        bat = MainBattery(AgmParams(starter_sd=0.0), ageing)
        bat.age_to(DEFAULT_START)
        bat.q_ah = 0.85 * bat.capacity_ah  # same state of charge, whatever capacity is left
        return bat.crank(temp_c, random.Random(0))[0]

    assert v_min(-10.0) < v_min(0.0) < v_min(20.0)
    assert v_min(0.0, WORN) < v_min(0.0) - 0.5
    assert 9.3 <= v_min(-10.0) <= 10.0  # healthy battery on a -10 °C morning (brief)
    assert 8.3 <= v_min(0.0, WORN) <= 9.0  # worn battery at 0 °C


def test_crank_shows_in_the_window_minimum_not_in_its_mean() -> None:
    rs = run("main-healthy-winter-cranks")
    for d in drives("main-healthy-winter-cranks"):
        first = driving(rs, d)[0]
        assert first.main_min_v is not None and first.main_v is not None
        assert first.main_min_v < 10.5 and first.main_v > 12.5
        assert 9.2 <= first.main_min_v <= 10.3


def test_weak_crank_scenario_stays_under_the_temperature_table() -> None:
    table = [(-12, 8.7), (-7, 8.9), (-1, 9.1), (4, 9.3), (10, 9.4), (17, 9.5), (21, 9.6)]

    def limit(t: float) -> float:
        for (t0, v0), (t1, v1) in zip(table, table[1:], strict=False):
            if t <= t1:
                return v0 if t <= t0 else v0 + (v1 - v0) * (t - t0) / (t1 - t0)
        return 9.6

    rs = run("main-weak-crank")
    firsts = [driving(rs, d)[0] for d in drives("main-weak-crank")]
    assert all(
        f.main_min_v is not None and f.temp_c is not None and f.main_min_v < limit(f.temp_c) for f in firsts
    )
    healthy = [driving(run("main-healthy-winter-cranks"), d)[0] for d in drives("main-healthy-winter-cranks")]
    assert all(
        f.main_min_v is not None and f.temp_c is not None and f.main_min_v > limit(f.temp_c) for f in healthy
    )


def test_a_failed_attempt_is_a_window_of_its_own_with_a_dip_and_no_charging() -> None:
    rs = run("main-failed-start")
    tried = [d for d in drives("main-failed-start") if d.failed_cranks]
    assert len(tried) == 1
    d = tried[0]
    attempt = next(r for r in rs if r.t > d.failed_cranks[0])
    assert attempt.t <= d.crank and attempt.window_s == 60.0
    assert attempt.main_min_v is not None and attempt.main_v is not None and attempt.main_max_v is not None
    assert attempt.main_min_v < attempt.main_v - 2.0  # the starter's dip
    assert attempt.main_max_v < 13.0  # no alternator: the engine did not run
    start = driving(rs, d)[0]
    assert start.main_max_v is not None and start.main_max_v > 14.0  # the second attempt runs and charges


def test_stop_start_restarts_are_warm_shallow_dips_inside_running_windows() -> None:
    rs = run("main-stop-start")
    n = 0
    for d in drives("main-stop-start"):
        assert all(d.crank + 5 * 60 < r < d.stop - 60 for r in d.restarts)
        for r in d.restarts:
            w = next(x for x in rs if x.t > r)
            before = next(x for x in reversed(rs) if x.t <= w.t - w.window_s)
            assert w.window_s == 60.0 and w.main_min_v is not None and w.main_v is not None
            assert 10.5 < w.main_min_v < w.main_v - 1.0  # a restart, shallower than a cold start
            assert before.main_max_v is not None and before.main_max_v > 14.0  # braking charged
            n += 1
    assert n > 100


def test_an_ignition_switched_logger_sees_only_key_on_to_key_off() -> None:
    rs = run("main-ignition-switched")
    ds = drives("main-ignition-switched")
    assert all(any(d.key_on + 90.0 <= r.t - r.window_s and r.t <= d.key_off for d in ds) for r in rs)
    assert all(r.window_s == 60.0 for r in rs)
    missed = [d for d in ds if not any(d.crank < r.t <= d.crank + 60.0 and r.t - r.window_s >= d.crank for r in rs)]
    assert 0 < len(missed) < len(ds)  # quick starts (key-on to crank < 90 s) are not seen
    # the physics ran on while the logger was off: the same windows as the full run
    full = {r.t: r for r in simulate(replace(scenarios.plan("main-ignition-switched"), windowing=Windowing()),
                                     DEFAULT_START, "main-ignition-switched/0")}
    assert all(full[r.t] == r for r in rs)


def drive_stats(name: str, min_minutes: float = 20.0) -> Iterator[tuple[Drive, float, float]]:
    rs = run(name)
    for d in drives(name):
        if d.stop - d.crank >= min_minutes * 60:
            w = driving(rs, d)
            yield d, statistics.fmean(r.main_v or 0.0 for r in w), max(r.main_max_v or 0.0 for r in w)


def test_smart_alternator_drives_average_13_0_to_13_6_with_bursts_above_14() -> None:
    stats = list(drive_stats("main-smart-alternator"))
    assert len(stats) >= 8
    for _, avg, peak in stats:
        assert 13.0 <= avg <= 13.6
        assert 14.0 <= peak < 14.9


def test_failing_alternator_drives_sit_below_12_8_without_bursts() -> None:
    faulty = [
        (avg, peak) for d, avg, peak in drive_stats("main-undercharging") if d.crank > DEFAULT_START + DAY
    ]
    assert faulty
    assert all(12.3 <= avg <= 12.6 and peak < 13.0 for avg, peak in faulty)


def test_regulator_fault_is_sustained_overvoltage_and_the_load_dump_only_a_max() -> None:
    rs = run("main-overvoltage")
    for d in drives("main-overvoltage"):
        means = [r.main_v or 0.0 for r in driving(rs, d)]
        if d.crank > DEFAULT_START + DAY:
            assert all(15.0 < v < 16.0 for v in means)
        else:
            assert max(means) < 14.9
    spiky = [r for r in run("main-load-dump-spike") if (r.main_max_v or 0.0) > 15.0]
    assert len(spiky) == 1
    assert spiky[0].main_v is not None and spiky[0].main_v < 14.9


def rested_main(name: str, day: int, hour: float = 4.0) -> float:
    t = DEFAULT_START + day * DAY + hour * HOUR
    r = next(r for r in run(name) if r.t >= t)
    assert r.window_s == 600.0 and r.main_v is not None  # asleep
    return r.main_v


def test_parasitic_drain_is_several_times_the_healthy_rate() -> None:
    drain_12h = (rested_main("main-parasitic-drain", 1) - rested_main("main-parasitic-drain", 3)) / 4
    healthy_12h = (rested_main("main-healthy-week-park", 1) - rested_main("main-healthy-week-park", 7)) / 12
    assert drain_12h > 0.050
    assert healthy_12h < 0.010
    assert rested_main("main-healthy-week-park", 7) > 12.5


def test_short_trips_run_the_battery_down_below_12_40_then_12_00() -> None:
    assert rested_main("main-low-voltage", 0, 23.5) > 12.40
    assert rested_main("main-low-voltage", 16, 4.0) < 12.00


# -- SOS backup pack ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("chem", "rest_full", "on_charge", "empty"),
    [
        (NIMH, (1.30, 1.38), (1.43, 1.47), 1.00),
        (LI_ION, (4.0, 4.1), (4.1, 4.2), 3.0),
        (LIFEPO4, (3.3, 3.4), (3.55, 3.65), 2.5),
    ],
)
def test_chemistry_curves(
    chem: object, rest_full: tuple[float, float], on_charge: tuple[float, float], empty: float
) -> None:
    from battwatch.scenarios.backup import Chemistry

    assert isinstance(chem, Chemistry)
    rest = [v for _, v in chem.rest_curve]
    assert rest == sorted(rest) and rest[0] == empty
    assert rest_full[0] <= rest[-1] <= rest_full[1]
    assert on_charge[0] <= chem.charge_curve[-1][1] <= on_charge[1]


def test_nimh_plateau_is_flat_between_10_and_80_percent() -> None:
    from battwatch.core.tables import interp

    assert 1.2 <= interp(NIMH.rest_curve, 0.10) and interp(NIMH.rest_curve, 0.80) <= 1.26


def test_nimh_self_discharge_is_about_0_7_percent_a_day_and_faster_when_hot() -> None:
    def lost_in_30_days(temp_c: float) -> float:
        pack = BackupPack(PackParams(initial_soc=1.0))
        for _ in range(30 * 24):
            pack.step(HOUR, temp_c, supply=False)
        return 1.0 - pack.soc

    assert 0.18 <= lost_in_30_days(20.0) <= 0.24  # ~20 %/month (Varta V 450 HR)
    assert lost_in_30_days(30.0) > 1.8 * lost_in_30_days(20.0)


def test_nimh_rested_voltage_follows_the_temperature_lithium_does_not() -> None:
    def rested_at(temp_c: float, p: PackParams) -> float:
        pack = BackupPack(p)
        pack.step(1.0, temp_c, supply=False)  # one second: the charge does not move
        return pack.pack_v()

    nimh = PackParams(initial_soc=0.9)
    assert rested_at(30.0, nimh) - rested_at(-10.0, nimh) == pytest.approx(4 * 0.0005 * 40.0, abs=1e-4)
    lithium = PackParams(chemistry=LI_ION, cells=1, initial_soc=0.9)
    assert rested_at(30.0, lithium) == pytest.approx(rested_at(-10.0, lithium), abs=1e-6)


def test_nimh_pack_on_charge_reads_above_rested() -> None:
    rs = run("sos-long-park-normal")
    d = drives("sos-long-park-normal")[4]
    on_charge = driving(rs, d)[-1].sos_v
    rested = next(r.sos_v for r in rs if r.t >= d.key_off + 3 * HOUR)
    assert on_charge is not None and rested is not None
    assert 1.43 <= on_charge / 4 <= 1.47
    assert 1.30 <= rested / 4 <= 1.38
    assert on_charge > rested + 0.3


def test_shorted_cell_steps_the_pack_down_by_one_cell_between_two_windows() -> None:
    rs = run("sos-step-drop")
    fault = scenarios.plan("sos-step-drop").faults[0].start
    i = next(i for i, r in enumerate(rs) if r.t >= fault)
    before, during, after = rs[i - 1], rs[i], rs[i + 1]
    assert before.sos_v is not None and after.sos_v is not None and during.sos_min_v is not None
    assert 1.2 <= before.sos_v - after.sos_v <= 1.45  # about one NiMH cell, rested
    assert during.sos_min_v <= after.sos_v + 0.01  # the window holding the short shows it in its min


def test_leaky_pack_decays_faster_while_parked_than_before() -> None:
    rs = run("sos-self-discharge")
    fault = scenarios.plan("sos-self-discharge").faults[0].start

    def at_20c(r: Reading) -> float:
        # the night's cooling lowers the rested voltage too: compare the charge, not the temperature
        return (r.sos_v or 0.0) - 4 * NIMH.ocv_temp_coeff_v_per_c * ((r.temp_c or 20.0) - 20.0)

    def night_drop(d: Drive, nxt: Drive) -> float:
        park = between(rs, d.key_off + 3 * HOUR, nxt.key_on - 0.5 * HOUR)
        hours = (park[-1].t - park[0].t) / HOUR
        return (at_20c(park[0]) - at_20c(park[-1])) / hours

    ds = drives("sos-self-discharge")
    rates = [
        (d.key_off, night_drop(d, n))
        for d, n in zip(ds, ds[1:], strict=False)
        if n.key_on - d.key_off > 12 * HOUR
    ]
    before = statistics.median(r for t, r in rates if t < fault)
    after = statistics.median(r for t, r in rates if t > fault)
    assert after > 2.0 * before


def nightly_sos(name: str) -> dict[int, float]:
    """The median pack voltage of each night (03-05 h), brought to 20 °C: the seasons move the
    NiMH rested voltage by 2 mV/°C, which is not wear."""
    nights: dict[int, list[float]] = {}
    k = 4 * NIMH.ocv_temp_coeff_v_per_c
    for r in run(name):
        hour = (r.t % DAY) / HOUR
        if 3.0 <= hour <= 5.0 and r.window_s == 600.0 and r.sos_v is not None and r.temp_c is not None:
            nights.setdefault(int((r.t - DEFAULT_START) // DAY), []).append(r.sos_v - k * (r.temp_c - 20.0))
    return {d: statistics.median(v) for d, v in nights.items()}


@pytest.mark.slow
def test_ageing_lowers_the_rested_pack_voltage_over_months_but_a_healthy_pack_holds() -> None:
    ageing = nightly_sos("sos-decline")
    first = statistics.median(v for d, v in ageing.items() if d < 30)
    last = statistics.median(v for d, v in ageing.items() if d >= 213)
    assert first - last > 0.3
    assert min(ageing.values()) > 4.85  # declines towards, not below, the 1.22 V/cell warning
    healthy = nightly_sos("long-healthy-year")
    assert max(healthy.values()) - statistics.median(healthy.values()) < 0.02


def test_weak_pack_runs_down_past_warning_and_critical_while_parked() -> None:
    rs = run("sos-low-voltage")
    last_off = drives("sos-low-voltage")[-1].key_off
    rested = [r.sos_v / 4 for r in rs if r.t > last_off + 2 * HOUR and r.sos_v is not None]
    assert rested[0] > 1.28
    assert min(rested) < 1.10


# -- sensor and ADC artefacts ------------------------------------------------------------------


def test_glitches_touch_single_windows_and_barely_move_the_average() -> None:
    plan = scenarios.plan("adc-glitches")
    clean = list(simulate(replace(plan, artefacts=()), DEFAULT_START, "adc-glitches/0"))
    glitchy = run("adc-glitches")
    assert len(clean) == len(glitchy)
    changed = [(c, g) for c, g in zip(clean, glitchy, strict=True) if c != g]
    assert len(changed) == 12
    for c, g in changed:
        assert g.t == c.t and g.temp_c == c.temp_c
        assert abs((g.main_v or 0) - (c.main_v or 0)) < 0.025 and abs((g.sos_v or 0) - (c.sos_v or 0)) < 0.025
        before = {c.main_min_v, c.sos_min_v, c.main_max_v, c.sos_max_v}
        extremes = {
            v for v in (g.main_min_v, g.sos_min_v, g.main_max_v, g.sos_max_v) if v is not None
        } - before
        assert len(extremes) == 1 and (extremes == {0.0} or max(extremes) > 6.2)


def test_open_wire_reads_near_zero_from_then_on() -> None:
    start = scenarios.plan("sensor-open-wire").artefacts[0].start
    after = [r for r in run("sensor-open-wire") if r.t > start + 600]
    assert after and all((r.sos_v or 0) < 0.2 and (r.main_v or 0) > 12 for r in after)


def test_stuck_adc_repeats_exact_values_while_the_car_drives() -> None:
    art = scenarios.plan("sensor-stuck").artefacts[0]
    stuck = between(run("sensor-stuck"), art.start + 600, art.end)
    assert (
        len({(r.main_v, r.main_min_v, r.main_max_v, r.sos_v, r.sos_min_v, r.sos_max_v) for r in stuck}) == 1
    )
    assert any(r.window_s == 60.0 for r in stuck)  # the car was awake/driving meanwhile
    assert len({r.temp_c for r in stuck}) > 10  # the temperature sensor is not stuck


def test_silence_is_a_gap_in_time() -> None:
    art = scenarios.plan("sensor-silent").artefacts[0]
    rs = run("sensor-silent")
    assert not between(rs, art.start, art.end)
    gaps = [b.t - a.t for a, b in zip(rs, rs[1:], strict=False)]
    assert max(gaps) >= art.end - art.start


def test_out_of_range_and_loose_wire_values() -> None:
    rs = run("sensor-out-of-range")
    assert any(24.9 < (r.main_v or 0) < 25.1 for r in rs)
    assert any((r.sos_v or 0) < 0 for r in rs)
    loose = [r for r in run("sensor-loose-wire") if (r.main_min_v or 99) < 0.1 or (r.sos_min_v or 99) < 0.1]
    assert 5 <= len(loose) <= 40
    assert all(r.window_s == 60.0 for r in loose)  # during drives: vibration
