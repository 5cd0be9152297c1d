"""Frozen, slotted dataclasses whose methods are shared instead of generated per class (fast start-up)."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar, dataclass_transform

# dataclass() compiles an __init__, __setattr__, __delattr__, __eq__, __hash__ and __repr__
# from source for every class: ~0.5 ms each, and a replay's start-up loads dozens of them.
# The methods here read the class's field list instead; dataclasses.fields(), replace() and
# asdict() work on these classes as on any dataclass.

_SPECS: dict[type, tuple[tuple[str, Any, Any], ...]] = {}


def _spec(cls: type) -> tuple[tuple[str, Any, Any], ...]:
    """(name, default, default factory) of every field of ``cls``, in order, looked up once."""
    spec = _SPECS.get(cls)
    if spec is None:
        spec = _SPECS[cls] = tuple((f.name, f.default, f.default_factory) for f in dataclasses.fields(cls))
    return spec


def field_names(cls: type) -> tuple[str, ...]:
    """The field names of a record (or any dataclass) class, in order."""
    return tuple(name for name, _, _ in _spec(cls))


def values(obj: Any) -> tuple[Any, ...]:
    """The field values of a record, in order."""
    return tuple(getattr(obj, name) for name, _, _ in _spec(type(obj)))


class Record:
    """The base of a frozen record: dataclass's __init__ (positional or keyword), frozen
    attributes, equality, hash, repr and pickling, written once."""

    __slots__ = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        cls = type(self)
        spec = _spec(cls)
        if len(args) > len(spec):
            raise TypeError(f"{cls.__qualname__}() takes {len(spec)} arguments but {len(args)} were given")
        put = object.__setattr__
        given = 0
        for i, (name, default, factory) in enumerate(spec):
            if i < len(args):
                if name in kwargs:
                    raise TypeError(f"{cls.__qualname__}() got multiple values for argument '{name}'")
                put(self, name, args[i])
            elif name in kwargs:
                put(self, name, kwargs[name])
                given += 1
            elif default is not dataclasses.MISSING:
                put(self, name, default)
            elif factory is not dataclasses.MISSING:
                put(self, name, factory())
            else:
                raise TypeError(f"{cls.__qualname__}() missing 1 required argument: '{name}'")
        if given != len(kwargs):
            names = field_names(cls)
            extra = next(k for k in kwargs if k not in names)
            raise TypeError(f"{cls.__qualname__}() got an unexpected keyword argument '{extra}'")

    def __setattr__(self, name: str, value: Any) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return values(self) == values(other)

    def __hash__(self) -> int:
        return hash(values(self))

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in field_names(type(self)))
        return f"{type(self).__qualname__}({inner})"

    def __getstate__(self) -> tuple[Any, ...]:
        return values(self)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        for name, value in zip(field_names(type(self)), state, strict=True):
            object.__setattr__(self, name, value)


R = TypeVar("R", bound=Record)


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field,))
def record(cls: type[R]) -> type[R]:
    """Make a Record subclass a frozen, slotted dataclass without generating its methods.

    Record's __init__ sets every field from its argument or default: a class that needs
    __post_init__ or a field(init=False) stays a plain dataclass."""
    out = dataclasses.dataclass(init=False, repr=False, eq=False, slots=True)(cls)
    if hasattr(out, "__post_init__") or not all(f.init for f in dataclasses.fields(out)):  # type: ignore[arg-type]
        raise TypeError(f"{cls.__qualname__}: a record has no __post_init__ and no field(init=False)")
    return out
