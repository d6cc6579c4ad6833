"""Recovery is replay: a restarted coordinator rebuilds groups and offsets from its log."""

import pytest

from katka.clock import ManualClock
from katka.coordinator.classic.requests import JoinGroupRequest, SyncGroupRequest
from katka.coordinator.config import CoordinatorConfig
from katka.coordinator.internal_log import MemoryInternalLog
from katka.coordinator.records import (
    GroupKey,
    GroupSnapshot,
    MemberSnapshot,
    OffsetKey,
    OffsetValue,
    RecordError,
    decode_group_value,
    decode_key,
    decode_offset_value,
    encode_group_value,
    encode_offset_value,
    group_key,
    offset_key,
)
from katka.coordinator.results import LeaveMember
from katka.coordinator.service import GroupCoordinator
from katka.coordinator.timers import ManualTimers
from katka.errors import ErrorCode

from .harness import GROUP, Harness


def test_record_keys_and_values_round_trip():
    assert decode_key(offset_key("g", "orders", 3)) == OffsetKey("g", "orders", 3)
    assert decode_key(group_key("g")) == GroupKey("g")
    value = OffsetValue(42, 7, "meta ✓", 1_700_000_000_000, None)
    assert decode_offset_value(encode_offset_value(value)) == value
    snapshot = GroupSnapshot(
        "consumer",
        4,
        "range",
        "m1",
        123,
        (MemberSnapshot("m1", "i1", "c", "/h", 30_000, 10_000, b"\x00\x01", b"\xff"),),
    )
    assert decode_group_value(encode_group_value(snapshot)) == snapshot


def test_undecodable_records_are_reported():
    with pytest.raises(RecordError):
        decode_key(b"\x00\x07\x00\x01g")
    with pytest.raises(RecordError):
        decode_group_value(b"\x00\x00{not json")
    with pytest.raises(RecordError):
        decode_offset_value(b"\x00\x01")


def test_replay_restores_committed_offsets_with_epoch_metadata_and_timestamp():
    h = Harness()
    h.commit("", -1, {("orders", 0): 10}, metadata="m")
    committed_at = h.clock.now_ms()
    h.advance(1_000)
    h.commit("", -1, {("orders", 0): 11, ("payments", 1): 3}, metadata="n")
    h.coordinator.delete_offsets(GROUP, [("payments", 1)])
    restarted = h.restart()
    fetched = restarted.coordinator.fetch_offsets(GROUP, None).partitions
    assert [
        (p.topic, p.partition, p.committed_offset, p.committed_leader_epoch, p.metadata)
        for p in fetched
    ] == [("orders", 0, 11, 5, "n")]
    assert committed_at + 1_000 == h.clock.now_ms()
    # The group of a standalone consumer comes back too.
    assert [g.group_id for g in restarted.coordinator.list_groups().groups] == [GROUP]


def test_replay_restores_a_stable_group_whose_live_members_keep_their_generation():
    h = Harness()
    g = h.stable_group(2, static=True)
    restarted = h.restart()
    described = restarted.coordinator.describe_groups([GROUP])[0]
    assert described.group_state == "Stable"
    assert described.protocol_data == "range"
    assert [m.member_id for m in described.members] == g.member_ids
    assert [m.group_instance_id for m in described.members] == ["instance-0", "instance-1"]
    assert [m.member_assignment for m in described.members] == [
        g.assignments[m] for m in g.member_ids
    ]
    summary = restarted.coordinator.group_summaries()[0]
    assert summary.generation_id == 1 and summary.leader_id == g.leader
    for member, instance in zip(g.member_ids, ["instance-0", "instance-1"], strict=True):
        assert restarted.heartbeat(member, 1, instance=instance) is ErrorCode.none
    sync = restarted.sync(g.followers[0], 1, instance="instance-1")
    assert sync.get().assignment == g.assignments[g.followers[0]]


def test_restored_members_that_never_heartbeat_again_expire_and_the_group_rebalances():
    h = Harness()
    g = h.stable_group(2, session_timeout_ms=10_000)
    restarted = h.restart()
    for _ in range(2):
        restarted.advance(4_000)
        assert restarted.heartbeat(g.leader, 1) is ErrorCode.none
    restarted.advance(2_000)
    assert restarted.state() == "PreparingRebalance"
    rejoin = restarted.join(g.leader)
    assert rejoin.get().generation_id == 2
    assert [m.member_id for m in rejoin.get().members] == [g.leader]


def test_replay_restores_an_empty_group_and_forgets_deleted_ones():
    h = Harness()
    g = h.stable_group(1)
    h.commit(g.leader, 1, {("orders", 0): 1})
    h.coordinator.leave_group(GROUP, [LeaveMember(g.leader)])
    h.commit("", -1, {("audit", 0): 1}, group="doomed")
    h.coordinator.delete_groups(["doomed"])
    restarted = h.restart()
    groups = restarted.coordinator.list_groups().groups
    assert [(x.group_id, x.group_state, x.protocol_type) for x in groups] == [
        (GROUP, "Empty", "consumer")
    ]
    assert restarted.coordinator.group_summaries()[0].generation_id == 2
    assert restarted.coordinator.fetch_offsets("doomed", None).partitions == ()


def test_offsets_of_a_restored_empty_group_expire_counted_from_when_it_became_empty():
    config = CoordinatorConfig(group_initial_rebalance_delay_ms=0, offsets_retention_minutes=60)
    h = Harness(config)
    g = h.stable_group(1)
    h.commit(g.leader, 1, {("orders", 0): 1})
    h.coordinator.leave_group(GROUP, [LeaveMember(g.leader)])
    h.advance(30 * 60_000)
    restarted = h.restart()
    restarted.advance(30 * 60_000 - 1)
    restarted.coordinator.expire_offsets()
    assert restarted.coordinator.fetch_offsets(GROUP, None).partitions != ()
    restarted.advance(1)
    restarted.coordinator.expire_offsets()
    assert restarted.coordinator.fetch_offsets(GROUP, None).partitions == ()


def test_while_loading_calls_answer_load_in_progress_and_heartbeats_answer_none():
    clock = ManualClock()
    coordinator = GroupCoordinator(
        CoordinatorConfig(), clock, ManualTimers(clock), MemoryInternalLog(), lambda t, p: True
    )
    assert coordinator.heartbeat(GROUP, "m", 1).error_code is ErrorCode.none
    assert coordinator.fetch_offsets(GROUP, None).error_code is (
        ErrorCode.coordinator_load_in_progress
    )
    assert coordinator.list_groups().error_code is ErrorCode.coordinator_load_in_progress
    assert coordinator.delete_groups([GROUP])[0].error_code is (
        ErrorCode.coordinator_load_in_progress
    )
    answers = [
        coordinator.sync_group(SyncGroupRequest(GROUP, "m", 1)).get(),
        coordinator.join_group(
            JoinGroupRequest(
                group_id=GROUP,
                member_id="",
                client_id="c",
                client_host="h",
                session_timeout_ms=10_000,
                rebalance_timeout_ms=10_000,
                protocol_type="consumer",
                protocols=(("range", b""),),
            )
        ).get(),
    ]
    assert [a.error_code for a in answers] == [
        ErrorCode.rebalance_in_progress,
        ErrorCode.coordinator_load_in_progress,
    ]
    coordinator.load()
    assert coordinator.list_groups().error_code is ErrorCode.none


def test_shutdown_answers_parked_requests_and_refuses_new_ones():
    h = Harness()
    parked = h.join_new()
    h.coordinator.shutdown()
    assert parked.get().error_code is ErrorCode.coordinator_not_available
    assert h.heartbeat("m", 1) is ErrorCode.coordinator_not_available
    assert h.timers.keys() == []
