"""Group commit (storage/durability.py) against the disk engine while the loop keeps appending.

The worker thread of a group-commit round must only fsync: a segment roll on the loop inside
a round (16 KiB segments under `--fsync always` roll several times a second) must not meet a
second writer of partition.checkpoint or of the flush accounting, and a descriptor the round
captured must stay valid when the loop closes or deletes its segment meanwhile.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from katka.clock import ManualClock
from katka.storage.base import LogConfig
from katka.storage.disk import DiskPartitionLog, DiskStorageEngine, faults
from katka.storage.durability import Durability
from tests.storage.storage_helpers import produce, read_all

TOPIC = "orders"
BATCH = 3  # records per produce: with these record sizes two batches fill a segment
CONFIG = LogConfig(segment_bytes=200)


@pytest.fixture(autouse=True)
def no_fsync_hook() -> Iterator[None]:
    yield
    faults.set_fsync_hook(None)


def on_the_loop_during_worker_fsyncs(
    loop: asyncio.AbstractEventLoop, action: Callable[[str], None]
) -> list[tuple[str, str]]:
    """Make every fsync off the loop thread first run `action(path)` on the loop and wait for
    it: the loop acts while the worker is inside a group-commit round. Returns the fsyncs seen
    as (thread kind, path)."""
    seen: list[tuple[str, str]] = []

    def hook(path: str) -> None:
        if threading.current_thread() is threading.main_thread():
            seen.append(("loop", path))
            return
        seen.append(("worker", path))
        done = threading.Event()

        def run() -> None:
            try:
                action(path)
            finally:
                done.set()

        loop.call_soon_threadsafe(run)
        assert done.wait(10), "the loop did not run the action"

    faults.set_fsync_hook(hook)
    return seen


def open_log(data_dir: Path) -> tuple[DiskStorageEngine, DiskPartitionLog]:
    engine = DiskStorageEngine(data_dir)
    return engine, engine.open_log(TOPIC, 0, CONFIG)


def test_a_segment_roll_inside_a_group_commit_round_leaves_one_checkpoint_writer(
    tmp_path: Path,
) -> None:
    engine, log = open_log(tmp_path)
    durability = Durability(fsync_always=True, clock=ManualClock())

    async def scenario() -> None:
        # Each fsync of a round lets the loop append one batch; every second one rolls.
        on_the_loop_during_worker_fsyncs(asyncio.get_running_loop(), lambda _: produce(log, BATCH))
        produce(log, BATCH)
        for _ in range(10):
            await durability.make_durable([log])
            if len(log.segments) > 2:
                break
        assert len(log.segments) > 2, "no roll landed inside a round"
        faults.set_fsync_hook(None)
        await durability.make_durable([log])

    asyncio.run(scenario())

    directory = tmp_path / f"{TOPIC}-0"
    assert not [name for name in os.listdir(directory) if name.endswith(".tmp")]
    log_start, recovery_point = (
        int(f) for f in (directory / "partition.checkpoint").read_text().split()
    )
    assert log_start == 0 and recovery_point <= log.log_end_offset
    records = read_all(log)
    assert [r.offset for r in records] == list(range(log.log_end_offset))
    engine.close()


def test_appends_during_a_round_stay_unflushed_for_the_next_one(tmp_path: Path) -> None:
    engine = DiskStorageEngine(tmp_path)
    log = engine.open_log(TOPIC, 0, LogConfig(flush_messages=2 * BATCH + 1))
    durability = Durability(fsync_always=False, clock=ManualClock())

    async def scenario() -> None:
        appended_during_the_round: list[str] = []

        def append_once(path: str) -> None:
            if not appended_during_the_round:
                appended_during_the_round.append(path)
                produce(log, BATCH)

        on_the_loop_during_worker_fsyncs(asyncio.get_running_loop(), append_once)
        produce(log, BATCH)
        await durability.make_durable([log])
        assert appended_during_the_round
        assert not log.needs_flush(0)  # BATCH unflushed, flush.messages is 2 * BATCH + 1
        faults.set_fsync_hook(None)
        produce(log, BATCH)
        assert not log.needs_flush(0)
        produce(log, 1)
        assert log.needs_flush(0)  # the batch appended during the round still counts

    asyncio.run(scenario())
    engine.close()


def test_a_rolled_segment_is_fsynced_off_the_loop(tmp_path: Path) -> None:
    engine, log = open_log(tmp_path)
    durability = Durability(fsync_always=False, clock=ManualClock())

    async def scenario() -> None:
        seen = on_the_loop_during_worker_fsyncs(asyncio.get_running_loop(), lambda _: None)
        for _ in range(5):
            produce(log, BATCH)
        assert len(log.segments) > 2
        rolled = [os.path.basename(s.log_path) for s in log.segments[:-1]]  # type: ignore[attr-defined]
        segment_files = (".log", ".index", ".timeindex")
        on_the_loop = [
            path for kind, path in seen if kind == "loop" and path.endswith(segment_files)
        ]
        assert not on_the_loop, "the loop fsynced a segment"
        await durability.flush_due([log])
        worker_paths = {os.path.basename(path) for kind, path in seen if kind == "worker"}
        assert set(rolled) <= worker_paths

    asyncio.run(scenario())
    engine.close()


def test_a_segment_deleted_while_its_fsync_is_pending_does_not_fail_the_round(
    tmp_path: Path,
) -> None:
    engine, log = open_log(tmp_path)
    durability = Durability(fsync_always=True, clock=ManualClock())

    async def scenario() -> None:
        def delete_the_topic(_: str) -> None:
            if TOPIC in {topic for topic, _ in engine.existing_logs()}:
                engine.delete_log(TOPIC, 0)

        for _ in range(5):
            produce(log, BATCH)
        on_the_loop_during_worker_fsyncs(asyncio.get_running_loop(), delete_the_topic)
        await durability.make_durable([log])

    asyncio.run(scenario())
    assert not (tmp_path / f"{TOPIC}-0").exists()
    engine.close()


def test_a_reply_outside_an_event_loop_leaves_a_rolled_segment_to_a_later_round(
    tmp_path: Path,
) -> None:
    engine, log = open_log(tmp_path)
    for _ in range(3):
        produce(log, BATCH)
    assert log.has_unflushed_closed_segment
    durability = Durability(fsync_always=False, clock=ManualClock())
    assert durability.reply_when_durable([log], "reply") == "reply"
    asyncio.run(durability.flush_due([log]))
    assert not log.has_unflushed_closed_segment
    engine.close()
