"""Build hook: compile the pure core to C with mypyc when a C compiler is at hand.

The same sources run as plain Python when they are not compiled (BATTWATCH_PURE=1, no
compiler, or a machine too small to build); only the speed differs. Everything else about
the package is declared in pyproject.toml.
"""

from __future__ import annotations

import os
import sys
import sysconfig
import tempfile
from pathlib import Path

from setuptools import setup

# The modules every reading passes through: the CSV replay loop, the device decoder and the
# whole analysis. They import nothing but the standard library and each other.
COMPILED = [
    "daemon/battwatch/core/csvlog.py",
    "daemon/battwatch/core/numscan.py",
    "daemon/battwatch/core/pipeline.py",
    "daemon/battwatch/core/timefmt.py",
    "daemon/battwatch/core/protocol.py",
    "daemon/battwatch/core/decoder.py",
    "daemon/battwatch/core/calibration.py",
    "daemon/battwatch/core/timebase.py",
    "daemon/battwatch/core/tables.py",
    "daemon/battwatch/core/analysis/__init__.py",
    "daemon/battwatch/core/analysis/analyzer.py",
    "daemon/battwatch/core/analysis/daily.py",
    "daemon/battwatch/core/analysis/drain.py",
    "daemon/battwatch/core/analysis/engine.py",
    "daemon/battwatch/core/analysis/faults.py",
    "daemon/battwatch/core/analysis/lead_acid.py",
    "daemon/battwatch/core/analysis/levels.py",
    "daemon/battwatch/core/analysis/pack.py",
    "daemon/battwatch/core/analysis/packstep.py",
    "daemon/battwatch/core/analysis/persist.py",
    "daemon/battwatch/core/analysis/plausibility.py",
    "daemon/battwatch/core/analysis/refit.py",
    "daemon/battwatch/core/analysis/replaced.py",
    "daemon/battwatch/core/analysis/rundown.py",
    "daemon/battwatch/core/analysis/state.py",
    "daemon/battwatch/core/analysis/trend.py",
]


def _say(message: str) -> None:
    print(f"battwatch build: {message}", file=sys.stderr)


def _compiler_works() -> bool:
    """Whether a C compiler can build against this Python's headers."""
    from setuptools._distutils.ccompiler import new_compiler
    from setuptools._distutils.errors import CCompilerError, DistutilsError
    from setuptools._distutils.sysconfig import customize_compiler

    include = sysconfig.get_paths()["include"]
    if not Path(include, "Python.h").is_file():
        return False
    cc = new_compiler()
    customize_compiler(cc)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp, "probe.c")
        src.write_text("#include <Python.h>\nint probe(void) { return 0; }\n")
        try:
            cc.compile([str(src)], output_dir=tmp, include_dirs=[include])
        except (CCompilerError, DistutilsError, OSError):
            return False
    return True


def ext_modules() -> list:  # type: ignore[type-arg]
    if os.environ.get("BATTWATCH_PURE", "") not in ("", "0"):
        _say("BATTWATCH_PURE is set: the core stays plain Python")
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        _say("mypyc is not installed: the core stays plain Python")
        return []
    if not _compiler_works():
        _say("no working C compiler (apt-get install gcc python3-dev): the core stays plain Python")
        return []
    _say(f"compiling {len(COMPILED)} core modules with mypyc (BATTWATCH_PURE=1 skips this)")
    return mypycify(COMPILED, opt_level="3", group_name="battwatch_core")


setup(ext_modules=ext_modules())
