"""Waiting on a condition, never for a fixed time: a loaded machine only makes a test slower."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(
    condition: Callable[[], bool], timeout: float = 30, interval: float = 0.05, what: str = ""
) -> None:
    """Return as soon as condition() is true; AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not met within {timeout:g} s: {what or condition}")
        time.sleep(interval)
