"""Spawned worker processes: one client per process, results back over a queue."""

from __future__ import annotations

import multiprocessing
import queue as queue_module
from collections.abc import Callable
from typing import Any

CTX = multiprocessing.get_context("spawn")


class WorkerFailed(RuntimeError):
    pass


def start(function: Callable[..., None], *args: Any, **kwargs: Any) -> tuple[Any, Any]:
    """Start `function(*args, **kwargs, queue=q)` in a new process; returns (process, q)."""
    results = CTX.Queue()
    process = CTX.Process(
        target=function, args=args, kwargs={**kwargs, "queue": results}, daemon=True
    )
    process.start()
    return process, results


def collect(process: Any, results: Any, timeout: float) -> dict[str, Any]:
    try:
        result: dict[str, Any] = results.get(timeout=timeout)
    except queue_module.Empty:
        process.kill()
        process.join(5)
        raise WorkerFailed(
            f"{process.name} gave no result in {timeout:.0f}s (exit code {process.exitcode})"
        ) from None
    process.join(10)
    if process.is_alive():
        process.kill()
        process.join(5)
    return result


def run(
    function: Callable[..., None], *args: Any, timeout: float = 180, **kwargs: Any
) -> dict[str, Any]:
    process, results = start(function, *args, **kwargs)
    return collect(process, results, timeout)
