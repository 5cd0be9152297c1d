"""Configuration: one TOML file validated up front into typed, frozen objects."""

from __future__ import annotations

import difflib
import os
import tomllib
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from battwatch.analysis_config import AnalysisConfig
from battwatch.configbase import Section

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


_Section = Section


Positive = Annotated[float, Field(gt=0)]


class VehicleConfig(_Section):
    id: Annotated[str, Field(pattern=VEHICLE_ID)]
    model: str | None = None
    site: str | None = None
    owner_group: str | None = None


class MainBatteryConfig(_Section):
    type: Literal["agm", "efb", "flooded"] = "agm"
    installed: date | None = None
    capacity_ah: Annotated[float, Field(gt=0, le=400)] = 80.0
    # the monitor's own draw from this battery while the car sleeps (0 when the Pi is switched off)
    monitor_draw_ma: Annotated[float, Field(ge=0, le=2000)] = 0.0


class SosBatteryConfig(_Section):
    chemistry: Literal["nimh", "li-ion", "lifepo4"] = "nimh"
    cells: Annotated[int, Field(ge=1, le=16)] = 4
    installed: date | None = None
    lifespan_years: tuple[Positive, Positive] = (4.0, 7.0)

    @field_validator("lifespan_years")
    @classmethod
    def _ordered(cls, v: tuple[float, float]) -> tuple[float, float]:
        if v[0] >= v[1]:
            raise ValueError("must be [min, max] with min < max")
        return v


class BatteryConfig(_Section):
    main: MainBatteryConfig = MainBatteryConfig()
    sos: SosBatteryConfig = SosBatteryConfig()


class ChannelCalibration(_Section):
    gain: Annotated[float, Field(ge=0.5, le=2.0)] = 1.0
    offset: Annotated[float, Field(ge=-5.0, le=5.0)] = 0.0


class CalibrationConfig(_Section):
    main: ChannelCalibration = ChannelCalibration()
    sos: ChannelCalibration = ChannelCalibration()
    temp_offset_c: Annotated[float, Field(ge=-20, le=20)] = 0.0


BAUDRATES = (9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600)


class AdcConfig(_Section):
    port: str = "/dev/battwatch-adc"  # a device path or any pyserial URL (loop://, rfc2217://)
    baudrate: int = 115200
    frame_rate_hz: Annotated[float, Field(ge=0.01, le=100)] = 1.0
    fast_rate_hz: Annotated[float, Field(ge=1, le=100)] = 100.0
    fast_seconds: Annotated[int, Field(ge=0, le=600)] = 30
    crank_trigger_mv: Annotated[int, Field(ge=0, le=5000)] = 1000
    silent_after_s: Annotated[float, Field(gt=0, le=3600)] = 10.0
    reconnect_min_s: Annotated[float, Field(gt=0, le=60)] = 0.5
    reconnect_max_s: Annotated[float, Field(gt=0, le=3600)] = 30.0
    calibration: CalibrationConfig = CalibrationConfig()

    @field_validator("baudrate")
    @classmethod
    def _standard_baud(cls, v: int) -> int:
        if v not in BAUDRATES:
            raise ValueError(f"must be one of {', '.join(map(str, BAUDRATES))}")
        return v

    @model_validator(mode="after")
    def _backoff_order(self) -> AdcConfig:
        if self.reconnect_min_s > self.reconnect_max_s:
            raise ValueError("reconnect_min_s must not exceed reconnect_max_s")
        return self


class StoreConfig(_Section):
    path: Path = Path("/var/lib/battwatch")
    retention_days: Annotated[int, Field(ge=1, le=36500)] = 730
    csv_logs: bool = True
    csv_retention_days: Annotated[int, Field(ge=0, le=36500)] = 0  # 0 keeps every daily log
    # SD cards wear with every write: commit in batches
    commit_interval_s: Annotated[float, Field(ge=0, le=3600)] = 30.0
    commit_rows: Annotated[int, Field(ge=1, le=100000)] = 500


class ClockConfig(_Section):
    # "auto": trust the host clock only once the kernel says NTP synchronised it (a Pi has
    # no RTC); "trusted": the host has an RTC or GPS time. A board clock (BWT) always wins.
    host: Literal["auto", "trusted"] = "auto"
    hold_max_s: Annotated[float, Field(ge=0, le=86400)] = 900.0
    step_s: Annotated[float, Field(gt=0, le=3600)] = 2.0
    jump_s: Annotated[float, Field(gt=0, le=86400)] = 60.0


class LoggingConfig(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"


class MqttTlsConfig(_Section):
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    insecure: bool = False  # skip the host-name check (test brokers only)

    @model_validator(mode="after")
    def _pair(self) -> MqttTlsConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        return self


class MqttQosConfig(_Section):
    readings: Literal[0, 1, 2] = 1  # QoS 1: no reading lost when the broker dies mid-stream
    state: Literal[0, 1, 2] = 1
    alerts: Literal[0, 1, 2] = 1
    events: Literal[0, 1, 2] = 1
    notify: Literal[0, 1, 2] = 1


class MqttConfig(_Section):
    host: str
    port: Annotated[int, Field(ge=1, le=65535)] = 1883
    keepalive: Annotated[int, Field(ge=5, le=3600)] = 60
    client_id: str | None = None
    username: str | None = None
    password: SecretStr | None = None  # prefer password_file or BATTWATCH_MQTT_PASSWORD
    password_file: Path | None = None
    prefix: Annotated[str, Field(pattern=r"^[^#+$\s][^#+\s]*$")] = "battwatch"
    readings_interval: Annotated[float, Field(ge=1, le=86400)] = 60.0
    tls: MqttTlsConfig | None = None
    qos: MqttQosConfig = MqttQosConfig()
    clean_session: bool = False  # persistent session: the broker keeps QoS 1 messages for us
    reconnect_min_s: Annotated[float, Field(gt=0, le=60)] = 1.0
    reconnect_max_s: Annotated[float, Field(gt=0, le=3600)] = 120.0
    backlog_max: Annotated[int, Field(ge=100, le=10_000_000)] = 500_000
    homeassistant: bool = True
    homeassistant_prefix: str = "homeassistant"


class InfluxConfig(_Section):
    url: str
    api: Literal["v1", "v2"] = "v2"
    org: str | None = None
    bucket: str | None = None
    token: SecretStr | None = None  # prefer token_file or BATTWATCH_INFLUX_TOKEN
    token_file: Path | None = None
    database: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = None
    batch_size: Annotated[int, Field(ge=1, le=50000)] = 500
    flush_interval_s: Annotated[float, Field(gt=0, le=3600)] = 10.0
    backlog_max: Annotated[int, Field(ge=100, le=10_000_000)] = 500_000
    window_s: Annotated[float, Field(ge=10, le=3600)] = 60.0  # readings are written as windows this long
    tags: dict[str, str] = {}

    @model_validator(mode="after")
    def _api_keys(self) -> InfluxConfig:
        if self.api == "v2" and not (self.org and self.bucket):
            raise ValueError("api = 'v2' needs org and bucket")
        if self.api == "v1" and not self.database:
            raise ValueError("api = 'v1' needs database")
        return self


class CollectConfig(_Section):
    """``battwatch collect``: MQTT to InfluxDB for a fleet (docs/collect.md)."""

    # every collector of one fleet uses the same group: the broker gives each message to one
    share_group: Annotated[str, Field(pattern=r"^[^/#+$\s]+$")] = "battwatch-collectors"
    client_id: str | None = None  # default battwatch-collect-<host name>-<[vehicle] id>
    vehicles: list[Annotated[str, Field(pattern=VEHICLE_ID)]] | None = None  # None: every vehicle
    fleet_file: Path | None = None  # CSV vehicle,model,site,owner_group: the cars' fleet tags
    # messages received and not yet acknowledged (the MQTT 5 receive maximum we announce)
    queue_max: Annotated[int, Field(ge=1, le=65535)] = 1000
    session_expiry_s: Annotated[int, Field(ge=60, le=4_294_967_295)] = 7 * 86400
    health_every_s: Annotated[float, Field(ge=0, le=86400)] = 300.0  # 0: every state message
    rested_every_s: Annotated[float, Field(ge=0, le=86400)] = 3600.0  # 0: every new rested voltage
    status_interval_s: Annotated[float, Field(gt=0, le=3600)] = 60.0
    drain_timeout_s: Annotated[float, Field(gt=0, le=600)] = 10.0  # at a stop, for messages in flight
    close_timeout_s: Annotated[float, Field(ge=0, le=600)] = 20.0  # at a stop, for InfluxDB writes


class Config(_Section):
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


def _resolve_secrets(raw: dict[str, Any], problems: list[str], env: dict[str, str]) -> None:
    for section, key, var in _SECRETS:
        sec = raw.get(section)
        if not isinstance(sec, dict):
            continue
        file_key = f"{key}_file"
        if key in sec and file_key in sec:
            problems.append(f"{section}.{key}: give either {key} or {file_key}, not both")
            continue
        if file_key in sec:
            path = Path(str(sec[file_key]))
            try:
                value = path.read_text(encoding="utf-8").strip()
            except OSError as e:
                problems.append(f"{section}.{file_key}: cannot read {path}: {e.strerror}")
                continue
            sec[key] = value
        elif key not in sec and env.get(var):
            sec[key] = env[var]
        # systemd LoadCredential=: one file per credential ("mqtt-password"), or a whole
        # directory (LoadCredential=battwatch:DIR, as systemd/battwatch.service does), whose
        # files arrive as "battwatch_mqtt-password"
        elif key not in sec and env.get("CREDENTIALS_DIRECTORY"):
            cred_dir = Path(env["CREDENTIALS_DIRECTORY"])
            for name in (f"{section}-{key}", f"battwatch_{section}-{key}"):
                cred = cred_dir / name
                if cred.is_file():
                    value = cred.read_text(encoding="utf-8").strip()
                    if value:  # an empty placeholder means "no secret"
                        sec[key] = value
                    break


def _describe(value: Any) -> str:
    if isinstance(value, SecretStr):
        return "(secret)"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _known_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed at the parent of ``loc``, for 'did you mean' hints."""
    current: Any = model
    for part in loc[:-1]:
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            return []
        ann = fields[part].annotation
        for candidate in getattr(ann, "__args__", ()) or (ann,):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                current = candidate
                break
        else:
            return []
    return list(getattr(current, "model_fields", {}))


def _format_errors(exc: ValidationError) -> list[str]:
    problems = []
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if not str(p).startswith("function-"))
        path = ".".join(str(p) for p in loc) or "(top level)"
        kind = err["type"]
        if kind == "extra_forbidden":
            hint = difflib.get_close_matches(str(loc[-1]), _known_keys(Config, loc), n=1)
            tip = f"; did you mean '{hint[0]}'?" if hint else ""
            problems.append(f"{path}: unknown key{tip}")
        elif kind == "missing":
            problems.append(f"{path}: required key is missing")
        else:
            msg = err["msg"]
            msg = msg.removeprefix("Value error, ")
            msg = msg[0].lower() + msg[1:] if msg else msg
            value = err.get("input")
            if isinstance(value, dict):
                # a rule across several keys of a section: the section is the place
                problems.append(f"{path}: {msg}")
                continue
            secret = any(str(p) in ("password", "token") for p in loc)
            found = "(secret)" if secret else _describe(value)
            problems.append(f"{path}: found {found}; expected: {msg}")
    return problems


def from_dict(
    raw: dict[str, Any], source: str = "(embedded defaults)", env: dict[str, str] | None = None
) -> Config:
    """Validate a parsed TOML document. Raises ConfigError listing every problem."""
    problems: list[str] = []
    _resolve_secrets(raw, problems, dict(os.environ) if env is None else env)
    try:
        cfg = Config.model_validate(raw)
    except ValidationError as e:
        problems += _format_errors(e)
        cfg = None
    if problems:
        raise ConfigError(source, problems)
    assert cfg is not None
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
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(str(path), [f"TOML syntax error: {e}"]) from None
    return from_dict(raw, str(path), env)


def defaults(vehicle_id: str = "demo", **sections: Any) -> Config:
    """The embedded defaults: everything local, no broker, no database."""
    return from_dict({"vehicle": {"id": vehicle_id}, **sections})


def redacted(cfg: Config) -> dict[str, Any]:
    """The configuration as plain data with every secret masked (for check-config)."""
    data = cfg.model_dump(mode="json", exclude_none=True)
    for section, key, _ in _SECRETS:
        sec = data.get(section)
        if isinstance(sec, dict) and key in sec:
            sec[key] = "********"
    return data
