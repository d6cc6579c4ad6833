"""Static membership (KIP-345): rejoin without rebalance, fencing, KAFKA-9801, LeaveGroup."""

from katka.coordinator.history import RebalanceTrigger
from katka.coordinator.results import LeaveMember
from katka.errors import ErrorCode

from .harness import GROUP, Harness, subscription


def test_a_restarted_static_follower_gets_a_new_id_and_its_assignment_without_a_rebalance():
    h = Harness()
    g = h.stable_group(2, static=True)
    old_id = g.followers[0]
    log_size = len(h.log.records)
    rejoin = h.join(instance="instance-1", version=8)
    result = rejoin.get()
    assert result.error_code is ErrorCode.none
    assert result.member_id != old_id and result.member_id.startswith("instance-1-")
    assert result.generation_id == g.generation == 1
    assert result.leader_id == g.leader and result.members == ()
    assert h.state() == "Stable"
    assert len(h.log.records) == log_size + 1  # the new member id is persisted
    sync = h.sync(result.member_id, 1, instance="instance-1")
    assert sync.get().assignment == g.assignments[old_id]
    assert len(h.coordinator.rebalance_history(GROUP)) == 1  # only the first rebalance


def test_a_restarted_static_leader_learns_the_members_but_skips_assignment_at_v9():
    h = Harness()
    g = h.stable_group(2, static=True)
    result = h.join(instance="instance-0", version=9).get()
    assert result.skip_assignment is True
    assert result.leader_id == result.member_id != g.leader
    assert {m.member_id for m in result.members} == {result.member_id, g.followers[0]}
    assert {m.group_instance_id for m in result.members} == {"instance-0", "instance-1"}
    assert h.state() == "Stable" and result.generation_id == 1


def test_a_restarted_static_leader_before_v9_is_told_the_old_leader_id_so_it_does_not_assign():
    h = Harness()
    g = h.stable_group(2, static=True)
    result = h.join(instance="instance-0", version=7).get()
    assert result.leader_id == g.leader != result.member_id
    assert result.members == () and result.skip_assignment is False
    # The group's leader is now the new member id.
    assert h.coordinator.group_summaries()[0].leader_id == result.member_id


def test_a_static_rejoin_that_keeps_the_selected_protocol_does_not_rebalance():
    h = Harness()
    sub = subscription()
    h.stable_group(2, static=True, protocols=[("range", sub), ("roundrobin", sub)])
    # One vote each now; the tie keeps "range" (join order), so no rebalance is needed.
    rejoin = h.join(instance="instance-1", protocols=[("roundrobin", sub), ("range", sub)])
    assert rejoin.get().generation_id == 1
    assert h.state() == "Stable"


def test_a_static_rejoin_that_changes_the_selected_protocol_triggers_a_rebalance():
    h = Harness()
    sub = subscription()
    g = h.stable_group(1, static=True, protocols=[("range", sub), ("roundrobin", sub)])
    rejoin = h.join(instance="instance-0", protocols=[("roundrobin", sub)])
    result = rejoin.get()  # the only member rejoined: the join phase completes at once
    assert result.protocol_name == "roundrobin"
    assert result.generation_id == g.generation + 1
    assert h.state() == "CompletingRebalance"
    assert h.sync(result.member_id, 2, {result.member_id: b""}).get().error_code is ErrorCode.none
    entry = h.coordinator.rebalance_history(GROUP)[-1]
    assert entry.trigger is RebalanceTrigger.STATIC_MEMBER_CHANGE
    assert entry.group_instance_id == "instance-0"


def test_the_old_incarnation_of_a_replaced_static_member_is_fenced_everywhere():
    h = Harness()
    g = h.stable_group(2, static=True)
    old_id = g.followers[0]
    new_id = h.join(instance="instance-1").get().member_id
    assert h.heartbeat(old_id, 1, instance="instance-1") is ErrorCode.fenced_instance_id
    assert h.heartbeat(new_id, 1, instance="instance-1") is ErrorCode.none
    fenced_sync = h.sync(old_id, 1, instance="instance-1")
    assert fenced_sync.get().error_code is ErrorCode.fenced_instance_id
    commit = h.commit(old_id, 1, {("orders", 1): 10}, instance="instance-1")
    assert commit == {("orders", 1): ErrorCode.fenced_instance_id}
    join = h.join(old_id, instance="instance-1")
    assert join.get().error_code is ErrorCode.fenced_instance_id
    # Without an instance id the old id is simply unknown.
    assert h.heartbeat(old_id, 1) is ErrorCode.unknown_member_id


def test_a_parked_duplicate_is_fenced_when_its_instance_is_taken_over():
    h = Harness()
    g = h.stable_group(3, static=True)
    h.join(g.leader, instance="instance-0")  # the leader rejoins: PreparingRebalance
    parked_old = h.join(g.followers[0], instance="instance-1")
    assert parked_old.parked
    new = h.join(instance="instance-1")  # a second process with the same instance id
    assert parked_old.get().error_code is ErrorCode.fenced_instance_id
    assert new.parked
    last = h.join(g.followers[1], instance="instance-2")
    assert new.get().error_code is last.get().error_code is ErrorCode.none
    assert new.get().generation_id == 2


def test_kafka_9801_a_static_rejoin_during_completing_rebalance_restarts_the_rebalance():
    h = Harness()
    a = h.join_new(instance="a", client_id="a")
    b = h.join_new(instance="b", client_id="b")
    h.timers.run_due()
    leader, old_b = a.get().member_id, b.get().member_id
    b_sync = h.sync(old_b, 1, instance="b")
    assert b_sync.parked and h.state() == "CompletingRebalance"
    new_b = h.join(instance="b")  # b restarted before the leader assigned
    assert b_sync.get().error_code is ErrorCode.fenced_instance_id
    assert h.state() == "PreparingRebalance"
    # The leader's assignment for the old id is refused: it must rejoin.
    assert h.sync(leader, 1, {old_b: b"x"}).get().error_code is ErrorCode.rebalance_in_progress
    rejoin_a = h.join(leader, instance="a")
    assert rejoin_a.get().generation_id == new_b.get().generation_id == 2
    assert {m.member_id for m in rejoin_a.get().members} == {leader, new_b.get().member_id}


def test_static_members_that_miss_the_rebalance_timeout_stay_in_the_group():
    h = Harness()
    g = h.stable_group(2, static=True, session_timeout_ms=60_000, rebalance_timeout_ms=20_000)
    rejoin = h.join(g.leader, instance="instance-0", rebalance_timeout_ms=20_000)
    h.advance(19_999)
    assert rejoin.parked
    h.advance(1)  # a dynamic member would be dropped here; a static one is kept
    assert [m.member_id for m in rejoin.get().members] == g.member_ids
    assert rejoin.get().generation_id == 2


def test_a_static_member_that_stops_without_leaving_is_removed_after_its_session_timeout():
    h = Harness()
    g = h.stable_group(2, static=True, session_timeout_ms=30_000)
    for _ in range(4):
        h.advance(6_000)
        assert h.heartbeat(g.leader, 1, instance="instance-0") is ErrorCode.none
    h.advance(5_999)
    assert h.state() == "Stable"
    h.advance(1)
    assert h.state() == "PreparingRebalance"  # instance-1 expired at 30 s
    rejoin = h.join(g.leader, instance="instance-0")
    assert [m.group_instance_id for m in rejoin.get().members] == ["instance-0"]
    h.sync(g.leader, 2, {})
    entry = h.coordinator.rebalance_history(GROUP)[-1]
    assert entry.trigger is RebalanceTrigger.SESSION_TIMEOUT
    assert entry.group_instance_id == "instance-1"


def test_leave_group_batches_members_by_id_and_instance_with_per_member_errors():
    h = Harness()
    g = h.stable_group(3, static=True)
    dynamic = h.join_new(client_id="dynamic")
    assert h.state() == "PreparingRebalance"
    result = h.coordinator.leave_group(
        GROUP,
        [
            LeaveMember(g.leader, "instance-2"),
            LeaveMember("", "instance-1", reason="admin removal"),
            LeaveMember("", "no-such-instance"),
            LeaveMember(g.followers[1], "instance-2", reason="shutting down"),
            LeaveMember("ghost"),
        ],
    )
    assert result.error_code is ErrorCode.none
    assert [(m.member_id, m.group_instance_id, m.error_code) for m in result.members] == [
        (g.leader, "instance-2", ErrorCode.fenced_instance_id),
        ("", "instance-1", ErrorCode.none),
        ("", "no-such-instance", ErrorCode.unknown_member_id),
        (g.followers[1], "instance-2", ErrorCode.none),
        ("ghost", None, ErrorCode.unknown_member_id),
    ]
    members = {m.member_id for m in h.coordinator.describe_groups([GROUP])[0].members}
    assert g.followers[0] not in members and g.followers[1] not in members
    assert dynamic.parked
    unknown_group = h.coordinator.leave_group("nope", [LeaveMember("x")])
    assert unknown_group.members[0].error_code is ErrorCode.unknown_member_id


def test_leaving_records_the_reason_in_the_rebalance_history():
    h = Harness()
    g = h.stable_group(2)
    h.coordinator.leave_group(
        GROUP, [LeaveMember(g.followers[0], reason="the consumer is closing")]
    )
    h.join(g.leader)
    h.sync(g.leader, 2, {})
    entry = h.coordinator.rebalance_history(GROUP)[-1]
    assert entry.trigger is RebalanceTrigger.LEAVE
    assert entry.member_id == g.followers[0]
    assert entry.reason == "the consumer is closing"
    assert entry.client_id == "consumer-1"
