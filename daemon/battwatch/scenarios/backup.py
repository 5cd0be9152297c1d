"""SOS/eCall backup pack: per-cell voltage curves, charging by the telematics unit, self-discharge."""

from __future__ import annotations

import math
from dataclasses import dataclass

from battwatch.scenarios.lead_acid import Curve, Table, clamp


@dataclass(frozen=True, slots=True)
class Chemistry:
    """Per-cell behaviour of one backup-pack chemistry. Curves map SoC (fraction) to volts."""

    name: str
    nominal_cell_v: float
    rest_curve: Table  # open-circuit voltage after a few hours without charging
    charge_curve: Table  # terminal voltage while the telematics unit charges at its usual current
    charge_efficiency: Table  # share of the charging current that ends up stored
    self_discharge_per_day_20c: float  # fraction of rated capacity lost per day at 20 °C
    charge_tau_s: float  # how fast the on-charge over-voltage appears when charging starts
    relax_tau_s: float  # how fast it fades after charging stops
    # The rested (open-circuit) cell voltage rises this much per °C above 20 °C (V per cell).
    ocv_temp_coeff_v_per_c: float = 0.0


# NiMH: nominal 1.2 V, ≈ 1.45 V at the end of a 0.1 C charge, 1.25-1.40 V rested when charged,
# end of discharge 1.0 V [SRC 8]; flat 1.2-1.25 V from ~80 % to ~10 % then a fast fall [SRC 52];
# ≈ 0.7 %/day self-discharge at 20 °C (80 % left after a month) [SRC 9]. Curve points [ENG].
NIMH = Chemistry(
    name="nimh",
    nominal_cell_v=1.2,
    rest_curve=(
        (0.0, 1.00), (0.03, 1.10), (0.07, 1.17), (0.10, 1.20), (0.30, 1.225),
        (0.60, 1.24), (0.80, 1.255), (0.90, 1.29), (1.0, 1.35),
    ),
    charge_curve=((0.0, 1.30), (0.2, 1.37), (0.5, 1.40), (0.8, 1.42), (0.95, 1.44), (1.0, 1.45)),
    # Charge acceptance of NiMH falls steeply near full at 0.1 C (the rest becomes heat) [ENG].
    charge_efficiency=((0.0, 0.9), (0.7, 0.9), (0.9, 0.7), (1.0, 0.3)),
    self_discharge_per_day_20c=0.007,
    charge_tau_s=180.0,
    relax_tau_s=30 * 60.0,  # [ENG] nearly gone after 2 h asleep, the "rested" rule (sos_rest_min_s)
    # Varta: the OCV "depends on temperature" [SRC 8]; the figure is [ENG], the analysis's default.
    ocv_temp_coeff_v_per_c=0.0005,
)

# Li-ion: 4.1-4.2 V on charge, ~4.0-4.1 V rested full, 3.0 V empty [SRC 51]; ~2-3 %/month
# self-discharge (a typical figure, [ENG]). Curve points [ENG].
LI_ION = Chemistry(
    name="li-ion",
    nominal_cell_v=3.6,
    rest_curve=(
        (0.0, 3.00), (0.05, 3.30), (0.10, 3.45), (0.30, 3.62), (0.50, 3.72),
        (0.70, 3.85), (0.90, 3.98), (1.0, 4.05),
    ),
    # Float-charged at 4.15 V while powered: within the 4.1-4.2 V band, kinder than 4.2 V [ENG].
    charge_curve=((0.0, 3.40), (0.5, 3.90), (0.8, 4.05), (0.9, 4.12), (1.0, 4.15)),
    charge_efficiency=((0.0, 0.99), (1.0, 0.99)),
    self_discharge_per_day_20c=0.0008,
    charge_tau_s=120.0,
    relax_tau_s=30 * 60.0,
)

# LiFePO4: 3.6 V on charge, 3.3-3.4 V rested full, very flat 3.2-3.3 V, 2.5-2.8 V empty [SRC 51].
LIFEPO4 = Chemistry(
    name="lifepo4",
    nominal_cell_v=3.2,
    rest_curve=(
        (0.0, 2.50), (0.05, 2.90), (0.10, 3.10), (0.20, 3.20), (0.50, 3.26),
        (0.80, 3.30), (0.95, 3.33), (1.0, 3.38),
    ),
    charge_curve=((0.0, 3.25), (0.2, 3.35), (0.8, 3.42), (0.95, 3.50), (1.0, 3.60)),
    charge_efficiency=((0.0, 0.99), (1.0, 0.99)),
    self_discharge_per_day_20c=0.001,
    charge_tau_s=120.0,
    relax_tau_s=30 * 60.0,
)

CHEMISTRIES: dict[str, Chemistry] = {c.name: c for c in (NIMH, LI_ION, LIFEPO4)}


@dataclass(frozen=True, slots=True)
class PackParams:
    """A backup pack: chemistry, cells in series, rated capacity and how it is charged."""

    chemistry: Chemistry = NIMH
    cells: int = 4  # BMW TCB basic: 4 × 1.2 V = 4.8 V [SRC 1, 2]
    capacity_mah: float = 600.0  # BMW TCB basic [SRC 1, 2]
    charge_current_ma: float = 60.0  # 0.1 C, the rate of Varta's end-of-charge figure [SRC 8] [ENG]
    initial_soc: float = 0.97
    capacity_factor: float = 1.0  # what is left of the rated capacity (a worn pack < 1)
    self_discharge_factor: float = 1.0  # × the chemistry's rate (a leaky pack > 1)


@dataclass(frozen=True, slots=True)
class PackAgeing:
    """A pack wearing out between two times (Unix s): values are reached at ``end``.

    Capacity fades, self-discharge rises and the rested voltage sags (NiMH voltage depression
    and alloy wear [ENG]), so the voltage after a few hours asleep trends down over months.
    """

    start: float
    end: float
    capacity_factor: float = 0.7  # end of life by the 80 % capacity rule [SRC 44]
    self_discharge_factor: float = 2.5
    depression_v_per_cell: float = 0.11  # [ENG] tuned so a decline is visible months ahead
    shape: float = 1.0  # steady wear

    def progress(self, t: float) -> float:
        if t <= self.start:
            return 0.0
        if t >= self.end:
            return 1.0
        return ((t - self.start) / (self.end - self.start)) ** self.shape


def self_discharge_temp_factor(temp_c: float) -> float:
    """Self-discharge roughly doubles per +10 °C ("faster when hot", [SRC 9]; rule of thumb)."""
    return 2.0 ** ((clamp(temp_c, -30.0, 70.0) - 20.0) / 10.0)


class BackupPack:
    """The state of the backup pack (charge, on-charge over-voltage) and its terminal voltage."""

    def __init__(self, p: PackParams, ageing: PackAgeing | None = None) -> None:
        self.p = p
        self.chem = p.chemistry
        self.ageing = ageing
        self.capacity_mah = p.capacity_mah * p.capacity_factor
        self.sd_factor = p.self_discharge_factor
        self.depression_v = 0.0
        self.leak_factor = 1.0  # set by a fault (a soft short inside a cell)
        self.shorted_cells = 0
        self.q_mah = p.initial_soc * self.capacity_mah
        self._rest = Curve(self.chem.rest_curve)
        self._charge = Curve(self.chem.charge_curve)
        self._efficiency = Curve(self.chem.charge_efficiency)
        self.overvoltage_v = 0.0  # per cell, above the rest curve, while/after charging
        self.charging = False  # while powered the unit charges: NiMH trickles, lithium floats
        self.temp_c = 20.0  # the pack's temperature during the last step

    def age_to(self, t: float) -> None:
        a = self.ageing
        if a is None:
            return
        x = a.progress(t)
        p = self.p
        self.capacity_mah = p.capacity_mah * p.capacity_factor * (1.0 + (a.capacity_factor - 1.0) * x)
        self.sd_factor = p.self_discharge_factor * (1.0 + (a.self_discharge_factor - 1.0) * x)
        self.depression_v = a.depression_v_per_cell * x
        self.q_mah = min(self.q_mah, self.capacity_mah)

    @property
    def soc(self) -> float:
        return clamp(self.q_mah / self.capacity_mah, 0.0, 1.0)

    def cell_v(self) -> float:
        ocv = self._rest(self.soc) + self.chem.ocv_temp_coeff_v_per_c * (self.temp_c - 20.0)
        return ocv - self.depression_v + self.overvoltage_v

    def pack_v(self) -> float:
        return self.cell_v() * (self.p.cells - self.shorted_cells)

    def step(self, dt_s: float, temp_c: float, supply: bool) -> tuple[float, float]:
        """Advance ``dt_s`` seconds; ``supply``: the telematics unit is powered and may charge.

        Returns the pack voltage at the start and end of the step.
        """
        chem = self.chem
        v0 = self.pack_v()
        self.temp_c = temp_c
        soc = self.soc
        self.charging = supply
        leak_ma = (
            chem.self_discharge_per_day_20c * self.sd_factor * self.leak_factor * self.p.capacity_mah / 24.0
        ) * self_discharge_temp_factor(temp_c)
        gain_ma = self.p.charge_current_ma * self._efficiency(soc) if self.charging else 0.0
        self.q_mah = clamp(self.q_mah + (gain_ma - leak_ma) * dt_s / 3600.0, 0.0, self.capacity_mah)
        soc = self.soc
        if self.charging:
            target = self._charge(soc) - self._rest(soc)
            self.overvoltage_v = target + (self.overvoltage_v - target) * math.exp(-dt_s / chem.charge_tau_s)
        else:
            self.overvoltage_v *= math.exp(-dt_s / chem.relax_tau_s)
        return v0, self.pack_v()
