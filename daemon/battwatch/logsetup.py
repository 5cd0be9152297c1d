"""Where log lines go and how they look, for the daemon and every command."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any


def setup_logging(level: str = "info", stream: Any = None) -> None:
    """Log lines to ``stream`` (default stdout, which journald reads)."""
    # Under systemd, journald stamps every line itself; elsewhere a timestamp helps.
    fmt = "%(levelname)s %(name)s: %(message)s"
    if "JOURNAL_STREAM" not in os.environ:
        fmt = "%(asctime)s " + fmt
    logging.basicConfig(level=level.upper(), stream=stream or sys.stdout, format=fmt, force=True)
