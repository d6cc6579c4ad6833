"""Group commit for `--fsync always`: concurrent produce requests share one fsync round.

A request that appended to some logs asks for a flush and waits for the first round that
starts after its append; everything appended before a round starts is covered by it, because
fsync covers all data written to the file before the call. Rounds run in a worker thread so
the event loop keeps accepting appends (which then ride on the next round).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from katka.storage.base import PartitionLog


class GroupCommitFlusher:
    def __init__(self) -> None:
        self._pending: dict[int, PartitionLog] = {}
        self._next_round: asyncio.Future[None] | None = None
        self._running = False

    async def flush(self, logs: Iterable[PartitionLog]) -> None:
        for partition_log in logs:
            self._pending[id(partition_log)] = partition_log
        loop = asyncio.get_running_loop()
        if self._next_round is None:
            self._next_round = loop.create_future()
        waiter = self._next_round
        if not self._running:
            self._running = True
            loop.create_task(self._run_rounds())
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
            self._running = False


def _flush_all(logs: list[PartitionLog]) -> None:
    for partition_log in logs:
        partition_log.flush()
