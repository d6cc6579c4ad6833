"""The periodic work on every partition log: time-based segment roll, the flush.ms policy and
retention, on the event loop (the logs' one owner). A failure on one log is logged and the
others go on, as Kafka's LogManager scheduler does.

The roll and flush walk visits every log, so it runs as often as the shortest segment.ms or
flush.ms among them needs: a tenth of it, at least every tick (a second, or
log.flush.scheduler.interval.ms when shorter) and at most every 30 s (with
Kafka's defaults, 7 days and never, every 30 s: 10,000 idle partitions walked every second
cost ~15 ms of CPU per second). Appends roll by size and time and ask for due flushes
themselves (storage/durability.py), so the walk is for logs that went idle; a topic created
or reconfigured since the last walk is walked at the next tick."""

from __future__ import annotations

import asyncio
import logging

from katka.clock import Clock
from katka.config import BrokerConfig
from katka.metadata.topics import TopicManager
from katka.storage.durability import Durability

log = logging.getLogger("katka.broker")


MIN_WALK_EVERY_MS = 1000
MAX_WALK_EVERY_MS = 30_000


class LogHousekeeping:
    def __init__(
        self, topics: TopicManager, durability: Durability, clock: Clock, config: BrokerConfig
    ) -> None:
        self.topics = topics
        self.durability = durability
        self.clock = clock
        self.config = config
        self.next_walk_ms = 0  # monotonic; 0: at the next tick
        self.tick_ms = min(
            config.get_int("log.flush.scheduler.interval.ms"),
            config.get_int("log.retention.check.interval.ms"),
            MIN_WALK_EVERY_MS,
        )
        topics.on_topics_changed.append(self.walk_soon)
        topics.on_log_configs_changed.append(self.walk_soon)

    def walk_soon(self) -> None:
        self.next_walk_ms = 0

    async def run(self) -> None:
        retention_every_ms = self.config.get_int("log.retention.check.interval.ms")
        last_retention = self.clock.monotonic_ms()
        while True:
            await asyncio.sleep(self.tick_ms / 1000)
            if self.clock.monotonic_ms() >= self.next_walk_ms:
                await self.walk()
            if self.clock.monotonic_ms() - last_retention >= retention_every_ms:
                last_retention = self.clock.monotonic_ms()
                self.enforce_retention()

    async def walk(self) -> None:
        """Roll the idle segments whose segment.ms passed, flush the logs whose flush.ms did,
        and set when the next walk is due."""
        now_ms = self.clock.now_ms()
        logs = self.topics.logs()
        shortest_ms = MAX_WALK_EVERY_MS * 10
        for partition_log in logs:
            config = partition_log.config
            shortest_ms = min(shortest_ms, config.segment_ms, config.flush_ms)
            try:
                partition_log.maybe_roll(now_ms)
            except Exception:
                log.exception(
                    "segment roll failed for %s-%d", partition_log.topic, partition_log.partition
                )
        every_ms = max(self.tick_ms, min(MAX_WALK_EVERY_MS, shortest_ms // 10))
        self.next_walk_ms = self.clock.monotonic_ms() + every_ms
        try:
            await self.durability.flush_due(logs)
        except Exception:
            log.exception("scheduled flush failed")

    def enforce_retention(self) -> int:
        """Retention of user topics only: the internal logs (__consumer_offsets, the
        transaction and share state) hold live state however old, and their coordinators
        compact them themselves; retention would delete committed offsets (Kafka keeps them
        compacted, never deleted by time)."""
        freed = 0
        now_ms = self.clock.now_ms()
        for partition_log in self.topics.logs():
            if self.topics.is_internal(partition_log.topic):
                continue
            try:
                freed += partition_log.enforce_retention(now_ms)
            except Exception:
                log.exception(
                    "retention failed for %s-%d", partition_log.topic, partition_log.partition
                )
        log.log(logging.INFO if freed else logging.DEBUG, "retention check freed %d bytes", freed)
        return freed
