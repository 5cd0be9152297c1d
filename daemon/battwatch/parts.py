"""The pipeline, the device decoder and the store, built from the configuration (daemon and replay alike)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from battwatch.adapters.store import Store
from battwatch.config import Config
from battwatch.core.calibration import Calibration, FrameCalibrator
from battwatch.core.decoder import DeviceDecoder
from battwatch.core.pipeline import build_pipeline as build_pipeline


def build_decoder(cfg: Config) -> DeviceDecoder:
    cal = cfg.adc.calibration
    return DeviceDecoder(
        FrameCalibrator(
            Calibration(cal.main.gain, cal.main.offset),
            Calibration(cal.sos.gain, cal.sos.offset),
            cal.temp_offset_c,
            cfg.vehicle.id,
        ),
        hold_max_s=cfg.clock.hold_max_s,
        step_s=cfg.clock.step_s,
        jump_s=cfg.clock.jump_s,
        t_min=datetime(cfg.clock.min_year, 1, 1, tzinfo=UTC).timestamp(),
        t_max=datetime(cfg.clock.max_year + 1, 1, 1, tzinfo=UTC).timestamp(),
    )


def open_store(cfg: Config, directory: Path | None = None) -> Store:
    s = cfg.store
    return Store(
        directory or s.path,
        cfg.vehicle.id,
        csv_logs=s.csv_logs,
        commit_rows=s.commit_rows,
        commit_interval_s=s.commit_interval_s,
        retention_days=s.retention_days,
        csv_retention_days=s.csv_retention_days,
    )
