"""The fetch session cache (KIP-227) as plain logic: creation and eviction as Kafka's
FetchSessionCache does it, epochs, partitions added and forgotten, what a response includes,
and that a client applying incremental responses sees what a full fetch would show."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from katka.api._appends import AppendNotifier
from katka.api._fetch_sessions import (
    EVICTION_MS,
    CachedPartition,
    FetchSessionCache,
    PartitionResult,
)
from katka.errors import ErrorCode, KafkaError

NOW = 1_000_000


def positions(*partitions: int, topic: str = "t") -> dict[tuple[str, int], CachedPartition]:
    return {
        (topic, p): CachedPartition(p, fetch_offset=0, partition_max_bytes=1024) for p in partitions
    }


def result(
    high_watermark: int, record_bytes: int = 0, log_start_offset: int = 0
) -> PartitionResult:
    return PartitionResult(ErrorCode.none, high_watermark, log_start_offset, record_bytes, False)


def cache(slots: int = 3) -> FetchSessionCache:
    return FetchSessionCache(slots, AppendNotifier(), rng=random.Random(7))


def test_sessions_are_created_until_the_slots_are_used_then_refused_while_none_is_evictable() -> (
    None
):
    sessions = cache(slots=2)
    first = sessions.maybe_create(NOW, positions(0))
    second = sessions.maybe_create(NOW, positions(0, 1))
    assert first is not None and second is not None and first.id != second.id
    assert first.id != 0 and first.epoch == 1
    assert sessions.maybe_create(NOW + 1, positions(0, 1, 2, 3)) is None
    assert len(sessions) == 2


def test_a_session_idle_longer_than_the_eviction_time_makes_room() -> None:
    sessions = cache(slots=2)
    idle = sessions.maybe_create(NOW, positions(0, 1, 2))
    busy = sessions.maybe_create(NOW, positions(0))
    assert idle is not None and busy is not None
    sessions.update(busy, NOW + EVICTION_MS, {}, [])
    created = sessions.maybe_create(NOW + EVICTION_MS + 1, positions(5))
    assert created is not None
    assert sessions.get(idle.id) is None and sessions.get(busy.id) is busy


def test_an_old_session_is_evicted_only_for_one_with_more_partitions() -> None:
    sessions = cache(slots=1)
    old = sessions.maybe_create(NOW, positions(0, 1))
    assert old is not None
    later = NOW + EVICTION_MS + 1
    sessions.update(old, later, {}, [])  # used recently, but older than the eviction time
    assert sessions.maybe_create(later + 1, positions(0, 1)) is None  # same size: kept
    bigger = sessions.maybe_create(later + 1, positions(0, 1, 2))
    assert bigger is not None and sessions.get(old.id) is None


def test_a_young_session_is_never_evicted_for_a_bigger_one() -> None:
    sessions = cache(slots=1)
    young = sessions.maybe_create(NOW, positions(0))
    assert young is not None
    assert sessions.maybe_create(NOW + 10, positions(*range(100))) is None


def test_no_slots_means_no_sessions() -> None:
    assert cache(slots=0).maybe_create(NOW, positions(0)) is None


def test_an_incremental_fetch_needs_a_known_session_and_its_expected_epoch() -> None:
    sessions = cache()
    session = sessions.maybe_create(NOW, positions(0))
    assert session is not None
    with pytest.raises(KafkaError) as unknown:
        sessions.for_incremental(session.id + 1, 1)
    assert unknown.value.code == ErrorCode.fetch_session_id_not_found
    with pytest.raises(KafkaError) as stale:
        sessions.for_incremental(session.id, 2)
    assert stale.value.code == ErrorCode.invalid_fetch_session_epoch
    assert sessions.for_incremental(session.id, 1) is session
    sessions.update(session, NOW, {}, [])
    assert session.epoch == 2
    with pytest.raises(KafkaError):
        sessions.for_incremental(session.id, 1)


def test_an_update_adds_updates_and_forgets_partitions_and_the_notifier_follows() -> None:
    notifier = AppendNotifier()
    sessions = FetchSessionCache(3, notifier)
    session = sessions.maybe_create(NOW, positions(0, 1))
    assert session is not None
    moved = CachedPartition(1, fetch_offset=7, partition_max_bytes=99)
    assert sessions.update(
        session, NOW, {("t", 1): moved, ("u", 0): positions(0)[("t", 0)]}, [("t", 0)]
    )
    assert list(session.partitions) == [("t", 1), ("u", 0)]
    assert session.partitions[("t", 1)].fetch_offset == 7
    assert notifier.waiting_on(("t", 0)) == 0 and notifier.waiting_on(("u", 0)) == 1
    assert not sessions.update(session, NOW, {}, [("t", 1), ("u", 0)])  # nothing left: closed
    assert sessions.get(session.id) is None and not notifier._waiters


def test_a_response_includes_partitions_with_records_errors_or_moved_offsets_then_rotates_them() -> (
    None
):
    sessions = cache()
    session = sessions.maybe_create(NOW, positions(0, 1, 2, 3))
    assert session is not None
    for cached in session.partitions.values():
        cached.high_watermark, cached.log_start_offset = 5, 0
    included = session.complete(
        {
            ("t", 0): result(5),  # nothing new: left out
            ("t", 1): result(6),  # the high watermark moved
            ("t", 2): result(5, record_bytes=10),
            ("t", 3): PartitionResult(ErrorCode.unknown_topic_or_partition, -1, -1, 0, True),
        }
    )
    assert included == [("t", 1), ("t", 2), ("t", 3)]
    assert session.candidates([]) == [("t", 3)]  # the error stands: read again
    assert [p for p in sorted(session.partitions, key=lambda p: session.partitions[p].order)] == [
        ("t", 0),
        ("t", 1),
        ("t", 2),
        ("t", 3),
    ]
    assert session.complete({("t", 0): result(5, record_bytes=1)}) == [("t", 0)]
    assert min(session.partitions, key=lambda p: session.partitions[p].order) == ("t", 1)


def test_the_partitions_to_read_are_the_named_the_changed_and_the_owing_in_session_order() -> None:
    notifier = AppendNotifier()
    sessions = FetchSessionCache(3, notifier)
    session = sessions.maybe_create(NOW, positions(*range(10)))
    assert session is not None
    session.pending = {("t", 8)}
    notifier.notify([("t", 5), ("elsewhere", 0)])
    assert session.candidates([("t", 7)]) == [("t", 5), ("t", 7), ("t", 8)]
    assert session.candidates([]) == [("t", 8)]  # a change is read once


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("append"), st.integers(0, 5), st.integers(1, 3)),
            st.tuples(st.just("delete_records"), st.integers(0, 5), st.integers(0, 3)),
            st.tuples(st.just("fetch"), st.integers(0, 5), st.integers(0, 3)),
        ),
        max_size=40,
    )
)
def test_a_client_applying_incremental_responses_sees_what_a_full_fetch_shows(
    operations: list[tuple[str, int, int]],
) -> None:
    notifier = AppendNotifier()
    sessions = FetchSessionCache(3, notifier)
    logs = {("t", p): [0, 0] for p in range(6)}  # partition -> [log start, high watermark]
    full = {p: (hw, start) for p, (start, hw) in logs.items()}
    session = sessions.maybe_create(NOW, positions(*range(6)))
    assert session is not None
    for cached in session.partitions.values():
        cached.high_watermark, cached.log_start_offset = 0, 0
    client_view = dict(full)
    client_offsets = {p: 0 for p in logs}
    for operation, partition_index, amount in operations:
        partition = ("t", partition_index)
        if operation == "append":
            logs[partition][1] += amount
            notifier.notify([partition])
        elif operation == "delete_records":
            start, high_watermark = logs[partition]
            logs[partition][0] = min(high_watermark, start + amount)
            notifier.notify([partition])
        else:
            moved = {}
            if amount and client_offsets[partition] < logs[partition][1]:
                client_offsets[partition] = min(
                    logs[partition][1], client_offsets[partition] + amount
                )
                moved[partition] = CachedPartition(partition_index, client_offsets[partition], 1024)
            sessions.update(session, NOW, moved, [])
            results = {}
            for candidate in session.candidates(moved):
                start, high_watermark = logs[candidate]
                offset = max(client_offsets[candidate], start)
                results[candidate] = PartitionResult(
                    ErrorCode.none,
                    high_watermark,
                    start,
                    high_watermark - offset,
                    offset < high_watermark,
                )
            for included in session.complete(results):
                client_view[included] = (
                    results[included].high_watermark,
                    results[included].log_start_offset,
                )
            assert client_view == {p: (hw, start) for p, (start, hw) in logs.items()}
