"""Named deadlines: schedule(key, deadline_ms, callback) replaces any timer with that key.

Naming timers (heartbeat per member, join and sync per group) makes "reschedule" a plain
schedule and makes cancellation precise. A callback may still run after the state it was
scheduled for has moved on (a race the named key cannot rule out in every engine), so the
coordinator's callbacks re-check the generation/member they captured before acting.

Deadlines are wall-clock milliseconds from the injected Clock (the domain's `now_ms`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from typing import Protocol

from katka.clock import Clock, ManualClock

Callback = Callable[[], None]


class Timers(Protocol):
    def schedule(self, key: Hashable, deadline_ms: int, callback: Callback) -> None:
        """Run `callback` at `deadline_ms`, replacing any timer named `key`."""
        ...

    def cancel(self, key: Hashable) -> None:
        """Forget the timer named `key`, if any."""
        ...

    def cancel_all(self) -> None: ...


class AsyncioTimers:
    """Timers on the running event loop (loop.call_at); callbacks run on the loop."""

    def __init__(self, clock: Clock, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._clock = clock
        self._loop = loop
        self._handles: dict[Hashable, asyncio.TimerHandle] = {}

    def _get_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    def schedule(self, key: Hashable, deadline_ms: int, callback: Callback) -> None:
        self.cancel(key)
        loop = self._get_loop()
        delay_s = max(deadline_ms - self._clock.now_ms(), 0) / 1000.0
        handle: asyncio.TimerHandle | None = None

        def fire() -> None:
            # Only the handle still registered under the key may fire.
            if self._handles.get(key) is handle:
                del self._handles[key]
                callback()

        handle = loop.call_at(loop.time() + delay_s, fire)
        self._handles[key] = handle

    def cancel(self, key: Hashable) -> None:
        handle = self._handles.pop(key, None)
        if handle is not None:
            handle.cancel()

    def cancel_all(self) -> None:
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()

    def __len__(self) -> int:
        return len(self._handles)


class ManualTimers:
    """Timers driven by a ManualClock: `advance_to(now)` fires due timers in deadline order.

    Before each callback the clock is moved to that timer's deadline, so callbacks observe
    the time they were due at; timers scheduled by callbacks fire too if they fall due.
    """

    def __init__(self, clock: ManualClock) -> None:
        self._clock = clock
        self._timers: dict[Hashable, tuple[int, int, Callback]] = {}
        self._sequence = 0

    def schedule(self, key: Hashable, deadline_ms: int, callback: Callback) -> None:
        self._sequence += 1
        self._timers[key] = (deadline_ms, self._sequence, callback)

    def cancel(self, key: Hashable) -> None:
        self._timers.pop(key, None)

    def cancel_all(self) -> None:
        self._timers.clear()

    def deadline(self, key: Hashable) -> int | None:
        entry = self._timers.get(key)
        return None if entry is None else entry[0]

    def keys(self) -> list[Hashable]:
        return list(self._timers)

    def advance_to(self, now_ms: int) -> int:
        """Fire every timer due at or before `now_ms`; returns how many fired."""
        fired = 0
        while True:
            due = [(d, s, k) for k, (d, s, _) in self._timers.items() if d <= now_ms]
            if not due:
                break
            deadline, _, key = min(due, key=lambda entry: (entry[0], entry[1]))
            _, _, callback = self._timers.pop(key)
            if deadline > self._clock.now_ms():
                self._clock.advance(deadline - self._clock.now_ms())
            callback()
            fired += 1
        if now_ms > self._clock.now_ms():
            self._clock.advance(now_ms - self._clock.now_ms())
        return fired

    def advance(self, delta_ms: int) -> int:
        return self.advance_to(self._clock.now_ms() + delta_ms)

    def run_due(self) -> int:
        """Fire timers already due (e.g. a zero delay) without moving the clock."""
        return self.advance_to(self._clock.now_ms())
