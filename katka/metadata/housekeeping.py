"""The periodic work on every partition log: time-based segment roll, the flush.ms policy and
retention, on the event loop (the logs' one owner). A failure on one log is logged and the
others go on, as Kafka's LogManager scheduler does."""

from __future__ import annotations

import asyncio
import logging

from katka.clock import Clock
from katka.config import BrokerConfig
from katka.metadata.topics import TopicManager
from katka.storage.durability import Durability

log = logging.getLogger("katka.broker")


class LogHousekeeping:
    def __init__(
        self, topics: TopicManager, durability: Durability, clock: Clock, config: BrokerConfig
    ) -> None:
        self.topics = topics
        self.durability = durability
        self.clock = clock
        self.config = config

    async def run(self) -> None:
        retention_every_ms = self.config.get_int("log.retention.check.interval.ms")
        flush_every_ms = self.config.get_int("log.flush.scheduler.interval.ms")
        last_retention = self.clock.monotonic_ms()
        while True:
            await asyncio.sleep(min(flush_every_ms, retention_every_ms, 1000) / 1000)
            now_ms = self.clock.now_ms()
            logs = self.topics.logs()
            for partition_log in logs:
                try:
                    partition_log.maybe_roll(now_ms)
                except Exception:
                    log.exception(
                        "segment roll failed for %s-%d",
                        partition_log.topic,
                        partition_log.partition,
                    )
            try:
                await self.durability.flush_due(logs)
            except Exception:
                log.exception("scheduled flush failed")
            if self.clock.monotonic_ms() - last_retention >= retention_every_ms:
                last_retention = self.clock.monotonic_ms()
                self.enforce_retention()

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
