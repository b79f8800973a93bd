"""Simulated time for the demo cluster: scaled wall time, or driven by hand."""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    def now(self) -> float:
        """Simulated unix seconds."""
        ...


class ScaledClock:
    """Wall time sped up by `speed`, starting at `start` (default: the real now)."""

    def __init__(self, speed: float = 1.0, start: float | None = None) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.speed = speed
        self.start = time.time() if start is None else start
        # Monotonic, so an NTP step or a suspended laptop's clock jump cannot
        # send the simulation backwards.
        self._origin = time.monotonic()

    def now(self) -> float:
        return self.start + (time.monotonic() - self._origin) * self.speed


class ManualClock:
    """A clock that moves only when told: tests and screenshots need exact times."""

    def __init__(self, t: float = 1_700_000_000.0) -> None:
        self.t = t

    def now(self) -> float:
        return self.t

    def advance(self, dt: float) -> None:
        if dt < 0:
            raise ValueError("a clock only moves forward")
        self.t += dt
