"""The traffic model: what one version's charts show for a given request rate.

Every sample is drawn from the rollout's own seeded RNG with a fixed number of
draws per call, so the series at a simulated time depend only on the seed and
the actions taken, never on how often anyone looked.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from console.model import Metric

#: Column order of a sample row in the history rings.
FIELDS: tuple[Metric, ...] = (
    Metric.REQUEST_RATE,
    Metric.LATENCY_P50,
    Metric.LATENCY_P99,
    Metric.ERROR_PCT,
    Metric.GPU_UTIL,
    Metric.GPU_MEMORY,
    Metric.GPU_MEMORY_MAX,
    Metric.GPU_COUNT,
)

# Quantiles and error ratios are computed over a rate window, as PromQL's
# rate(...[1m]) would: a canary taking 5% of traffic sees few requests per
# window, so its lines are visibly noisier than stable's, as in real life.
RATE_WINDOW_S = 60.0

_IDLE_UTIL_PCT = 2.0
_NAN = math.nan
_DAY_S = 86_400.0
_WOBBLE_S = 1_260.0  # a 21-minute swell, so the load moves at --speed 1 too


@dataclass(frozen=True)
class Profile:
    """How one image behaves on one replica at nominal load."""

    p50_ms: float
    p99_ms: float
    error_pct: float
    model_gib: float  # weights + CUDA context resident on the card
    util_per_rps: float  # GPU % per request/s on one replica
    card_gib: float = 24.0
    leak_gib_per_min: float = 0.0


@dataclass(frozen=True)
class Load:
    """A rollout's total request rate over the day.

    Driven by simulated seconds since the clock start, not the time of day,
    so a run with the same seed looks the same whenever it is started.
    """

    base_rps: float
    phase: float  # radians, so not every service peaks at the same moment

    def total(self, elapsed: float, rng: random.Random) -> float:
        swell = (
            1.0
            + 0.12 * math.sin(2 * math.pi * elapsed / _DAY_S + self.phase)
            + 0.06 * math.sin(2 * math.pi * elapsed / _WOBBLE_S + 3 * self.phase)
        )
        return max(0.0, self.base_rps * swell * (1.0 + 0.03 * noise(rng)))


def noise(rng: random.Random) -> float:
    """Roughly standard normal, several times cheaper than rng.gauss.

    The sum of three uniforms has variance 1/4; the tails stop at 3 sigma,
    which suits a demo better than the odd 5-sigma spike.
    """
    r = rng.random
    return (r() + r() + r() - 1.5) * 2.0


def sample_version(
    profile: Profile,
    rps: float,
    running: int,
    ready: int,
    uptime_s: float,
    rng: random.Random,
) -> tuple[float, ...]:
    """One row in FIELDS order; NaN where Prometheus would return nothing.

    Always draws the same number of random values, whatever the branch.
    """
    r = rng.random  # noise() inlined: this runs ~100 times per tick with 200 rollouts
    g_util = (r() + r() + r() - 1.5) * 2.0
    g_p50 = (r() + r() + r() - 1.5) * 2.0
    g_p99 = (r() + r() + r() - 1.5) * 2.0
    g_err = (r() + r() + r() - 1.5) * 2.0
    g_mem = (r() + r() + r() - 1.5) * 2.0
    per_replica = rps / ready if ready else 0.0
    util = min(99.0, (_IDLE_UTIL_PCT + profile.util_per_rps * per_replica) * (1.0 + 0.03 * g_util))
    util = max(0.0, util)
    # Queueing: latency climbs steeply only once the card is nearly busy.
    load = 1.0 + 0.8 * (util / 100.0) ** 3
    if rps > 0.0:
        n = rps * RATE_WINDOW_S
        jitter = 0.02 + 0.5 / math.sqrt(n + 1.0)
        p50 = profile.p50_ms * load * math.exp(0.5 * jitter * g_p50)
        p99 = max(p50, profile.p99_ms * load * math.exp(jitter * g_p99))
        expected = n * profile.error_pct / 100.0
        errors = max(0.0, expected + math.sqrt(expected) * g_err)  # Poisson, roughly
        error_pct = 100.0 * errors / n
    else:
        p50 = p99 = error_pct = _NAN
    if running:
        leak = profile.leak_gib_per_min * uptime_s / 60.0
        memory = profile.model_gib + 0.6 * util / 100.0 + leak + 0.02 * g_mem
        memory = min(profile.card_gib * 0.98, memory)
        # One GPU per pod; pods of one version differ by their share of the batch.
        fullest = min(profile.card_gib * 0.98, memory + (0.05 if running > 1 else 0.0))
        gpus = float(running)
    else:
        util = memory = fullest = gpus = _NAN
    return (rps, p50, p99, error_pct, util, memory, fullest, gpus)
