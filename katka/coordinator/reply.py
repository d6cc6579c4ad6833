"""Reply: an answer that may come later (a parked JoinGroup or SyncGroup).

The coordinator stays sans-IO: it returns a Reply, answered at once or completed when the
rebalance phase ends. Only the first answer counts, as a client gets one response per request.
The API handler awaits `wait()` on the event loop; socket-free tests read `value`. A handler
cancelled while waiting (its client went away) abandons the reply: `on_abandon` lets the
coordinator forget it, so a later answer is never sent to a request nobody waits for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Reply(Generic[T]):
    def __init__(self, value: T | None = None) -> None:
        self.value = value
        self.on_abandon: Callable[[], None] | None = None
        self._waiter: asyncio.Future[T] | None = None

    @property
    def parked(self) -> bool:
        return self.value is None

    def get(self) -> T:
        assert self.value is not None, "the request is still parked"
        return self.value

    def complete(self, value: T) -> None:
        if self.value is not None:
            return
        self.value = value
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(value)

    async def wait(self) -> T:
        if self.value is not None:
            return self.value
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            return await self._waiter
        finally:
            if self.value is None and self.on_abandon is not None:
                self.on_abandon()
