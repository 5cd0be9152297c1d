"""The configuration engine: coercions, every kind of problem, secrets, plain data."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, time
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest

from battwatch import config
from battwatch.configbase import Check, Pattern, Range, Secret, Section, plain, section, validate


def _even(v: int) -> None:
    if v % 2:
        raise ValueError("an even number")


@section
class Inner(Section):
    level: Annotated[float, Range(gt=0, le=10)] = 1.0
    name: Annotated[str, Pattern(r"^[a-z]+$")] = "abc"


@section
class Ordered(Section):
    low: float = 1.0
    high: float = 2.0

    def check(self) -> None:
        if self.low >= self.high:
            raise ValueError("low must be below high")


@section
class Sample(Section):
    count: Annotated[int, Check(_even)] = 2
    ratio: float = 0.5
    flag: bool = False
    mode: Literal["a", "b"] = "a"
    qos: Literal[0, 1, 2] = 1
    day: date | None = None
    where: Path = Path("/tmp")
    pair: tuple[float, float] = (1.0, 2.0)
    table: tuple[tuple[float, float], ...] = ((0.0, 1.0),)
    names: list[str] | None = None
    tags: dict[str, str] = dataclasses.field(default_factory=dict)
    token: Secret | None = None
    inner: Inner = Inner()
    ordered: Ordered = Ordered()
    extra: Inner | None = None


@section
class Top(Section):
    required: str
    sample: Sample = Sample()


def run(cls: type[Any], raw: Any) -> tuple[Any, list[str]]:
    problems: list[str] = []
    return validate(cls, raw, "", problems), problems


def ok(raw: dict[str, Any]) -> Sample:
    obj, problems = run(Sample, raw)
    assert problems == []
    assert isinstance(obj, Sample)
    return obj


def bad(raw: dict[str, Any]) -> list[str]:
    _, problems = run(Sample, raw)
    assert problems
    return problems


def test_absent_keys_take_the_defaults() -> None:
    s = ok({})
    assert s == Sample()
    assert s.extra is None and s.names is None and s.tags == {}


def test_values_are_converted_to_their_types() -> None:
    s = ok({
        "ratio": 3, "day": "2024-02-29", "where": " /var/x ", "pair": [1, 5], "table": [[0, 1], [2, 3.5]],
        "names": [" x ", "y"], "tags": {"k": " v "}, "mode": "b", "qos": 2, "flag": True,
    })
    assert s.ratio == 3.0 and isinstance(s.ratio, float)
    assert s.day == date(2024, 2, 29)
    assert s.where == Path("/var/x")
    assert s.pair == (1.0, 5.0) and all(isinstance(v, float) for v in s.pair)
    assert s.table == ((0.0, 1.0), (2.0, 3.5))
    assert s.names == ["x", "y"]  # strings lose stray whitespace
    assert s.tags == {"k": "v"}
    assert (s.mode, s.qos, s.flag) == ("b", 2, True)


def test_a_toml_date_is_taken_as_is_and_a_whole_float_as_an_int() -> None:
    s = ok({"day": date(2020, 1, 2), "count": 4.0})
    assert s.day == date(2020, 1, 2)
    assert s.count == 4 and isinstance(s.count, int)


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ({"ratio": True}, "ratio: found true; expected: a number"),
        ({"count": False}, "count: found false; expected: an integer"),
        ({"qos": True}, "qos: found true; expected: one of 0, 1, 2"),
        ({"flag": 1}, "flag: found 1; expected: true or false"),
        ({"ratio": "0.5"}, "ratio: found '0.5'; expected: a number"),
        ({"count": 2.5}, "count: found 2.5; expected: an integer"),
    ],
)
def test_bool_is_not_a_number_nor_a_number_a_bool_or_a_string_a_number(raw: dict[str, Any], problem: str) -> None:
    assert bad(raw) == [problem]


def test_each_kind_of_value_problem_names_the_key_the_value_and_what_is_expected() -> None:
    got = bad({
        "mode": "c",
        "day": "soon",
        "pair": [1, 2, 3],
        "table": [[0, 1], [2]],
        "names": "x",
        "tags": {"k": 1},
        "inner": {"level": 0, "name": "ABC"},
        "where": 5,
    })
    assert got == [
        "mode: found 'c'; expected: one of 'a', 'b'",
        "day: found 'soon'; expected: a date (YYYY-MM-DD)",
        "where: found 5; expected: a non-empty path",
        "pair: found [1, 2, 3]; expected: a list of 2 items",
        "table.1: found [2]; expected: a list of 2 items",
        "names: found 'x'; expected: a list",
        "tags.k: found 1; expected: a string",
        "inner.level: found 0; expected: a number > 0 and <= 10",
        "inner.name: found 'ABC'; expected: a string matching '^[a-z]+$'",
    ]


def test_a_field_rule_reports_at_the_field_with_the_value_found() -> None:
    assert bad({"count": 3}) == ["count: found 3; expected: an even number"]


def test_a_section_rule_reports_at_the_section_once_its_keys_are_valid() -> None:
    assert bad({"ordered": {"low": 3, "high": 2}}) == ["ordered: low must be below high"]
    # a bad key hides the rule across keys: it could only repeat the same mistake
    assert bad({"ordered": {"low": "x", "high": 2}}) == ["ordered.low: found 'x'; expected: a number"]


@section
class Link(Section):
    port: str
    min_s: float = 1.0
    max_s: float = 10.0
    level: Annotated[int, Check(_even)] = 2
    inner: Inner = Inner()

    def check(self) -> None:
        if self.min_s > self.max_s:
            raise ValueError("min_s must not exceed max_s")


def test_a_section_rule_runs_when_only_keys_it_does_not_read_are_wrong() -> None:
    """Every problem at once: a bad key elsewhere in the section (or in a table inside it, an
    unknown key, a missing required key) does not hide a broken rule across valid keys."""
    _, got = run(Link, {"min_s": 5, "max_s": 2, "level": 3, "inner": {"level": 0}, "typo": 1})
    assert got == [
        "port: required key is missing",
        "level: found 3; expected: an even number",
        "inner.level: found 0; expected: a number > 0 and <= 10",
        "typo: unknown key",
        "(top level): min_s must not exceed max_s",
    ]
    # a default takes part in the rule like a value written in the file
    assert run(Link, {"min_s": 20, "level": 3})[1][-1] == "(top level): min_s must not exceed max_s"
    # the rule still holds back when a key it reads is itself wrong
    _, got = run(Link, {"port": "p", "min_s": "x", "max_s": 2, "level": 3})
    assert got == ["min_s: found 'x'; expected: a number", "level: found 3; expected: an even number"]


def test_a_rule_that_reads_a_key_the_section_lacks_is_a_bug_not_a_skip() -> None:
    @section
    class Broken(Section):
        a: int = 1
        b: Annotated[int, Check(_even)] = 2

        def check(self) -> None:
            if self.nope > 0:  # type: ignore[attr-defined]
                raise ValueError("never")

    with pytest.raises(AttributeError, match="nope"):
        run(Broken, {"b": 3})


def test_values_found_are_shown_as_toml_text() -> None:
    when = datetime(2020, 1, 1, 10, 0)
    assert bad({"day": when}) == ["day: found 2020-01-01T10:00:00; expected: a date (YYYY-MM-DD)"]
    assert bad({"ratio": time(7, 30)}) == ["ratio: found 07:30:00; expected: a number"]
    assert bad({"names": [True, date(2020, 1, 2), "x"]}) == ["names.0: found true; expected: a string",
                                                             "names.1: found 2020-01-02; expected: a string"]
    assert bad({"pair": {"a": [1, False]}}) == ["pair: found {a = [1, false]}; expected: a list of 2 items"]


@pytest.mark.parametrize("blank", ["", "   "])
def test_an_empty_path_is_refused_not_taken_for_the_current_directory(blank: str) -> None:
    assert bad({"where": blank}) == [f"where: found {blank!r}; expected: a non-empty path"]


def test_unknown_keys_get_a_hint_when_one_is_close() -> None:
    assert bad({"ratoi": 1, "zzz": 2}) == ["ratoi: unknown key; did you mean 'ratio'?", "zzz: unknown key"]
    assert bad({"inner": {"levl": 2}}) == ["inner.levl: unknown key; did you mean 'level'?"]


def test_required_keys_and_tables() -> None:
    assert run(Top, {})[1] == ["required: required key is missing"]
    assert run(Top, {"required": "x", "sample": 3})[1] == ["sample: found 3; expected: a table"]
    assert run(Top, [])[1] == ["(top level): found []; expected: a table"]


def test_every_problem_is_reported_at_once_across_sections() -> None:
    _, got = run(Top, {"sample": {"ratio": "x", "inner": {"level": 99}, "ordered": {"low": 5, "high": 1}, "typo": 1}})
    assert got == [
        "required: required key is missing",
        "sample.ratio: found 'x'; expected: a number",
        "sample.inner.level: found 99; expected: a number > 0 and <= 10",
        "sample.ordered: low must be below high",
        "sample.typo: unknown key",
    ]


def test_an_optional_section_absent_is_none_and_present_is_validated() -> None:
    assert ok({}).extra is None
    assert ok({"extra": {"level": 2}}).extra == Inner(level=2.0)
    assert bad({"extra": {"level": -1}}) == ["extra.level: found -1; expected: a number > 0 and <= 10"]


def test_long_values_are_cut_short_in_problems() -> None:
    (problem,) = bad({"mode": "x" * 100})
    assert problem.endswith("...; expected: one of 'a', 'b'") and len(problem) < 100


def test_secrets_never_show() -> None:
    s = ok({"token": " hunter2 "})
    assert s.token is not None and s.token.get_secret_value() == "hunter2"
    assert "hunter2" not in repr(s) and "hunter2" not in str(s.token)
    assert plain(s)["token"] == "********"
    assert bad({"token": 12345678}) == ["token: found (secret); expected: a string"]


def test_redacted_config_is_plain_json_data_with_secrets_masked() -> None:
    raw = {
        "vehicle": {"id": "car-1"},
        "battery": {"main": {"installed": date(2022, 5, 1)}},
        "mqtt": {"host": "b", "password": "pw-secret"},
        "influx": {"url": "http://x", "org": "o", "bucket": "b", "token": "tok-secret"},
    }
    data = config.redacted(config.from_dict(raw, env={}))
    assert data["mqtt"]["password"] == "********" and data["influx"]["token"] == "********"
    assert data["battery"]["main"]["installed"] == "2022-05-01"
    assert data["store"]["path"] == "/var/lib/battwatch"
    assert data["battery"]["sos"]["lifespan_years"] == [4.0, 7.0]
    assert "tls" not in data["mqtt"] and "collect" not in data  # None is left out
    assert "secret" not in repr(data)


def test_sections_are_frozen_slotted_and_replaceable() -> None:
    s = ok({})
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.ratio = 2.0  # type: ignore[misc]
    assert not hasattr(s, "__dict__")
    t = dataclasses.replace(s, ratio=2.0)
    assert (t.ratio, s.ratio) == (2.0, 0.5)


def test_a_section_object_is_accepted_where_its_table_is_expected() -> None:
    inner = Inner(level=3.0)
    assert ok({"inner": inner}).inner is inner


def test_the_engine_refuses_a_type_it_has_no_rule_for() -> None:
    @section
    class Odd(Section):
        x: complex = 0j

    with pytest.raises(TypeError, match="no rule"):
        run(Odd, {"x": 1})


def test_the_embedded_defaults_pass_their_own_rules_and_survive_a_round_trip() -> None:
    # defaults are written in code, not validated when built: this is their validation
    cfg = config.defaults("car-1", mqtt={"host": "b"}, influx={"url": "http://x", "org": "o", "bucket": "b"})
    again, problems = run(config.Config, plain(cfg))
    assert problems == []
    assert again == cfg
