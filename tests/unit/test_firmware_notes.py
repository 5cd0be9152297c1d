"""The firmware notes stand on their own: every source they cite is listed in the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

NOTES = Path(__file__).resolve().parents[2] / "firmware-notes"


def _cited(text: str) -> set[int]:
    """The numbers of every [SRC n] tag, including lists such as [SRC 21, 22,\\n23] and [SRC 1; ...]."""
    out: set[int] = set()
    for tag in re.findall(r"\[SRC ([^\]]*)\]", text):
        head = tag.split(";")[0]
        out |= {int(n) for n in re.findall(r"\d+", head)}
    return out


def _listed() -> set[int]:
    return {int(n) for n in re.findall(r"^\| \[SRC (\d+)\] \|", (NOTES / "references.md").read_text(), re.M)}


@pytest.mark.parametrize("name", sorted(p.name for p in NOTES.glob("*.md") if p.name != "references.md"))
def test_every_cited_source_is_in_the_reference_list(name: str) -> None:
    missing = _cited((NOTES / name).read_text()) - _listed()
    assert not missing, f"{name} cites sources that references.md does not list: {sorted(missing)}"


@pytest.mark.parametrize("name", ["wiring.md", "calibration.md"])
def test_citations_point_inside_the_repository(name: str) -> None:
    text = (NOTES / name).read_text()
    assert "domain.md" not in text  # the domain reference is not part of the repository
    assert _cited(text) and "references.md" in text


def test_the_reference_list_cites_nothing_the_notes_do_not_use() -> None:
    used = set().union(*(_cited(p.read_text()) for p in NOTES.glob("*.md") if p.name != "references.md"))
    assert _listed() == used
