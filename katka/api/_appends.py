"""Wakes parked fetches when a partition grows.

Produce notifies after it appended; a parked Fetch waits, then re-reads its own partitions.
Every waiter wakes on every append for now (a later change keys waiters by partition).
"""

from __future__ import annotations

import asyncio


class AppendNotifier:
    def __init__(self) -> None:
        self._waiters: list[asyncio.Future[None]] = []

    def notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def wait(self, timeout_s: float) -> None:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter, timeout_s)
        except TimeoutError:
            pass
