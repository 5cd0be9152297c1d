"""``battwatch replay --store``: a log replayed in parts into one store gives the whole log's alerts."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from battwatch import config, scenarios
from battwatch.core.csvlog import write_csv
from battwatch.core.model import AlertTransition, Reading
from battwatch.replay import ReplayError, replay_file


def _write(path: Path, readings: list[Reading]) -> Path:
    with path.open("w") as fh:
        write_csv(fh, readings)
    return path


def _key(tr: AlertTransition) -> tuple[object, ...]:
    return (tr.t, tr.vehicle, tr.battery, tr.alert, tr.severity, tr.state, tr.message)


def _events(store: Path) -> list[tuple[object, ...]]:
    db = sqlite3.connect(store / "battwatch.sqlite3")
    try:
        return db.execute("SELECT t, battery, alert, severity, state, message FROM events ORDER BY t, id").fetchall()
    finally:
        db.close()


@pytest.mark.parametrize("name", ["sos-step-drop", "sos-low-voltage", "main-weak-crank", "main-parasitic-drain"])
def test_two_halves_into_one_store_give_the_transitions_of_the_whole_log(name: str, tmp_path: Path) -> None:
    cfg = config.from_dict(scenarios.scenario_config(name), env={})
    readings = list(scenarios.generate(name))
    whole = replay_file(_write(tmp_path / "all.csv", readings), cfg, store_dir=tmp_path / "whole")
    assert whole.transitions, "the scenario raises something"
    # cut in the middle, and right after the first transition (its state saved at the cut)
    first_at = next(i for i, r in enumerate(readings) if r.t == whole.transitions[0].t)
    for cut in sorted({len(readings) // 2, first_at + 1}):
        store = tmp_path / f"parts-{cut}"
        h1 = replay_file(_write(tmp_path / f"h1-{cut}.csv", readings[:cut]), cfg, store_dir=store)
        h2 = replay_file(_write(tmp_path / f"h2-{cut}.csv", readings[cut:]), cfg, store_dir=store)
        assert [_key(t) for t in h1.transitions + h2.transitions] == [_key(t) for t in whole.transitions], cut
        assert _events(store) == _events(tmp_path / "whole")


def test_a_log_that_does_not_follow_the_stored_analysis_stops_before_writing(tmp_path: Path) -> None:
    name = "sos-step-drop"
    cfg = config.from_dict(scenarios.scenario_config(name), env={})
    readings = list(scenarios.generate(name))
    cut = len(readings) // 2
    h1 = _write(tmp_path / "h1.csv", readings[:cut])
    store = tmp_path / "store"
    first = replay_file(h1, cfg, store_dir=store)
    before = _events(store)
    with pytest.raises(ReplayError, match=r"h1.csv starts at .* not after the last reading .*--fresh"):
        replay_file(h1, cfg, store_dir=store)
    assert _events(store) == before
    # --fresh: the analysis starts afresh, as the first replay did; events are not doubled
    again = replay_file(h1, cfg, store_dir=store, fresh=True)
    assert [_key(t) for t in again.transitions] == [_key(t) for t in first.transitions]
    assert _events(store) == before
    other = config.from_dict({**scenarios.scenario_config(name), "vehicle": {"id": "other-car"}}, env={})
    h2 = _write(tmp_path / "h2.csv", readings[cut:])
    with pytest.raises(ReplayError, match="holds the analysis of vehicle 'sim-sos-step-drop'"):
        replay_file(h2, other, store_dir=store)


def _summary(store: Path) -> dict[str, object]:
    import json

    db = sqlite3.connect(store / "battwatch.sqlite3")
    try:
        data = json.loads(db.execute("SELECT value FROM kv WHERE key = 'summary'").fetchone()[0])
    finally:
        db.close()
    return {k: data[k] for k in ("main", "sos")}


@pytest.mark.parametrize("name", ["sos-low-voltage", "sensor-open-wire"])
def test_a_cut_keeps_the_current_words_and_the_fault_s_first_sign(name: str, tmp_path: Path) -> None:
    """The summary after two halves is the whole log's: refreshed alert messages and a sensor
    fault's first sign survive the saved state."""
    cfg = config.from_dict(scenarios.scenario_config(name), env={})
    readings = list(scenarios.generate(name))
    whole = replay_file(_write(tmp_path / "all.csv", readings), cfg, store_dir=tmp_path / "whole")
    last_at = next(i for i, r in enumerate(readings) if r.t == whole.transitions[-1].t)
    cut = (last_at + len(readings)) // 2  # inside the last alert's episode
    store = tmp_path / "parts"
    replay_file(_write(tmp_path / "h1.csv", readings[:cut]), cfg, store_dir=store)
    replay_file(_write(tmp_path / "h2.csv", readings[cut:]), cfg, store_dir=store)
    got, want = _summary(store), _summary(tmp_path / "whole")
    assert got == want
    active = [a for b in ("main", "sos") for a in want[b]["alerts"]]  # type: ignore[index]
    assert active and all(a["message"] for a in active)
