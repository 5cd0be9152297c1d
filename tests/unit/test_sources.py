"""The repository stands on its own: every [SRC n] it cites is listed in docs/sources.md."""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = "docs/sources.md"
HERE = Path(__file__).resolve().relative_to(ROOT).as_posix()

# A tag's numbers: single numbers and ranges separated by commas, line breaks allowed, so
# "[SRC 21, 22,\n23]", "[SRC 1, 7-9, 51]", "(SRC 14)" and "[ENG, ..., SRC 14]" all count; the
# list ends at the first thing that is not a number ("[SRC 23, forum-grade]" cites 23 only).
_NUM = r"\d+(?:\s*[-–]\s*\d+)?"
_TAG = re.compile(rf"\bSRC\s+({_NUM}(?:\s*,\s*{_NUM})*)")
_ROW = re.compile(r"^\| \[SRC (\d+)\] \| (.*) \| (.*) \|$", re.M)
# Pointers a fresh clone cannot follow: the team's domain reference and the shared folder's docs.
_OUTSIDE = re.compile(r"domain\.md|\.\./shared|shared/docs")


def cited(text: str) -> set[int]:
    out: set[int] = set()
    for tag in _TAG.findall(text):
        for part in re.split(r"\s*,\s*", tag):
            lo, _, hi = re.sub(r"\s", "", part).replace("–", "-").partition("-")
            out |= set(range(int(lo), int(hi or lo) + 1))
    return out


@cache
def tracked_texts() -> dict[str, str]:
    """Every tracked file that reads as UTF-8 text, by its path in the repository."""
    names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True).stdout
    out: dict[str, str] = {}
    for name in names.decode().split("\0"):
        path = ROOT / name
        if not name or not path.is_file():
            continue
        try:
            out[name] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # images and other binaries cite nothing
    return out


def citing_files() -> dict[str, set[int]]:
    """Cited numbers per file, leaving out the list itself and this test's examples."""
    out = {name: cited(text) for name, text in tracked_texts().items() if name not in (SOURCES, HERE)}
    return {name: nums for name, nums in out.items() if nums}


def listed() -> list[int]:
    return [int(m.group(1)) for m in _ROW.finditer((ROOT / SOURCES).read_text(encoding="utf-8"))]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("moves around [SRC 21, 22,\n23]. Two caveats", {21, 22, 23}),
        ("§0.2 [SRC 1, 7-9, 51, 52] |", {1, 7, 8, 9, 51, 52}),
        ("§0.1 [SRC 21–23]; clear", {21, 22, 23}),
        ("damaged for good (SRC 14), load-test it", {14}),
        ('[ENG,\n# anchored on BMW\'s "12.5 V", SRC 14]. Flooded', {14}),
        ("12.5-14.8 V [SRC 23, forum-grade], 12 V", {23}),
        ("[SRC 1; see the list], 8 cells", {1}),
        ('[[ -f "$SRC/$f" ]] and [SRC n] as a placeholder', set()),
    ],
)
def test_tags_are_read_in_every_written_form(text: str, expected: set[int]) -> None:
    assert cited(text) == expected


def test_the_repository_cites_sources() -> None:
    # Guards the two checks below against passing because nothing was read.
    files = citing_files()
    assert {"docs/analysis.md", "firmware-notes/wiring.md", "daemon/battwatch/analysis_config.py"} <= set(files)


def test_every_cited_source_is_listed() -> None:
    known = set(listed())
    missing = {name: sorted(nums - known) for name, nums in citing_files().items() if nums - known}
    assert not missing, f"{SOURCES} does not list sources cited in: {missing}"


def test_the_list_holds_only_cited_sources_once_each_in_order() -> None:
    numbers = listed()
    used = set().union(*citing_files().values())
    assert numbers == sorted(set(numbers)), f"{SOURCES}: rows out of order or repeated: {numbers}"
    assert not set(numbers) - used, f"{SOURCES} lists sources nobody cites: {sorted(set(numbers) - used)}"


def test_every_listed_source_has_a_link_and_says_what_battwatch_takes_from_it() -> None:
    rows = _ROW.findall((ROOT / SOURCES).read_text(encoding="utf-8"))
    assert rows
    for number, source, use in rows:
        assert re.search(r"https?://", source), f"[SRC {number}] has no link"
        assert len(use.strip()) > 20, f"[SRC {number}] does not say what battwatch takes from it"


def test_documents_that_cite_sources_link_to_the_list() -> None:
    for name in citing_files():
        if name.endswith(".md"):
            assert "sources.md" in tracked_texts()[name], f"{name} cites [SRC n] without pointing to {SOURCES}"


def test_nothing_points_outside_the_repository_for_its_sources() -> None:
    hits = [
        f"{name}:{i}: {line.strip()}"
        for name, text in tracked_texts().items()
        if name != HERE
        for i, line in enumerate(text.splitlines(), 1)
        if _OUTSIDE.search(line)
    ]
    assert not hits, "pointers to documents a clone does not have:\n" + "\n".join(hits)
