"""Frozen, slotted dataclasses whose methods are shared instead of generated per class (fast start-up)."""

from __future__ import annotations

import sys
from typing import Any, ClassVar, TypeVar, dataclass_transform

# dataclass() compiles an __init__, __setattr__, __delattr__, __eq__, __hash__ and __repr__
# from source for every class: ~0.5 ms each, and a replay's start-up loads dozens of them.
# The methods here read the class's field list instead. Nor is the dataclasses module itself
# loaded until something asks a record for its dataclass side (its import brings inspect, ast,
# dis and tokenize: a fifth of a one-row replay): dataclasses.fields(), replace() and asdict()
# then work on these classes as on any dataclass.


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()  # "no default" (dataclasses.MISSING where a dataclasses.Field is made)


class _Default:
    """What ``field()`` gives a class body: a field's default or default factory."""

    __slots__ = ("default", "default_factory", "kw_only")

    def __init__(self, default: Any, default_factory: Any, kw_only: Any) -> None:
        self.default, self.default_factory, self.kw_only = default, default_factory, kw_only


def field(*, default: Any = MISSING, default_factory: Any = MISSING, kw_only: Any = MISSING) -> Any:
    """A record field's default, as dataclasses.field() gives it (a class body may use either)."""
    if default is not MISSING and default_factory is not MISSING:
        raise ValueError("cannot specify both default and default_factory")
    return _Default(default, default_factory, kw_only)


# per record class: (name, type hint, default, default factory, keyword-only, the
# dataclasses.Field the class body gave or None) of every field, inherited ones first
_Spec = tuple[tuple[str, Any, Any, Any, bool, Any], ...]
_RECORDS: dict[type, _Spec] = {}
_KW_ONLY: dict[type, bool] = {}  # what frozen() was told
_SPECS: dict[type, tuple[tuple[str, Any, Any], ...]] = {}


def _spec(cls: type) -> tuple[tuple[str, Any, Any], ...]:
    """(name, default, default factory) of every field of ``cls``, in order, looked up once."""
    spec = _SPECS.get(cls)
    if spec is None:
        made = _RECORDS.get(cls)
        if made is not None:
            spec = tuple((name, default, factory) for name, _, default, factory, _, _ in made)
        else:  # a dataclass made from a record: its fields are dataclasses.Field objects
            import dataclasses

            spec = tuple((f.name, MISSING if f.default is dataclasses.MISSING else f.default,
                          MISSING if f.default_factory is dataclasses.MISSING else f.default_factory)
                         for f in dataclasses.fields(cls))
        _SPECS[cls] = spec
    return spec


def field_names(cls: type) -> tuple[str, ...]:
    """The field names of a record (or any dataclass) class, in order."""
    return tuple(name for name, _, _ in _spec(cls))


def defaults(cls: type) -> tuple[tuple[str, Any, Any], ...]:
    """(name, default, default factory) of every field of a record class; MISSING where none."""
    return _spec(cls)


def values(obj: Any) -> tuple[Any, ...]:
    """The field values of a record, in order."""
    return tuple(getattr(obj, name) for name, _, _ in _spec(type(obj)))


def _frozen_error(message: str) -> Exception:
    from dataclasses import FrozenInstanceError  # only a mistake pays for the import

    return FrozenInstanceError(message)


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
            elif default is not MISSING:
                put(self, name, default)
            elif factory is not MISSING:
                put(self, name, factory())
            else:
                raise TypeError(f"{cls.__qualname__}() missing 1 required argument: '{name}'")
        if given != len(kwargs):
            names = field_names(cls)
            extra = next(k for k in kwargs if k not in names)
            raise TypeError(f"{cls.__qualname__}() got an unexpected keyword argument '{extra}'")

    def __setattr__(self, name: str, value: Any) -> None:
        raise _frozen_error(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise _frozen_error(f"cannot delete field {name!r}")

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


def replace(obj: R, **changes: Any) -> R:
    """A copy of the record ``obj`` with ``changes``, as dataclasses.replace() makes it."""
    cls = type(obj)
    return cls(**{**{name: getattr(obj, name) for name in field_names(cls)}, **changes})


class _DataclassSide:
    """A record class's ``__dataclass_fields__`` or ``__dataclass_params__``, made from its field
    list the first time something reads it (dataclasses.fields(), replace(), asdict(), a
    dataclass made from a record), then kept in the class in its place."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type) -> Any:
        import dataclasses

        cls = next(c for c in owner.__mro__ if c.__dict__.get(self.name) is self)
        fields: dict[str, Any] = {}
        for name, hint, default, factory, kw_only, given in _RECORDS[cls]:
            f: Any = given if given is not None else dataclasses.field(
                default=dataclasses.MISSING if default is MISSING else default,
                default_factory=dataclasses.MISSING if factory is MISSING else factory)
            f.name, f.type, f._field_type = name, hint, getattr(dataclasses, "_FIELD")  # noqa: B009
            f.kw_only = kw_only
            fields[name] = f
        type.__setattr__(cls, "__dataclass_fields__", fields)
        type.__setattr__(cls, "__dataclass_params__", _params(dataclasses, _KW_ONLY[cls]))
        return getattr(owner, self.name)


_PARAMS: dict[bool, Any] = {}


def _params(dataclasses: Any, kw_only: bool) -> Any:
    """The __dataclass_params__ dataclass() would give (a dataclass may subclass a record):
    taken from an empty class once, as its fields differ between Python versions. The class
    has a docstring: for one without, dataclass() writes one from inspect.signature()."""
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


def _from_field(f: Any, dataclasses: Any) -> tuple[Any, Any, Any]:
    """A dataclasses.Field's default, default factory and keyword-only flag, MISSING where unset."""
    default, factory, kw_only = (MISSING if v is dataclasses.MISSING else v
                                 for v in (f.default, f.default_factory, f.kw_only))
    return default, factory, kw_only


def _inherited(base: type) -> _Spec:
    """The fields a record class takes over from ``base``: a record's, or a dataclass's."""
    if base in _RECORDS:
        return _RECORDS[base]
    given = base.__dict__.get("__dataclass_fields__", {})
    if not given:
        return ()
    dataclasses = sys.modules["dataclasses"]  # a dataclass was made: the module is loaded
    return tuple((f.name, f.type, *_from_field(f, dataclasses)[:2], f.kw_only, f) for f in given.values())


def frozen(cls: type[R], kw_only: bool = False) -> type[R]:
    """``cls`` remade as a slotted dataclass whose methods all come from Record.

    dataclass(init=False, eq=False, repr=False, slots=True) gives the same class, but takes a
    fifth of a millisecond each to inspect every annotation: a replay's start-up makes
    seventy of them (the configuration's sections and the core's records).
    """
    fields: dict[str, tuple[str, Any, Any, Any, bool, Any]] = {}
    inherited_slots: set[str] = set()
    for base in cls.__mro__[-1:0:-1]:
        fields.update((entry[0], entry) for entry in _inherited(base))
        slots = base.__dict__.get("__slots__", ())
        inherited_slots.update((slots,) if isinstance(slots, str) else slots)
    body = dict(cls.__dict__)
    for name, hint in body.get("__annotations__", {}).items():
        if _is_classvar(hint):
            continue
        value = body.pop(name, MISSING)
        # a dataclasses.Field is only possible once that module is loaded
        dataclasses = sys.modules.get("dataclasses")
        given = value if dataclasses is not None and isinstance(value, dataclasses.Field) else None
        if given is not None:
            if not given.init:
                raise TypeError(f"{cls.__qualname__}: a record has no __post_init__ and no field(init=False)")
            default, factory, own_kw = _from_field(given, dataclasses)
        elif isinstance(value, _Default):
            default, factory, own_kw = value.default, value.default_factory, value.kw_only
        else:
            default, factory, own_kw = value, MISSING, MISSING
        fields[name] = (name, hint, default, factory, kw_only if own_kw is MISSING else own_kw, given)
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__qualname__}: a record has no __post_init__ and no field(init=False)")
    body["__dataclass_fields__"] = _DataclassSide("__dataclass_fields__")
    body["__dataclass_params__"] = _DataclassSide("__dataclass_params__")
    body["__match_args__"] = tuple(n for n, entry in fields.items() if not entry[4])
    body["__slots__"] = tuple(n for n in fields if n not in inherited_slots)
    body.pop("__dict__", None)
    body.pop("__weakref__", None)
    make: Any = type(cls)  # the class's metaclass, as dataclass(slots=True) remakes it
    out: type[R] = make(cls.__name__, cls.__bases__, body)
    out.__qualname__ = cls.__qualname__
    _RECORDS[out] = tuple(fields.values())
    _KW_ONLY[out] = kw_only
    return out


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def record(cls: type[R]) -> type[R]:
    """Make a Record subclass a frozen, slotted dataclass without generating its methods.

    Record's __init__ sets every field from its argument or default: a class that needs
    __post_init__ or a field(init=False) stays a plain dataclass."""
    return frozen(cls)
