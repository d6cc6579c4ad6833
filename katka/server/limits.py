"""Connection limits with Kafka's names: max.connections and max.connections.per.ip.

A connection over either limit is closed as soon as it is accepted, before any request is
read (Kafka's per-IP quota does the same; for the broker-wide max.connections Kafka's acceptor
instead stops accepting until a connection closes, leaving clients in the listen backlog;
closing is simpler and clients reconnect with backoff either way). Both limits are read at
every accept, so IncrementalAlterConfigs changes them at run time, as in Kafka.
"""

from __future__ import annotations

import logging
import time
from collections import Counter

log = logging.getLogger("katka.server")

REFUSAL_LOG_INTERVAL_S = 10.0


class ConnectionLimiter:
    def __init__(self) -> None:
        self.total = 0
        self.per_host: Counter[str] = Counter()
        self.refused = 0
        self._last_logged = 0.0

    def try_acquire(self, host: str, max_connections: int, max_per_host: int) -> bool:
        """Count the connection in, or refuse it (False) when a limit is reached."""
        reason = None
        if self.total >= max_connections:
            reason = f"max.connections ({max_connections}) reached"
        elif self.per_host[host] >= max_per_host:
            reason = f"max.connections.per.ip ({max_per_host}) reached for {host}"
        if reason is not None:
            self.refused += 1
            now = time.monotonic()
            if now - self._last_logged >= REFUSAL_LOG_INTERVAL_S:
                self._last_logged = now
                log.warning(
                    "refusing connection from %s: %s (%d refused so far)",
                    host,
                    reason,
                    self.refused,
                )
            return False
        self.total += 1
        self.per_host[host] += 1
        return True

    def release(self, host: str) -> None:
        self.total -= 1
        self.per_host[host] -= 1
        if self.per_host[host] <= 0:
            del self.per_host[host]
