"""The typed health summary of a vehicle and its one versioned JSON form (pure)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from battwatch.core.model import Health
from battwatch.core.record import Record, field, field_names, record, replace
from battwatch.core.timefmt import iso_utc

# The JSON form's version. 1: summaries stored before the form had a version (the same keys,
# some missing); 2: this form. A newer version is refused with what it is, not misread.
SUMMARY_VERSION: Final = 2
BATTERIES: Final = ("main", "sos")


class SummaryError(ValueError):
    """A stored or received summary that cannot be read, with where (key path) and why."""


@record
class ActiveAlert(Record):
    """An alert active now: its current words (the latest supporting verdict, refreshed at
    most hourly), not necessarily those of the transition that raised it."""

    alert: str
    severity: str
    since: float  # when it was raised (at raised_severity)
    severity_since: float  # when it reached the severity it has now
    raised_severity: str
    value: float | None = None
    message: str = ""
    message_at: float | None = None
    flapping: bool = False


@record
class Remaining(Record):
    """Remaining life in years, what it rests on (age, trend or alert) and the same in words."""

    years: float | None = None
    basis: str | None = None
    alert: str | None = None  # the alert it rests on, with basis "alert"
    text: str | None = None
    overdue_years: float | None = None  # past the end of the replacement window by this much
    by_age_years: float | None = None
    by_trend_years: float | None = None


@record
class Trend(Record):
    """The rested-voltage trend (both batteries) and what it projects (the pack).

    ``limit``: what the 12 V trend's remaining life runs towards; ``in_sight``: falling
    steeply enough to matter and towards a level reached within the horizon.
    """

    v_per_day: float | None = None
    significant: bool | None = None
    n_days: int | None = None
    limit: str | None = None
    crank_dip_ratio: float | None = None
    in_sight: bool | None = None
    warning_date: str | None = None
    end_date: str | None = None
    short_term: bool | None = None


@record
class Start(Record):
    """The last judged engine start: its lowest voltage, when, and at what temperature."""

    min_v: float
    at: float | None = None
    temp_c: float | None = None


@record
class Fault(Record):
    """The channel's active sensor fault: its kind, when it was raised, and its first sign
    (readings from then on are not the battery's)."""

    kind: str
    since: float | None = None
    first_sign: float | None = None


@record
class SelfDischarge(Record):
    """The pack's self-discharge: the last park's rate and the baseline in force for it; while
    the alert is active, the park it judged and the baseline it judged against."""

    last_mv_per_day: float | None = None
    baseline_mv_per_day: float | None = None
    baseline_learned: bool | None = None  # False: the chemistry's healthy rate, being higher
    last_pct_per_day: float | None = None
    baseline_pct_per_day: float | None = None
    healthy_pct_per_day: float | None = None
    alert_mv_per_day: float | None = None
    alert_baseline_mv_per_day: float | None = None
    alert_pct_per_day: float | None = None
    alert_baseline_learned: bool | None = None
    alert_baseline_pct_per_day: float | None = None


@record
class GoodRested(Record):
    """A rested reading known to be the battery's (before a sensor fault's first sign)."""

    voltage: float
    at: float
    soc_pct: int | None


@record
class BatterySummary(Record):
    """What the analysis knows of one battery now. Age is None (never 0 or negative) when
    there is no fitted date or the data are from before it; ``age_note`` then says why."""

    battery: str
    health: Health
    channel_seen: bool = False
    voltage: float | None = None
    rested_voltage: float | None = None
    rested_at: float | None = None
    soc_pct: int | None = None
    age_years: float | None = None
    age_note: str | None = None
    life_window: tuple[float, float] | None = None  # the replacement window, ages in years
    remaining: Remaining = Remaining()
    trend: Trend = Trend()
    last_start: Start | None = None
    fault: Fault | None = None
    alerts: tuple[ActiveAlert, ...] = ()
    fitted: str | None = None  # the date its age counts from
    fitted_from: str | None = None  # "installed" (the configuration) or "replaced"
    replaced_note: str | None = None
    replacement_pending: str | None = None
    # 12 V only
    rested_voltage_25c: float | None = None
    # the pack only
    rested_voltage_corrected: float | None = None  # at temp_ref_c: what the rules judge
    temp_ref_c: float | None = None
    per_cell_v: float | None = None
    chemistry: str | None = None
    cells: int | None = None
    judged_on: str | None = None
    self_discharge: SelfDischarge | None = None

    def good_rested(self) -> GoodRested | None:
        """The last rested reading from before the fault's first sign (or, without one, its
        raise); without a fault, the last rested reading. None: none is known to be good.

        A reading stamps the end of its window and the first sign is the start of the first
        bad window, so a rested reading at that very time is still a good one."""
        if self.rested_voltage is None or self.rested_at is None:
            return None
        f = self.fault
        first = None if f is None else (f.first_sign if f.first_sign is not None else f.since)
        if first is not None and self.rested_at > first:
            return None
        return GoodRested(self.rested_voltage, self.rested_at, self.soc_pct)

    def trusted_voltage(self) -> float | None:
        """The last voltage, unless a sensor fault says the readings are not the battery's."""
        return None if self.fault is not None else self.voltage

    def trusted_soc(self) -> int | None:
        return None if self.fault is not None else self.soc_pct


NO_TREND: Final = "not enough rested days yet for a trend"


def life_words(b: BatterySummary) -> str:
    """The remaining life as ``status`` and ``report`` say it: the analysis' own words, or
    "unknown: ..." with why there is no estimate (neither an age nor a trend); plain
    "unknown" where nothing about the battery is judged (no readings, a sensor fault,
    readings that do not fit it), which its health says."""
    r = b.remaining
    if r.text:
        return r.text
    if r.years is not None:
        text = "due now" if r.years <= 0.0 else f"about {r.years:.1f} years"
        return f"{text} (basis: {r.basis})" if r.basis else text
    if not b.channel_seen or b.fault is not None or any(a.alert == "config_mismatch" for a in b.alerts):
        return "unknown"  # nothing about this battery is judged: its health says why, once
    return f"unknown: {b.age_note or 'no age'}, and {NO_TREND}"


def trend_gap_words(b: BatterySummary) -> str:
    """The words for a battery with no rested-voltage trend. A remaining life projected from
    the fall of the latest readings (a pack running down within days) is said to rest on
    them, so the two lines never contradict each other."""
    if b.remaining.basis == "trend":
        return "not enough rested days yet for a long-term trend; the remaining life follows the fall of its latest readings"
    return NO_TREND


@record
class VehicleSummary(Record):
    """Both batteries and the vehicle's state; the daemon adds its link, sinks and store.

    ``main``/``sos`` are None without an analysis (a pipeline with none)."""

    vehicle: str
    t: float
    readings: int = 0
    state: str | None = None
    main: BatterySummary | None = None
    sos: BatterySummary | None = None
    link: Mapping[str, Any] | None = None
    sinks: Mapping[str, Any] | None = None
    store: Mapping[str, Any] | None = None
    commands: Mapping[str, Any] | None = None
    updated: float | None = None  # wall clock of this summary: status shows its age
    extra: Mapping[str, Any] = field(default_factory=dict)  # keys of a newer minor form, kept

    def battery(self, name: str) -> BatterySummary | None:
        return self.main if name == "main" else self.sos if name == "sos" else None

    def batteries(self) -> list[BatterySummary]:
        return [b for b in (self.main, self.sos) if b is not None]

    def with_daemon(self, **kw: Any) -> VehicleSummary:
        """The same summary with the daemon's own parts (link, sinks, store, commands, updated)."""
        return replace(self, **kw)

    def to_json(self) -> dict[str, Any]:
        return vehicle_json(self)


# -- to JSON ------------------------------------------------------------------------------


def _iso(t: float | None) -> str | None:
    return None if t is None else iso_utc(t)


def alert_json(a: ActiveAlert) -> dict[str, Any]:
    return {"alert": a.alert, "severity": a.severity, "since": iso_utc(a.since),
            "severity_since": iso_utc(a.severity_since), "raised_severity": a.raised_severity,
            "value": a.value, "message": a.message, "message_at": _iso(a.message_at), "flapping": a.flapping}


def battery_json(b: BatterySummary) -> dict[str, Any]:
    """One battery's section: the keys the store and the MQTT state's ``detail`` carry."""
    r = b.remaining
    tr = b.trend
    st = b.last_start
    f = b.fault
    out: dict[str, Any] = {
        "voltage": b.voltage, "rested_voltage": b.rested_voltage, "rested_at": _iso(b.rested_at),
        "soc_pct": b.soc_pct, "age_years": b.age_years, "age_note": b.age_note,
        "life_window_years": None if b.life_window is None else list(b.life_window),
        "remaining_life_years": r.years, "remaining_life_basis": r.basis, "remaining_life_alert": r.alert,
        "remaining_life_text": r.text, "overdue_years": r.overdue_years,
        "remaining_life_by_age_years": r.by_age_years, "remaining_life_by_trend_years": r.by_trend_years,
        "trend": {"v_per_day": tr.v_per_day, "significant": tr.significant, "n_days": tr.n_days,
                  "limit": tr.limit, "crank_dip_ratio": tr.crank_dip_ratio, "decline_in_sight": tr.in_sight,
                  "projected_warning_date": tr.warning_date, "projected_end_of_life_date": tr.end_date,
                  "short_term": tr.short_term},
        "last_crank_min_v": None if st is None else st.min_v,
        "last_crank_at": None if st is None else _iso(st.at),
        "last_crank_temp_c": None if st is None else st.temp_c,
        "channel_seen": b.channel_seen,
        "sensor_fault": None if f is None else f.kind,
        "sensor_fault_since": None if f is None else _iso(f.since),
        "sensor_fault_first_sign": None if f is None else _iso(f.first_sign),
        **b.health.fields(),
        "alerts": [alert_json(a) for a in b.alerts],
        "fitted": b.fitted, "fitted_from": b.fitted_from, "replaced_note": b.replaced_note,
        "replacement_pending": b.replacement_pending,
    }
    if b.battery == "main":
        out["rested_voltage_25c"] = b.rested_voltage_25c
    else:
        sd = b.self_discharge
        out.update({
            "rested_voltage_corrected": b.rested_voltage_corrected, "temp_ref_c": b.temp_ref_c,
            "per_cell_v": b.per_cell_v, "chemistry": b.chemistry, "cells": b.cells, "judged_on": b.judged_on,
            "self_discharge": None if sd is None else {k: getattr(sd, k) for k in _SD_KEYS},
        })
    return out


_SD_KEYS: Final = field_names(SelfDischarge)


def vehicle_json(s: VehicleSummary) -> dict[str, Any]:
    """The whole summary as the store keeps it (versioned)."""
    out: dict[str, Any] = {"version": SUMMARY_VERSION, "vehicle": s.vehicle, "time": s.t,
                           "readings": s.readings, "state": s.state}
    for b in s.batteries():
        out[b.battery] = battery_json(b)
    for key in ("link", "sinks", "store", "commands"):
        value = getattr(s, key)
        if value is not None:
            out[key] = dict(value)
    if s.updated is not None:
        out["updated"] = s.updated
    out.update(s.extra)
    return out


# -- from JSON ----------------------------------------------------------------------------


class _Reader:
    """Typed values out of a JSON object, each wrong type an error naming its key path."""

    def __init__(self, d: Any, path: str) -> None:
        if not isinstance(d, Mapping):
            raise SummaryError(f"{path}: expected an object, got {_kind(d)}")
        self.d = d
        self.path = path

    def _get(self, key: str) -> Any:
        return self.d.get(key)

    def _bad(self, key: str, what: str, value: Any) -> SummaryError:
        return SummaryError(f"{self.path}.{key}: expected {what}, got {_kind(value)}")

    def num(self, key: str) -> float | None:
        v = self._get(key)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise self._bad(key, "a number", v)
        return float(v)

    def int_(self, key: str) -> int | None:
        v = self.num(key)
        return None if v is None else round(v)

    def text(self, key: str) -> str | None:
        v = self._get(key)
        if v is None:
            return None
        if not isinstance(v, str):
            raise self._bad(key, "text", v)
        return v

    def flag(self, key: str) -> bool | None:
        v = self._get(key)
        if v is None:
            return None
        if not isinstance(v, bool):
            raise self._bad(key, "true or false", v)
        return v

    def time(self, key: str) -> float | None:
        """Unix seconds from an ISO 8601 text (UTC when no zone is given) or a number."""
        v = self._get(key)
        if v is None or (isinstance(v, int | float) and not isinstance(v, bool)):
            return self.num(key)
        if not isinstance(v, str):
            raise self._bad(key, "a time", v)
        try:
            when = datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError:
            raise self._bad(key, "an ISO 8601 time", v) from None
        return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()

    def obj(self, key: str) -> _Reader | None:
        v = self._get(key)
        return None if v is None else _Reader(v, f"{self.path}.{key}")

    def mapping(self, key: str) -> Mapping[str, Any] | None:
        r = self.obj(key)
        return None if r is None else r.d


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true/false"
    if isinstance(v, int | float):
        return f"the number {v!r}"
    if isinstance(v, str):
        return f"the text {v[:40]!r}"
    return "a list" if isinstance(v, list) else type(v).__name__


def version_of(d: Mapping[str, Any], path: str = "summary") -> int:
    """The form's version (1: stored before it had one); newer than this reader: an error."""
    v = d.get("version", 1)
    if isinstance(v, bool) or not isinstance(v, int):
        raise SummaryError(f"{path}.version: expected a whole number, got {_kind(v)}")
    if v > SUMMARY_VERSION:
        raise SummaryError(f"{path}: written by a newer battwatch (summary version {v}; this one "
                           f"reads up to {SUMMARY_VERSION}): update battwatch to read it")
    return v


def alert_from_json(d: Any, path: str) -> ActiveAlert:
    r = _Reader(d, path)
    since = r.time("since")
    severity_since = r.time("severity_since")  # version 1 summaries may lack it: the raise
    severity = r.text("severity") or "?"
    if since is None:
        raise SummaryError(f"{path}.since: missing")
    return ActiveAlert(
        alert=r.text("alert") or "?", severity=severity, since=since,
        severity_since=since if severity_since is None else severity_since,
        raised_severity=r.text("raised_severity") or severity, value=r.num("value"),
        message=r.text("message") or "", message_at=r.time("message_at"), flapping=bool(r.flag("flapping")))


def _trend_from_json(r: _Reader | None) -> Trend:
    if r is None:
        return Trend()
    # version 1 named the slope per battery (rested_v_per_day, slope_v_per_day) and the 12 V
    # significance and limit rested_significant and trend_limit
    slope = r.num("v_per_day")
    for old in ("rested_v_per_day", "slope_v_per_day"):
        slope = r.num(old) if slope is None else slope
    significant = r.flag("significant")
    significant = r.flag("rested_significant") if significant is None else significant
    limit = r.text("limit")
    return Trend(
        v_per_day=slope, significant=significant, n_days=r.int_("n_days"),
        limit=r.text("trend_limit") if limit is None else limit, crank_dip_ratio=r.num("crank_dip_ratio"),
        in_sight=r.flag("decline_in_sight"), warning_date=r.text("projected_warning_date"),
        end_date=r.text("projected_end_of_life_date"), short_term=r.flag("short_term"))


def _health_from_json(d: Mapping[str, Any], path: str) -> Health:
    word = d.get("health")
    if word is None:  # a section without a verdict (an older daemon's): none is made up
        return Health("unknown", "no verdict in this summary")
    verdict = Health.of(d)
    if verdict is None:
        raise SummaryError(f"{path}.health: not a verdict: {_kind(word)}")
    return verdict


def battery_from_json(d: Any, battery: str, path: str | None = None) -> BatterySummary:
    """One battery's section (version 1 or 2); a wrong type is an error naming its key."""
    path = path or f"summary.{battery}"
    r = _Reader(d, path)
    window = d.get("life_window_years")
    life: tuple[float, float] | None = None
    if window is not None:
        if not (isinstance(window, list) and len(window) == 2
                and all(isinstance(x, int | float) and not isinstance(x, bool) for x in window)):
            raise SummaryError(f"{path}.life_window_years: expected [start, end] in years, got {_kind(window)}")
        life = (float(window[0]), float(window[1]))
    raw_alerts = d.get("alerts") or []
    if not isinstance(raw_alerts, list):
        raise SummaryError(f"{path}.alerts: expected a list, got {_kind(raw_alerts)}")
    crank = r.num("last_crank_min_v")
    kind = r.text("sensor_fault")
    sd = r.obj("self_discharge")
    age = r.num("age_years")
    return BatterySummary(
        battery=battery, health=_health_from_json(d, path), channel_seen=bool(r.flag("channel_seen")),
        voltage=r.num("voltage"), rested_voltage=r.num("rested_voltage"), rested_at=r.time("rested_at"),
        soc_pct=r.int_("soc_pct"),
        # a negative age is an older writer's "before installed": unknown, as this form says
        age_years=None if age is None or age < 0.0 else age, age_note=r.text("age_note"), life_window=life,
        remaining=Remaining(
            years=r.num("remaining_life_years"), basis=r.text("remaining_life_basis"),
            alert=r.text("remaining_life_alert"), text=r.text("remaining_life_text"),
            overdue_years=r.num("overdue_years"), by_age_years=r.num("remaining_life_by_age_years"),
            by_trend_years=r.num("remaining_life_by_trend_years")),
        trend=_trend_from_json(r.obj("trend")),
        last_start=None if crank is None else Start(crank, r.time("last_crank_at"), r.num("last_crank_temp_c")),
        fault=None if not kind else Fault(kind, r.time("sensor_fault_since"), r.time("sensor_fault_first_sign")),
        alerts=tuple(alert_from_json(a, f"{path}.alerts[{i}]") for i, a in enumerate(raw_alerts)),
        fitted=r.text("fitted"), fitted_from=r.text("fitted_from"), replaced_note=r.text("replaced_note"),
        replacement_pending=r.text("replacement_pending"), rested_voltage_25c=r.num("rested_voltage_25c"),
        rested_voltage_corrected=r.num("rested_voltage_corrected"), temp_ref_c=r.num("temp_ref_c"),
        per_cell_v=r.num("per_cell_v"), chemistry=r.text("chemistry"), cells=r.int_("cells"),
        judged_on=r.text("judged_on"),
        self_discharge=None if sd is None else _self_discharge_from_json(sd),
    )


def _self_discharge_from_json(r: _Reader) -> SelfDischarge:
    return SelfDischarge(
        last_mv_per_day=r.num("last_mv_per_day"), baseline_mv_per_day=r.num("baseline_mv_per_day"),
        baseline_learned=r.flag("baseline_learned"), last_pct_per_day=r.num("last_pct_per_day"),
        baseline_pct_per_day=r.num("baseline_pct_per_day"), healthy_pct_per_day=r.num("healthy_pct_per_day"),
        alert_mv_per_day=r.num("alert_mv_per_day"), alert_baseline_mv_per_day=r.num("alert_baseline_mv_per_day"),
        alert_pct_per_day=r.num("alert_pct_per_day"), alert_baseline_learned=r.flag("alert_baseline_learned"),
        alert_baseline_pct_per_day=r.num("alert_baseline_pct_per_day"),
    )


_VEHICLE_KEYS: Final = frozenset({"version", "vehicle", "time", "readings", "state", "link", "sinks", "store",
                                  "commands", "updated", *BATTERIES})


def from_json(d: Any, *, vehicle: str | None = None, t: float | None = None,
              path: str = "summary") -> VehicleSummary:
    """A summary from its JSON form (version 1 or 2): SummaryError says where and why not.

    ``vehicle``/``t`` stand in where the form lacks them (an envelope that carries them)."""
    r = _Reader(d, path)
    version_of(r.d, path)
    name = r.text("vehicle")
    name = vehicle if name is None else name
    when = r.time("time")
    when = t if when is None else when
    if name is None or when is None:
        raise SummaryError(f"{path}: no {'vehicle' if name is None else 'time'}")
    return VehicleSummary(
        vehicle=name, t=when, readings=r.int_("readings") or 0, state=r.text("state"),
        main=None if r.d.get("main") is None else battery_from_json(r.d["main"], "main", f"{path}.main"),
        sos=None if r.d.get("sos") is None else battery_from_json(r.d["sos"], "sos", f"{path}.sos"),
        link=r.mapping("link"), sinks=r.mapping("sinks"), store=r.mapping("store"),
        commands=r.mapping("commands"), updated=r.time("updated"),
        extra={k: v for k, v in r.d.items() if k not in _VEHICLE_KEYS},
    )
