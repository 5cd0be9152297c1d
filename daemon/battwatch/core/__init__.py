"""The pure, clock-free core: no I/O, no threads, no wall clock."""

from __future__ import annotations

from importlib.util import find_spec


def compiled() -> bool:
    """Whether the core's hot modules run as mypyc-built C (see setup.py) or as plain Python.

    Answered from where the module would load from, without importing it.
    """
    spec = find_spec("battwatch.core.csvlog")
    return spec is not None and spec.origin is not None and not spec.origin.endswith(".py")
