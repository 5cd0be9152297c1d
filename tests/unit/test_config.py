"""Configuration: the catalogue of bad files, the examples, secrets that never print."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from battwatch import config

DATA = Path(__file__).resolve().parents[1] / "data" / "config"
EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "config").glob("*.toml"))


def _expectations(path: Path) -> list[str]:
    return [line.split("# expect:", 1)[1].strip() for line in path.read_text().splitlines() if line.startswith("# expect:")]


@pytest.mark.parametrize("path", sorted(DATA.glob("invalid-*.toml")), ids=lambda p: p.stem)
def test_invalid_config_reports_every_problem_with_its_key_path(path: Path) -> None:
    expected = _expectations(path)
    assert expected, f"{path.name} has no '# expect:' lines"
    with pytest.raises(config.ConfigError) as e:
        config.load(path)
    problems = e.value.problems
    for fragment in expected:
        assert any(fragment in p for p in problems), f"{fragment!r} not in {problems}"
    # every problem is reported at once, and nothing more than what the file gets wrong
    assert len(problems) == len(expected), problems


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_shipped_example_passes_check_config(path: Path, battwatch_bin: str) -> None:
    res = subprocess.run([battwatch_bin, "check-config", "-c", str(path)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert ": OK" in res.stdout


def test_check_config_exits_2_with_every_problem_and_no_traceback(battwatch_bin: str) -> None:
    res = subprocess.run(
        [battwatch_bin, "check-config", "-c", str(DATA / "invalid-types.toml")], capture_output=True, text=True
    )
    assert res.returncode == 2
    assert "3 problem(s)" in res.stderr and "Traceback" not in res.stderr


def test_missing_file_is_a_clear_error(battwatch_bin: str, tmp_path: Path) -> None:
    res = subprocess.run([battwatch_bin, "check-config", "-c", str(tmp_path / "nope.toml")], capture_output=True, text=True)
    assert res.returncode == 2 and "file not found" in res.stderr


def test_syntax_error_names_the_line() -> None:
    with pytest.raises(config.ConfigError) as e:
        config.load(DATA / "invalid-syntax.toml")
    assert "line 4, column 12" in e.value.problems[0]


def test_minimal_config_uses_the_embedded_defaults() -> None:
    cfg = config.load(DATA / "valid-minimal.toml")
    assert cfg.vehicle.id == "car-1"
    assert cfg.battery.sos.lifespan_years == (4.0, 7.0)
    assert cfg.adc.port == "/dev/battwatch-adc" and cfg.adc.baudrate == 115200
    assert cfg.store.path == Path("/var/lib/battwatch")
    assert cfg.mqtt is None and cfg.influx is None  # absent section: sink off


def test_secret_from_file_is_loaded_and_never_printed(tmp_path: Path, battwatch_bin: str) -> None:
    secret = tmp_path / "pw"
    secret.write_text("hunter2-very-secret\n")
    cfg_path = tmp_path / "c.toml"
    cfg_path.write_text(
        f'[vehicle]\nid = "car-1"\n[mqtt]\nhost = "broker"\nusername = "car-1"\npassword_file = "{secret}"\n'
    )
    cfg = config.load(cfg_path)
    assert cfg.mqtt is not None and cfg.mqtt.password is not None
    assert cfg.mqtt.password.get_secret_value() == "hunter2-very-secret"
    assert "hunter2" not in repr(cfg)
    res = subprocess.run([battwatch_bin, "check-config", "-c", str(cfg_path), "--show"], capture_output=True, text=True)
    assert res.returncode == 0
    assert "hunter2" not in res.stdout + res.stderr
    assert "********" in res.stdout


def test_secret_from_environment_and_from_systemd_credentials(tmp_path: Path) -> None:
    raw = {"vehicle": {"id": "car-1"}, "influx": {"url": "http://x", "org": "o", "bucket": "b"}}
    cfg = config.from_dict(raw, env={"BATTWATCH_INFLUX_TOKEN": "tok-env"})
    assert cfg.influx is not None and cfg.influx.token is not None
    assert cfg.influx.token.get_secret_value() == "tok-env"
    (tmp_path / "influx-token").write_text("tok-cred\n")
    raw = {"vehicle": {"id": "car-1"}, "influx": {"url": "http://x", "org": "o", "bucket": "b"}}
    cfg = config.from_dict(raw, env={"CREDENTIALS_DIRECTORY": str(tmp_path)})
    assert cfg.influx is not None and cfg.influx.token is not None
    assert cfg.influx.token.get_secret_value() == "tok-cred"


def test_a_bad_password_value_is_reported_without_showing_it() -> None:
    with pytest.raises(config.ConfigError) as e:
        config.from_dict({"vehicle": {"id": "c"}, "mqtt": {"host": "b", "password": 12345678}}, env={})
    assert any("mqtt.password" in p for p in e.value.problems)
    assert not any("12345678" in p for p in e.value.problems)


def test_secret_from_a_systemd_credentials_directory(tmp_path: Path) -> None:
    """LoadCredential=battwatch:/etc/battwatch/credentials names files battwatch_<section>-<key>."""
    (tmp_path / "battwatch_mqtt-password").write_text("s3cret\n")
    cfg = config.from_dict(
        {"vehicle": {"id": "c"}, "mqtt": {"host": "h", "username": "u"}},
        env={"CREDENTIALS_DIRECTORY": str(tmp_path)},
    )
    assert cfg.mqtt is not None and cfg.mqtt.password is not None
    assert cfg.mqtt.password.get_secret_value() == "s3cret"


def test_a_secret_file_that_is_not_utf8_is_a_problem_not_a_traceback(tmp_path: Path, battwatch_bin: str) -> None:
    bad = tmp_path / "token"
    bad.write_bytes(b"tok\xff\xfe-zq9marker")
    cfg_path = tmp_path / "c.toml"
    cfg_path.write_text(f'[vehicle]\nid = "c"\n[influx]\nurl = "http://x"\norg = "o"\nbucket = "b"\n'
                        f'token_file = "{bad}"\n')
    res = subprocess.run([battwatch_bin, "check-config", "-c", str(cfg_path)], capture_output=True, text=True)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert f"influx.token_file: {bad} is not UTF-8 text" in res.stdout + res.stderr
    assert "zq9marker" not in res.stdout + res.stderr  # its bytes are never shown
    # the same from a systemd credential
    (tmp_path / "mqtt-password").write_bytes(b"\xff\xfe")
    with pytest.raises(config.ConfigError) as e:
        config.from_dict({"vehicle": {"id": "c"}, "mqtt": {"host": "h", "username": "u"}},
                         env={"CREDENTIALS_DIRECTORY": str(tmp_path)})
    assert any(p.startswith("mqtt.password (systemd credential mqtt-password): ") and "not UTF-8" in p
               for p in e.value.problems)


def test_check_config_warns_but_passes_when_the_store_path_is_not_a_directory(battwatch_bin: str, tmp_path: Path) -> None:
    """The file may be checked on another machine than the car's: a warning, not a failure."""
    not_a_dir = tmp_path / "store"
    not_a_dir.write_text("")
    cfg_path = tmp_path / "c.toml"
    cfg_path.write_text(f'[vehicle]\nid = "car-1"\n[store]\npath = "{not_a_dir}"\n')
    res = subprocess.run([battwatch_bin, "check-config", "-c", str(cfg_path)], capture_output=True, text=True)
    assert res.returncode == 0 and ": OK" in res.stdout
    assert f"warning: [store] path: {not_a_dir} exists but is not a directory" in res.stderr
    # a usable directory, or one that does not exist yet (the daemon creates it), is no warning
    for path in (tmp_path, tmp_path / "later"):
        cfg_path.write_text(f'[vehicle]\nid = "car-1"\n[store]\npath = "{path}"\n')
        res = subprocess.run([battwatch_bin, "check-config", "-c", str(cfg_path)], capture_output=True, text=True)
        assert res.returncode == 0 and res.stderr == ""


@pytest.mark.parametrize("store", ["/proc/nope", "file"])
def test_run_with_a_store_path_it_cannot_use_exits_2_with_one_line(battwatch_bin: str, tmp_path: Path, store: str) -> None:
    (tmp_path / "file").write_text("")
    path = store if store.startswith("/") else str(tmp_path / store)
    cfg_path = tmp_path / "c.toml"
    cfg_path.write_text(f'[vehicle]\nid = "car-1"\n[adc]\nport = "{tmp_path}/no-adc"\n[store]\npath = "{path}"\n')
    res = subprocess.run([battwatch_bin, "run", "-c", str(cfg_path)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2, res.stdout + res.stderr
    assert res.stderr.strip().splitlines() == [res.stderr.strip()] and res.stderr.startswith(f"battwatch run: store {path}: ")
    assert "Traceback" not in res.stdout + res.stderr


@pytest.mark.parametrize("port", ["/dev/ttyUSB0", "/dev/serial/by-id/usb-FTDI-if00", "rfc2217://pi.lan:2217",
                                  "socket://10.0.0.5:7000", "LOOP://", "spy:///dev/ttyUSB0", "hwgrep://0403:6001"])
def test_device_paths_and_pyserial_urls_are_accepted_as_the_adc_port(port: str) -> None:
    assert config.defaults(adc={"port": port}).adc.port == port


@pytest.mark.parametrize("url", ["http://127.0.0.1:8086", "https://influx.example.org", "HTTPS://influx:8443/"])
def test_http_and_https_influx_urls_are_accepted(url: str) -> None:
    cfg = config.defaults(mqtt={"host": "broker.lan"}, influx={"url": url, "org": "home", "bucket": "cars"})
    assert cfg.influx is not None and cfg.influx.url == url


def test_the_adc_url_schemes_are_those_the_installed_pyserial_opens() -> None:
    import serial.urlhandler

    handlers = Path(serial.urlhandler.__file__).parent.glob("protocol_*.py")
    assert sorted(p.stem.removeprefix("protocol_") for p in handlers) == sorted(config.PYSERIAL_SCHEMES)


def test_a_syntax_error_shows_the_line_and_a_caret_under_its_column(tmp_path: Path) -> None:
    with pytest.raises(config.ConfigError) as e:
        config.load(DATA / "invalid-syntax-unquoted.toml")
    (problem,) = e.value.problems
    first, line, caret = problem.splitlines()
    assert line.strip() == "port = /dev/ttyUSB0"
    assert caret.index("^") == line.index("/")  # column 8: where the value starts


def test_check_config_show_prints_only_json_on_stdout(battwatch_bin: str) -> None:
    import json

    res = subprocess.run([battwatch_bin, "check-config", "-c", str(EXAMPLES[0]), "--show"], capture_output=True,
                         text=True)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["vehicle"]["id"]  # the whole of stdout is one JSON document
    assert ": OK" in res.stderr


def test_dates_given_as_text_in_code_still_work() -> None:
    """Scenarios and tests build configurations as dictionaries, where a date may be text."""
    cfg = config.from_dict({"vehicle": {"id": "car"}, "battery": {"main": {"installed": "2019-06-01"}}})
    assert str(cfg.battery.main.installed) == "2019-06-01"


def test_a_retired_collector_key_is_refused_with_what_replaced_it() -> None:
    """[collect] rested_every_s went when the cars began sending rested readings as events: an
    old collector file names the key and what to do, instead of a bare 'unknown key'."""
    with pytest.raises(config.ConfigError) as err:
        config.from_dict({"vehicle": {"id": "collector-1"}, "collect": {"rested_every_s": 3600}}, env={})
    (problem,) = err.value.problems
    assert problem.startswith("collect.rested_every_s: no longer a key;") and "remove the line" in problem
