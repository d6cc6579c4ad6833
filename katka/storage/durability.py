"""Durability: when a reply waits for fsync, and the group commit that runs the fsyncs.

The one place that decides durability for every request that appends (Produce, and
OffsetCommit through `__consumer_offsets`) and for the periodic flush of the housekeeping
task. The policy: with `--fsync always` a reply waits until every log the request wrote is
fsynced; otherwise it waits only when a log's flush.messages / flush.ms is due (Kafka's
LogConfig flush settings), and the housekeeping task flushes logs whose flush.ms passed.

A rolled segment is fsynced in the background (no reply waits for it), as Kafka flushes a
rolled segment on its scheduler: the recovery point then moves past it, so recovery after a
crash scans little. Appends and the housekeeping tick start those rounds.

Group commit: concurrent requests share one fsync round. A request that appended asks for a
flush and waits for the first round that starts after its append; everything appended before
a round starts is covered by it, because fsync covers all data written to a file before the
call. Rounds run one at a time, so the event loop keeps accepting appends (which then ride on
the next round). A round is three steps and only the middle one leaves the loop:
`begin_flush` captures each log's files (duplicated descriptors) and end offset on the loop,
a worker thread runs only `os.fsync` on them, and `complete_flush` moves each recovery point
(and writes its checkpoint) back on the loop. So the loop stays the one owner of log state,
and the files' single writer, whatever a segment roll, retention or a topic deletion does
while the fsync runs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Sequence
from typing import TypeVar

from katka.clock import Clock
from katka.stats import LatencyHistogram
from katka.storage.base import FlushPlan, PartitionLog

logger = logging.getLogger("katka.storage")

Reply = TypeVar("Reply")


class Durability:
    def __init__(self, fsync_always: bool, clock: Clock) -> None:
        self.fsync_always = fsync_always
        self.clock = clock
        self._pending: dict[int, PartitionLog] = {}
        self._next_round: asyncio.Future[None] | None = None
        self._rounds: asyncio.Task[None] | None = None
        # How long each round's fsyncs took (Kafka's LogFlushStats LogFlushRateAndTimeMs).
        self.fsync_latency = LatencyHistogram()

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
        if len(logs) == 1 and not self.fsync_always:  # the usual Produce: one partition
            (only,) = logs
            if only.has_unflushed_closed_segment:
                self.maybe_flush_rolled(logs)
            if not only.needs_flush(self.clock.now_ms()):
                return reply
            return self._reply_after([only], reply)
        due = self.logs_to_flush(logs)
        self.maybe_flush_rolled(logs)
        if not due:
            return reply
        return self._reply_after(due, reply)

    async def after_append(self, logs: Sequence[PartitionLog]) -> None:
        """Wait for what the policy asks once `logs` were appended to (nothing by default)."""
        self.maybe_flush_rolled(logs)
        due = self.logs_to_flush(logs)
        if due:
            await self.make_durable(due)

    async def _reply_after(self, logs: list[PartitionLog], reply: Reply) -> Reply:
        await self.make_durable(logs)
        return reply

    def maybe_flush_rolled(self, logs: Sequence[PartitionLog]) -> None:
        """Start a background round for the logs that rolled a segment not yet fsynced."""
        rolled = [
            partition_log for partition_log in logs if partition_log.has_unflushed_closed_segment
        ]
        if not rolled:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # a handler called without a loop (tests): a later round covers them
        self._add_to_next_round(rolled)

    async def flush_due(self, logs: Sequence[PartitionLog]) -> None:
        """Housekeeping: fsync the logs whose flush.messages / flush.ms is due, and rolled
        segments not yet fsynced."""
        now_ms = self.clock.now_ms()
        due = [
            partition_log
            for partition_log in logs
            if partition_log.needs_flush(now_ms) or partition_log.has_unflushed_closed_segment
        ]
        if due:
            await self.make_durable(due)

    # --- group commit --------------------------------------------------------------------------

    async def make_durable(self, logs: Sequence[PartitionLog]) -> None:
        """Wait until everything appended to `logs` so far is fsynced."""
        await asyncio.shield(self._add_to_next_round(logs))

    def _add_to_next_round(self, logs: Sequence[PartitionLog]) -> asyncio.Future[None]:
        for partition_log in logs:
            self._pending[id(partition_log)] = partition_log
        loop = asyncio.get_running_loop()
        if self._next_round is None:
            self._next_round = loop.create_future()
            # A background round may have no waiter: its error is logged, never left unread.
            self._next_round.add_done_callback(_log_round_error)
        if self._rounds is None:
            self._rounds = loop.create_task(self._run_rounds())
        return self._next_round

    async def _run_rounds(self) -> None:
        try:
            while self._next_round is not None:
                round_future = self._next_round
                logs = list(self._pending.values())
                self._pending.clear()
                self._next_round = None
                try:
                    await _flush_round(logs, self.fsync_latency)
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


async def _flush_round(logs: list[PartitionLog], latency: LatencyHistogram) -> None:
    plans: list[FlushPlan] = []
    try:
        for partition_log in logs:
            plans.append(partition_log.begin_flush())
    except BaseException:
        for plan in plans:
            plan.release()
        raise
    started = time.perf_counter()
    await asyncio.to_thread(_fsync_all, plans)
    latency.observe(time.perf_counter() - started)
    for partition_log, plan in zip(logs, plans, strict=True):
        partition_log.complete_flush(plan)


def _fsync_all(plans: list[FlushPlan]) -> None:
    """The worker thread's whole job: fsync captured descriptors (every plan releases its
    duplicates, whatever fails)."""
    try:
        for plan in plans:
            plan.fsync()
    finally:
        for plan in plans:
            plan.release()


def _log_round_error(round_future: asyncio.Future[None]) -> None:
    if not round_future.cancelled() and round_future.exception() is not None:
        logger.error("fsync round failed: %s", round_future.exception())
