"""Throttling a client over its quota, as Kafka's ClientQuotaManager does: each (user,
client-id) has a rate per quota over `quota.window.num` samples of `quota.window.size.seconds`;
a request that takes the rate above the quota gets throttle_time_ms = (rate - quota) / quota x
the window span, and the broker reads nothing more from that connection meanwhile (KIP-219).

Byte rates count Produce request bytes and Fetch response bytes; request_percentage counts the
time spent handling a client's requests as a percentage of one thread's time (record the
seconds x 100).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from katka.config import BrokerConfig
from katka.quotas.store import ClientQuotaStore


@dataclass
class Rate:
    """Sum of values over the last `samples` windows of `window_s` seconds."""

    window_s: float
    samples: int
    _windows: dict[int, float] = field(default_factory=dict)

    def record(self, value: float, now: float) -> tuple[float, float]:
        """Add `value`; the rate (per second) over the windows kept, this one included, and
        the span it is measured over (seconds)."""
        current = int(now // self.window_s)
        self._windows[current] = self._windows.get(current, 0.0) + value
        oldest = current - self.samples + 1
        for index in [i for i in self._windows if i < oldest]:
            del self._windows[index]
        first = min(self._windows)
        # Kafka counts the elapsed span, at least (samples - 1) full windows.
        elapsed = max(now - first * self.window_s, (self.samples - 1) * self.window_s)
        return sum(self._windows.values()) / elapsed, elapsed


class QuotaManager:
    def __init__(
        self,
        store: ClientQuotaStore,
        config: BrokerConfig,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.config = config
        self.monotonic = monotonic
        self._rates: dict[tuple[str, str, str], Rate] = {}

    def record(self, key: str, user: str, client_id: str, value: float) -> int:
        """Record `value` toward quota `key` of this client; the throttle time in ms (0 when
        within its quota or unlimited)."""
        quota = self.store.quota(user, client_id, key)
        if quota is None:
            return 0
        window_s = float(self.config.get_int("quota.window.size.seconds"))
        samples = self.config.get_int("quota.window.num")
        rate = self._rates.get((key, user, client_id))
        if rate is None or rate.window_s != window_s or rate.samples != samples:
            rate = self._rates[(key, user, client_id)] = Rate(window_s, samples)
        observed, elapsed_s = rate.record(value, self.monotonic())
        if observed <= quota:
            return 0
        longest_ms = window_s * samples * 1000
        return int(min((observed - quota) / quota * elapsed_s * 1000, longest_ms))
