"""`battwatch replaced`: recorded in the store, honoured by `replay --store` at its time in the data
(in parts across the change as in one go); bad input is one clear line and exit 2."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest

from replaced_logs import WHEN, events, run, write_config, write_logs


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_logs(tmp_path_factory.mktemp("logs"))


def _one_line_error(res: subprocess.CompletedProcess[str]) -> str:
    assert res.returncode == 2, res
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    return lines[0]


def test_replay_in_parts_across_the_replacement_gives_what_one_replay_gives(
    battwatch_bin: str, tmp_path: Path, logs: dict[str, Path]
) -> None:
    # in parts: the owner tells between the two, as on a car whose logs are replayed day by day
    parts = tmp_path / "parts"
    cfg = write_config(tmp_path / "parts.toml", parts)
    assert run(battwatch_bin, "replay", str(logs["part1"]), "-c", str(cfg), "--store", str(parts)).returncode == 0
    told = run(battwatch_bin, "replaced", "--battery", "sos", "--date", WHEN, "--note", "dealer", "-c", str(cfg))
    assert told.returncode == 0, told.stderr
    assert told.stdout.startswith("recorded: SOS backup battery of car-r replaced on 2025-03-25")
    res = run(battwatch_bin, "replay", str(logs["part2"]), "-c", str(cfg), "--store", str(parts), "--jsonl")
    assert res.returncode == 0, res.stderr
    jsonl = [json.loads(line) for line in res.stdout.splitlines()]
    assert [(j["alert"], j["state"], j["time"]) for j in jsonl if "battery replaced" in j["message"]] == [
        ("low_voltage", "cleared", "2025-03-25T10:00:00.000+00:00"),
        ("decline", "cleared", "2025-03-25T10:00:00.000+00:00"),
    ]
    assert [j for j in jsonl if j["time"] > "2025-03-25T10:00:00.000+00:00"] == []  # nothing after it

    # in one go: a fresh store that knows of the replacement beforehand
    whole = tmp_path / "whole"
    cfg_w = write_config(tmp_path / "whole.toml", whole)
    assert run(battwatch_bin, "replay", str(logs["part1"]), "-c", str(cfg_w), "--store", str(whole)).returncode == 0
    assert run(battwatch_bin, "replaced", "--battery", "sos", "--date", WHEN, "--note", "dealer",
                "-c", str(cfg_w)).returncode == 0
    res = run(battwatch_bin, "replay", str(logs["whole"]), "-c", str(cfg_w), "--store", str(whole), "--fresh")
    assert res.returncode == 0, res.stderr
    assert events(parts) == events(whole)

    status = run(battwatch_bin, "status", "-c", str(cfg), "--json")
    sos = json.loads(status.stdout)["batteries"]["sos"]
    assert sos["fitted"] == "2025-03-25" and sos["fitted_from"] == "replaced" and sos["replaced_note"] == "dealer"
    text = run(battwatch_bin, "status", "-c", str(cfg)).stdout
    assert "fitted            2025-03-25 (replaced: told with `battwatch replaced`; later than " \
           "[battery.sos] installed = 2022-06-01); note: dealer" in text
    # the recent events say what happened once: "cleared: battery replaced on ...", not "cleared: cleared: ..."
    assert "cleared: battery replaced on 2025-03-25" in text and "cleared: cleared:" not in text


def test_a_recorded_replacement_not_yet_applied_is_shown_as_such(
    battwatch_bin: str, tmp_path: Path, logs: dict[str, Path]
) -> None:
    store = tmp_path / "s"
    cfg = write_config(tmp_path / "c.toml", store)
    assert run(battwatch_bin, "replay", str(logs["part1"]), "-c", str(cfg), "--store", str(store)).returncode == 0
    assert run(battwatch_bin, "replaced", "--battery", "sos", "--date", WHEN, "-c", str(cfg)).returncode == 0
    again = run(battwatch_bin, "replaced", "--battery", "sos", "--date", WHEN, "-c", str(cfg))
    assert again.returncode == 0 and "recorded already" in again.stderr and again.stdout == ""
    text = run(battwatch_bin, "status", "-c", str(cfg)).stdout
    assert "replacement       recorded for 2025-03-25, not applied yet" in text


@pytest.mark.parametrize(("args", "says"), [
    (("--battery", "sos", "--date", "2999-01-01"), "--date 2999-01-01: the date is in the future"),
    (("--battery", "sos", "--date", "2999-01-01T10:00+01:00"), "the time is in the future"),
    (("--battery", "sos", "--date", "2024-12-01"),
     "2024-12-01 is before the data the store holds (from 2025-01-06)"),
    (("--battery", "sos", "--date", "25.03.2025"), "--date '25.03.2025': not a valid date"),
    (("--battery", "sos", "--date", "2025-03-25T10:00"), "has no UTC offset"),
    (("--battery", "tyre"), "argument --battery: invalid choice: 'tyre'"),
])
def test_bad_input_is_one_clear_line(
    battwatch_bin: str, tmp_path: Path, logs: dict[str, Path], args: tuple[str, ...], says: str
) -> None:
    store = tmp_path / "s"
    cfg = write_config(tmp_path / "c.toml", store)
    assert run(battwatch_bin, "replay", str(logs["part1"]), "-c", str(cfg), "--store", str(store)).returncode == 0
    res = run(battwatch_bin, "replaced", *args, "-c", str(cfg))
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
    assert says in res.stderr.strip().splitlines()[-1]
    db = sqlite3.connect(store / "battwatch.sqlite3")
    assert db.execute("SELECT count(*) FROM replacements").fetchone()[0] == 0  # nothing recorded
    db.close()


def test_an_older_replacement_than_one_recorded_is_refused(battwatch_bin: str, tmp_path: Path,
                                                           logs: dict[str, Path]) -> None:
    store = tmp_path / "s"
    cfg = write_config(tmp_path / "c.toml", store)
    assert run(battwatch_bin, "replay", str(logs["part1"]), "-c", str(cfg), "--store", str(store)).returncode == 0
    assert run(battwatch_bin, "replaced", "--battery", "sos", "--date", WHEN, "-c", str(cfg)).returncode == 0
    line = _one_line_error(run(battwatch_bin, "replaced", "--battery", "sos", "--date", "2025-03-01", "-c", str(cfg)))
    assert line == ("battwatch replaced: a later replacement of the SOS backup battery is recorded already "
                    "(2025-03-25): the latest one counts")


def test_no_store_is_one_clear_line(battwatch_bin: str, tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "c.toml", tmp_path / "nowhere")
    line = _one_line_error(run(battwatch_bin, "replaced", "--battery", "main", "-c", str(cfg)))
    assert line.startswith(f"battwatch replaced: no battwatch store in {tmp_path / 'nowhere'}")
    assert not (tmp_path / "nowhere").exists()


class _Answers:
    """What the daemon publishes in answer to a replacement command (the MQTT sink's role)."""

    name = "answers"

    def __init__(self) -> None:
        self.got: list[dict[str, object]] = []

    def replace_answer(self, answer: dict[str, object]) -> None:
        self.got.append(answer)


def test_a_command_the_store_cannot_keep_is_answered_not_stored_without_a_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from battwatch import config
    from battwatch.app import App, ReplaceCommand

    cfg = config.defaults("car-r", store={"path": str(tmp_path / "store")})
    answers = _Answers()
    app = App(cfg, sinks=[answers], use_scheduler=False)  # type: ignore[list-item]
    try:
        app._handle(ReplaceCommand(b"sos", 1_742_896_800.0))
        assert answers.got[-1]["result"] == "recorded"
        app.store.db.execute("PRAGMA query_only = 1")  # its writes now fail, as on a full disk
        app._handle(ReplaceCommand(b"main", 1_742_896_900.0))
    finally:
        app.store.db.execute("PRAGMA query_only = 0")
        app.store.close()
    answer = answers.got[-1]
    assert (answer["battery"], answer["result"]) == ("main", "not stored")
    assert "send it again once the store's disk has room" in str(answer["error"])
    assert app.commands == {"received": 2, "refused": 1}
    assert not any(r.exc_info for r in caplog.records)  # said in one line, no traceback
    assert any("replacement command not stored" in r.getMessage() for r in caplog.records)
    db = sqlite3.connect(tmp_path / "store" / "battwatch.sqlite3")
    assert [b for (b,) in db.execute("SELECT battery FROM replacements")] == ["sos"]
    db.close()
