"""The standard-library InfluxDB writers against real servers: /api/v2/write (VictoriaMetrics), /write (InfluxDB 1.x)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from battwatch import config
from battwatch.sinks.influx_writers import HttpWriter, V2Writer, WriteError, v1_writer
from servers import InfluxDB1, VictoriaMetrics, free_port, start_victoriametrics

pytestmark = pytest.mark.servers

TIMEOUT = 30.0
OLD_T = (int(time.time()) // 86400 - 3 * 365) * 86400  # three years ago: retention must not drop it


def influx_cfg(**influx: Any) -> config.InfluxConfig:
    cfg = config.from_dict({"vehicle": {"id": "car-w"}, "influx": influx}, env={})
    assert cfg.influx is not None
    return cfg.influx


def v2(url: str, **more: Any) -> V2Writer:
    return V2Writer(influx_cfg(**{"url": url, "api": "v2", "org": "fleet", "bucket": "battwatch", "token": "t0ken", **more}))


def lines(n: int, t0: int = OLD_T) -> list[str]:
    return [f"readings,vehicle=car-w,battery=main v={12.5 + i / 1000:.3f} {(t0 + 60 * i) * 10**9}" for i in range(n)]


def test_v2_writer_lands_every_line_with_its_time_and_value(victoriametrics: VictoriaMetrics) -> None:
    write = v2(victoriametrics.url)
    write(lines(50), TIMEOUT)
    write(lines(50, OLD_T + 3000), TIMEOUT)  # a second batch on a connection of its own
    series = victoriametrics.export('{__name__="readings_v"}')
    assert len(series) == 1 and series[0]["metric"]["vehicle"] == "car-w"
    assert series[0]["timestamps"] == [(OLD_T + 60 * i) * 1000 for i in range(100)]
    assert series[0]["values"][:3] == [12.5, 12.501, 12.502]


def test_v2_writer_refused_credentials_come_back_as_401_not_as_bad_data(tmp_path: Path) -> None:
    # VictoriaMetrics with basic auth refuses the writer's token: the 401 must come back as
    # such, to be retried after the operator fixes it, never dropped as bad lines
    with start_victoriametrics(tmp_path, ["-httpAuth.username=grafana", "-httpAuth.password=s3cret"]) as vm:
        with pytest.raises(WriteError) as err:
            v2(vm.url)(lines(3), TIMEOUT)
        assert err.value.status == 401
        assert not err.value.bad_data


def test_v2_writer_to_a_server_that_is_down_says_where_and_why() -> None:
    port = free_port()  # nothing listens there
    write = v2(f"http://127.0.0.1:{port}")
    with pytest.raises(WriteError) as err:
        write(lines(3), TIMEOUT)
    assert err.value.status is None and not err.value.bad_data
    assert f"127.0.0.1:{port}/api/v2/write" in str(err.value)
    assert "ConnectionRefusedError" in str(err.value)


def test_v2_writer_carries_on_when_the_server_comes_back(tmp_path: Path) -> None:
    with start_victoriametrics(tmp_path) as vm:
        write = v2(vm.url)
        write(lines(5), TIMEOUT)
        vm.stop()
        with pytest.raises(WriteError) as err:
            write(lines(5, OLD_T + 300), TIMEOUT)
        assert err.value.status is None
        vm.start()
        write(lines(5, OLD_T + 300), TIMEOUT)
        series = vm.export('{__name__="readings_v"}')
        assert series[0]["timestamps"] == [(OLD_T + 60 * i) * 1000 for i in range(10)]


def test_v1_writer_lands_lines_in_influxdb1(influxdb1: InfluxDB1) -> None:
    influxdb1.create_database("battwatch")
    v1_writer(influx_cfg(url=influxdb1.url, api="v1", database="battwatch"))(lines(20), TIMEOUT)
    rows = influxdb1.points('SELECT "v" FROM "readings"', "battwatch")
    assert [r["time"] for r in rows] == [OLD_T + 60 * i for i in range(20)]
    assert rows[-1]["v"] == 12.519


def test_v1_writer_refused_line_is_bad_data_and_a_missing_database_is_not(influxdb1: InfluxDB1) -> None:
    influxdb1.create_database("battwatch")
    write = v1_writer(influx_cfg(url=influxdb1.url, api="v1", database="battwatch"))
    with pytest.raises(WriteError) as err:
        write(["readings,vehicle=car-w v=not-a-number 1"], TIMEOUT)
    assert err.value.status == 400 and err.value.bad_data
    assert "unable to parse" in err.value.detail
    missing = v1_writer(influx_cfg(url=influxdb1.url, api="v1", database="nowhere"))
    with pytest.raises(WriteError) as err:
        missing(lines(1), TIMEOUT)
    assert err.value.status == 404 and not err.value.bad_data
    assert "database not found" in err.value.detail


def test_writer_keeps_a_path_in_front_of_the_endpoint_and_names_its_encoding_and_token() -> None:
    w = v2("https://example.invalid:8443/influx/", org="o b")
    assert w.https and w.host == "example.invalid" and w.port == 8443
    assert w.target == "/influx/api/v2/write?org=o+b&bucket=battwatch&precision=ns"
    assert w.headers["Authorization"] == "Token t0ken"
    assert w.headers["Content-Encoding"] == "gzip"
    with pytest.raises(ValueError, match="not an http"):
        HttpWriter("ftp://example.invalid", "/write", {}, None)


def test_influx_sink_loads_no_influxdb_client_nor_apscheduler() -> None:
    # the daemon's memory goal (40 MB on a Pi Zero 2 W): influxdb-client alone cost ~27 MB
    code = (
        "import sys\n"
        "from battwatch import config\n"
        "from battwatch.sinks.influx_writers import V2Writer\n"
        "import battwatch.sinks.influx, battwatch.app\n"
        "cfg = config.from_dict({'vehicle': {'id': 'c'}, 'influx': {'url': 'http://127.0.0.1:1',"
        " 'org': 'o', 'bucket': 'b', 'token': 't'}}, env={})\n"
        "V2Writer(cfg.influx)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('influxdb_client', 'apscheduler', 'urllib3')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_https_checks_the_servers_certificate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # VictoriaMetrics' TLS needs flags the test servers do not set up: a standard-library HTTPS
    # server stands in, receiving what the writer sends as a server would
    import gzip
    import http.server
    import ssl
    import threading

    from servers import make_test_pki

    pki = make_test_pki(tmp_path / "pki")
    got: list[tuple[str, str, bytes]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append((self.path, self.headers["Authorization"], gzip.decompress(body)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki.server_cert, pki.server_key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"https://127.0.0.1:{server.server_address[1]}"
    try:
        with pytest.raises(WriteError) as err:  # a CA the system does not trust
            v2(url)(lines(1), TIMEOUT)
        assert err.value.status is None and "CERTIFICATE_VERIFY_FAILED" in str(err.value)
        assert got == []
        monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca_cert))  # now it does
        v2(url)(lines(2), TIMEOUT)
        assert got == [("/api/v2/write?org=fleet&bucket=battwatch&precision=ns", "Token t0ken",
                        "\n".join(lines(2)).encode())]
    finally:
        server.shutdown()
        server.server_close()
