"""Running a broker: in the foreground for `katka serve`, or on a background thread for
`katka.embedded()`. Both install uvloop when it is available."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable

from katka.broker import Broker

log = logging.getLogger("katka.broker")
# How long `katka serve`, once listening, waits for a first client request to answer before it
# loads the coordinators, the admin API and the background tasks (most of start-up's CPU).
FIRST_ANSWER_WITHIN_S = 0.1


def new_event_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop

        return uvloop.new_event_loop()
    except ImportError:  # not on Linux
        return asyncio.new_event_loop()


async def serve_until_signalled(broker: Broker, on_ready: Callable[[Broker, float], None]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    started = time.perf_counter()
    await broker.start_serving()
    on_ready(broker, time.perf_counter() - started)
    # A client that connected at once is answered before the rest competes for the CPU.
    await broker.start_the_rest(first_answer_within_s=FIRST_ANSWER_WITHIN_S)
    await stop.wait()
    log.info("shutting down")
    await broker.stop()


def raise_open_file_limit() -> None:
    """Every connection and every open segment is a file descriptor: lift the soft limit to
    the hard one (often 1024 -> 524288), as Kafka's docs ask operators to."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY:
            hard = 1 << 20
        if soft != resource.RLIM_INFINITY and soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ImportError, ValueError, OSError):
        log.warning("could not raise the open file limit")


def serve_forever(broker: Broker, on_ready: Callable[[Broker, float], None]) -> None:
    raise_open_file_limit()
    loop = new_event_loop()
    try:
        loop.run_until_complete(serve_until_signalled(broker, on_ready))
    finally:
        loop.close()
