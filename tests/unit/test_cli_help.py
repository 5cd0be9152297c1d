"""Small things a first user meets: help for every option, whole scenario descriptions, typos."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from battwatch import scenarios
from battwatch.cli import build_parser


def _subparser(name: str) -> object:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")  # the COMMAND choice
    return sub.choices[name]  # type: ignore[attr-defined]


@pytest.mark.parametrize(("command", "option"), [("run", "--log-level"), ("adc-sim", "--seed"),
                                                 ("collect", "--log-level")])
def test_every_option_named_in_the_issue_has_help(command: str, option: str) -> None:
    p = _subparser(command)
    action = next(a for a in p._actions if option in a.option_strings)  # type: ignore[attr-defined]
    assert action.help and len(action.help) > 20, action.help


def test_no_option_of_any_command_lacks_help() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    missing = [f"{name} {'/'.join(a.option_strings) or a.dest}" for name, p in sub.choices.items()  # type: ignore[attr-defined]
               for a in p._actions if a.help is None]
    assert missing == []


def test_scenario_descriptions_are_listed_whole() -> None:
    done = subprocess.run([sys.executable, "-m", "battwatch", "adc-sim", "--list-scenarios"], capture_output=True,
                          text=True, timeout=60, check=True)
    lines = {line.split()[0]: line for line in done.stdout.splitlines() if line.strip()}
    long = [n for n in scenarios.names() if len(scenarios.describe(n).splitlines()[0]) > 100]
    assert long, "no description is longer than 100 characters: the test proves nothing"
    for name in long:
        assert lines[name].endswith(scenarios.describe(name).splitlines()[0]), lines[name]


def test_a_misspelt_demo_scenario_gets_a_did_you_mean() -> None:
    done = subprocess.run([sys.executable, "-m", "battwatch", "demo", "--scenario", "sos-declin"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "unknown scenario 'sos-declin'; did you mean 'sos-decline'?" in done.stderr


def test_a_command_parsed_alone_has_the_options_and_help_it_has_among_all() -> None:
    """main() builds only the named command's options: they must be the very ones of the whole parser."""
    whole = build_parser()
    every: Any = next(a for a in whole._actions if a.dest == "command").choices
    for name, full in every.items():
        alone = build_parser(name)
        choices: Any = next(a for a in alone._actions if a.dest == "command").choices
        assert list(choices) == [name]
        assert choices[name].format_help() == full.format_help(), name
        assert alone.parse_args([name, *_minimal(name)]) == whole.parse_args([name, *_minimal(name)])


def _minimal(command: str) -> list[str]:
    """The fewest arguments the command accepts."""
    return {"replay": ["a.csv"], "report": ["a.csv"], "import": ["a.txt"], "adc-sim": ["--list-scenarios"],
            "calibrate": ["--channel", "main"], "replaced": ["--battery", "sos"]}.get(command, [])


@pytest.mark.parametrize("columns", [None, "57", "0", "wide"])
def test_the_help_is_as_wide_as_shutil_says_the_terminal_is(monkeypatch: pytest.MonkeyPatch,
                                                            columns: str | None) -> None:
    import shutil

    from battwatch.cli import terminal_columns

    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    assert terminal_columns() == shutil.get_terminal_size().columns
