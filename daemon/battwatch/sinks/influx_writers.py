"""InfluxDB writers: the 1.x /write endpoint over urllib, and influxdb-client for 2.x/3.x."""

from __future__ import annotations

import base64
import gzip
import logging
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from battwatch.config import InfluxConfig

logger = logging.getLogger(__name__)

HTTP_TIMEOUT_S = 10.0


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


def v1_writer(icfg: InfluxConfig) -> Writer:
    """POST /write of InfluxDB 1.x (1.6 and 1.7 have no /api/v2/write for influxdb-client)."""
    params = {"db": icfg.database or "", "precision": "ns"}
    url = icfg.url.rstrip("/") + "/write?" + urllib.parse.urlencode(params)
    headers = {"Content-Type": "text/plain; charset=utf-8", "Content-Encoding": "gzip"}
    if icfg.username:
        password = icfg.password.get_secret_value() if icfg.password is not None else ""
        cred = base64.b64encode(f"{icfg.username}:{password}".encode()).decode("ascii")
        headers["Authorization"] = f"Basic {cred}"

    def write(lines: list[str], timeout: float) -> None:
        body = gzip.compress("\n".join(lines).encode("utf-8"), compresslevel=5)
        req = urllib.request.Request(url, data=body, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                resp.read()
        except urllib.error.HTTPError as e:
            detail = e.read().decode("utf-8", "replace").strip()
            raise WriteError(e.code, detail) from None
        except (OSError, urllib.error.URLError) as e:
            raise WriteError(None, f"{type(e).__name__}: {getattr(e, 'reason', e)}") from None

    return write


class V2Writer:
    """influxdb-client's synchronous write API (InfluxDB 2.x/3.x/Cloud, 1.8+ compatibility)."""

    def __init__(self, icfg: InfluxConfig) -> None:
        from influxdb_client.client.influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS
        from influxdb_client.domain.write_precision import WritePrecision

        token = icfg.token.get_secret_value() if icfg.token is not None else ""
        if not token and icfg.username:  # InfluxDB 1.8's compatibility API takes user:password
            password = icfg.password.get_secret_value() if icfg.password is not None else ""
            token = f"{icfg.username}:{password}"
        self.bucket = icfg.bucket or ""
        self.org = icfg.org or ""
        self.precision: Any = WritePrecision.NS
        self.client = InfluxDBClient(
            url=icfg.url, token=token, org=self.org, timeout=int(HTTP_TIMEOUT_S * 1000), enable_gzip=True
        )
        self.api = self.client.write_api(write_options=SYNCHRONOUS)

    def __call__(self, lines: list[str], timeout: float) -> None:
        from influxdb_client.rest import ApiException

        try:
            self.api.write(
                bucket=self.bucket, org=self.org, record=lines, write_precision=self.precision,
                _request_timeout=timeout,
            )
        except ApiException as e:
            body = e.body.decode("utf-8", "replace") if isinstance(e.body, bytes) else str(e.body or e.reason)
            raise WriteError(e.status, body.strip()) from None
        except Exception as e:  # noqa: BLE001 - urllib3 raises many kinds for an absent server
            raise WriteError(None, f"{type(e).__name__}: {e}") from None

    def close(self) -> None:
        try:
            self.client.close()
        except Exception:  # noqa: BLE001 - closing a client must never break shutdown
            logger.debug("closing the InfluxDB client failed", exc_info=True)
