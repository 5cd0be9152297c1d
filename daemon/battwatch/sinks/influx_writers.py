"""InfluxDB writers: line protocol POSTed with the standard library to /write (1.x) or /api/v2/write."""

from __future__ import annotations

import base64
import gzip
import http.client
import logging
import urllib.parse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from battwatch.config import InfluxConfig

logger = logging.getLogger(__name__)

HTTP_TIMEOUT_S = 10.0
GZIP_LEVEL = 5  # a batch of a few hundred lines shrinks about tenfold; more effort gains little
DETAIL_MAX = 500  # characters of a refusal's body kept for the log


class WriteError(Exception):
    """A write failed. ``status`` is the HTTP status, or None when no answer came back."""

    def __init__(self, status: int | None, detail: str) -> None:
        super().__init__(f"HTTP {status}: {detail}" if status is not None else detail)
        self.status = status
        self.detail = detail

    @property
    def bad_data(self) -> bool:
        """The server refused the content itself: retrying the same lines cannot help.

        401/403 (credentials), 404 (no such database or bucket), 408, 429 and 5xx are the
        server's or the operator's to fix, so those batches wait and are retried instead.
        """
        return self.status in (400, 413, 422)


Writer = Callable[[list[str], float], None]


class HttpWriter:
    """One POST of gzipped line protocol per batch, on a connection of its own.

    A connection per batch costs a TCP handshake every ``flush_interval_s`` at most, and
    leaves no idle socket for a server or a NAT to cut: there is no stale keep-alive to
    detect. Retries are the outbox's: a failed batch stays there and comes again.
    """

    def __init__(self, url: str, path: str, params: dict[str, str], auth: str | None) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.https = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port
        # a server behind a reverse proxy may live under a path: keep it in front
        self.target = parts.path.rstrip("/") + path + "?" + urllib.parse.urlencode(params)
        self.headers = {"Content-Type": "text/plain; charset=utf-8", "Content-Encoding": "gzip"}
        if auth is not None:
            self.headers["Authorization"] = auth
        self.where = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}{path}"
        self._tls: Any = None  # ssl.SSLContext, made at the first https connection

    def _connect(self, timeout: float) -> http.client.HTTPConnection:
        if self.https:
            if self._tls is None:
                import ssl  # only for https: the default context verifies the server's certificate

                self._tls = ssl.create_default_context()  # once: it reads the system's CA store
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout, context=self._tls)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def __call__(self, lines: list[str], timeout: float) -> None:
        body = gzip.compress("\n".join(lines).encode("utf-8"), compresslevel=GZIP_LEVEL)
        conn = self._connect(timeout)
        try:
            conn.request("POST", self.target, body, self.headers)
            resp = conn.getresponse()
            reply = resp.read()
        except (OSError, http.client.HTTPException) as e:
            raise WriteError(None, f"{self.where}: {type(e).__name__}: {e}") from None
        finally:
            conn.close()
        if not 200 <= resp.status < 300:
            detail = reply.decode("utf-8", "replace").strip()[:DETAIL_MAX] or resp.reason
            raise WriteError(resp.status, detail)

    def close(self) -> None:
        """Nothing stays open between batches; kept so a sender can close any writer."""


def v1_writer(icfg: InfluxConfig) -> HttpWriter:
    """POST /write of InfluxDB 1.x (1.6 and 1.7 have no /api/v2/write), basic auth if a user is set."""
    auth = None
    if icfg.username:
        password = icfg.password.get_secret_value() if icfg.password is not None else ""
        auth = "Basic " + base64.b64encode(f"{icfg.username}:{password}".encode()).decode("ascii")
    return HttpWriter(icfg.url, "/write", {"db": icfg.database or "", "precision": "ns"}, auth)


class V2Writer(HttpWriter):
    """POST /api/v2/write with a token: InfluxDB 2.x, 3.x (bucket = database), Cloud, 1.8+,
    VictoriaMetrics."""

    def __init__(self, icfg: InfluxConfig) -> None:
        token = icfg.token.get_secret_value() if icfg.token is not None else ""
        if not token and icfg.username:  # InfluxDB 1.8's compatibility API takes user:password
            password = icfg.password.get_secret_value() if icfg.password is not None else ""
            token = f"{icfg.username}:{password}"
        params = {"org": icfg.org or "", "bucket": icfg.bucket or "", "precision": "ns"}
        super().__init__(icfg.url, "/api/v2/write", params, f"Token {token}" if token else None)
