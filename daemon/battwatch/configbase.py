"""A small typed validation engine: frozen dataclass sections built from TOML data, every problem reported."""

from __future__ import annotations

import contextvars
import re
import types
import typing
from collections.abc import Callable, Mapping
from datetime import date, time
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, TypeVar, Union, dataclass_transform

from battwatch.core.record import MISSING, Record, defaults, field, field_names, frozen, record

# Why not pydantic: the daemon must stay within 40 MB resident on a Pi Zero 2 W, and pydantic
# alone took 8 MB to import and ~15 MB more to build the ~40 config models (the daemon went
# from 40.9 MB to 30.6 MB without it). This module is the part of it the configuration used.

MASK = "********"


class Secret:
    """A string that never shows in repr(), str() or check-config output."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{MASK}')"

    def __str__(self) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


# -- constraints, written as typing.Annotated metadata ------------------------------------------


@record
class Range(Record):
    """Bounds of a number; None leaves that side open."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None

    def ok(self, v: float) -> bool:
        # written as "not (a op b)" chains so that NaN fails every bound
        return not (
            (self.ge is not None and not v >= self.ge)
            or (self.gt is not None and not v > self.gt)
            or (self.le is not None and not v <= self.le)
            or (self.lt is not None and not v < self.lt)
        )

    def describe(self) -> str:
        bounds = (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"))
        return " and ".join(f"{op} {_num(getattr(self, k))}" for k, op in bounds if getattr(self, k) is not None)


@record
class Pattern(Record):
    """A string must contain a match (anchor the regex with ^ and $ to mean the whole string)."""

    regex: str

    def ok(self, v: str) -> bool:
        return re.search(self.regex, v) is not None


@record
class Check(Record):
    """A rule on one value: ``fn`` raises ValueError(what is expected) when the value breaks it."""

    fn: Callable[[Any], None]


# -- sections -----------------------------------------------------------------------------------


class Section(Record):
    """The base of every configuration section; ``check`` holds rules across its keys.

    Its __init__, frozen attributes, equality, hash and repr come from Record, written once
    instead of generated (compiled from source) for each of the ~45 sections: that code
    generation was most of every command's start-up.
    """

    __slots__ = ()
    # Keys an earlier release had and this one dropped, with what to write instead: an old
    # file then says how to update it rather than only "unknown key".
    RETIRED: ClassVar[Mapping[str, str]] = {}

    def check(self) -> None:
        """Raise ValueError(message) when the keys do not fit together.

        It runs whenever the keys it reads are valid, even if other keys of the section are not.
        """


S = TypeVar("S", bound=Section)


@dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(field,))
def section(cls: type[S]) -> type[S]:
    """Make a Section subclass a frozen, slotted, keyword-only dataclass (its methods come from
    Record)."""
    return frozen(cls, kw_only=True)


# -- validation ---------------------------------------------------------------------------------

_BAD: Any = object()  # "this value failed"; its problems are already recorded


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def toml_text(value: Any) -> str:
    """A parsed TOML value written back the way a TOML file shows it (``true``, ``2020-01-01T10:00:00``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date | time):  # datetime is a date
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_text(v)}" for k, v in value.items()) + "}"
    return repr(value)  # numbers as written; strings quoted, as a TOML literal string


def found(value: Any) -> str:
    """A value as the problem list shows it: as TOML text, cut short."""
    text = toml_text(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _split(hint: Any) -> tuple[Any, tuple[Any, ...]]:
    if typing.get_origin(hint) is Annotated:
        return hint.__origin__, hint.__metadata__
    return hint, ()


def _optional(hint: Any) -> Any | None:
    """X for ``X | None`` (the only union the sections use), else None."""
    if typing.get_origin(hint) in (Union, types.UnionType):
        rest = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return None


def expected(hint: Any) -> str:
    """What a type hint accepts, in the words of a TOML file."""
    base, meta = _split(hint)
    inner = _optional(base)
    if inner is not None:
        return expected(inner)
    origin = typing.get_origin(base)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(base))
    if origin is tuple:
        args = typing.get_args(base)
        return "a list" if args[-1] is Ellipsis else f"a list of {len(args)} items"
    if origin is list:
        return "a list"
    if origin is dict or (isinstance(base, type) and issubclass(base, Section)):
        return "a table"
    what = {
        bool: "true or false", int: "an integer", float: "a number", str: "a string",
        date: "a date (YYYY-MM-DD)", Path: "a non-empty path", Secret: "a string",
    }.get(base, getattr(base, "__name__", str(base)))
    for m in meta:
        if isinstance(m, Range):
            what += " " + m.describe()
        elif isinstance(m, Pattern):
            what += f" matching '{m.regex}'"
    return what


# the types written as TOML strings; a stray space from copy and paste is never meant
_FROM_TEXT: dict[Any, Callable[[str], Any]] = {str: str, Path: Path, Secret: Secret}


# True while a TOML file is validated: its values carry their own types, so a quoted date is a
# string like any other. Dictionaries built in code (scenarios, tests) may give dates as text.
TOML_TYPED: contextvars.ContextVar[bool] = contextvars.ContextVar("TOML_TYPED", default=False)


def _scalar(base: Any, raw: Any) -> Any:
    """``raw`` as ``base``, or _BAD. TOML is typed: no number from a string, no bool as a number."""
    if base is bool:
        return raw if isinstance(raw, bool) else _BAD
    if base is int:
        if isinstance(raw, float) and raw.is_integer():
            return int(raw)
        return raw if isinstance(raw, int) and not isinstance(raw, bool) else _BAD
    if base is float:
        return float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else _BAD
    if base is date:
        if isinstance(raw, date):  # a TOML date; a date-time (a date subclass) is not a day
            return raw if type(raw) is date else _BAD
        if not isinstance(raw, str) or TOML_TYPED.get():
            return _BAD
        try:
            return date.fromisoformat(raw.strip())
        except ValueError:
            return _BAD
    if base in _FROM_TEXT:
        if not isinstance(raw, str) or (base is Path and not raw.strip()):
            return _BAD  # Path("") is the current directory: an empty path is never meant
        return _FROM_TEXT[base](raw.strip())
    raise TypeError(f"no rule for {base!r}")  # a section declared a type this engine lacks


def convert(hint: Any, raw: Any, path: str, problems: list[str]) -> Any:
    """``raw`` validated as ``hint``; on failure _BAD, with every problem appended as 'path: ...'."""
    base, meta = _split(hint)
    inner = _optional(base)
    if inner is not None:
        return None if raw is None else convert(inner, raw, path, problems)
    origin = typing.get_origin(base)
    if isinstance(base, type) and issubclass(base, Section):
        return validate(base, raw, path, problems)
    if origin in (tuple, list, dict):
        value = _container(base, raw, path, problems)
        if value is _BAD:  # the items said what is wrong with them
            return _BAD
    elif origin is Literal:
        # compare types too: True == 1 and 1.0 == 1, but neither is QoS 1
        value = next((c for c in typing.get_args(base) if raw == c and type(raw) is type(c)), _BAD)
    else:
        value = _scalar(base, raw)
    what = expected(hint) if value is _BAD else _broken_rule(hint, meta, value)
    if what is None:
        return value
    tip = ""
    if base is date and isinstance(raw, str) and re.fullmatch(r"\s*\d{4}-\d{2}-\d{2}\s*", raw):
        tip = f" without quotes ({path.rsplit('.', 1)[-1]} = {raw.strip()}): in quotes it is text"
    problems.append(f"{path}: found {'(secret)' if base is Secret else found(raw)}; expected: {what}{tip}")
    return _BAD


def _broken_rule(hint: Any, meta: tuple[Any, ...], value: Any) -> str | None:
    """What the first constraint ``value`` breaks expects, or None."""
    for m in meta:
        if isinstance(m, Range | Pattern) and not m.ok(value):
            return expected(hint)
        if isinstance(m, Check):
            try:
                m.fn(value)
            except ValueError as e:
                return str(e)
    return None


def _container(base: Any, raw: Any, path: str, problems: list[str]) -> Any:
    origin, args = typing.get_origin(base), typing.get_args(base)
    if origin is dict:
        if not isinstance(raw, dict):
            problems.append(f"{path}: found {found(raw)}; expected: a table")
            return _BAD
        items = {k: convert(args[1], v, f"{path}.{k}", problems) for k, v in raw.items()}
        return _BAD if _BAD in items.values() else items
    if not isinstance(raw, list | tuple):
        problems.append(f"{path}: found {found(raw)}; expected: {expected(base)}")
        return _BAD
    if origin is tuple and args[-1] is not Ellipsis:
        if len(raw) != len(args):
            problems.append(f"{path}: found {found(raw)}; expected: {expected(base)}")
            return _BAD
        elems = args
    else:
        elems = (args[0],) * len(raw)
    values = [convert(h, v, f"{path}.{i}", problems) for i, (h, v) in enumerate(zip(elems, raw, strict=True))]
    if any(v is _BAD for v in values):
        return _BAD
    return values if origin is list else tuple(values)


_FIELDS: dict[type, tuple[tuple[str, Any, bool], ...]] = {}


def _fields(cls: type[Section]) -> tuple[tuple[str, Any, bool], ...]:
    """(key, type hint, required) of every field of a section class, resolved once per class."""
    spec = _FIELDS.get(cls)
    if spec is None:
        hints = typing.get_type_hints(cls, include_extras=True)
        spec = _FIELDS[cls] = tuple(
            (name, hints[name], default is MISSING and factory is MISSING) for name, default, factory in defaults(cls)
        )
    return spec


def validate(cls: type[S], raw: Any, path: str, problems: list[str]) -> S:
    """A ``cls`` section from a TOML table; on failure _BAD, with every problem appended."""
    where = path or "(top level)"
    if isinstance(raw, cls):
        return raw
    if not isinstance(raw, dict):
        problems.append(f"{where}: found {found(raw)}; expected: a table")
        return _BAD
    spec = _fields(cls)
    before = len(problems)
    values: dict[str, Any] = {}
    for name, hint, required in spec:
        key = f"{path}.{name}" if path else name
        if name in raw:
            value = convert(hint, raw[name], key, problems)
            if value is not _BAD:
                values[name] = value
        elif required:
            problems.append(f"{key}: required key is missing")
    names = [name for name, _, _ in spec]
    for name in raw:
        if name in cls.RETIRED:
            key = f"{path}.{name}" if path else str(name)
            problems.append(f"{key}: no longer a key; {cls.RETIRED[name]}")
        elif name not in names:
            import difflib  # only a typo pays for it

            same = [n for n in names if n.lower() == str(name).lower()]
            close = same or difflib.get_close_matches(str(name), names, n=1)
            tip = f"; did you mean '{close[0]}'?" if close else ""
            if same:
                tip += " (names are lower case)"
            problems.append(f"{path}.{name}: unknown key{tip}" if path else f"{name}: unknown key{tip}")
    if len(problems) == before:
        obj = cls(**values)
        return obj if _rule_holds(obj, set(), where, problems) else _BAD
    # Some keys are wrong, but a rule across keys that are all valid can still be judged now,
    # so that one run lists every problem. The rule runs on a stand-in holding only the valid
    # keys (and the defaults of absent ones); a rule that reads a bad key is skipped, since its
    # key's own problem is already listed and the rule could only repeat it.
    partial = object.__new__(cls)
    unset: set[str] = set()
    for name, _, required in spec:
        if name in values:
            object.__setattr__(partial, name, values[name])
        elif name not in raw and not required:
            object.__setattr__(partial, name, _default(cls, name))
        else:
            unset.add(name)
    _rule_holds(partial, unset, where, problems)
    return _BAD


def _default(cls: type[Section], name: str) -> Any:
    default, factory = next((d, f) for n, d, f in defaults(cls) if n == name)
    return default if default is not MISSING else factory()


def _rule_holds(obj: Section, unset: set[str], where: str, problems: list[str]) -> bool:
    """Run ``obj.check()``; False (with the problem recorded) when the rule is broken.

    Reading one of the ``unset`` keys of a stand-in skips the rule (it holds, as far as we know).
    """
    try:
        obj.check()
    except ValueError as e:
        problems.append(f"{where}: {e}")
        return False
    except AttributeError as e:
        if e.obj is obj and e.name in unset:
            return True  # the rule needs a key that is itself wrong (reported already)
        raise
    return True


def plain(value: Any) -> Any:
    """JSON-able data: sections as dicts without None, tuples as lists, dates and paths as text."""
    if isinstance(value, Section):
        out: dict[str, Any] = {}
        for name in field_names(type(value)):
            v = getattr(value, name)
            if v is not None:
                out[name] = plain(v)
        return out
    if isinstance(value, Secret):
        return MASK
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, date | Path):
        return str(value)
    return value
