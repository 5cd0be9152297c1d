"""Every Grafana panel query runs against a real InfluxDB 1.6 after a replay and finds its series."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from battwatch import config, scenarios
from battwatch.config import Config
from battwatch.core.csvlog import write_csv
from battwatch.core.events import Replaced
from battwatch.core.healthsummary import from_json
from battwatch.core.model import HEALTH_WORDS, AlertTransition, HealthSummary
from battwatch.core.timefmt import iso_utc
from battwatch.replay import replay_file
from battwatch.sinks.influx import InfluxSink
from servers import InfluxDB1

pytestmark = pytest.mark.servers

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "dashboards"
SCHEMA = ROOT / "tests" / "data" / "grafana-dashboard.schema.json"
DB = "battwatch"
DS_UID = "battwatch-influxql"
# (vehicle, scenario, site, worst active alert): one car that starts weakly, one parked for a
# month without a site tag
FLEET = (("car-a", "main-weak-crank", "north", "warning"), ("car-b", "sos-long-park-normal", None, "critical"))


def _dashboard(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DASHBOARDS / f"{name}.json").read_text(encoding="utf-8"))
    return data


def _cfg(url: str, vehicle: str, scenario: str, site: str | None) -> Config:
    raw: dict[str, Any] = dict(scenarios.scenario_config(scenario))
    raw["vehicle"] = {"id": vehicle, "model": "BMW X1 F48", **({"site": site} if site else {})}
    raw["influx"] = {"url": url, "api": "v1", "database": DB}
    return config.from_dict(raw, env={})


def _synthetic_analysis(cfg: Config, store: Path, first_t: float, last_t: float, worst: str) -> None:
    """Alert transitions and a full summary on top of what the analysis made of the replay, so
    every panel has something to show whatever the scenario raised (alert names test_*)."""
    v = cfg.vehicle.id
    sink = InfluxSink(cfg, store)
    sink.start()
    mid = (first_t + last_t) / 2
    for tr in (
        AlertTransition(mid, v, "main", "test_rest", "warning", "raised", 12.31, "12 V rest voltage low"),
        AlertTransition(mid + 3600, v, "main", "test_rest", "critical", "raised", 11.95, "12 V rest voltage very low"),
        AlertTransition(mid + 7200, v, "main", "test_rest", "critical", "cleared", 12.5, "12 V rest voltage normal"),
        AlertTransition(mid + 60, v, "sos", "test_age", "info", "raised", 4.6, "SOS pack older than 4 years"),
    ):
        sink.transition(tr)
    sink.replaced(Replaced(mid + 300, v, "sos", mid + 300, "test pack"))  # battwatch replaced: the annotations' point
    sink.summary(HealthSummary(last_t, v, from_json({
        "vehicle": v, "time": last_t,
        "main": {"soc_pct": 68.0, "remaining_life_years": 2.5, "remaining_life_basis": "age",
                 "health": "attention" if worst == "warning" else "action needed",
                 "alerts": [{"alert": "test_drain", "severity": worst, "since": mid}]},
        "sos": {"remaining_life_years": 1.8, "remaining_life_basis": "trend",
                "health": "unknown", "health_reason": "no rested reading yet: the car has not been parked 2 h",
                "rested_voltage": 5.18, "rested_at": last_t - 3600,
                "alerts": [{"alert": "test_age", "severity": "info", "since": mid + 60}],
                "trend": {"v_per_day": -0.1 / 365.25, "significant": True,
                          "projected_end_of_life_date": iso_utc(last_t + 7.8 * 365.25 * 86400)[:10]}},
    }, vehicle=v, t=last_t)))
    sink.close(30)
    assert sink.status()["backlog"] == 0


@pytest.fixture
def replayed(influxdb1: InfluxDB1, tmp_path: Path) -> Iterator[tuple[InfluxDB1, float, float]]:
    """InfluxDB after replaying one scenario CSV per vehicle with ``--publish``."""
    influxdb1.create_database(DB)
    first, last = float("inf"), float("-inf")
    for vehicle, scenario, site, worst in FLEET:
        csv_path = tmp_path / f"{vehicle}.csv"
        with csv_path.open("w", encoding="utf-8", newline="") as fh:
            write_csv(fh, scenarios.generate(scenario), vehicle)
        cfg = _cfg(influxdb1.url, vehicle, scenario, site)
        store = tmp_path / f"store-{vehicle}"
        res = replay_file(csv_path, cfg, store_dir=store, publish=True, close_timeout_s=30)
        assert res.readings > 0 and res.first_t is not None and res.last_t is not None
        _synthetic_analysis(cfg, store, res.first_t, res.last_t, worst)
        first, last = min(first, res.first_t), max(last, res.last_t)
    yield influxdb1, first, last


def _render(query: str, start: float, end: float, *, vehicle: str = "car-a", site: str = ".*") -> str:
    """Replace Grafana's macros and variables the way its InfluxQL data source does."""
    out = query.replace("$timeFilter", f"time >= {int(start * 1000)}ms and time <= {int(end * 1000)}ms")
    out = out.replace("$__interval", "1h")
    out = out.replace("$vehicle", re.escape(vehicle)).replace("$site", site)
    assert not re.search(r"\$[A-Za-z_]", out), f"unreplaced variable in {out}"
    return out


def _columns(query: str) -> list[str]:
    """The columns a query names: each alias, or the bare field/tag it selects."""
    clause = query.split(" FROM ", 1)[0].removeprefix("SELECT ")
    names = []
    for item in clause.split(", "):
        alias = re.search(r' AS "([^"]+)"$', item)
        bare = re.fullmatch(r'"([^"]+)"', item.strip())
        assert alias or bare, f"cannot tell the column of {item!r}"
        names.append(alias.group(1) if alias else bare.group(1))  # type: ignore[union-attr]
    return names


def _run(db: InfluxDB1, query: str) -> list[dict[str, Any]]:
    series: list[dict[str, Any]] = db.query(query, DB)["results"][0].get("series", [])
    return series


def _check(db: InfluxDB1, title: str, query: str) -> list[dict[str, Any]]:
    series = _run(db, query)
    assert series and all(s["values"] for s in series), f"{title}: no data for {query}"
    for column in _columns(query):
        present = [s for s in series if column in s["columns"]]
        assert present, f"{title}: no column {column!r} in {query}"
        values = [row[s["columns"].index(column)] for s in present for row in s["values"]]
        assert any(v is not None for v in values), f"{title}: column {column!r} is all null"
    return series


def _targets(dashboard: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(p["title"], t) for p in dashboard["panels"] for t in p["targets"]]


@pytest.mark.parametrize("name", ["fleet-overview", "vehicle-detail"])
def test_dashboard_json_matches_the_schema(name: str) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    dashboard = _dashboard(name)
    jsonschema.validate(dashboard, schema, cls=jsonschema.Draft202012Validator)
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for p in dashboard["panels"]:
        assert p["gridPos"]["x"] + p["gridPos"]["w"] <= 24, f"{p['title']} overflows the grid"


def test_schema_rejects_a_panel_on_another_datasource() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    dashboard = _dashboard("vehicle-detail")
    dashboard["panels"][0]["targets"][0]["datasource"] = {"type": "prometheus", "uid": "x"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(dashboard, schema, cls=jsonschema.Draft202012Validator)


def test_every_panel_query_returns_its_series(replayed: tuple[InfluxDB1, float, float]) -> None:
    db, first, last = replayed
    start, end = first - 86400, last + 86400
    checked = 0
    for name in ("fleet-overview", "vehicle-detail"):
        for title, target in _targets(_dashboard(name)):
            _check(db, f"{name}/{title}/{target['refId']}", _render(target["query"], start, end))
            checked += 1
    assert checked >= 20


def test_the_annotations_mark_each_replacement(replayed: tuple[InfluxDB1, float, float]) -> None:
    """Both dashboards mark a replaced battery; the vehicle dashboard only that vehicle's."""
    db, first, last = replayed
    start, end = first - 86400, last + 86400
    for name, n in (("fleet-overview", 2), ("vehicle-detail", 1)):
        [annotation] = _dashboard(name)["annotations"]["list"]
        assert annotation["datasource"] == {"type": "influxdb", "uid": DS_UID}
        series = _check(db, f"{name}/annotation", _render(annotation["query"], start, end))
        rows = [dict(zip(s["columns"], row, strict=True)) for s in series for row in s["values"]]
        assert len(rows) == n
        assert all(r["text"].startswith("SOS backup battery replaced on ") and r["text"].endswith("(test pack)")
                   and r["battery"] == "sos" for r in rows)
        for col in (annotation["textColumn"], *annotation["tagsColumn"].split(",")):
            assert all(col in s["columns"] for s in series)


def test_fleet_table_has_one_row_per_vehicle_and_the_site_filter_works(
    replayed: tuple[InfluxDB1, float, float],
) -> None:
    db, first, last = replayed
    table = next(p for p in _dashboard("fleet-overview")["panels"] if p["type"] == "table")
    query = table["targets"][0]["query"]
    everyone = _check(db, "fleet", _render(query, first - 86400, last + 86400))
    assert sorted(s["tags"]["vehicle"] for s in everyone) == ["car-a", "car-b"]
    assert all(len(s["values"]) == 1 for s in everyone)
    north = _run(db, _render(query, first - 86400, last + 86400, site="north"))
    assert [s["tags"]["vehicle"] for s in north] == ["car-a"]
    row = dict(zip(north[0]["columns"], north[0]["values"][0], strict=True))
    assert row["soc_12v"] == 68.0 and row["alerts"] == 2 and row["worst"] == 2
    assert 200 <= row["urgency"] < 300 and row["sos_age"] > 2 and row["rest_12v"] is not None
    assert (row["health_12v"], row["health_sos"]) == ("attention", "unknown")
    # the table maps every verdict the analysis gives, "unknown" included
    table_cfg = {o["matcher"]["options"]: o["properties"] for o in table["fieldConfig"]["overrides"]}
    for column in ("health_12v", "health_sos"):
        (mapping,) = [p["value"] for p in table_cfg[column] if p["id"] == "mappings"]
        assert set(mapping[0]["options"]) == set(HEALTH_WORDS)


def test_vehicle_detail_shows_one_vehicle_only(replayed: tuple[InfluxDB1, float, float]) -> None:
    db, first, last = replayed
    panels = {p["title"]: p for p in _dashboard("vehicle-detail")["panels"]}
    query = panels["Crank minima"]["targets"][0]["query"]
    a = _check(db, "cranks a", _render(query, first - 86400, last + 86400, vehicle="car-a"))
    b = _run(db, _render(query, first - 86400, last + 86400, vehicle="car-b"))
    assert len(a[0]["values"]) >= 5  # a week of commuting: a start or two a day
    assert a != b
    timeline = panels["Alert timeline"]["targets"][0]["query"]
    series = _check(db, "timeline", _render(timeline, first - 86400, last + 86400))
    levels = {(s["tags"]["battery"], s["tags"]["alert"]): [row[1] for row in s["values"]] for s in series}
    assert levels[("main", "test_rest")] == [2, 3, 0] and levels[("sos", "test_age")] == [1]
    assert all(set(v) <= {0, 1, 2, 3} for v in levels.values())


def test_template_variables_list_the_vehicles_and_sites(replayed: tuple[InfluxDB1, float, float]) -> None:
    db, _, _ = replayed
    found: dict[str, list[str]] = {}
    for name in ("fleet-overview", "vehicle-detail"):
        for var in _dashboard(name)["templating"]["list"]:
            series = _run(db, var["query"])
            found[var["name"]] = sorted(v[1] for s in series for v in s["values"])
    assert found == {"site": ["north"], "vehicle": ["car-a", "car-b"]}


def test_provisioning_files_fit_the_dashboards(replayed: tuple[InfluxDB1, float, float]) -> None:
    db, first, last = replayed
    prov = DASHBOARDS / "provisioning"
    ds = yaml.safe_load((prov / "datasources" / "battwatch.yaml").read_text(encoding="utf-8"))
    assert ds["apiVersion"] == 1
    [source] = ds["datasources"]
    assert (source["uid"], source["type"], source["jsonData"]["dbName"]) == (DS_UID, "influxdb", DB)
    boards = yaml.safe_load((prov / "dashboards" / "battwatch.yaml").read_text(encoding="utf-8"))
    assert boards["providers"][0]["type"] == "file" and boards["providers"][0]["options"]["path"]
    alerting = yaml.safe_load((prov / "alerting" / "battwatch.yaml").read_text(encoding="utf-8"))
    rules = [r for g in alerting["groups"] for r in g["rules"]]
    assert len(rules) >= 3
    for rule in rules:
        queries = [d for d in rule["data"] if d["datasourceUid"] == DS_UID]
        assert queries and rule["condition"] in {d["refId"] for d in rule["data"]}
        for q in queries:
            series = _check(db, rule["title"], _render(q["model"]["query"], first - 86400, last + 86400))
            assert {s["tags"]["vehicle"] for s in series} <= {"car-a", "car-b"}


def test_sos_projection_follows_the_time_range_of_a_backfilled_car(influxdb1: InfluxDB1) -> None:
    # a car whose log was imported years later: its projection lies wholly in the past, and the
    # panel must show it when the time range covers it (it was tied to now() - 31d)
    influxdb1.create_database(DB)
    step = 30 * 86400
    t0 = (int(time.time()) - 12 * 365 * 86400) // step * step
    grid = [t0 + k * step for k in range(12)]
    influxdb1.write([f"projection,vehicle=old-car,battery=sos v={5.1 - 0.02 * k:.2f} {t}" for k, t in enumerate(grid)],
                    DB, precision="s")
    influxdb1.write([f"projection,vehicle=other-car,battery=sos v=5.0 {t}" for t in grid], DB, precision="s")
    [target] = [t for title, t in _targets(_dashboard("vehicle-detail"))
                if title.startswith("SOS rested voltage trend") and "projection" in t["query"]]
    start, end = grid[2] - 1, grid[8] + 1
    series = _check(influxdb1, "projection", _render(target["query"], start, end, vehicle="old-car"))
    assert [row[0] for s in series for row in s["values"]] == grid[2:9]
    assert [row[1] for s in series for row in s["values"]] == [5.06, 5.04, 5.02, 5.0, 4.98, 4.96, 4.94]
