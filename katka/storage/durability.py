"""Durability: when a reply waits for fsync, and the group commit that runs the fsyncs.

The one place that decides durability for every request that appends (Produce, and
OffsetCommit through `__consumer_offsets`) and for the periodic flush of the housekeeping
task. The policy: with `--fsync always` a reply waits until every log the request wrote is
fsynced; otherwise it waits only when a log's flush.messages / flush.ms is due (Kafka's
LogConfig flush settings), and the housekeeping task flushes logs whose flush.ms passed.

Group commit: concurrent requests share one fsync round. A request that appended asks for a
flush and waits for the first round that starts after its append; everything appended before
a round starts is covered by it, because fsync covers all data written to a file before the
call. Rounds run one at a time on a worker thread so the event loop keeps accepting appends
(which then ride on the next round).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import TypeVar

from katka.clock import Clock
from katka.storage.base import PartitionLog

Reply = TypeVar("Reply")


class Durability:
    def __init__(self, fsync_always: bool, clock: Clock) -> None:
        self.fsync_always = fsync_always
        self.clock = clock
        self._pending: dict[int, PartitionLog] = {}
        self._next_round: asyncio.Future[None] | None = None
        self._rounds: asyncio.Task[None] | None = None

    # --- the policy ----------------------------------------------------------------------------

    def logs_to_flush(self, logs: Sequence[PartitionLog]) -> list[PartitionLog]:
        """Which of the logs a request just appended to must be fsynced before its reply."""
        if self.fsync_always:
            return list(logs)
        now_ms = self.clock.now_ms()
        return [partition_log for partition_log in logs if partition_log.needs_flush(now_ms)]

    def reply_when_durable(
        self, logs: Sequence[PartitionLog], reply: Reply
    ) -> Reply | Awaitable[Reply]:
        """The reply of a request that appended to `logs`: at once, or (an awaitable) once the
        logs the policy names are fsynced. An fsync error propagates to the caller."""
        due = self.logs_to_flush(logs)
        if not due:
            return reply
        return self._reply_after(due, reply)

    async def _reply_after(self, logs: list[PartitionLog], reply: Reply) -> Reply:
        await self.make_durable(logs)
        return reply

    async def flush_due(self, logs: Sequence[PartitionLog]) -> None:
        """Housekeeping: fsync the logs whose flush.messages / flush.ms is due."""
        now_ms = self.clock.now_ms()
        due = [partition_log for partition_log in logs if partition_log.needs_flush(now_ms)]
        if due:
            await self.make_durable(due)

    # --- group commit --------------------------------------------------------------------------

    async def make_durable(self, logs: Sequence[PartitionLog]) -> None:
        """Wait until everything appended to `logs` so far is fsynced."""
        for partition_log in logs:
            self._pending[id(partition_log)] = partition_log
        loop = asyncio.get_running_loop()
        if self._next_round is None:
            self._next_round = loop.create_future()
        waiter = self._next_round
        if self._rounds is None:
            self._rounds = loop.create_task(self._run_rounds())
        await asyncio.shield(waiter)

    async def _run_rounds(self) -> None:
        try:
            while self._next_round is not None:
                round_future = self._next_round
                logs = list(self._pending.values())
                self._pending.clear()
                self._next_round = None
                try:
                    await asyncio.to_thread(_flush_all, logs)
                except Exception as error:  # surfaced to every waiter of this round
                    round_future.set_exception(error)
                else:
                    round_future.set_result(None)
        finally:
            self._rounds = None

    async def close(self) -> None:
        """Wait for the rounds under way (before the storage engine closes its files)."""
        while self._rounds is not None:
            await asyncio.shield(self._rounds)


def _flush_all(logs: list[PartitionLog]) -> None:
    for partition_log in logs:
        partition_log.flush()
