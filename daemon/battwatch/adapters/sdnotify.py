"""systemd notification protocol (sd_notify): READY, WATCHDOG, STATUS, STOPPING."""

from __future__ import annotations

import logging
import os
import socket

logger = logging.getLogger(__name__)


class Notifier:
    """Talks to $NOTIFY_SOCKET when systemd set it; every call is a no-op otherwise."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        env = dict(os.environ) if env is None else env
        self._addr = env.get("NOTIFY_SOCKET") or None
        self._sock: socket.socket | None = None
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        watchdog_ours = not pid or pid == str(os.getpid())
        # ping at half the timeout, as sd_watchdog_enabled(3) recommends
        self.watchdog_interval_s = int(usec) / 2e6 if usec.isdigit() and watchdog_ours else None
        if self._addr:
            if self._addr.startswith("@"):  # abstract namespace socket
                self._addr = "\0" + self._addr[1:]
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    def send(self, *fields: str) -> None:
        if self._sock is None or self._addr is None:
            return
        try:
            self._sock.sendto("\n".join(fields).encode(), self._addr)
        except OSError as e:  # systemd gone (shutdown) or socket full: never fatal
            logger.debug("sd_notify failed: %s", e)

    def ready(self, status: str = "") -> None:
        self.send("READY=1", *([f"STATUS={status}"] if status else []))

    def watchdog(self) -> None:
        self.send("WATCHDOG=1")

    def status(self, text: str) -> None:
        self.send(f"STATUS={text}")

    def stopping(self) -> None:
        self.send("STOPPING=1", "STATUS=stopping")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
