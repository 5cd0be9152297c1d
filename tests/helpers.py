"""Test helpers: watch a child process's output for a pattern, with a deadline (no sleeps)."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any


class Proc:
    """A child process whose merged stdout/stderr is read line by line on a thread."""

    def __init__(self, args: Sequence[str], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
        self.args = list(args)
        self.lines: list[str] = []
        self._q: queue.Queue[str | None] = queue.Queue()
        self.p = subprocess.Popen(
            self.args,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"},
            cwd=cwd,
        )
        self._t = threading.Thread(target=self._pump, daemon=True)
        self._t.start()

    def _pump(self) -> None:
        assert self.p.stdout is not None
        for line in self.p.stdout:
            self._q.put(line.rstrip("\n"))
        self._q.put(None)

    def wait_for(self, pattern: str, timeout: float = 20.0) -> re.Match[str]:
        """Block until a line matches ``pattern``; fail with the output so far."""
        rx = re.compile(pattern)
        for line in self.lines:
            m = rx.search(line)
            if m:
                return m
        deadline = threading.Event()
        timer = threading.Timer(timeout, deadline.set)
        timer.start()
        try:
            while not deadline.is_set():
                try:
                    line = self._q.get(timeout=0.1)
                except queue.Empty:
                    continue
                if line is None:
                    break
                self.lines.append(line)
                m = rx.search(line)
                if m:
                    return m
        finally:
            timer.cancel()
        raise AssertionError(
            f"no line matching {pattern!r} within {timeout} s from {self.args[:3]}; output:\n"
            + "\n".join(self.lines[-40:])
        )

    def wait(self, timeout: float = 30.0) -> int:
        """Let the process finish on its own; returns its exit code."""
        rc = self.p.wait(timeout)
        self._finish(timeout)
        return rc

    def _finish(self, timeout: float) -> None:
        self._t.join(timeout)
        while True:
            try:
                line = self._q.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                self.lines.append(line)
        if self.p.stdout is not None and not self._t.is_alive():
            self.p.stdout.close()

    def signal(self, sig: int) -> None:
        self.p.send_signal(sig)

    def stop(self, timeout: float = 15.0) -> int:
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        rc = self.p.wait(timeout)
        self._finish(timeout)
        return rc

    def kill(self) -> None:
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(10)
        self._finish(10)

    @property
    def output(self) -> str:
        return "\n".join(self.lines)


def battwatch(*args: str) -> list[str]:
    return [str(Path(sys.executable).parent / "battwatch"), *args]


def analyse_scenario(name: str, raw: dict[str, Any] | None = None) -> tuple[Any, float]:
    """A built-in scenario run through the analysis (with its own configuration unless ``raw``
    is given) to its end, which closes what is still open as a replay does; returns the
    analyzer and that time."""
    from battwatch import config, scenarios
    from battwatch.core.analysis import build_analyzer

    an = build_analyzer(config.from_dict(scenarios.scenario_config(name) if raw is None else raw, env={}))
    last = None
    for r in scenarios.generate(name):
        an.feed(r)
        last = r
    assert last is not None, f"scenario {name} has no readings"
    an.end_of_data(last.t)
    return an, last.t
