"""Records behave as the frozen, slotted dataclasses they replace, without generated methods."""

from __future__ import annotations

import dataclasses
import pickle
from typing import Any, ClassVar

import pytest

from battwatch.core.record import Record, frozen, record


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
        del p.x


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
    with pytest.raises(TypeError, match="no __post_init__"):
        @record
        class After(Record):
            x: float

            def __post_init__(self) -> None:
                pass


@record
class Labelled(Point):
    NOTE: ClassVar[str] = "a class constant, no field"
    unit: str = "V"


def test_a_record_made_from_a_record_is_the_dataclass_dataclass_would_make() -> None:
    @dataclasses.dataclass(init=False, repr=False, eq=False, slots=True)
    class Plain(Point):  # type: ignore[misc]  # as dataclass() remade it, unfrozen
        NOTE: ClassVar[str] = "a class constant, no field"
        unit: str = "V"

    ours, theirs = dataclasses.fields(Labelled), dataclasses.fields(Plain)
    assert [(f.name, f.type, f.default, f.default_factory, f.kw_only) for f in ours] == \
        [(f.name, f.type, f.default, f.default_factory, f.kw_only) for f in theirs]
    assert getattr(Labelled, "__slots__") == getattr(Plain, "__slots__") == ("unit",)  # noqa: B009
    assert Labelled.__match_args__ == Plain.__match_args__
    assert Labelled.NOTE == "a class constant, no field" and Labelled.__qualname__ == "Labelled"
    item = Labelled(1.0, unit="A")
    assert (item.x, item.label, item.tags, item.unit) == (1.0, "here", [], "A") and not hasattr(item, "__dict__")
    assert dataclasses.asdict(item) == {"x": 1.0, "label": "here", "tags": [], "unit": "A"}


def test_keyword_only_records_match_no_positional_pattern() -> None:
    @dataclasses.dataclass(init=False, repr=False, eq=False, slots=True, kw_only=True)
    class Plain(Record):
        a: int = 1

    Ours: Any = frozen(type("Ours", (Record,), {"__annotations__": {"a": "int"}, "a": 1, "__slots__": ()}), kw_only=True)
    assert Ours.__match_args__ == Plain.__match_args__ == ()
    assert [f.kw_only for f in dataclasses.fields(Ours)] == [f.kw_only for f in dataclasses.fields(Plain)] == [True]


def test_records_own_field_and_replace_give_what_dataclasses_give() -> None:
    from battwatch.core.record import field, replace

    @record
    class Bag(Record):
        name: str
        items: list[str] = field(default_factory=list)
        count: int = field(default=3)

    bag = Bag("a")
    assert bag.items == [] and bag.items is not Bag("b").items and bag.count == 3
    assert replace(bag, count=4) == dataclasses.replace(bag, count=4) == Bag("a", [], 4)
    assert [(f.name, f.default, f.default_factory) for f in dataclasses.fields(Bag)] == \
        [("name", dataclasses.MISSING, dataclasses.MISSING), ("items", dataclasses.MISSING, list),
         ("count", 3, dataclasses.MISSING)]
    with pytest.raises(TypeError, match="unexpected keyword argument 'size'"):
        replace(bag, size=2)
