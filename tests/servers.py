"""Start real Mosquitto, InfluxDB 1.x and VictoriaMetrics servers as child processes for tests."""

from __future__ import annotations

import atexit
import collections
import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "InfluxDB1",
    "Mosquitto",
    "ServerError",
    "TestPki",
    "TlsFiles",
    "VictoriaMetrics",
    "free_port",
    "make_test_pki",
    "start_influxdb1",
    "start_mosquitto",
    "start_victoriametrics",
    "wait_until",
    "write_mosquitto_password_file",
]

HOST = "127.0.0.1"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
HTTP_TIMEOUT = 10.0

# Where Debian puts the binaries; mosquitto is in /usr/sbin, which a normal user's PATH lacks.
_SEARCH_DIRS = ("/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin", "/sbin", "/bin")
_DEBIAN_PACKAGE = {
    "mosquitto": "mosquitto",
    "influxd": "influxdb",
    "victoria-metrics": "victoria-metrics",
}


class ServerError(RuntimeError):
    """A test server failed to start, stop or answer; the message carries its log tail."""


# --------------------------------------------------------------------------------------------
# small helpers


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def wait_until(
    predicate: Callable[[], Any],
    timeout: float,
    what: str,
    *,
    tail: Callable[[], str] | None = None,
) -> Any:
    """Call ``predicate`` until it returns a truthy value and return that value.

    This is the only place where test infrastructure polls: between attempts it blocks on
    an Event with a short, growing backoff, and after ``timeout`` seconds it raises a
    ServerError naming ``what`` and, when given, the server's log tail. Exceptions raised by
    the predicate propagate (use that to fail fast, e.g. when the server process died).
    """
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    backoff = 0.01
    while True:
        result = predicate()
        if result:
            return result
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            message = f"timed out after {timeout:.1f}s waiting for {what}"
            if tail is not None:
                message += f"\n--- log tail ---\n{tail()}"
            raise ServerError(message)
        pause.wait(min(backoff, remaining))
        backoff = min(backoff * 2, 0.1)


def find_binary(name: str) -> str:
    """Return the path of a server binary, or raise telling how to install it (never skip)."""
    found = shutil.which(name)
    if found:
        return found
    for directory in _SEARCH_DIRS:
        candidate = Path(directory) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    package = _DEBIAN_PACKAGE.get(name, name)
    raise RuntimeError(
        f"{name} not found: run `make test` (it installs it) or apt-get install {package}"
    )


def _http(
    method: str,
    url: str,
    *,
    data: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = HTTP_TIMEOUT,
) -> tuple[int, bytes]:
    """Make one HTTP request with urllib; return (status, body) for any status, 4xx/5xx too."""
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def _http_status(url: str) -> int | None:
    """Status of a GET, or None when nothing answers yet (used by readiness probes)."""
    try:
        return _http("GET", url, timeout=1.0)[0]
    except (OSError, urllib.error.URLError, http.client.HTTPException):
        return None


# --------------------------------------------------------------------------------------------
# process handling shared by all servers

# Children still running when the interpreter exits (e.g. a test run aborted by Ctrl-C
# before fixture teardown) are killed here so they don't linger holding ports.
_LIVE: set[subprocess.Popen[bytes]] = set()
_LIVE_LOCK = threading.Lock()


@atexit.register
def _kill_leftovers() -> None:
    with _LIVE_LOCK:
        leftovers = list(_LIVE)
    for proc in leftovers:
        if proc.poll() is None:
            proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(STOP_TIMEOUT)


class _Process:
    """One server child process: spawn, log capture, stop/kill, restartable with the same argv."""

    def __init__(self, name: str, argv: list[str], log_path: Path, env: Mapping[str, str]):
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.env = dict(env)
        self.proc: subprocess.Popen[bytes] | None = None
        self._pump: threading.Thread | None = None
        self._lines: collections.deque[str] = collections.deque(maxlen=200)
        self._cond = threading.Condition()
        self._generation = 0  # bumps on every spawn so waits only see the current run's lines
        self._eof = True

    # -- output capture: a thread copies the child's stdout+stderr to the log file and keeps
    # a tail in memory, so readiness can wait on a log line without polling.

    def _copy_output(self, proc: subprocess.Popen[bytes], generation: int) -> None:
        assert proc.stdout is not None
        with open(self.log_path, "ab") as log:
            for raw in iter(proc.stdout.readline, b""):
                log.write(raw)
                log.flush()
                line = raw.decode("utf-8", "replace").rstrip("\n")
                with self._cond:
                    if generation == self._generation:
                        self._lines.append(line)
                        self._cond.notify_all()
        proc.stdout.close()
        with self._cond:
            if generation == self._generation:
                self._eof = True
                self._cond.notify_all()

    def spawn(self) -> None:
        if self.running:
            raise ServerError(f"{self.name} is already running (pid {self.pid})")
        with open(self.log_path, "ab") as log:
            log.write(f"=== starting {' '.join(self.argv)}\n".encode())
        with self._cond:
            self._generation += 1
            self._lines.clear()
            self._eof = False
            generation = self._generation
        proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=self.log_path.parent,
        )
        self.proc = proc
        with _LIVE_LOCK:
            _LIVE.add(proc)
        self._pump = threading.Thread(
            target=self._copy_output, args=(proc, generation), name=f"{self.name}-log", daemon=True
        )
        self._pump.start()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise ServerError(f"{self.name} was never started")
        return self.proc.pid

    def tail(self, lines: int = 40) -> str:
        with self._cond:
            return "\n".join(list(self._lines)[-lines:])

    def check_alive(self) -> None:
        """Raise with the log tail if the child has exited (fail fast instead of timing out)."""
        if self.proc is None or self.proc.poll() is not None:
            code = None if self.proc is None else self.proc.returncode
            self._join_pump()
            raise ServerError(
                f"{self.name} exited with code {code}\n--- log tail ---\n{self.tail()}"
            )

    def wait_for_line(self, pattern: str, timeout: float) -> None:
        """Block until a line of the current run matches ``pattern`` (regex) or the child dies."""
        regex = re.compile(pattern)
        with self._cond:
            found = self._cond.wait_for(
                lambda: self._eof or any(regex.search(line) for line in self._lines), timeout
            )
            matched = any(regex.search(line) for line in self._lines)
        if matched:
            return
        if found:  # woke up because output ended: the process is exiting or gone
            assert self.proc is not None
            # EOF can come a moment before the exit is reapable; wait so the error names the code.
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(STOP_TIMEOUT)
            self.check_alive()
        raise ServerError(
            f"timed out after {timeout:.1f}s waiting for {self.name} to log /{pattern}/"
            f"\n--- log tail ---\n{self.tail()}"
        )

    def _join_pump(self) -> None:
        if self._pump is not None:
            self._pump.join(STOP_TIMEOUT)
            self._pump = None

    def _reap(self) -> int | None:
        assert self.proc is not None
        with _LIVE_LOCK:
            _LIVE.discard(self.proc)
        self._join_pump()
        return self.proc.returncode

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM, wait up to ``timeout``, then SIGKILL; return the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        return self._reap()

    def kill(self) -> int | None:
        """SIGKILL at once, like a crash or power loss: nothing gets flushed."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(STOP_TIMEOUT)
        return self._reap()


def _clean_env(drop_prefixes: tuple[str, ...] = ()) -> dict[str, str]:
    """Environment for a child, minus variables that would silently override our config."""
    return {k: v for k, v in os.environ.items() if not k.startswith(drop_prefixes)}


@dataclass
class _Server:
    """What every running test server offers: stop, kill, start and restart on the same port."""

    host: str
    port: int
    data_dir: Path
    log_path: Path
    _process: _Process = field(repr=False)

    @property
    def pid(self) -> int:
        """PID of the current child process (changes after restart)."""
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._process.running

    def log_tail(self, lines: int = 40) -> str:
        return self._process.tail(lines)

    def _wait_ready(self, timeout: float) -> None:
        raise NotImplementedError

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start again after stop()/kill(), on the same port with the same data directory."""
        self._process.spawn()
        try:
            self._wait_ready(timeout)
        except BaseException:
            self._process.stop()
            raise

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """Graceful stop (SIGTERM, then SIGKILL after ``timeout``); returns the exit code."""
        return self._process.stop(timeout)

    def kill(self) -> int | None:
        """Hard stop with SIGKILL, like a crash; returns the exit code."""
        return self._process.kill()

    def restart(self, timeout: float = START_TIMEOUT) -> None:
        self.stop()
        self.start(timeout)


@contextlib.contextmanager
def _running(server: _Server, workdir: Path) -> Iterator[Any]:
    """Start ``server``, yield it, then stop it and remove its temporary directory."""
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# TLS material


@dataclass(frozen=True)
class TlsFiles:
    """PEM files for a Mosquitto TLS listener."""

    ca_cert: Path
    cert: Path
    key: Path
    require_certificate: bool = False


@dataclass(frozen=True)
class TestPki:
    """A throwaway CA with a server certificate (127.0.0.1, localhost) and a client certificate."""

    __test__ = False  # not a pytest test class despite the name

    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    def server_tls(self, *, require_certificate: bool = False) -> TlsFiles:
        return TlsFiles(self.ca_cert, self.server_cert, self.server_key, require_certificate)


def make_test_pki(directory: Path, client_name: str = "battwatch-test-client") -> TestPki:
    """Write a fresh test CA, server and client certificate into ``directory`` (needs trustme)."""
    try:
        import trustme
    except ImportError as err:  # a dev dependency; fail loudly rather than skip TLS tests
        raise RuntimeError("trustme is not installed: pip install trustme") from err
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert(client_name)
    pki = TestPki(
        ca_cert=directory / "ca.pem",
        server_cert=directory / "server.pem",
        server_key=directory / "server.key",
        client_cert=directory / "client.pem",
        client_key=directory / "client.key",
    )
    ca.cert_pem.write_to_path(str(pki.ca_cert))
    # The chain file holds the leaf and any intermediates; trustme issues straight from the root.
    with open(pki.server_cert, "wb") as f:
        f.writelines(blob.bytes() for blob in server.cert_chain_pems)
    server.private_key_pem.write_to_path(str(pki.server_key))
    with open(pki.client_cert, "wb") as f:
        f.writelines(blob.bytes() for blob in client.cert_chain_pems)
    client.private_key_pem.write_to_path(str(pki.client_key))
    return pki


# --------------------------------------------------------------------------------------------
# Mosquitto


def write_mosquitto_password_file(path: Path, users: Mapping[str, str]) -> Path:
    """Create a Mosquitto password file with hashed entries using ``mosquitto_passwd -b``."""
    tool = find_binary("mosquitto_passwd")
    path.unlink(missing_ok=True)
    path.touch(mode=0o600)
    for user, password in users.items():
        done = subprocess.run(
            [tool, "-b", str(path), user, password], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise ServerError(f"mosquitto_passwd failed for {user!r}: {done.stderr or done.stdout}")
    return path


@dataclass
class Mosquitto(_Server):
    """A running Mosquitto 2.x broker; ``tls_port`` is set when started with TLS."""

    tls_port: int | None = None
    config_path: Path | None = None

    def _wait_ready(self, timeout: float) -> None:
        # Mosquitto logs this after every listener socket is open.
        self._process.wait_for_line(r"mosquitto version \S+ running", timeout)


def dynsec_plugin() -> Path:
    """Mosquitto's dynamic-security plugin (Debian ships it in the mosquitto package)."""
    found = sorted(Path("/usr/lib").glob("*/mosquitto_dynamic_security.so"))
    found += sorted(Path("/usr/lib").glob("mosquitto_dynamic_security.so"))
    if not found:
        raise ServerError("mosquitto_dynamic_security.so not found under /usr/lib: install mosquitto 2.x")
    return found[0]


def copy_dynsec_config(source: Path, directory: Path) -> Path:
    """A private copy of a dynamic-security file: the plugin rewrites its file when changed."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / source.name
    target.write_bytes(source.read_bytes())
    return target


def _mosquitto_config(
    *,
    port: int,
    data_dir: Path,
    allow_anonymous: bool,
    tls: TlsFiles | None,
    tls_port: int | None,
    password_file: Path | None,
    acl_file: Path | None,
    dynsec_file: Path | None,
    conf_extra: str,
) -> str:
    lines = [
        f"listener {port} {HOST}",
        f"allow_anonymous {'true' if allow_anonymous else 'false'}",
        "persistence true",
        # the trailing slash matters: mosquitto concatenates it with the file name
        f"persistence_location {data_dir}/",
        # stderr is unbuffered, so the "running" line reaches the log pump immediately
        "log_dest stderr",
        # Not "all": debug logs every packet, which floods the pipe in load tests;
        # add "log_type debug" through conf_extra when a test needs it.
        "log_type error",
        "log_type warning",
        "log_type notice",
        "log_type information",
        "log_timestamp_format %Y-%m-%dT%H:%M:%S",
        "connection_messages true",
    ]
    if os.geteuid() == 0:
        # As root Mosquitto drops to the 'mosquitto' user, which can't write our 0700 tmp dirs.
        lines.append("user root")
    if password_file is not None:
        lines.append(f"password_file {password_file}")
    if acl_file is not None:
        lines.append(f"acl_file {acl_file}")
    if dynsec_file is not None:
        lines += [f"plugin {dynsec_plugin()}", f"plugin_opt_config_file {dynsec_file}"]
    if tls is not None:
        lines += [
            f"listener {tls_port} {HOST}",
            f"cafile {tls.ca_cert}",
            f"certfile {tls.cert}",
            f"keyfile {tls.key}",
            f"require_certificate {'true' if tls.require_certificate else 'false'}",
        ]
    return "\n".join(lines) + "\n" + conf_extra + ("\n" if conf_extra else "")


@contextlib.contextmanager
def start_mosquitto(
    tmp: Path,
    *,
    conf_extra: str = "",
    tls: TlsFiles | None = None,
    password_file: Path | None = None,
    acl_file: Path | None = None,
    dynsec_file: Path | None = None,
    allow_anonymous: bool = True,
) -> Iterator[Mosquitto]:
    """Run a private Mosquitto on a free 127.0.0.1 port (plus a TLS port when ``tls`` is given).

    ``conf_extra`` is appended verbatim; since it follows the TLS listener block when TLS is
    on, listener-scoped options in it apply to the TLS listener.
    """
    binary = find_binary("mosquitto")
    tmp.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="mosquitto-", dir=tmp))
    data_dir = workdir / "data"
    data_dir.mkdir()
    port = free_port()
    tls_port = free_port() if tls is not None else None
    config_path = workdir / "mosquitto.conf"
    config_path.write_text(
        _mosquitto_config(
            port=port,
            data_dir=data_dir,
            allow_anonymous=allow_anonymous,
            tls=tls,
            tls_port=tls_port,
            password_file=password_file,
            acl_file=acl_file,
            dynsec_file=dynsec_file,
            conf_extra=conf_extra,
        )
    )
    log_path = workdir / "mosquitto.log"
    process = _Process("mosquitto", [binary, "-c", str(config_path)], log_path, _clean_env())
    server = Mosquitto(HOST, port, data_dir, log_path, process, tls_port, config_path)
    with _running(server, workdir) as running:
        yield running


# --------------------------------------------------------------------------------------------
# InfluxDB 1.x


@dataclass
class InfluxDB1(_Server):
    """A running InfluxDB 1.x (``influxd``) with HTTP on ``url``; no auth."""

    rpc_port: int = 0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _wait_ready(self, timeout: float) -> None:
        def ping() -> bool:
            self._process.check_alive()
            return _http_status(f"{self.url}/ping") == 204

        wait_until(ping, timeout, "influxd /ping to answer 204", tail=self._process.tail)

    def query(self, q: str, db: str | None = None, *, epoch: str | None = "s") -> dict[str, Any]:
        """Run InfluxQL through POST /query and return the decoded JSON; raise on any error.

        ``epoch`` makes times come back as integers in that unit instead of RFC3339 strings.
        """
        params = {"q": q}
        if db is not None:
            params["db"] = db
        if epoch is not None:
            params["epoch"] = epoch
        status, body = _http(
            "POST",
            f"{self.url}/query",
            data=urllib.parse.urlencode(params).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        if status != 200:
            raise ServerError(f"influxdb query {q!r} failed: HTTP {status}: {body!r}")
        result: dict[str, Any] = json.loads(body)
        # InfluxQL reports statement errors with HTTP 200 and an "error" key per result.
        errors = [r["error"] for r in result.get("results", []) if "error" in r]
        if "error" in result or errors:
            raise ServerError(f"influxdb query {q!r} failed: {result.get('error') or errors}")
        return result

    def create_database(self, name: str) -> None:
        self.query(f'CREATE DATABASE "{name}"')

    def write(self, lines: str | list[str], db: str, *, precision: str = "s") -> None:
        """Write line protocol through /write; raise unless InfluxDB answers 204."""
        body = lines if isinstance(lines, str) else "\n".join(lines)
        query = urllib.parse.urlencode({"db": db, "precision": precision})
        status, reply = _http("POST", f"{self.url}/write?{query}", data=body.encode())
        if status != 204:
            raise ServerError(f"influxdb write failed: HTTP {status}: {reply!r}")

    def points(self, q: str, db: str) -> list[dict[str, Any]]:
        """Run a SELECT and flatten every returned series into dicts of column -> value."""
        rows: list[dict[str, Any]] = []
        for result in self.query(q, db)["results"]:
            for series in result.get("series", []):
                tags = series.get("tags", {})
                for values in series["values"]:
                    rows.append({**tags, **dict(zip(series["columns"], values, strict=True))})
        return rows


def _influxdb_config(*, port: int, rpc_port: int, data_dir: Path) -> str:
    # Top-level keys must come before the first [table] in TOML.
    return f"""\
# upstream 1.6 key; the Debian build renamed it to reporting-enabled (default false).
# influxd ignores unknown keys, so both are set.
reporting-disabled = true
reporting-enabled = false
bind-address = "{HOST}:{rpc_port}"

[meta]
  dir = "{data_dir}/meta"
  logging-enabled = false

[data]
  dir = "{data_dir}/data"
  wal-dir = "{data_dir}/wal"
  query-log-enabled = false

[monitor]
  store-enabled = false

[subscriber]
  enabled = false

[continuous_queries]
  log-enabled = false

[http]
  enabled = true
  bind-address = "{HOST}:{port}"
  log-enabled = false
  pprof-enabled = false

[ifql]
  enabled = false

[logging]
  suppress-logo = true
"""


@contextlib.contextmanager
def start_influxdb1(tmp: Path) -> Iterator[InfluxDB1]:
    """Run a private influxd with its HTTP API and RPC service on free 127.0.0.1 ports."""
    binary = find_binary("influxd")
    tmp.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="influxdb1-", dir=tmp))
    data_dir = workdir / "data"
    data_dir.mkdir()
    port, rpc_port = free_port(), free_port()
    config_path = workdir / "influxdb.conf"
    config_path.write_text(_influxdb_config(port=port, rpc_port=rpc_port, data_dir=data_dir))
    log_path = workdir / "influxd.log"
    # INFLUXDB_* variables override the config file; never let the caller's leak in.
    env = _clean_env(("INFLUXDB_",))
    process = _Process("influxd", [binary, "run", "-config", str(config_path)], log_path, env)
    server = InfluxDB1(HOST, port, data_dir, log_path, process, rpc_port)
    with _running(server, workdir) as running:
        yield running


# --------------------------------------------------------------------------------------------
# VictoriaMetrics


@dataclass
class VictoriaMetrics(_Server):
    """A running single-node VictoriaMetrics with every HTTP API on ``url``."""

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _wait_ready(self, timeout: float) -> None:
        def healthy() -> bool:
            self._process.check_alive()
            return _http_status(f"{self.url}/health") == 200

        wait_until(
            healthy, timeout, "victoria-metrics /health to answer 200", tail=self._process.tail
        )

    def force_flush(self) -> None:
        """Make freshly ingested samples searchable now (they are otherwise buffered ~1-2 s)."""
        status, body = _http("GET", f"{self.url}/internal/force_flush")
        if status != 200:
            raise ServerError(f"victoria-metrics force_flush failed: HTTP {status}: {body!r}")

    def write_influx(self, lines: str | list[str], *, precision: str = "ns") -> None:
        """Write InfluxDB line protocol through VictoriaMetrics' /write endpoint."""
        body = lines if isinstance(lines, str) else "\n".join(lines)
        query = urllib.parse.urlencode({"precision": precision})
        status, reply = _http("POST", f"{self.url}/write?{query}", data=body.encode())
        if status != 204:
            raise ServerError(f"victoria-metrics write failed: HTTP {status}: {reply!r}")

    def export(
        self, match: str = '{__name__!=""}', *, start: int | None = None, end: int | None = None
    ) -> list[dict[str, Any]]:
        """Flush, then return raw series from /api/v1/export.

        Each item is ``{"metric": {"__name__": ..., labels...}, "values": [...],
        "timestamps": [ms, ...]}``. Influx writes become ``<measurement>_<field>`` metrics.
        ``start``/``end`` are unix seconds; by default the whole retention range is read.
        """
        self.force_flush()
        params: list[tuple[str, str]] = [("match[]", match)]
        if start is not None:
            params.append(("start", str(start)))
        if end is not None:
            params.append(("end", str(end)))
        status, body = _http(
            "POST", f"{self.url}/api/v1/export", data=urllib.parse.urlencode(params).encode()
        )
        if status != 200:
            raise ServerError(f"victoria-metrics export failed: HTTP {status}: {body!r}")
        return [json.loads(line) for line in body.decode().splitlines() if line.strip()]

    def query(self, promql: str, *, at: float | None = None) -> dict[str, Any]:
        """Flush, then run an instant PromQL/MetricsQL query and return the decoded JSON."""
        self.force_flush()
        params = {"query": promql}
        if at is not None:
            params["time"] = str(at)
        status, body = _http(
            "POST", f"{self.url}/api/v1/query", data=urllib.parse.urlencode(params).encode()
        )
        if status != 200:
            raise ServerError(f"victoria-metrics query {promql!r} failed: HTTP {status}: {body!r}")
        result: dict[str, Any] = json.loads(body)
        return result


@contextlib.contextmanager
def start_victoriametrics(tmp: Path, extra_args: Sequence[str] = ()) -> Iterator[VictoriaMetrics]:
    """Run a private VictoriaMetrics on a free 127.0.0.1 port, keeping 100 years of data
    (``extra_args``: more flags, e.g. ``-httpAuth.username=...`` to require credentials)."""
    binary = find_binary("victoria-metrics")
    tmp.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="victoriametrics-", dir=tmp))
    data_dir = workdir / "data"
    port = free_port()
    argv = [
        binary,
        f"-httpListenAddr={HOST}:{port}",
        f"-storageDataPath={data_dir}",
        # The default retention is 1 month: older samples would be dropped without an error.
        "-retentionPeriod=100y",
        # Tests read right after writing: no response cache, no hiding of the newest minute.
        "-search.disableCache",
        "-search.latencyOffset=0s",
        # A keep-alive client left open would otherwise delay SIGTERM shutdown by up to 7 s.
        "-http.maxGracefulShutdownDuration=1s",
        "-loggerLevel=INFO",
        *extra_args,
    ]
    log_path = workdir / "victoria-metrics.log"
    # -envflag.enable is off by default, so the environment can't change these flags.
    process = _Process("victoria-metrics", argv, log_path, _clean_env())
    server = VictoriaMetrics(HOST, port, data_dir, log_path, process)
    with _running(server, workdir) as running:
        yield running
