"""Configuration: one TOML file validated up front into typed, frozen objects."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from battwatch.analysis_config import AnalysisConfig
from battwatch.configbase import TOML_TYPED, Check, Pattern, Range, Secret, Section, plain, section, validate
from battwatch.core.record import field

DEFAULT_PATH = Path("/etc/battwatch/battwatch.toml")
VEHICLE_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"  # safe in MQTT topics and Influx tags


class ConfigError(Exception):
    """Every problem found in a configuration, each with its key path."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(f"{source}: {len(problems)} problem(s)")
        self.source = source
        self.problems = problems

    def render(self) -> str:
        lines = [f"{self.source}: {len(self.problems)} problem(s) found"]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


class StoreError(Exception):
    """The store cannot be opened: a path that is not a usable directory, a database that fails.

    Defined here, beside ConfigError, so the command line can catch it without importing SQLite.
    """


Positive = Annotated[float, Range(gt=0)]


@section
class VehicleConfig(Section):
    id: Annotated[str, Pattern(VEHICLE_ID)]
    model: str | None = None
    site: str | None = None
    owner_group: str | None = None


# No car battery in use today was fitted before this; an earlier date is a typing error (1900
# would read "125 years old"). A date after the data is left to the analysis: before it the
# age is unknown (docs/analysis.md §6), and the wall clock is no part of a config check [ENG].
EARLIEST_INSTALLED = date(1990, 1, 1)


def _plausible_installed(v: date) -> None:
    if v < EARLIEST_INSTALLED:
        raise ValueError(f"a date (YYYY-MM-DD) from {EARLIEST_INSTALLED} on: the day this battery was fitted")


Installed = Annotated[date, Check(_plausible_installed)]


@section
class MainBatteryConfig(Section):
    type: Literal["agm", "efb", "flooded"] = "agm"
    installed: Installed | None = None
    capacity_ah: Annotated[float, Range(gt=0, le=400)] = 80.0
    # the monitor's own draw from this battery while the car sleeps (0 when the Pi is switched off)
    monitor_draw_ma: Annotated[float, Range(ge=0, le=2000)] = 0.0


def _ordered(v: tuple[float, float]) -> None:
    if v[0] >= v[1]:
        raise ValueError("must be [min, max] with min < max")


@section
class SosBatteryConfig(Section):
    chemistry: Literal["nimh", "li-ion", "lifepo4"] = "nimh"
    cells: Annotated[int, Range(ge=1, le=16)] = 4
    installed: Installed | None = None
    lifespan_years: Annotated[tuple[Positive, Positive], Check(_ordered)] = (4.0, 7.0)


@section
class BatteryConfig(Section):
    main: MainBatteryConfig = MainBatteryConfig()
    sos: SosBatteryConfig = SosBatteryConfig()


@section
class ChannelCalibration(Section):
    gain: Annotated[float, Range(ge=0.5, le=2.0)] = 1.0
    offset: Annotated[float, Range(ge=-5.0, le=5.0)] = 0.0


@section
class CalibrationConfig(Section):
    main: ChannelCalibration = ChannelCalibration()
    sos: ChannelCalibration = ChannelCalibration()
    temp_offset_c: Annotated[float, Range(ge=-20, le=20)] = 0.0


BAUDRATES = (9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600)


def _standard_baud(v: int) -> None:
    if v not in BAUDRATES:
        raise ValueError(f"one of {', '.join(map(str, BAUDRATES))}")


# The URL schemes pyserial 3.5 opens (its serial.urlhandler.protocol_* modules); any other
# "name://" fails only when the daemon opens the port, so it is refused here.
PYSERIAL_SCHEMES = ("alt", "cp2110", "hwgrep", "loop", "rfc2217", "socket", "spy")
_KNOWN = ", ".join(s + "://" for s in PYSERIAL_SCHEMES)


def _adc_port(v: str) -> None:
    if not v:
        raise ValueError("a device path or a pyserial URL, not empty")
    scheme, sep, _ = v.partition("://")
    if sep:
        # pyserial lower-cases the scheme before it looks for the handler
        if scheme.lower() not in PYSERIAL_SCHEMES:
            raise ValueError(f"a device path or a pyserial URL with a scheme pyserial knows ({_KNOWN})")
    elif not v.startswith("/"):
        # a relative name would be looked up in whatever directory the daemon runs in
        raise ValueError(f"an absolute device path (/dev/ttyUSB0) or a pyserial URL ({_KNOWN})")


def _host(v: str) -> None:
    if not v or any(c.isspace() for c in v):
        raise ValueError("a host name or IP address, not empty and without spaces")
    if "://" in v or "/" in v:
        raise ValueError("a host name or IP address, not a URL (the port is a key of its own)")


def _topic_prefix(v: str) -> None:
    # the broker refuses a publish to a topic with a wildcard, and an empty level is a typo
    if not v or any(c in "#+" or c.isspace() for c in v) or v.startswith("$") or "" in v.split("/"):
        raise ValueError("topic levels without MQTT wildcards (+ #), spaces, a leading $ or an empty level")


def _influx_tags(tags: dict[str, str]) -> None:
    for key in tags:
        if not key.strip():
            raise ValueError("tag names that are not empty (InfluxDB refuses every line with an empty tag name)")
        if key == "time" or key.startswith("_"):
            raise ValueError(f"tag names InfluxDB accepts: {key!r} is reserved (time, and names starting with _)")


def _http_url(v: str) -> None:
    from urllib.parse import urlsplit

    try:
        u = urlsplit(v)
        u.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        u = None
    if u is None or u.scheme.lower() not in ("http", "https") or not u.hostname:
        raise ValueError("an http:// or https:// URL with a host (http://host:8086)")


@section
class AdcConfig(Section):
    # a device path or a pyserial URL (rfc2217://host:port, socket://, loop://)
    port: Annotated[str, Check(_adc_port)] = "/dev/battwatch-adc"
    baudrate: Annotated[int, Check(_standard_baud)] = 115200
    frame_rate_hz: Annotated[float, Range(ge=0.01, le=100)] = 1.0  # while the car is awake
    # while it sleeps (firmware-notes/power.md: a frame a minute); never above frame_rate_hz
    sleep_rate_hz: Annotated[float, Range(ge=0.01, le=100)] = 1 / 60
    fast_rate_hz: Annotated[float, Range(ge=1, le=100)] = 100.0  # for fast_seconds when it wakes
    fast_seconds: Annotated[int, Range(ge=0, le=600)] = 30  # 0: never ask for fast mode
    crank_trigger_mv: Annotated[int, Range(ge=0, le=5000)] = 1000
    # power.md scheme (b): the car asleep this long, the board is asked to cut the Pi's supply
    # (SLEEP) for visit_s and the Pi powers off with poweroff_command; 0: the Pi stays on
    sleep_after_s: Annotated[float, Range(ge=0, le=86400)] = 0.0
    visit_s: Annotated[int, Range(ge=1, le=604800)] = 21600
    poweroff_command: tuple[str, ...] = ("systemctl", "poweroff")
    silent_after_s: Annotated[float, Range(gt=0, le=3600)] = 10.0
    reconnect_min_s: Annotated[float, Range(gt=0, le=60)] = 0.5
    reconnect_max_s: Annotated[float, Range(gt=0, le=3600)] = 30.0
    calibration: CalibrationConfig = CalibrationConfig()

    def check(self) -> None:
        if self.reconnect_min_s > self.reconnect_max_s:
            raise ValueError("reconnect_min_s must not exceed reconnect_max_s")
        if not self.poweroff_command or not self.poweroff_command[0]:
            raise ValueError("poweroff_command must name a program")


@section
class StoreConfig(Section):
    path: Path = Path("/var/lib/battwatch")
    retention_days: Annotated[int, Range(ge=1, le=36500)] = 730
    csv_logs: bool = True
    csv_retention_days: Annotated[int, Range(ge=0, le=36500)] = 0  # 0 keeps every daily log
    # SD cards wear with every write: commit in batches
    commit_interval_s: Annotated[float, Range(ge=0, le=3600)] = 5.0
    commit_rows: Annotated[int, Range(ge=1, le=100000)] = 500


@section
class ClockConfig(Section):
    # "auto": trust the host clock only once the kernel says NTP synchronised it (a Pi has
    # no RTC); "trusted": the host has an RTC or GPS time; "untrusted": it never has either, so
    # readings are held hold_max_s and then go out as estimates. A board clock (BWT) always wins.
    host: Literal["auto", "trusted", "untrusted"] = "auto"
    hold_max_s: Annotated[float, Range(ge=0, le=86400)] = 900.0
    step_s: Annotated[float, Range(gt=0, le=3600)] = 2.0
    jump_s: Annotated[float, Range(gt=0, le=86400)] = 60.0
    # a reading's time must fall within these years (inclusive): a frame or a device clock
    # outside them is a firmware or clock fault, refused before it reaches the store
    min_year: Annotated[int, Range(ge=1971, le=9998)] = 2000
    max_year: Annotated[int, Range(ge=1971, le=9998)] = 2100

    def check(self) -> None:
        if self.min_year > self.max_year:
            raise ValueError("min_year must not exceed max_year")


@section
class LoggingConfig(Section):
    level: Literal["debug", "info", "warning", "error"] = "info"


@section
class MqttTlsConfig(Section):
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    insecure: bool = False  # skip the host-name check (test brokers only)

    def check(self) -> None:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")


@section
class MqttQosConfig(Section):
    readings: Literal[0, 1, 2] = 1  # QoS 1: no reading lost when the broker dies mid-stream
    state: Literal[0, 1, 2] = 1
    alerts: Literal[0, 1, 2] = 1
    events: Literal[0, 1, 2] = 1
    notify: Literal[0, 1, 2] = 1


@section
class MqttConfig(Section):
    host: Annotated[str, Check(_host)]
    port: Annotated[int, Range(ge=1, le=65535)] = 1883
    keepalive: Annotated[int, Range(ge=5, le=3600)] = 60
    client_id: str | None = None
    username: str | None = None
    password: Secret | None = None  # prefer password_file or BATTWATCH_MQTT_PASSWORD
    password_file: Path | None = None
    prefix: Annotated[str, Pattern(r"^[^#+$\s][^#+\s]*$")] = "battwatch"
    readings_interval: Annotated[float, Range(ge=1, le=86400)] = 60.0
    tls: MqttTlsConfig | None = None
    qos: MqttQosConfig = MqttQosConfig()
    clean_session: bool = False  # persistent session: the broker keeps QoS 1 messages for us
    reconnect_min_s: Annotated[float, Range(gt=0, le=60)] = 1.0
    reconnect_max_s: Annotated[float, Range(gt=0, le=3600)] = 120.0
    backlog_max: Annotated[int, Range(ge=100, le=10_000_000)] = 500_000
    homeassistant: bool = True
    homeassistant_prefix: Annotated[str, Check(_topic_prefix)] = "homeassistant"


@section
class InfluxConfig(Section):
    url: Annotated[str, Check(_http_url)]
    api: Literal["v1", "v2"] = "v2"
    org: str | None = None
    bucket: str | None = None
    token: Secret | None = None  # prefer token_file or BATTWATCH_INFLUX_TOKEN
    token_file: Path | None = None
    database: str | None = None
    username: str | None = None
    password: Secret | None = None
    password_file: Path | None = None
    batch_size: Annotated[int, Range(ge=1, le=50000)] = 500
    flush_interval_s: Annotated[float, Range(gt=0, le=3600)] = 10.0
    backlog_max: Annotated[int, Range(ge=100, le=10_000_000)] = 500_000
    window_s: Annotated[float, Range(ge=10, le=3600)] = 60.0  # readings are written as windows this long
    tags: Annotated[dict[str, str], Check(_influx_tags)] = field(default_factory=dict)

    def check(self) -> None:
        if self.api == "v2" and not (self.org and self.bucket):
            raise ValueError("api = 'v2' needs org and bucket")
        if self.api == "v1" and not self.database:
            raise ValueError("api = 'v1' needs database")


@section
class CollectConfig(Section):
    """``battwatch collect``: MQTT to InfluxDB for a fleet (docs/collect.md)."""

    RETIRED: ClassVar[Mapping[str, str]] = {
        "rested_every_s": "the cars send their rested readings as events, at most one per battery per hour "
                          "of data, and the collector writes each: remove the line",
    }
    # every collector of one fleet uses the same group: the broker gives each message to one
    share_group: Annotated[str, Pattern(r"^[^/#+$\s]+$")] = "battwatch-collectors"
    client_id: str | None = None  # default battwatch-collect-<host name>-<[vehicle] id>
    vehicles: list[Annotated[str, Pattern(VEHICLE_ID)]] | None = None  # None: every vehicle
    fleet_file: Path | None = None  # CSV vehicle,model,site,owner_group: the cars' fleet tags
    # messages received and not yet acknowledged (the MQTT 5 receive maximum we announce)
    queue_max: Annotated[int, Range(ge=1, le=65535)] = 1000
    session_expiry_s: Annotated[int, Range(ge=60, le=4_294_967_295)] = 7 * 86400
    health_every_s: Annotated[float, Range(ge=0, le=86400)] = 300.0  # 0: every state message
    status_interval_s: Annotated[float, Range(gt=0, le=3600)] = 60.0
    drain_timeout_s: Annotated[float, Range(gt=0, le=600)] = 10.0  # at a stop, for messages in flight
    close_timeout_s: Annotated[float, Range(ge=0, le=600)] = 20.0  # at a stop, for InfluxDB writes


@section
class Config(Section):
    vehicle: VehicleConfig
    battery: BatteryConfig = BatteryConfig()
    adc: AdcConfig = AdcConfig()
    store: StoreConfig = StoreConfig()
    clock: ClockConfig = ClockConfig()
    logging: LoggingConfig = LoggingConfig()
    mqtt: MqttConfig | None = None  # absent: the MQTT sink is off
    influx: InfluxConfig | None = None  # absent: the InfluxDB sink is off
    collect: CollectConfig | None = None  # only read by `battwatch collect`
    analysis: AnalysisConfig = AnalysisConfig()


# Secrets that may come from a *_file key or an environment variable, never printed.
_SECRETS: tuple[tuple[str, str, str], ...] = (
    ("mqtt", "password", "BATTWATCH_MQTT_PASSWORD"),
    ("influx", "token", "BATTWATCH_INFLUX_TOKEN"),
    ("influx", "password", "BATTWATCH_INFLUX_PASSWORD"),
)


def _read_secret(path: Path, where: str, problems: list[str]) -> str | None:
    """A secret file's text (UTF-8, surrounding white space dropped), or None with the problem
    noted; the secret itself never appears in the problem."""
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as e:
        problems.append(f"{where}: cannot read {path}: {e.strerror}")
    except UnicodeDecodeError as e:
        problems.append(f"{where}: {path} is not UTF-8 text (byte {e.start}); expected: the secret "
                        f"as plain UTF-8 text")
    return None


def _resolve_secrets(raw: dict[str, Any], problems: list[str], env: dict[str, str]) -> None:
    for table, key, var in _SECRETS:
        sec = raw.get(table)
        if not isinstance(sec, dict):
            continue
        file_key = f"{key}_file"
        if key in sec and file_key in sec:
            problems.append(f"{table}.{key}: give either {key} or {file_key}, not both")
            continue
        if file_key in sec:
            path = Path(str(sec[file_key]))
            value = _read_secret(path, f"{table}.{file_key}", problems)
            if value is None:
                continue
            sec[key] = value
        elif key not in sec and env.get(var):
            sec[key] = env[var]
        # systemd LoadCredential=: one file per credential ("mqtt-password"), or a whole
        # directory (LoadCredential=battwatch:DIR, as systemd/battwatch.service does), whose
        # files arrive as "battwatch_mqtt-password"
        elif key not in sec and env.get("CREDENTIALS_DIRECTORY"):
            cred_dir = Path(env["CREDENTIALS_DIRECTORY"])
            for name in (f"{table}-{key}", f"battwatch_{table}-{key}"):
                cred = cred_dir / name
                if cred.is_file():
                    value = _read_secret(cred, f"{table}.{key} (systemd credential {name})", problems)
                    if value:  # an empty placeholder means "no secret"
                        sec[key] = value
                    break


def from_dict(
    raw: dict[str, Any], source: str = "(embedded defaults)", env: dict[str, str] | None = None
) -> Config:
    """Validate a parsed TOML document. Raises ConfigError listing every problem."""
    problems: list[str] = []
    _resolve_secrets(raw, problems, dict(os.environ) if env is None else env)
    cfg = validate(Config, raw, "", problems)
    if problems:
        raise ConfigError(source, problems)
    return cfg


def load(path: Path | str, env: dict[str, str] | None = None) -> Config:
    """Read and validate a TOML file. Raises ConfigError (never a traceback for bad input)."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), ["file not found"]) from None
    except OSError as e:
        raise ConfigError(str(path), [f"cannot read: {e.strerror}"]) from None
    except UnicodeDecodeError as e:
        raise ConfigError(str(path), [f"not UTF-8 text (byte {e.start})"]) from None
    import tomllib  # only a file needs it: a replay on the defaults starts without it

    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(str(path), toml_error(str(e), text)) from None
    token = TOML_TYPED.set(True)  # a quoted date in a file is text, as in TOML itself
    try:
        return from_dict(raw, str(path), env)
    finally:
        TOML_TYPED.reset(token)


# what tomllib's messages mean, in words, with what usually causes them
_TOML_HINTS = (
    ("Invalid value", "a value is a number, true or false, a date (2019-06-01), or text in double quotes "
                      '(port = "/dev/ttyUSB0")'),
    ("Expected '=' after a key", "each line is key = value; a key with spaces in it needs quotes"),
    ("Cannot overwrite a value", "this key is given twice"),
    ("Cannot declare", "this [section] or key is given twice"),
    ("Unterminated string", "a closing quote is missing"),
    ("Illegal character '\\n'", "a closing quote is missing: text in quotes ends on its own line"),
    ("Unclosed array", "a closing ] is missing"),
    ("Unclosed", "a closing quote or bracket is missing"),
    ("Expected ']'", "a section name is written [name] or [name.sub], on a line of its own"),
    ("Invalid statement", "a line is [section], key = value, or a # comment"),
    ("Expected newline", "one key = value per line; text after a value goes after a #"),
    ("Invalid date", "a date is YYYY-MM-DD (installed = 2019-06-01)"),
)


def toml_error(message: str, text: str) -> list[str]:
    """A TOML syntax error as problems: where (line and column), what the line says, a hint in words."""
    import re

    m = re.search(r"\(at line (\d+), column (\d+)\)", message)
    what = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", message)
    hint = next((h for key, h in _TOML_HINTS if message.startswith(key)), "see https://toml.io for the syntax")
    if m is None:
        return [f"TOML syntax error at the end of the file: {what}; {hint}"]
    line, col = int(m.group(1)), int(m.group(2))
    lines = text.splitlines()
    shown = lines[line - 1] if 0 < line <= len(lines) else ""
    # one problem: the line itself and a caret under the column follow the message
    return [f"TOML syntax error at line {line}, column {col}: {what}; {hint}\n"
            f"      {shown}\n      {' ' * (col - 1)}^"]


def defaults(vehicle_id: str = "demo", **sections: Any) -> Config:
    """The embedded defaults: everything local, no broker, no database."""
    return from_dict({"vehicle": {"id": vehicle_id}, **sections})


def load_or_defaults(path: str | None, *, required: bool, vehicle: str = "demo") -> Config:
    """The file if one is given (or one is required: then the default path), else the embedded defaults."""
    if path is None and not required:
        return defaults(vehicle)
    return load(path or DEFAULT_PATH)


def redacted(cfg: Config) -> dict[str, Any]:
    """The configuration as plain data with every secret masked (for check-config)."""
    data: dict[str, Any] = plain(cfg)  # plain() masks every Secret
    return data
