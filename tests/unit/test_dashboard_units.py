"""The Grafana dashboards: every unit is one Grafana knows, and every query follows the time range."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

DASHBOARDS = Path(__file__).resolve().parents[2] / "dashboards"
NAMES = ("fleet-overview", "vehicle-detail")

# The unit ids Grafana defines, copied from grafana/grafana
# packages/grafana-data/src/valueFormats/categories.ts (getCategories; Grafana 10-11), plus the
# old spelling 'farenheit' that valueFormats.ts maps to 'fahrenheit'. An id outside this list
# is not an error in Grafana: it is shown after the value as free text, so a typo ("volts") or
# an invented unit ("y" for years) goes unnoticed; hence this check.
GRAFANA_UNITS = frozenset("""
none string short percent percentunit humidity dB hex0x hex sci locale pixel
accMS2 accFS2 accG
degree radian grad arcmin arcsec
areaM2 areaF2 areaMI2
flops mflops gflops tflops pflops eflops zflops yflops
ppm conppb conngm3 conngNm3 conμgm3 conμgNm3 conmgm3 conmgNm3 congm3 congNm3 conmgdL conmmolL
currencyUSD currencyGBP currencyEUR currencyJPY currencyRUB currencyUAH currencyBRL currencyDKK
currencyISK currencyNOK currencySEK currencyCZK currencyCHF currencyPLN currencyBTC currencymBTC
currencyμBTC currencyZAR currencyINR currencyKRW
bits bytes kbytes mbytes gbytes tbytes pbytes
decbits decbytes deckbytes decmbytes decgbytes dectbytes decpbytes
pps bps Bps KBs Kbits MBs Mbits GBs Gbits TBs Tbits PBs Pbits
dateTimeAsIso dateTimeAsIsoNoDateIfToday dateTimeAsUS dateTimeAsUSNoDateIfToday dateTimeFromNow
watt kwatt megwatt gwatt mwatt Wm2 voltamp kvoltamp voltampreact kvoltampreact watth watthperkg
kwatth kwattm amph kamph mamph joule ev amp kamp mamp volt kvolt mvolt dBm ohm kohm Mohm farad
µfarad nfarad pfarad ffarad henry mhenry µhenry lumens
flowgpm flowcms flowcfs flowcfm litreh flowlpm flowmlpm lux
forceNm forcekNm forceN forcekN
Hs KHs MHs GHs THs PHs EHs
massmg massg masskg masst
lengthmm lengthft lengthm lengthkm lengthmi
pressurembar pressurebar pressurekbar pressurepa pressurehpa pressurekpa pressurehg pressurepsi
radbq radci radgy radrad radsv radmsv radusv radrem radexpckg radr radsvh radmsvh radusvh
rotrpm rothz rotrads rotdegs
celsius fahrenheit kelvin farenheit
hertz ns µs ms s m h d dtdurationms dtdurations dthms dtdhms timeticks clockms clocks
cps ops reqps rps wps iops cpm opm rpm wpm
velocityms velocitykmh velocitymph velocityknot
mlitre litre m3 Nm3 dm3 gallons
""".split())


def _dashboard(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DASHBOARDS / f"{name}.json").read_text(encoding="utf-8"))
    return data


def _units(node: Any, where: str) -> Iterator[tuple[str, str]]:
    """Every unit a dashboard sets: ``fieldConfig.defaults.unit`` and each override's ``unit``."""
    if isinstance(node, dict):
        if isinstance(node.get("unit"), str):
            yield where, node["unit"]
        if node.get("id") == "unit" and "value" in node:
            yield where + " (override)", node["value"]
        for key, value in node.items():
            yield from _units(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _units(value, f"{where}[{i}]")


@pytest.mark.parametrize("name", NAMES)
def test_every_unit_is_a_grafana_unit_id(name: str) -> None:
    units = list(_units(_dashboard(name), name))
    assert len(units) >= 8  # the walk finds them (volts, percent, dates at least)
    wrong = [(where, unit) for where, unit in units if unit not in GRAFANA_UNITS]
    assert not wrong, f"not Grafana unit ids: {wrong}"


def test_the_unit_check_refuses_an_invented_unit() -> None:
    panel = {"fieldConfig": {"defaults": {"unit": "volt"}, "overrides": [
        {"properties": [{"id": "unit", "value": "y"}]}]}}
    assert [u for _, u in _units(panel, "p") if u not in GRAFANA_UNITS] == ["y"]


@pytest.mark.parametrize("name", NAMES)
def test_no_query_is_tied_to_the_wall_clock(name: str) -> None:
    # a query bound to now() shows nothing for a backfilled or idle car, whatever the time range
    tied = [(p["title"], t["refId"]) for p in _dashboard(name)["panels"] for t in p.get("targets", [])
            if "now()" in t.get("query", "")]
    assert not tied, f"queries ignoring the dashboard's time range: {tied}"
