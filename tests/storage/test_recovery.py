"""Crash recovery of the disk engine: cut or garble files, reopen without a clean shutdown."""

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

from katka.errors import ErrorCode, KafkaError
from katka.protocol.batches import BatchHeader
from katka.protocol.records import Record, iter_batches
from katka.storage.base import LogConfig
from katka.storage.disk import DiskPartitionLog, DiskStorageEngine
from tests.storage.storage_helpers import EngineHarness, produce, read_all

CONFIG = LogConfig(segment_bytes=700, index_interval_bytes=60)
TOPIC, PARTITION = "payments.eu-west", 0
PARTITION_LEADER_EPOCH = range(12, 16)  # outside the CRC, as in Kafka: damage there is invisible
SUPPRESS = [HealthCheck.function_scoped_fixture]


@dataclass(frozen=True)
class Pristine:
    """A crashed (not cleanly closed) data directory and what it holds."""

    data_dir: Path
    records: list[Record]
    segment_names: list[str]  # .log file names, oldest first
    last_segment_batches: list[BatchHeader]  # positions within the last .log
    next_sequence: int  # of producer 9


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Pristine:
    data_dir = tmp_path_factory.mktemp("pristine")
    harness = EngineHarness("disk", data_dir)
    log = harness.open(CONFIG, TOPIC, PARTITION)
    sequence = 0
    for i in range(40):
        records = [
            (None, b"x" * (i % 7) * j, 1_000 + (i * 37 + j * 11) % 90) for j in range(i % 4 + 1)
        ]
        produce(
            log, records, compression=i % 5, producer_id=9, producer_epoch=0, base_sequence=sequence
        )
        sequence += len(records)
        if log.has_unflushed_closed_segment:
            log.flush()  # as the broker's background round after a roll does
    records = read_all(log)
    harness.crash()
    directory = partition_dir(data_dir)
    names = sorted(name for name in os.listdir(directory) if name.endswith(".log"))
    assert len(names) >= 4
    last = (directory / names[-1]).read_bytes()
    batches = [header for header, _ in iter_batches(last)]
    return Pristine(data_dir, records, names, batches, sequence)


def partition_dir(data_dir: Path) -> Path:
    return data_dir / f"{TOPIC}-{PARTITION}"


@pytest.fixture
def copy_of(pristine: Pristine) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as directory:
        yield Path(directory)


def fresh_copy(pristine: Pristine, target: Path) -> Path:
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(pristine.data_dir, target)
    return partition_dir(target)


def reopen(data_dir: Path) -> tuple[DiskStorageEngine, DiskPartitionLog]:
    engine = DiskStorageEngine(data_dir)
    assert not engine.recovered_cleanly
    return engine, engine.open_log(TOPIC, PARTITION, CONFIG)


def assert_log_holds(log: DiskPartitionLog, expected: list[Record]) -> None:
    """Records, log end offset, per-offset reads and timestamp lookups all match `expected`."""
    assert read_all(log) == expected
    assert log.log_end_offset == (expected[-1].offset + 1 if expected else 0)
    for record in expected[::3]:
        first = read_all(log, record.offset)
        assert first[0].offset <= record.offset < first[-1].offset + 1
        assert first[-1] == expected[-1]
    for target in (999, 1_020, 1_050, 1_089):
        found = log.offset_for_timestamp(target)
        want = next((r for r in expected if r.timestamp_ms >= target), None)
        assert (found and found.offset) == (want and want.offset)


def last_segment_path(directory: Path, pristine: Pristine, suffix: str = ".log") -> Path:
    return directory / pristine.segment_names[-1].replace(".log", suffix)


@settings(max_examples=25, deadline=None, suppress_health_check=SUPPRESS)
@given(cut=st.floats(0, 1))
def test_a_log_cut_anywhere_recovers_every_whole_batch_before_the_cut(
    pristine: Pristine, copy_of: Path, cut: float, caplog: pytest.LogCaptureFixture
) -> None:
    directory = fresh_copy(pristine, copy_of)
    path = last_segment_path(directory, pristine)
    size = path.stat().st_size
    keep = int(cut * size)
    os.truncate(path, keep)
    surviving = [h for h in pristine.last_segment_batches if h.position + h.size <= keep]
    log_end = (
        surviving[-1].next_offset if surviving else pristine.last_segment_batches[0].base_offset
    )
    torn = keep - (surviving[-1].position + surviving[-1].size if surviving else 0)

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="katka.storage"):
        engine, log = reopen(copy_of)

    assert_log_holds(log, [r for r in pristine.records if r.offset < log_end])
    assert (f"truncated {torn} bytes" in caplog.text) == (torn > 0)
    assert produce(log, 1).base_offset == log_end
    assert [r.offset for r in read_all(log, log_end)] == [log_end]
    engine.close()


def garble_positions(pristine: Pristine) -> st.SearchStrategy[int]:
    return st.sampled_from(
        [
            header.position + delta
            for header in pristine.last_segment_batches
            for delta in range(header.size)
            if delta not in PARTITION_LEADER_EPOCH
        ]
    )


@settings(max_examples=30, deadline=None, suppress_health_check=SUPPRESS)
@given(data=st.data(), flip=st.integers(1, 255))
def test_a_garbled_byte_in_the_active_segment_truncates_from_its_batch(
    pristine: Pristine, copy_of: Path, data: st.DataObject, flip: int
) -> None:
    position = data.draw(garble_positions(pristine))
    directory = fresh_copy(pristine, copy_of)
    path = last_segment_path(directory, pristine)
    content = bytearray(path.read_bytes())
    content[position] ^= flip
    path.write_bytes(bytes(content))
    damaged = next(
        h for h in pristine.last_segment_batches if h.position <= position < h.position + h.size
    )

    engine, log = reopen(copy_of)

    assert_log_holds(log, [r for r in pristine.records if r.offset < damaged.base_offset])
    produce(log, 1)
    assert [r.offset for r in read_all(log, damaged.base_offset)] == [damaged.base_offset]
    engine.close()


@settings(max_examples=30, deadline=None, suppress_health_check=SUPPRESS)
@given(
    suffix=st.sampled_from([".index", ".timeindex"]),
    damage=st.sampled_from(["cut", "garble", "delete"]),
    where=st.floats(0, 1),
    flip=st.integers(1, 255),
)
def test_damaged_indexes_of_the_active_segment_are_rebuilt(
    pristine: Pristine, copy_of: Path, suffix: str, damage: str, where: float, flip: int
) -> None:
    directory = fresh_copy(pristine, copy_of)
    path = last_segment_path(directory, pristine, suffix)
    original = path.read_bytes()
    position = min(int(where * len(original)), max(len(original) - 1, 0))
    if damage == "cut":
        os.truncate(path, position)
    elif damage == "garble" and original:
        content = bytearray(original)
        content[position] ^= flip
        path.write_bytes(bytes(content))
    else:
        path.unlink()

    engine, log = reopen(copy_of)

    assert_log_holds(log, pristine.records)
    assert path.read_bytes() == original  # rebuilt by the same rule that wrote it
    engine.close()


@pytest.mark.parametrize("clean", [False, True])
def test_a_garbled_byte_in_an_older_segment_surfaces_as_corrupt_message_on_read(
    pristine: Pristine, copy_of: Path, clean: bool
) -> None:
    directory = fresh_copy(pristine, copy_of)
    name = pristine.segment_names[1]
    path = directory / name
    content = bytearray(path.read_bytes())
    batches = [header for header, _ in iter_batches(content)]
    victim = batches[len(batches) // 2]
    content[victim.position + victim.size - 1] ^= 0x5A  # the last byte of a record
    path.write_bytes(bytes(content))
    if clean:
        DiskStorageEngine(copy_of).close()  # a clean shutdown without opening the log

    engine = DiskStorageEngine(copy_of)
    log = engine.open_log(TOPIC, PARTITION, CONFIG)

    assert log.log_end_offset == pristine.records[-1].offset + 1
    with pytest.raises(KafkaError) as error:
        log.read(victim.base_offset, 2**31 - 1, log.high_watermark, True)
    assert error.value.code == ErrorCode.corrupt_message
    assert name in str(error.value) and f"offset {victim.base_offset}" in str(error.value)
    after = read_all(log, victim.next_offset)
    assert after == [r for r in pristine.records if r.offset >= after[0].offset]
    before = log.read(batches[0].base_offset, victim.position, victim.base_offset, True)
    assert before == bytes(content[: victim.position])
    engine.close()


def test_missing_indexes_of_an_older_segment_are_rebuilt(pristine: Pristine, copy_of: Path) -> None:
    directory = fresh_copy(pristine, copy_of)
    for suffix in (".index", ".timeindex"):
        (directory / pristine.segment_names[0].replace(".log", suffix)).unlink()

    engine, log = reopen(copy_of)

    assert_log_holds(log, pristine.records)
    assert (directory / pristine.segment_names[0].replace(".log", ".timeindex")).stat().st_size
    engine.close()


def test_a_torn_write_at_the_end_is_truncated_and_logged(
    pristine: Pristine, copy_of: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = fresh_copy(pristine, copy_of)
    with open(last_segment_path(directory, pristine), "ab") as file:
        file.write(b"\x00" * 30)

    with caplog.at_level(logging.WARNING, logger="katka.storage"):
        engine, log = reopen(copy_of)

    assert_log_holds(log, pristine.records)
    assert "truncated 30 bytes" in caplog.text
    engine.close()


def test_a_crash_after_a_clean_restart_recovers_producer_state_from_the_snapshot(
    pristine: Pristine, copy_of: Path
) -> None:
    fresh_copy(pristine, copy_of)
    engine, log = reopen(copy_of)
    sequence = pristine.next_sequence
    produce(log, 1, producer_id=9, producer_epoch=0, base_sequence=sequence)
    engine.close()
    engine = DiskStorageEngine(copy_of)
    log = engine.open_log(TOPIC, PARTITION, CONFIG)
    produce(log, 1, producer_id=9, producer_epoch=0, base_sequence=sequence + 1)
    for segment in log.segments:
        segment.close()  # type: ignore[attr-defined]
    engine.lock.release()  # a crash: the kernel drops the dead process's lock

    engine, log = reopen(copy_of)

    assert produce(log, 1, producer_id=9, producer_epoch=0, base_sequence=sequence + 1).duplicate
    with pytest.raises(KafkaError) as error:
        produce(log, 1, producer_id=9, producer_epoch=0, base_sequence=sequence + 3)
    assert error.value.code == ErrorCode.out_of_order_sequence_number
    engine.close()


def test_a_cut_in_a_segment_before_the_recovery_point_drops_every_later_segment(
    pristine: Pristine, copy_of: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = fresh_copy(pristine, copy_of)
    (directory / "partition.checkpoint").write_text("0 0\n")  # as if no roll was ever flushed
    path = directory / pristine.segment_names[1]
    batches = [header for header, _ in iter_batches(path.read_bytes())]
    os.truncate(path, batches[1].position + 5)

    with caplog.at_level(logging.WARNING, logger="katka.storage"):
        engine, log = reopen(copy_of)

    log_end = batches[0].next_offset
    assert_log_holds(log, [r for r in pristine.records if r.offset < log_end])
    assert log.segment_base_offsets() == [int(name[:20]) for name in pristine.segment_names[:2]]
    assert "truncated 5 bytes" in caplog.text and "follows a truncated segment" in caplog.text
    assert produce(log, 1).base_offset == log_end
    assert [r.offset for r in read_all(log, log_end)] == [log_end]
    engine.close()
    engine = DiskStorageEngine(copy_of)
    log = engine.open_log(TOPIC, PARTITION, CONFIG)
    assert log.log_end_offset == log_end + 1
    engine.close()
