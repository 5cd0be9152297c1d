"""Ambient and battery-area temperature: seasons, time of day, weather and engine heat."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

DAY_S = 86_400.0
YEAR_DAYS = 365.2425


@dataclass(frozen=True, slots=True)
class Climate:
    """Where the car lives: a seasonal sine, a daily sine and day-to-day weather anomalies.

    The simulator treats UTC as local time, so ``warmest_hour`` is a UTC hour.
    """

    name: str
    annual_mean_c: float
    seasonal_amplitude_c: float  # half the difference between the July and January means
    daily_amplitude_c: float  # half the day/night swing
    weather_sd_c: float = 2.5  # spread of a day's mean around the seasonal normal
    weather_corr: float = 0.7  # day-to-day correlation: fronts last a few days
    coldest_day: float = 15.0  # day of the year of the seasonal minimum (mid-January, north)
    warmest_hour: float = 15.0  # afternoon maximum


# Rounded climate normals [ENG]; only the shape matters to the battery physics.
MILD = Climate("mild", annual_mean_c=17.0, seasonal_amplitude_c=6.0, daily_amplitude_c=4.0, weather_sd_c=2.0)
"""Lisbon-like: January days around 11 °C, July around 23 °C."""
TEMPERATE = Climate("temperate", annual_mean_c=9.0, seasonal_amplitude_c=9.5, daily_amplitude_c=4.5)
"""Munich-like: January around -0.5 °C (mornings about -3 °C), July around 18.5 °C."""
COLD_WINTER = Climate("cold-winter", annual_mean_c=4.5, seasonal_amplitude_c=13.0, daily_amplitude_c=3.5)
"""Continental: January around -8.5 °C (mornings about -10 °C), July around 17.5 °C."""
HOT_AND_COLD = Climate(
    "hot-and-cold", annual_mean_c=10.0, seasonal_amplitude_c=18.0, daily_amplitude_c=6.0, weather_sd_c=3.0
)
"""Inland continental: January around -8 °C (nights about -14 °C), July around 28 °C (afternoons 34 °C)."""
HOT_SOUTH = Climate(
    "hot-south", annual_mean_c=18.5, seasonal_amplitude_c=6.0, daily_amplitude_c=6.0, weather_sd_c=2.0,
    coldest_day=196.0,
)
"""Perth-like, southern hemisphere: January around 24.5 °C (afternoons about 30 °C), July around 12.5 °C."""

# The battery area (engine bay / boot) and the telematics unit warm up while the engine runs
# and cool back towards ambient when parked [ENG: typical under-bonnet rise, tune with data].
ENGINE_HEAT_C = 15.0  # rise above ambient approached during a long drive
RUN_TAU_S = 25 * 60.0  # time constant of warming while driving
PARK_TAU_S = 2 * 3600.0  # time constant of cooling (or following ambient) while parked


class Weather:
    """Ambient temperature for one run: climate normals plus a seeded AR(1) daily anomaly."""

    def __init__(self, climate: Climate, rng: random.Random, day0: float, days: int) -> None:
        self.climate = climate
        self.day0 = day0
        c = climate
        rho = c.weather_corr
        innovation_sd = c.weather_sd_c * math.sqrt(1.0 - rho * rho)
        a = rng.gauss(0.0, c.weather_sd_c)
        anomalies = [a]
        for _ in range(days + 2):
            a = rho * a + rng.gauss(0.0, innovation_sd)
            anomalies.append(a)
        self._anomalies = anomalies

    def ambient(self, t: float) -> float:
        """Ambient temperature (°C) at Unix time ``t``."""
        c = self.climate
        doy = (t / DAY_S) % YEAR_DAYS  # day of the year, good to a day, which is all seasons need
        hour = (t % DAY_S) / 3600.0
        seasonal = -c.seasonal_amplitude_c * math.cos(2.0 * math.pi * (doy - c.coldest_day) / YEAR_DAYS)
        daily = c.daily_amplitude_c * math.cos(2.0 * math.pi * (hour - c.warmest_hour) / 24.0)
        # Weather: daily anomalies joined linearly so the temperature never jumps at midnight.
        x = max(0.0, (t - self.day0) / DAY_S)
        i = min(int(x), len(self._anomalies) - 2)
        f = min(1.0, x - i)
        weather = self._anomalies[i] * (1.0 - f) + self._anomalies[i + 1] * f
        return c.annual_mean_c + seasonal + daily + weather


def relax(temp_c: float, target_c: float, dt_s: float, tau_s: float) -> float:
    """First-order approach of ``temp_c`` towards ``target_c`` over ``dt_s`` seconds."""
    return target_c + (temp_c - target_c) * math.exp(-dt_s / tau_s)
