"""Share-partition state (KIP-932) driven with a ManualClock: acquisition, acknowledgement,
lock expiry, the delivery-count limit, the in-flight limit, persistence and replay; and as a
property, that no offset is ever held by two members and every offset below the SPSO is done."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from katka.clock import ManualClock
from katka.coordinator.config import CoordinatorConfig
from katka.coordinator.internal_log import MemoryInternalLog
from katka.coordinator.share.assignor import assign
from katka.coordinator.share.partition import (
    AcknowledgeType,
    AcquiredRange,
    RecordState,
    ShareConfig,
    SharePartition,
)
from katka.coordinator.share.partitions import SharePartitions, parse_duration_ms
from katka.errors import ErrorCode, KafkaError

LOCK_MS = 30_000
CONFIG = ShareConfig(lock_duration_ms=LOCK_MS, delivery_count_limit=3, max_record_locks=10)
ACCEPT, RELEASE, REJECT = (
    int(t) for t in (AcknowledgeType.ACCEPT, AcknowledgeType.RELEASE, AcknowledgeType.REJECT)
)


def test_new_records_are_acquired_once_and_the_start_offset_moves_past_accepted_ones() -> None:
    clock = ManualClock()
    partition = SharePartition(0, CONFIG)
    assert partition.acquire("a", clock.now_ms(), 5, 3) == [AcquiredRange(0, 2, 1)]
    assert partition.acquire("b", clock.now_ms(), 5, 10) == [AcquiredRange(3, 4, 1)]
    assert partition.acquire("c", clock.now_ms(), 5, 10) == []
    partition.acknowledge("a", 0, 2, [ACCEPT], clock.now_ms())
    assert partition.start_offset == 3
    partition.acknowledge("b", 3, 4, [ACCEPT, REJECT], clock.now_ms())
    assert (partition.start_offset, partition.end_offset, partition.records) == (5, 5, {})


def test_released_records_are_redelivered_first_with_a_higher_delivery_count() -> None:
    clock = ManualClock()
    partition = SharePartition(0, CONFIG)
    partition.acquire("a", clock.now_ms(), 4, 4)
    partition.acknowledge("a", 0, 3, [ACCEPT, RELEASE, ACCEPT, RELEASE], clock.now_ms())
    assert partition.next_fetch_offset() == 1
    assert partition.acquire("b", clock.now_ms(), 6, 10) == [
        AcquiredRange(1, 1, 2),
        AcquiredRange(3, 3, 2),
        AcquiredRange(4, 5, 1),
    ]


def test_an_expired_lock_makes_the_records_available_and_the_late_acknowledgement_fails() -> None:
    clock = ManualClock()
    partition = SharePartition(0, CONFIG)
    partition.acquire("a", clock.now_ms(), 2, 2)
    clock.advance(LOCK_MS - 1)
    assert partition.expire_locks(clock.now_ms()) == 0
    clock.advance(1)
    assert partition.acquire("b", clock.now_ms(), 2, 2) == [AcquiredRange(0, 1, 2)]
    with pytest.raises(KafkaError) as refused:
        partition.acknowledge("a", 0, 1, [ACCEPT], clock.now_ms())
    assert refused.value.code == ErrorCode.invalid_record_state


def test_a_record_delivered_delivery_count_limit_times_is_archived() -> None:
    clock = ManualClock()
    partition = SharePartition(0, CONFIG)
    for delivery in range(1, 4):
        assert partition.acquire("a", clock.now_ms(), 1, 1) == [AcquiredRange(0, 0, delivery)]
        partition.acknowledge("a", 0, 0, [RELEASE], clock.now_ms())
    assert partition.acquire("a", clock.now_ms(), 1, 1) == []
    assert partition.start_offset == 1


def test_a_member_leaving_releases_only_its_own_records() -> None:
    clock = ManualClock()
    partition = SharePartition(0, CONFIG)
    partition.acquire("a", clock.now_ms(), 2, 2)
    partition.acquire("b", clock.now_ms(), 4, 2)
    assert partition.release_member("a") == 2
    state = partition.state_of(2)
    assert state is not None and state.state is RecordState.ACQUIRED and state.member_id == "b"
    assert partition.next_fetch_offset() == 0


def test_no_more_than_max_record_locks_records_are_in_flight() -> None:
    partition = SharePartition(0, CONFIG)
    assert partition.acquire("a", 0, 100, 100) == [AcquiredRange(0, 9, 1)]
    assert partition.acquire("b", 0, 100, 100) == []


@pytest.mark.parametrize(
    ("first", "last", "types", "code"),
    [
        (5, 6, [ACCEPT], ErrorCode.invalid_record_state),  # never acquired
        (1, 0, [ACCEPT], ErrorCode.invalid_request),  # empty range
        (0, 1, [ACCEPT, ACCEPT, ACCEPT], ErrorCode.invalid_request),  # types do not fit
        (0, 0, [9], ErrorCode.invalid_request),  # unknown type
    ],
)
def test_bad_acknowledgements_are_refused_and_change_nothing(
    first: int, last: int, types: list[int], code: ErrorCode
) -> None:
    partition = SharePartition(0, CONFIG)
    partition.acquire("a", 0, 3, 3)
    with pytest.raises(KafkaError) as refused:
        partition.acknowledge("a", first, last, types, 0)
    assert refused.value.code == code
    assert partition.acquired_count() == 3


def test_persisted_state_restores_acknowledged_records_as_done_and_acquired_ones_as_available() -> (
    None
):
    log = MemoryInternalLog()
    key = ("g", uuid.uuid4(), 0)
    live = SharePartitions(log, CoordinatorConfig())
    partition = live.get(key, 0, 10, lambda _ago: 0)
    assert partition.start_offset == 10  # latest by default
    live.group_configs["h"] = {"share.auto.offset.reset": "earliest"}
    other = live.get(("h", key[1], 0), 0, 10, lambda _ago: 0)
    other.acquire("a", 0, 4, 4)
    other.acknowledge("a", 1, 1, [ACCEPT], 0)
    live.persist([("h", key[1], 0)])
    restarted = SharePartitions(log, CoordinatorConfig())
    restarted.load()
    assert restarted.group_ids() == {"h"}
    again = restarted.get(("h", key[1], 0), 0, 10, lambda _ago: 0)
    assert again.acquire("b", 0, 10, 10) == [
        AcquiredRange(0, 0, 2),
        AcquiredRange(2, 3, 2),
        AcquiredRange(4, 9, 1),
    ]


def test_share_sessions_need_the_next_epoch() -> None:
    sessions = SharePartitions(MemoryInternalLog(), CoordinatorConfig())
    with pytest.raises(KafkaError) as missing:
        sessions.session("g", "m", 1)
    assert missing.value.code == ErrorCode.share_session_not_found
    sessions.session("g", "m", 0)
    sessions.session("g", "m", 1)
    with pytest.raises(KafkaError) as stale:
        sessions.session("g", "m", 1)
    assert stale.value.code == ErrorCode.invalid_share_session_epoch
    sessions.session("g", "m", -1)  # the final request works in the session ...
    sessions.close_session("g", "m")  # ... which its handler then closes
    assert sessions.session_count() == 0


def test_a_share_session_closed_by_its_connection_stays_open_when_reopened_elsewhere() -> None:
    sessions = SharePartitions(MemoryInternalLog(), CoordinatorConfig())
    first, second = object(), object()
    sessions.session("g", "m", 0, first)
    sessions.session("g", "m", 0, second)  # the client reconnected and opened it again
    sessions.close_session("g", "m", first)
    assert sessions.session_count() == 1
    sessions.close_session("g", "m", second)
    assert sessions.session_count() == 0


def test_by_duration_parses_iso_8601_durations() -> None:
    assert parse_duration_ms("PT1H") == 3_600_000
    assert parse_duration_ms("P1DT0.5S") == 86_400_500
    with pytest.raises(ValueError):
        parse_duration_ms("PT")


@pytest.mark.parametrize(("members", "partitions"), [(1, 3), (3, 3), (12, 3), (5, 2)])
def test_the_assignor_gives_every_member_and_every_partition_a_share(
    members: int, partitions: int
) -> None:
    subscriptions = {f"m{i:02d}": ("t",) for i in range(members)}
    assigned = assign(subscriptions, {"t": partitions})
    assert all(assigned.values())
    assert {p for ps in assigned.values() for _t, p in ps} == set(range(partitions))


operations = st.lists(
    st.tuples(
        st.sampled_from(["acquire", "ack", "expire", "leave"]),
        st.sampled_from(["a", "b", "c"]),
        st.integers(0, 12),
        st.integers(0, 4),
        st.sampled_from([ACCEPT, RELEASE, REJECT]),
    ),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(operations)
def test_no_offset_is_ever_held_by_two_members_and_everything_below_the_start_is_done(
    ops: list[tuple[str, str, int, int, int]],
) -> None:
    clock = ManualClock()
    partition = SharePartition(0, CONFIG)
    holders: dict[int, str] = {}
    done: set[int] = set()
    for op, member, offset, size, kind in ops:
        if op == "acquire":
            for r in partition.acquire(member, clock.now_ms(), 12, size + 1):
                for o in range(r.first_offset, r.last_offset + 1):
                    assert o not in holders and o not in done
                    holders[o] = member
        elif op == "ack":
            try:
                partition.acknowledge(member, offset, offset + size, [kind], clock.now_ms())
            except KafkaError:
                continue
            for o in range(offset, offset + size + 1):
                assert holders.pop(o) == member
                if kind != RELEASE:
                    done.add(o)
        elif op == "expire":
            clock.advance(LOCK_MS)
            partition.expire_locks(clock.now_ms())
            holders.clear()
        else:
            partition.release_member(member)
            holders = {o: m for o, m in holders.items() if m != member}
        for o in range(partition.start_offset):
            assert o not in holders and partition.state_of(o) is None
        for o, m in holders.items():
            state = partition.state_of(o)
            assert state is not None and state.member_id == m


def test_records_of_an_aborted_transaction_are_archived_never_handed_out() -> None:
    partition = SharePartition(0, ShareConfig())
    taken = partition.acquire("a", 0, 10, 100, aborted=[(2, 4), (7, 7)])
    assert taken == [AcquiredRange(0, 1, 1), AcquiredRange(5, 6, 1), AcquiredRange(8, 9, 1)]
    assert [partition.state_of(o).state for o in (2, 3, 4, 7)] == [RecordState.ARCHIVED] * 4  # type: ignore[union-attr]
    partition.acknowledge("a", 0, 1, [ACCEPT], 0)
    assert partition.start_offset == 5  # over the accepted and the archived ones
