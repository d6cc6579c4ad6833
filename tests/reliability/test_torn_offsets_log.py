"""The coordinator's log (__consumer_offsets) cut or garbled anywhere, then a restart: the
broker starts unaided and the committed offsets are those of the last commit before the damage.

Each commit is one batch in the internal log, so the expected state after damage at byte b is
the state after the last commit whose batch ends at or before the batch that b falls in."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from katka.broker import Broker
from katka.clock import ManualClock
from katka.config import BrokerConfig
from katka.coordinator.results import OffsetCommitPartition
from katka.coordinator.timers import ManualTimers
from katka.errors import ErrorCode
from katka.metadata.internal_topics import OFFSETS_TOPIC
from katka.node import Endpoint
from katka.protocol.records import iter_batches
from katka.storage.disk import DiskStorageEngine

SUPPRESS = [HealthCheck.function_scoped_fixture]
GROUP = "billing"
TOPIC = "orders"
PARTITION_LEADER_EPOCH = range(12, 16)  # outside the CRC, as in Kafka
COMMITS = 25

Offsets = dict[int, int]


@dataclass(frozen=True)
class Pristine:
    data_dir: Path
    log_name: str
    batch_ends: list[int]  # byte position where each commit's batch ends
    states: list[Offsets]  # committed offsets after each commit


def open_broker(data_dir: Path) -> Broker:
    clock = ManualClock()
    broker = Broker(BrokerConfig(), data_dir, Endpoint("127.0.0.1", 0), clock=clock)
    broker.open()
    broker.start_coordinator(ManualTimers(clock))
    return broker


def crash(broker: Broker) -> None:
    """Drop the broker as kill -9 would: files closed, nothing flushed, no clean marker."""
    broker.coordinator.shutdown()
    assert isinstance(broker.storage, DiskStorageEngine)
    for log in broker.storage._logs.values():
        log.close_files()
    broker.storage.lock.release()  # the kernel drops a dead process's lock


def committed(broker: Broker) -> Offsets:
    result = broker.coordinator.fetch_offsets(GROUP, None)
    assert result.error_code == ErrorCode.none
    return {p.partition: p.committed_offset for p in result.partitions if p.topic == TOPIC}


def offsets_log_path(data_dir: Path, name: str) -> Path:
    return data_dir / f"{OFFSETS_TOPIC}-0" / name


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Pristine:
    data_dir = tmp_path_factory.mktemp("offsets-pristine")
    broker = open_broker(data_dir)
    broker.topics.create_topic(TOPIC, 3, {})
    directory = data_dir / f"{OFFSETS_TOPIC}-0"
    (log_name,) = [name for name in os.listdir(directory) if name.endswith(".log")]
    states: list[Offsets] = []
    batch_ends: list[int] = []
    state: Offsets = {}
    for i in range(COMMITS):
        offsets = {p: i * 10 + p for p in range(3) if (i + p) % 2 == 0 or i < 2}
        result = broker.coordinator.commit_offsets(
            GROUP,
            "",
            -1,
            [OffsetCommitPartition(TOPIC, p, offset, -1, "m" * i) for p, offset in offsets.items()],
        )
        assert all(r.error_code == ErrorCode.none for r in result.partitions)
        state = {**state, **offsets}
        states.append(state)
        batch_ends.append((directory / log_name).stat().st_size)
    assert committed(broker) == state
    crash(broker)
    headers = [header for header, _ in iter_batches((directory / log_name).read_bytes())]
    assert [h.position + h.size for h in headers][-COMMITS:] == batch_ends
    return Pristine(data_dir, log_name, batch_ends, states)


@pytest.fixture
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as directory:
        yield Path(directory) / "data"


def expected_after_damage(pristine: Pristine, damaged_batch_start: int) -> Offsets:
    surviving = [i for i, end in enumerate(pristine.batch_ends) if end <= damaged_batch_start]
    return pristine.states[surviving[-1]] if surviving else {}


def batch_start_of(pristine: Pristine, position: int) -> int:
    starts = [0, *pristine.batch_ends]
    return max(start for start in starts if start <= position)


@settings(max_examples=25, deadline=None, suppress_health_check=SUPPRESS)
@given(cut=st.floats(0, 1))
def test_a_cut_offsets_log_recovers_the_commits_before_the_cut(
    pristine: Pristine, scratch: Path, cut: float
) -> None:
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(pristine.data_dir, scratch)
    path = offsets_log_path(scratch, pristine.log_name)
    keep = int(cut * path.stat().st_size)
    os.truncate(path, keep)

    broker = open_broker(scratch)

    whole = [i for i, end in enumerate(pristine.batch_ends) if end <= keep]
    assert committed(broker) == (pristine.states[whole[-1]] if whole else {})
    # and the log takes new commits after the cut, which survive the next crash
    broker.coordinator.commit_offsets(GROUP, "", -1, [OffsetCommitPartition(TOPIC, 0, 999)])
    crash(broker)
    assert committed(open_broker(scratch))[0] == 999


def garble_positions(pristine: Pristine) -> list[int]:
    starts = [0, *pristine.batch_ends[:-1]]
    first_commit = starts[0] if len(pristine.batch_ends) == COMMITS else starts[1]
    return [
        position
        for start, end in zip(starts, pristine.batch_ends, strict=True)
        for position in range(start, end)
        if position - start not in PARTITION_LEADER_EPOCH and start >= first_commit
    ]


@pytest.mark.parametrize("clean_restart_first", [False, True])
@settings(max_examples=20, deadline=None, suppress_health_check=SUPPRESS)
@given(data=st.data(), flip=st.integers(1, 255))
def test_a_garbled_byte_in_the_offsets_log_keeps_the_commits_before_it(
    pristine: Pristine,
    scratch: Path,
    clean_restart_first: bool,
    data: st.DataObject,
    flip: int,
) -> None:
    position = data.draw(st.sampled_from(garble_positions(pristine)))
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(pristine.data_dir, scratch)
    if clean_restart_first:  # the damage then lies before the recovery point
        broker = open_broker(scratch)
        broker.coordinator.shutdown()
        broker.storage.close()
    path = offsets_log_path(scratch, pristine.log_name)
    content = bytearray(path.read_bytes())
    content[position] ^= flip
    path.write_bytes(bytes(content))

    broker = open_broker(scratch)  # must not raise: the broker restarts unaided

    assert committed(broker) == expected_after_damage(pristine, batch_start_of(pristine, position))
    crash(broker)


def test_damage_to_the_offsets_log_is_logged(
    pristine: Pristine, scratch: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shutil.copytree(pristine.data_dir, scratch)
    path = offsets_log_path(scratch, pristine.log_name)
    content = bytearray(path.read_bytes())
    middle = pristine.batch_ends[COMMITS // 2] - 1
    content[middle] ^= 0xFF
    path.write_bytes(bytes(content))
    with caplog.at_level(logging.WARNING, logger="katka.storage"):
        broker = open_broker(scratch)
    assert "truncated" in caplog.text and OFFSETS_TOPIC in caplog.text
    assert committed(broker) == pristine.states[COMMITS // 2 - 1]
    crash(broker)
