"""The [analysis] configuration: sourced defaults, partial overrides, cross-field checks."""

from __future__ import annotations

from typing import Any

import pytest

from battwatch import config
from battwatch.analysis_config import AnalysisConfig


def problems(analysis: dict[str, Any]) -> list[str]:
    with pytest.raises(config.ConfigError) as e:
        config.from_dict({"vehicle": {"id": "car"}, "analysis": analysis}, env={})
    return e.value.problems


def test_defaults_are_the_domain_values() -> None:
    a = config.defaults("car").analysis
    assert isinstance(a, AnalysisConfig)
    lv = a.main.low_voltage
    assert (lv.warn_v, lv.warn_clear_v, lv.crit_v, lv.crit_clear_v, lv.dead_cell_v) == (12.40, 12.50, 12.00, 12.20, 10.5)
    assert a.main.ocv.agm[-1] == (100.0, 12.80) and a.main.ocv.flooded[-1] == (100.0, 12.65)
    assert a.main.ocv_temp_coeff_v_per_c == 0.003
    # BCI's table from 0 °F (-18 °C: 8.5 V, kept just above the 8.5 V critical level) to 70 °F
    assert a.main.cranking.limit_by_temp_c[:2] == ((-18.0, 8.55), (-12.0, 8.7))
    assert a.main.cranking.limit_by_temp_c[-1] == (21.0, 9.6)
    assert a.main.cranking.crit_v == 8.5
    ov = a.main.overvoltage
    assert (ov.warn_v, ov.crit_v, ov.immediate_v, ov.debounce.for_s) == (15.0, 15.5, 16.0, 90.0)  # regenerative bursts: §4
    ch = a.main.charging
    assert (ch.avg_warn_v, ch.avg_crit_v, ch.max_warn_v) == (12.8, 12.5, 13.8)
    assert (a.main.drain.warn_mv_12h, a.main.drain.crit_mv_12h) == (50.0, 150.0)
    nimh = a.sos.chemistry.get("nimh")
    assert (nimh.warn_v, nimh.warn_clear_v, nimh.crit_v, nimh.crit_clear_v) == (1.22, 1.26, 1.10, 1.18)
    assert a.sos.chemistry.get("li-ion").warn_v == 3.60 and a.sos.chemistry.get("lifepo4").crit_v == 3.00
    assert (a.trend.window_days, a.trend.min_points, a.trend.warn_days, a.trend.crit_days) == (90.0, 30, 90.0, 30.0)
    assert (a.alerts.renotify_warning_s, a.alerts.renotify_critical_s) == (86400.0, 7200.0)
    assert (a.alerts.flap_window_s, a.alerts.flap_max) == (86400.0, 4)
    assert a.state.rest_min_s == 4 * 3600 and a.state.sos_rest_min_s == 2 * 3600


def test_one_key_can_be_changed_alone() -> None:
    cfg = config.from_dict(
        {"vehicle": {"id": "car"},
         "analysis": {"sos": {"chemistry": {"nimh": {"crit_v": 1.05}}},
                      "main": {"drain": {"car_sleep_ma": 20}}, "alerts": {"renotify_critical_s": 3600}}},
        env={},
    )
    a = cfg.analysis
    assert a.sos.chemistry.nimh.crit_v == 1.05 and a.sos.chemistry.nimh.warn_v == 1.22
    assert a.main.drain.car_sleep_ma == 20 and a.main.drain.warn_mv_12h == 50.0
    assert a.alerts.renotify_critical_s == 3600 and a.alerts.renotify_warning_s == 86400


def test_levels_on_the_wrong_side_are_reported_with_their_path() -> None:
    got = problems({
        "main": {"low_voltage": {"warn_clear_v": 12.3}, "overvoltage": {"warn_clear_v": 15.2}},
        "sos": {"chemistry": {"li_ion": {"crit_v": 3.7}}},
    })
    assert "analysis.main.low_voltage: warn_clear_v (12.3) must be above warn_v (12.4)" in got
    assert any(p.startswith("analysis.main.overvoltage:") and "warn_clear_v must be below warn_v" in p for p in got)
    assert "analysis.sos.chemistry.li_ion: crit_v (3.7) must be below warn_v (3.6)" in got


def test_other_cross_checks() -> None:
    got = problems({
        "main": {
            "cranking": {"crit_v": 9.0},
            "charging": {"avg_crit_v": 12.9},
            "drain": {"warn_clear_mv_12h": 60},
            "age": {"warn_years": 8},
            "ocv": {"agm": [[0, 12.0], [50, 11.9], [100, 12.8]]},
        },
        "trend": {"crit_days": 100},
        "sos": {"self_discharge": {"warn_clear_ratio": 2.5}},
        "state": {"crank_floor_v": 11.0},
    })
    text = "\n".join(got)
    for needle in (
        "analysis.main.cranking: crit_v must be below every temperature-adjusted limit",
        "analysis.main.charging: need avg_crit_v < avg_warn_v < avg_clear_v",
        "analysis.main.drain: warn_clear_mv_12h must be below warn_mv_12h",
        "analysis.main.age: need info_years < warn_years < crit_years",
        "the second column must not fall",
        "analysis.trend: need crit_days < warn_days < clear_days",
        "analysis.sos.self_discharge: warn_clear_ratio must be below warn_ratio",
        "analysis.state: crank_floor_v must be below crank_pre_min_v",
    ):
        assert needle in text, needle


def test_the_12v_additions_have_domain_defaults() -> None:
    m = config.defaults("car").analysis.main
    cc = m.cranking
    assert cc.info_by_temp_c[-1] == (21.0, 10.5) and cc.min_soc_pct == 75.0  # §0.1, §2.4
    ov = m.overvoltage
    assert (ov.info_v, ov.info_clear_v) == (14.9, 14.7)
    ch = m.charging
    assert (ch.recovery_after_s, ch.recovery_warn_v, ch.recovery_crit_v) == (10.0, 13.0, 12.6)
    dc = m.decline
    assert (dc.dip_info_pct, dc.dip_warn_pct, dc.dip_crit_pct, dc.min_dip_v) == (15.0, 25.0, 50.0, 0.05)
    assert m.drain.assumed_soc_pct == 80.0
    assert (m.drain.early_span_s, m.drain.early_every_s, m.drain.early_factor) == (4 * 3600.0, 3600.0, 2.0)
    assert (cc.low_charge_margin_v, cc.assumed_temp_c) == (0.3, -18.0)
    # the charging voltage as a thermometer: least compensation, lowest set-point, BMW's ceiling (§2.3, §2.5)
    assert (cc.charge_comp_v_per_c, cc.charge_25c_v, cc.charge_top_v, cc.charge_floor_v) == (0.018, 14.4, 14.8, 14.2)
    assert cc.thermometer_s == 300.0
    st = config.defaults("car").analysis.state
    assert (st.crank_merge_s, st.failed_start_s, st.restart_window_s, st.gap_close_s) == (10.0, 120.0, 300.0, 600.0)
    assert config.defaults("car").analysis.sensor.negative_v == -0.2


def test_the_12v_additions_are_checked() -> None:
    got = problems({
        "main": {
            "cranking": {"info_by_temp_c": [[-12, 8.6], [21, 10.5]]},
            "charging": {"recovery_crit_v": 13.1},
            "overvoltage": {"info_v": 15.2},
            "decline": {"dip_warn_pct": 60, "dip_info_clear_pct": 20},
            "drain": {"early_span_s": 36000, "early_every_s": 86400, "early_factor": 0.5},
        },
        "sensor": {"negative_v": 0.5},
    })
    text = "\n".join(got)
    for needle in (
        "analysis.main.cranking: info_by_temp_c must lie above limit_by_temp_c at every temperature",
        "analysis.main.charging: need recovery_crit_v < recovery_warn_v",
        "analysis.main.overvoltage: need info_v < warn_v < crit_v <= immediate_v",
        "analysis.main.decline: need dip_info_pct < dip_warn_pct < dip_crit_pct",
        "analysis.sensor.negative_v",
        "analysis.main.drain.early_factor",
    ):
        assert needle in text, (needle, got)
    # the cross checks run once every key is in range
    got = problems({"main": {"drain": {"early_span_s": 36000, "early_every_s": 86400}}})
    assert "analysis.main.drain: early_span_s must not exceed min_span_s" in "\n".join(got)
    got = problems({"main": {"drain": {"early_every_s": 86400}}})
    assert "analysis.main.drain: early_every_s must not exceed verdict_every_s" in "\n".join(got)
    got = problems({"main": {"cranking": {"low_charge_margin_v": -0.1, "assumed_temp_c": 60}}})
    assert any("low_charge_margin_v" in p for p in got) and any("assumed_temp_c" in p for p in got)
    got = problems({"main": {"cranking": {"charge_floor_v": 14.9}}})
    assert "analysis.main.cranking: charge_floor_v must be below charge_top_v" in "\n".join(got)


def test_unknown_keys_are_errors_with_a_hint() -> None:
    got = problems({"main": {"low_voltage": {"warn": 12.3}}})
    assert got == ["analysis.main.low_voltage.warn: unknown key; did you mean 'warn_v'?"]


def test_a_retired_key_says_what_replaced_it() -> None:
    got = problems({"sos": {"chemistry": {"nimh": {"min_rate_v_day": 0.001, "healthy_pct_month": 15}}}})
    assert len(got) == 1
    assert got[0].startswith("analysis.sos.chemistry.nimh.min_rate_v_day: no longer a key; ")
    assert "healthy_pct_month" in got[0] and "unknown key" not in got[0]
