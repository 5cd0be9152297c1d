"""Records behave as the frozen, slotted dataclasses they replace, without generated methods."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from battwatch.core.record import Record, record


@record
class Point(Record):
    x: float
    label: str = "here"
    tags: list[str] = dataclasses.field(default_factory=list)


def test_a_record_is_built_compared_hashed_and_shown_as_a_frozen_dataclass() -> None:
    p = Point(1.0)
    assert p == Point(x=1.0, label="here") and p != Point(2.0) and p.tags == [] and p.tags is not Point(1.0).tags
    assert hash(Point(1.0, "a", ())) == hash(Point(1.0, "a", ()))  # type: ignore[arg-type]
    assert repr(p) == "Point(x=1.0, label='here', tags=[])"
    assert dataclasses.replace(p, label="there") == Point(1.0, "there")
    assert [f.name for f in dataclasses.fields(p)] == ["x", "label", "tags"] and Point.__match_args__ == ("x", "label", "tags")
    assert pickle.loads(pickle.dumps(p)) == p
    assert not hasattr(p, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.x = 2.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del p.x  # type: ignore[misc]


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((), {}, "missing 1 required argument: 'x'"),
        ((1.0, "a", [], 4), {}, "takes 3 arguments but 4 were given"),
        ((1.0,), {"y": 2}, "unexpected keyword argument 'y'"),
        ((1.0,), {"x": 2.0}, "multiple values for argument 'x'"),
    ],
)
def test_wrong_arguments_are_refused_as_dataclass_refuses_them(args: tuple[object, ...], kwargs: dict[str, object],
                                                               message: str) -> None:
    with pytest.raises(TypeError, match=message):
        Point(*args, **kwargs)  # type: ignore[arg-type]


def test_a_class_that_needs_more_than_its_fields_set_is_no_record() -> None:
    with pytest.raises(TypeError, match="no __post_init__"):
        @record
        class Later(Record):
            x: float
            y: float = dataclasses.field(init=False, default=0.0)
