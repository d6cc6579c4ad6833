"""Wakes parked fetches when one of their partitions changes.

Theory of operation: a parked Fetch (long poll, fewer than min_bytes ready) registers one
`PartitionWaiter` under each partition it reads. Anything that moves what a fetch of a
partition may return (an append, a transaction marker moving the last stable offset,
DeleteRecords moving the log start offset, a deleted topic) calls `notify()` with the
partitions it changed. Only the waiters of those partitions wake, and each learns which of
its partitions changed, so it re-reads those and nothing else. An append therefore costs in
proportion to the fetches waiting on what it wrote, never to every parked fetch (Kafka's
DelayedOperationPurgatory keyed by TopicPartition does the same).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Protocol

TopicPartition = tuple[str, int]


class Waiter(Protocol):
    """Anything parked on partitions: a PartitionWaiter, or a connection's idle poll
    (server/idle_fetch.py)."""

    def on_change(self, partition: TopicPartition) -> None: ...


class PartitionWaiter:
    """One parked fetch: the partitions that changed since it last looked."""

    __slots__ = ("_changed", "_wakeup")

    def __init__(self) -> None:
        self._changed: set[TopicPartition] = set()
        self._wakeup: asyncio.Future[None] | None = None

    def on_change(self, partition: TopicPartition) -> None:
        self._changed.add(partition)
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    def drain(self) -> set[TopicPartition]:
        """The partitions that changed since the last look, without waiting."""
        changed, self._changed = self._changed, set()
        return changed

    async def changed(self, timeout_s: float) -> set[TopicPartition]:
        """The partitions that changed since the last call, waiting up to `timeout_s` for
        one; empty when the time ran out first."""
        if not self._changed and timeout_s > 0:
            loop = asyncio.get_running_loop()
            wakeup = self._wakeup = loop.create_future()
            # A timer handle, not asyncio.wait_for: wait_for's timeout cancels and awaits the
            # future it wraps, a good part of what an idle consumer's parked fetch costs.
            timer = loop.call_later(timeout_s, _time_is_up, wakeup)
            try:
                await wakeup
            finally:
                timer.cancel()
                self._wakeup = None
        return self.drain()


def _time_is_up(wakeup: asyncio.Future[None]) -> None:
    if not wakeup.done():
        wakeup.set_result(None)


class AppendNotifier:
    """An index from partition to the fetches parked on it."""

    def __init__(self) -> None:
        self._waiters: dict[TopicPartition, set[Waiter]] = {}

    def notify(self, partitions: Iterable[TopicPartition]) -> None:
        """Wake the fetches parked on `partitions` (and only those)."""
        for partition in partitions:
            for waiter in tuple(self._waiters.get(partition, ())):
                waiter.on_change(partition)

    def watch(self, waiter: Waiter, partitions: Iterable[TopicPartition]) -> None:
        waiters = self._waiters
        for partition in partitions:
            watching = waiters.get(partition)
            if watching is None:
                waiters[partition] = {waiter}
            else:
                watching.add(waiter)

    def unwatch(self, waiter: Waiter, partitions: Iterable[TopicPartition]) -> None:
        for partition in partitions:
            waiters = self._waiters.get(partition)
            if waiters is not None:
                waiters.discard(waiter)
                if not waiters:
                    del self._waiters[partition]

    @contextmanager
    def parked(self, partitions: Iterable[TopicPartition]) -> Iterator[PartitionWaiter]:
        """A waiter registered on `partitions` for the duration of the block."""
        keys = tuple(partitions)
        waiter = PartitionWaiter()
        self.watch(waiter, keys)
        try:
            yield waiter
        finally:
            self.unwatch(waiter, keys)

    def waiting_on(self, partition: TopicPartition) -> int:
        """How many fetches are parked on `partition` (for tests and metrics)."""
        return len(self._waiters.get(partition, ()))
