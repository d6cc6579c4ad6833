"""The Python part of a small Produce request and of the Fetch it wakes, in-process: no sockets,
no client, a disk log (issue 17's latency row without the kernel's and the scheduler's share).

    python -m bench dispatch-cost [--requests 4000] [--rounds 5] [--profile FILE]

A Broker over a fresh data directory and its Dispatcher on uvloop, as `katka serve` builds them. Two
rows, each CPU (time.process_time) per request over `--requests` requests after a warm-up,
`--rounds` times alternating (the fastest and the median round are reported):

- produce: Dispatcher.dispatch of one-record Produce v9 frames (acks=1, 100-byte value, a new
           batch each time), the reply frame encoded;
- woken:   a Fetch v11 parked on the partition (long poll), one such Produce, and the event
           loop run until the woken fetch's reply frame is ready: produce + woken fetch.

`--profile FILE` runs the rows under cProfile and writes the stats to FILE (pstats).
"""

from __future__ import annotations

import asyncio
import cProfile
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.fetch_cost import fetch_frame, produce_frame

TOPIC = "dispatch-cost"
VALUE = b"v" * 100


async def _rows(
    requests: int, rounds: int, data_dir: Path, profiler: cProfile.Profile | None
) -> dict[str, Any]:
    from katka.api import _build
    from katka.broker import Broker
    from katka.config import BrokerConfig
    from katka.node import Endpoint
    from katka.server.dispatch import Dispatcher

    _build.check_field_names = False  # as `katka serve` runs (cli/serving.py)
    broker = Broker(BrokerConfig({}), data_dir, Endpoint("127.0.0.1", 9092))
    broker.open()
    broker.start_coordinator()
    topic_id = broker.topics.create_topic(TOPIC, 1, {}).topic_id
    dispatcher = Dispatcher(broker.registry, broker.node)

    # Frames without their size prefix, as the connection hands them to dispatch; the
    # batches are built beforehand (the client's work, not the broker's).
    produces = [produce_frame(TOPIC, VALUE, i)[4:] for i in range(2 * rounds * requests + 200)]

    def produce_row(count: int, start: int) -> float:
        began = time.process_time()
        for frame in produces[start : start + count]:
            reply = dispatcher.dispatch(frame, "127.0.0.1")
            assert reply is not None and not isinstance(reply, asyncio.Future)
        return time.process_time() - began

    async def woken_row(count: int, start: int, first_offset: int) -> float:
        fetches = [
            fetch_frame(11, TOPIC, topic_id, 0, first_offset + i, 5000, i)[4:] for i in range(count)
        ]
        began = time.process_time()
        for i, fetch in enumerate(fetches):
            parked = dispatcher.dispatch(fetch, "127.0.0.1")
            assert isinstance(parked, asyncio.Future)
            await asyncio.sleep(0)  # the fetch parks
            dispatcher.dispatch(produces[start + i], "127.0.0.1")
            frame = await parked
            assert frame.size > 100
        return time.process_time() - began

    produce_row(100, 0)  # warm-up: handlers imported, segment open
    await woken_row(100, 100, 100)
    if profiler is not None:
        profiler.enable()
    produce_s, woken_s = [], []
    start = 200
    for _ in range(rounds):  # alternating, so a busy moment of the machine hits both rows
        produce_s.append(produce_row(requests, start))
        start += requests
        woken_s.append(await woken_row(requests, start, start))
        start += requests
    if profiler is not None:
        profiler.disable()
    return {
        "requests": requests,
        "rounds": rounds,
        "produce_us_per_request": _us(produce_s, requests),
        "woken_us_per_record": _us(woken_s, requests),
    }


def _us(seconds: list[float], requests: int) -> dict[str, float]:
    """The fastest and the median round, µs per request (the fastest is the least disturbed
    by other work on the machine)."""
    return {
        "min": round(min(seconds) / requests * 1e6, 1),
        "median": round(statistics.median(seconds) / requests * 1e6, 1),
    }


def run(requests: int, profile: Path | None, rounds: int = 5) -> None:
    profiler = cProfile.Profile() if profile else None
    with tempfile.TemporaryDirectory(prefix="katka-dispatch-cost-") as data_dir:
        from katka.server.run import new_event_loop

        with asyncio.Runner(loop_factory=new_event_loop) as runner:  # uvloop, as serve's
            row = runner.run(_rows(requests, rounds, Path(data_dir), profiler))
    print(row)
    if profiler is not None and profile is not None:
        profiler.dump_stats(profile)
