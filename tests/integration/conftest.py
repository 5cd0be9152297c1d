"""Pytest fixtures that run real Mosquitto, InfluxDB 1.x and VictoriaMetrics servers."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# tests/ is not a package; make tests/servers.py importable from here and from test modules.
_TESTS_DIR = str(Path(__file__).resolve().parent.parent)
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)

# Imported after the sys.path entry above exists.
from servers import (  # noqa: E402
    InfluxDB1,
    Mosquitto,
    VictoriaMetrics,
    start_influxdb1,
    start_mosquitto,
    start_victoriametrics,
)


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A fresh anonymous broker for this test only; safe to stop, kill and restart."""
    with start_mosquitto(tmp_path / "servers") as broker:
        yield broker


@pytest.fixture(scope="session")
def mosquitto_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """One broker shared by the whole session: use unique topics and never stop it."""
    with start_mosquitto(tmp_path_factory.mktemp("mosquitto-session")) as broker:
        yield broker


@pytest.fixture
def influxdb1(tmp_path: Path) -> Iterator[InfluxDB1]:
    """A fresh InfluxDB 1.x with no databases, for this test only."""
    with start_influxdb1(tmp_path / "servers") as db:
        yield db


@pytest.fixture
def victoriametrics(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    """A fresh VictoriaMetrics (retention 100y) for this test only."""
    with start_victoriametrics(tmp_path / "servers") as vm:
        yield vm
