"""Frozen, slotted dataclasses whose methods are shared instead of generated per class (fast start-up)."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, TypeVar, dataclass_transform

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

# fields() lists only the Field objects marked as fields; dataclass() marks them with this
# module constant, which has no public name
_FIELD: Any = getattr(dataclasses, "_FIELD")  # noqa: B009


_PARAMS: dict[bool, Any] = {}


def _params(kw_only: bool) -> Any:
    """The __dataclass_params__ dataclass() would give (a dataclass may subclass a record):
    taken from an empty class once, as its fields differ between Python versions. The class
    has a docstring: for one without, dataclass() writes one from inspect.signature(), which
    cost as much as the rest of the start-up work saved here."""
    made = _PARAMS.get(kw_only)
    if made is None:
        probe: Any = dataclasses.dataclass(init=False, repr=False, eq=False, slots=True, kw_only=kw_only)(
            type("Probe", (), {"__doc__": "a class only for its dataclass parameters"}))
        made = _PARAMS[kw_only] = probe.__dataclass_params__
    return made


def _is_classvar(hint: Any) -> bool:
    if isinstance(hint, str):  # the annotations are text under "from __future__ import annotations"
        return hint.startswith(("ClassVar", "typing.ClassVar"))
    return hint is ClassVar or getattr(hint, "__origin__", None) is ClassVar


def frozen(cls: type[R], kw_only: bool = False) -> type[R]:
    """``cls`` remade as a slotted dataclass whose methods all come from Record.

    dataclass(init=False, eq=False, repr=False, slots=True) gives the same class, but takes a
    fifth of a millisecond each to inspect every annotation: a replay's start-up makes
    seventy of them (the configuration's sections and the core's records).
    """
    fields: dict[str, dataclasses.Field[Any]] = {}
    inherited_slots: set[str] = set()
    for base in cls.__mro__[-1:0:-1]:
        fields.update(base.__dict__.get("__dataclass_fields__", {}))
        slots = base.__dict__.get("__slots__", ())
        inherited_slots.update((slots,) if isinstance(slots, str) else slots)
    body = dict(cls.__dict__)
    for name, hint in body.get("__annotations__", {}).items():
        if _is_classvar(hint):
            continue
        value = body.pop(name, dataclasses.MISSING)
        f: Any = value if isinstance(value, dataclasses.Field) else dataclasses.field(default=value)
        if not f.init:
            raise TypeError(f"{cls.__qualname__}: a record has no __post_init__ and no field(init=False)")
        f.name, f.type, f._field_type = name, hint, _FIELD
        if f.kw_only is dataclasses.MISSING:
            f.kw_only = kw_only
        fields[name] = f
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__qualname__}: a record has no __post_init__ and no field(init=False)")
    body["__dataclass_fields__"] = fields
    body["__dataclass_params__"] = _params(kw_only)
    body["__match_args__"] = tuple(n for n, f in fields.items() if not f.kw_only)
    body["__slots__"] = tuple(n for n in fields if n not in inherited_slots)
    body.pop("__dict__", None)
    body.pop("__weakref__", None)
    make: Any = type(cls)  # the class's metaclass, as dataclass(slots=True) remakes it
    out: type[R] = make(cls.__name__, cls.__bases__, body)
    out.__qualname__ = cls.__qualname__
    return out


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field,))
def record(cls: type[R]) -> type[R]:
    """Make a Record subclass a frozen, slotted dataclass without generating its methods.

    Record's __init__ sets every field from its argument or default: a class that needs
    __post_init__ or a field(init=False) stays a plain dataclass."""
    return frozen(cls)
