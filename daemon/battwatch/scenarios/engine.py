"""The simulation loop: a plan (drives, climate, batteries, faults) in, window Readings out."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from battwatch.core.model import Reading
from battwatch.scenarios.backup import BackupPack, PackAgeing, PackParams
from battwatch.scenarios.climate import DAY_S, ENGINE_HEAT_C, PARK_TAU_S, RUN_TAU_S, Climate, Weather, relax
from battwatch.scenarios.faults import Artefact, Fault, apply_artefacts
from battwatch.scenarios.lead_acid import (
    AgmParams,
    AlternatorParams,
    MainAgeing,
    MainBattery,
    RunWindow,
    smart_alternator,
    stuck_regulator,
    weak_alternator,
)
from battwatch.scenarios.usage import Drive, State, timeline


@dataclass(frozen=True, slots=True)
class Windowing:
    """How the device cuts time into windows (one frame per window)."""

    park_window_s: float = 600.0  # while the car sleeps
    drive_window_s: float = 60.0  # while awake or running
    adc_rate_hz: float = 10.0  # samples behind each average: one bad sample moves it by 1/n [ENG]
    min_window_s: float = 5.0  # a remainder shorter than this joins the window before it
    # A logger powered from an ignition-switched feed: windows only while the car is awake or
    # running, none while parked, and none that begin within boot_s of key-on: a Pi takes
    # about that long to boot and start the daemon, so a quick start is missed [ENG].
    ignition_only: bool = False
    boot_s: float = 90.0
    resolution_v: float = 0.001  # voltages are reported in steps of this (a coarse ADC: 0.01)
    extremes: bool = True  # False: rows carry the average only (no window minimum and maximum)


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything one scenario run needs; times are Unix seconds."""

    day0: float  # UTC midnight of day 0 of the schedule
    end: float  # end of the last window
    drives: tuple[Drive, ...]
    climate: Climate
    main: AgmParams = field(default_factory=AgmParams)
    alternator: AlternatorParams = field(default_factory=AlternatorParams)
    pack: PackParams = field(default_factory=PackParams)
    main_ageing: MainAgeing | None = None
    pack_ageing: PackAgeing | None = None
    faults: tuple[Fault, ...] = ()
    artefacts: tuple[Artefact, ...] = ()
    windowing: Windowing = field(default_factory=Windowing)
    # The battery physics: the simulator's own models unless a plan names others with the same
    # interface (scenarios/second_model.py, an independent model the detection sweeps run too).
    main_model: Callable[[AgmParams, MainAgeing | None], MainBattery] = MainBattery
    pack_model: Callable[[PackParams, PackAgeing | None], BackupPack] = BackupPack


# In-window spread of the samples around the trend (V) [ENG: a 12-16 bit ADC behind a divider].
ASLEEP_NOISE_V = (0.001, 0.004)
WAKE_DIP_V = (0.01, 0.08)
AWAKE_DIP_V = (0.02, 0.15)  # fuel pump prime, window motors, blower steps
AWAKE_RISE_V = (0.005, 0.03)
SOS_REST_NOISE_V = (0.001, 0.003)
SOS_CHARGE_NOISE_V = (0.003, 0.012)  # charger ripple
TEMP_SENSOR_SD_C = 0.05


def simulate(plan: Plan, start: float, key: str) -> Iterator[Reading]:
    """Readings from the window ending at ``start`` to ``plan.end``; ``key`` seeds the streams."""
    win = plan.windowing
    readings = _windows(plan, start, key)
    if win.resolution_v > 0.001:
        readings = _quantised(readings, win.resolution_v)
    rng = random.Random(f"{key}/artefacts")
    readings = apply_artefacts(readings, plan.artefacts, rng, win.adc_rate_hz)
    if not win.extremes:
        readings = (
            r._replace(main_min_v=None, main_max_v=None, sos_min_v=None, sos_max_v=None) for r in readings
        )
    return readings


def _quantised(readings: Iterator[Reading], step: float) -> Iterator[Reading]:
    """Voltages in steps of ``step`` volts, as a coarse ADC or a logger printing few digits."""

    def q(v: float | None) -> float | None:
        return None if v is None else round(round(v / step) * step, 3)

    for r in readings:
        yield r._replace(main_v=q(r.main_v), main_min_v=q(r.main_min_v), main_max_v=q(r.main_max_v),
                         sos_v=q(r.sos_v), sos_min_v=q(r.sos_min_v), sos_max_v=q(r.sos_max_v))


def _windows(plan: Plan, start: float, key: str) -> Iterator[Reading]:
    win = plan.windowing
    t0 = start - win.park_window_s
    rng = random.Random(f"{key}/physics")
    days = int(math.ceil((plan.end - plan.day0) / DAY_S)) + 1
    weather = Weather(plan.climate, random.Random(f"{key}/weather"), plan.day0, days)
    segments = timeline(plan.drives, t0, plan.end, random.Random(f"{key}/wakeups"))
    bat = plan.main_model(plan.main, plan.main_ageing)
    pack = plan.pack_model(plan.pack, plan.pack_ageing)
    p = plan.main
    alt = plan.alternator
    drains = [f for f in plan.faults if f.kind == "drain"]
    weak = [f for f in plan.faults if f.kind == "weak-alternator"]
    regulators = [f for f in plan.faults if f.kind == "regulator"]
    dumps = [f for f in plan.faults if f.kind == "load-dump"]
    leaks = [f for f in plan.faults if f.kind == "leaky-pack"]
    shorts = sorted(f.start for f in plan.faults if f.kind == "shorted-cell")
    new_packs = sorted(f.start for f in plan.faults if f.kind == "new-pack")
    new_mains = sorted(f.start for f in plan.faults if f.kind == "new-battery")
    failed = sorted(f for d in plan.drives for f in d.failed_cranks)
    restarts = sorted((r, d.restart_stop_s) for d in plan.drives for r in d.restarts)
    ageing = plan.main_ageing is not None or plan.pack_ageing is not None
    gauss, uniform = rng.gauss, rng.uniform
    temp = weather.ambient(t0)
    parked = True
    logger_on = -math.inf  # an ignition-switched logger delivers windows beginning from here
    for seg in segments:
        state = seg.state
        w = win.park_window_s if state == State.ASLEEP else win.drive_window_s
        a = seg.start
        if parked and state == State.AWAKE:
            logger_on = a + win.boot_s  # key-on
        parked = state in (State.ASLEEP, State.WAKE)
        while a < seg.end:
            b = a + w
            if b > seg.end - win.min_window_s:
                b = seg.end
            dt = b - a
            mid = a + 0.5 * dt
            if new_packs and new_packs[0] <= a:
                new_packs.pop(0)
                pack = BackupPack(plan.pack)  # fresh from the shelf: no wear, no ageing
            if new_mains and new_mains[0] <= a:
                new_mains.pop(0)
                bat = MainBattery(plan.main)
            if ageing:
                bat.age_to(mid)
                pack.age_to(mid)
            ambient = weather.ambient(mid)
            t_begin = temp
            if state == State.RUNNING:
                temp = relax(temp, ambient + ENGINE_HEAT_C, dt, RUN_TAU_S)
            else:
                temp = relax(temp, ambient, dt, PARK_TAU_S)
            tc = 0.5 * (t_begin + temp)

            # 12 V channel
            if state == State.RUNNING:
                crank = bat.crank(tc, rng) if a == seg.start else None
                stop_s = 0.0
                v_off = 0.0
                if restarts and restarts[0][0] < b and crank is None:
                    # a stop-start restart: the engine stood for stop_s, then restarts warm
                    r, stop = restarts.pop(0)
                    stop_s = max(0.0, min(stop, r - a))
                    s0, s1 = bat.draw(p.stop_load_a, stop_s, tc, rested=False)
                    v_off = 0.5 * (s0 + s1)
                    crank = bat.crank(tc, rng, "restart")
                braking = bool(restarts) and restarts[0][0] < b + w
                run = _running(bat, alt, tc, ambient, crank is not None, mid, weak, regulators, rng, braking)
                bat.charge(run.current_a, dt - stop_s, tc)
                avg, lo, hi = run.avg, run.lo, run.hi
                if crank is not None:
                    v_min, v_crank, secs = crank
                    secs = min(secs, max(0.0, dt - stop_s))  # 1-s windows (fast mode): the crank fills the window
                    avg = (avg * (dt - secs - stop_s) + v_crank * secs + v_off * stop_s) / dt
                    lo = min(lo, v_min)
                for f in dumps:
                    if a < f.start <= b:
                        hi = max(hi, f.value)
                        avg += 0.5 * (f.value - avg) / dt  # a ~1 s triangular pulse
            else:
                if state == State.ASLEEP:
                    current = p.sleep_current_a + sum(f.value for f in drains if f.active(mid))
                elif state == State.WAKE:
                    current = p.wake_current_a
                else:
                    current = p.awake_current_a
                v0, v1 = bat.draw(current, dt, tc, rested=state == State.ASLEEP)
                if state == State.ASLEEP:
                    avg = 0.5 * (v0 + v1) + gauss(0.0, 0.0005)
                    lo = min(v0, v1) - uniform(*ASLEEP_NOISE_V)
                    hi = max(v0, v1) + uniform(*ASLEEP_NOISE_V)
                else:
                    avg = 0.5 * (v0 + v1) + gauss(0.0, 0.002)
                    lo = min(v0, v1) - uniform(*(WAKE_DIP_V if state == State.WAKE else AWAKE_DIP_V))
                    hi = max(v0, v1) + uniform(*AWAKE_RISE_V)
                    if failed and failed[0] < b and state == State.AWAKE:
                        failed.pop(0)  # a start attempt that does not start the engine
                        v_min, v_crank, secs = bat.crank(tc, rng, "failed")
                        avg = (avg * (dt - secs) + v_crank * secs) / dt
                        lo = min(lo, v_min)

            # SOS channel
            pack.leak_factor = 1.0
            for f in leaks:
                if f.active(mid):
                    pack.leak_factor = f.value
            shorting = bool(shorts) and a < shorts[0] <= b
            if shorts and shorts[0] <= a:
                pack.shorted_cells += 1
                shorts.pop(0)
            supply = state in (State.AWAKE, State.RUNNING)
            s0, s1 = pack.step(dt, tc, supply)
            s_avg = 0.5 * (s0 + s1)
            s_lo, s_hi = min(s0, s1), max(s0, s1)
            if shorting:
                before = (shorts.pop(0) - a) / dt
                pack.shorted_cells += 1
                s2 = pack.pack_v()
                s_avg = before * s_avg + (1.0 - before) * s2
                s_lo = min(s_lo, s2)
            noise = SOS_CHARGE_NOISE_V if pack.charging else SOS_REST_NOISE_V
            s_avg += gauss(0.0, noise[0] * 0.3)
            s_lo -= uniform(*noise)
            s_hi += uniform(*noise)

            temp_read = round(tc + gauss(0.0, TEMP_SENSOR_SD_C), 1)
            if win.ignition_only and (parked or a < logger_on):
                a = b  # the physics ran (and drew the same random numbers); the logger was off
                continue
            avg, s_avg = round(avg, 3), round(s_avg, 3)
            yield Reading(
                t=b,
                main_v=avg,
                main_min_v=min(round(lo, 3), avg),
                main_max_v=max(round(hi, 3), avg),
                sos_v=s_avg,
                sos_min_v=min(round(s_lo, 3), s_avg),
                sos_max_v=max(round(s_hi, 3), s_avg),
                temp_c=temp_read,
                window_s=dt,
            )
            a = b


def _running(
    bat: MainBattery,
    alt: AlternatorParams,
    temp_c: float,
    ambient_c: float,
    post_start: bool,
    t: float,
    weak: list[Fault],
    regulators: list[Fault],
    rng: random.Random,
    braking: bool = False,
) -> RunWindow:
    for f in regulators:
        if f.active(t):
            return stuck_regulator(bat, f.value, temp_c, rng)
    for f in weak:
        if f.active(t):
            return weak_alternator(bat, f.value, temp_c, rng)
    return smart_alternator(bat, alt, temp_c, ambient_c, post_start, rng, braking)
