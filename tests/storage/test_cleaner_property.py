"""Property (hypothesis): after any sequence of keyed writes, tombstones, segment rolls,
cleanings (with key maps large and small), clean restarts and crashes, a compacted log read
from its start holds exactly what a dict model says it may:

- every record read is the write made at that offset (offsets kept, never renumbered), in
  offset order;
- the latest write of every key is there (tombstones too: delete.retention.ms is long here);
- everything at or after the cleaned point is there (the uncleaned tail);
- below the cleaned point every key appears at most once.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from katka.protocol.compression import COMPRESSION_LZ4, COMPRESSION_NONE
from katka.storage.base import LogConfig
from katka.storage.cleaner import columns
from katka.storage.cleaner.plan import ENTRY_BYTES, LOAD_FACTOR
from tests.storage.storage_helpers import EngineHarness, produce, read_all
from tests.storage.test_cleaner import _age as age
from tests.storage.test_cleaner import clean, put

CONFIG = LogConfig(segment_bytes=600, compact=True, delete=False, delete_retention_ms=10**12)
KEYS = [f"k{i}" for i in range(12)] + [f"a-key-longer-than-a-digest-{i}" for i in range(2)]

a_put = st.tuples(st.just("put"), st.sampled_from(KEYS), st.sampled_from([False] * 5 + [True]))
a_batch = st.tuples(  # several records in one batch: cleanings keep some of them
    st.just("batch"),
    st.lists(
        st.tuples(st.sampled_from(KEYS), st.sampled_from([False] * 5 + [True])),
        min_size=2,
        max_size=6,
    ),
    st.sampled_from([COMPRESSION_NONE, COMPRESSION_NONE, COMPRESSION_LZ4]),
)
operation = st.one_of(
    a_put,
    a_put,
    a_put,
    a_put,
    a_batch,
    a_batch,
    st.tuples(st.just("roll"), st.none(), st.none()),
    st.tuples(st.just("clean"), st.sampled_from([2, 5, 1000]), st.none()),
    st.tuples(st.just("restart"), st.none(), st.booleans()),
    st.tuples(st.just("age"), st.none(), st.none()),  # segments older: tombstones may expire
)


def check(log, writes: list[tuple[str, str | None]]) -> None:
    records = [
        (r.offset, (r.key or b"").decode(), None if r.value is None else r.value.decode())
        for r in read_all(log)
    ]
    offsets = [offset for offset, _, _ in records]
    assert offsets == sorted(set(offsets))
    for offset, key, value in records:
        assert (key, value) == writes[offset]
    present = set(offsets)
    latest: dict[str, int] = {}
    for offset, (key, _) in enumerate(writes):
        latest[key] = offset
    assert set(latest.values()) <= present
    assert set(range(max(log.cleaned_point, 0), len(writes))) <= present
    below = [key for offset, key, _ in records if offset < log.cleaned_point]
    assert len(below) == len(set(below))


QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large]
SEQUENCES = st.lists(operation, min_size=20, max_size=150)


@settings(max_examples=60, deadline=None, suppress_health_check=QUIET)
@given(
    kind=st.sampled_from(["memory", "disk"]),
    operations=SEQUENCES,
    vector_min=st.sampled_from([1, 16]),
)
def test_a_compacted_log_holds_what_the_model_says(
    kind: str, operations: list, vector_min: int
) -> None:
    compacted_log_holds_the_model(kind, operations, vector_min=vector_min)


@pytest.mark.slow
@pytest.mark.timeout(1800)  # 1,000 sequences: past pytest's 300 s on a loaded machine
@settings(max_examples=1_000, deadline=None, suppress_health_check=QUIET)
@given(
    kind=st.sampled_from(["memory", "disk"]),
    operations=SEQUENCES,
    vector_min=st.sampled_from([1, 16]),
)
def test_a_compacted_log_holds_what_the_model_says_over_many_sequences(
    kind: str, operations: list, vector_min: int
) -> None:
    compacted_log_holds_the_model(kind, operations, vector_min=vector_min)


EXPIRING = LogConfig(segment_bytes=600, compact=True, delete=False, delete_retention_ms=0)


@settings(max_examples=60, deadline=None, suppress_health_check=QUIET)
@given(kind=st.sampled_from(["memory", "disk"]), operations=SEQUENCES)
def test_tombstones_that_expire_never_bring_a_deleted_key_back(kind: str, operations: list) -> None:
    compacted_log_holds_the_model(kind, operations, EXPIRING)


def check_no_resurrection(log, writes: list[tuple[str, str | None]]) -> None:
    """With tombstones removed: every record is the write at its offset, every key's latest
    value is there, and a key whose tombstone is gone has no record left at all."""
    records = [
        (r.offset, (r.key or b"").decode(), None if r.value is None else r.value.decode())
        for r in read_all(log)
    ]
    for offset, key, value in records:
        assert (key, value) == writes[offset]
    present = {offset for offset, _, _ in records}
    latest: dict[str, int] = {}
    for offset, (key, _) in enumerate(writes):
        latest[key] = offset
    for key, offset in latest.items():
        if writes[offset][1] is not None:
            assert offset in present
        elif offset not in present:
            event("a tombstone expired")
            assert all(k != key for _, k, _ in records), key


def compacted_log_holds_the_model(
    kind: str, operations: list, config: LogConfig = CONFIG, vector_min: int = 1
) -> None:
    with tempfile.TemporaryDirectory() as directory:
        harness = EngineHarness(kind, Path(directory))
        log = harness.open(config)
        writes: list[tuple[str, str | None]] = []
        try:
            for name, argument, flag in operations:
                if name == "put":
                    value = None if flag else f"value-{len(writes)}"
                    assert put(log, argument, value) == len(writes)
                    writes.append((argument, value))
                elif name == "batch":
                    records = [
                        (key, None if tombstone else f"value-{len(writes) + index}")
                        for index, (key, tombstone) in enumerate(argument)
                    ]
                    encoded = [
                        (k.encode(), v if v is None else v.encode(), 1_000) for k, v in records
                    ]
                    assert produce(log, encoded, compression=flag).base_offset == len(writes)
                    writes.extend(records)
                elif name == "roll" and log.active_segment.size_bytes:
                    log.roll()
                elif name == "clean":
                    # both of the scan's paths: across batches (from 1 batch on), one at a time
                    with mock.patch.object(columns, "VECTOR_MIN_BATCHES", vector_min):
                        stats = clean(log, int(argument * ENTRY_BYTES / LOAD_FACTOR) + 1)
                    if stats is not None:
                        event(f"cleaned, {stats.records_read - stats.records_kept > 0} removed")
                elif name == "restart":
                    harness.crash() if flag else harness.restart()
                    log = harness.open(config)
                if name == "age":
                    for segment in log.segments:
                        age(segment, 1000)
                if config is CONFIG:
                    check(log, writes)
                else:
                    check_no_resurrection(log, writes)
        finally:
            harness.engine.close()
