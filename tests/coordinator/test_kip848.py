"""KIP-848 consumer groups (ConsumerGroupHeartbeat) driven with a manual clock and no sockets."""

from __future__ import annotations

import pytest

from katka.coordinator.config import CoordinatorConfig
from katka.coordinator.consumer.assignors import MemberSpec, assign_range, assign_uniform
from katka.coordinator.consumer.group import MemberState
from katka.coordinator.consumer.heartbeat import on_timer
from katka.coordinator.consumer.timeouts import RebalanceExpiry, SessionExpiry
from katka.coordinator.effects import Context
from katka.coordinator.history import RebalanceTrigger
from katka.coordinator.records import OffsetValue
from katka.coordinator.results import OffsetCommitPartition
from katka.errors import ErrorCode
from tests.coordinator.harness import Harness, subscription
from tests.coordinator.kip848_harness import GROUP, Kip848, Member, Topics, default_config


def all_orders(h: Kip848) -> frozenset[tuple[object, int]]:
    return h.tp("orders", *range(6))


# --- joining and converging -------------------------------------------------------------------


def test_the_first_member_joins_with_epoch_zero_and_gets_every_partition_at_epoch_one() -> None:
    h = Kip848()
    member, response = h.join("m1")
    assert (response.member_id, response.member_epoch) == ("m1", 1)
    assert response.heartbeat_interval_ms == 5_000
    assert member.owned == all_orders(h)
    group = h.group()
    assert (group.group_epoch, group.assignment_epoch, group.state.value) == (1, 1, "Stable")


def test_v0_members_are_named_by_the_coordinator() -> None:
    h = Kip848()
    response = h.heartbeat(
        "", 0, topics=("orders",), owned=frozenset(), rebalance_timeout_ms=1000, version=0
    )
    assert response.error_code is ErrorCode.none and response.member_id
    assert response.member_id in h.group().members


def test_three_members_converge_to_a_disjoint_balanced_assignment_covering_every_partition() -> (
    None
):
    h = Kip848()
    members = [h.join(f"m{i}")[0] for i in range(3)]
    h.converge(*members)
    assert all(len(m.owned) == 2 for m in members)
    assert frozenset().union(*(m.owned for m in members)) == all_orders(h)
    group = h.group()
    assert group.group_epoch == group.assignment_epoch == 3
    assert all(m.epoch == 3 for m in members)


def test_partitions_are_revoked_from_one_member_before_another_gets_them() -> None:
    h = Kip848()
    a, _ = h.join("a")
    b, response = h.join("b")
    assert response.member_epoch == 2 and b.owned == frozenset()  # a still owns everything
    assert h.group().members["b"].state is MemberState.UNRELEASED_PARTITIONS
    # a learns it must give up half: it keeps the rest and its epoch until it acknowledges.
    response = h.poll(a, report=False)
    kept = a.owned
    assert len(kept) == 3 and response.member_epoch == 1
    assert h.group().members["a"].state is MemberState.UNREVOKED_PARTITIONS
    h.poll(b)  # nothing released yet
    assert b.owned == frozenset()
    h.poll(a)  # a reports it owns only the kept partitions: revocation done
    assert a.epoch == 2 and a.owned == kept
    h.poll(b)
    assert b.owned == all_orders(h) - kept and b.epoch == 2
    assert h.group().state.value == "Stable"


def test_a_member_that_has_not_revoked_keeps_its_partitions_and_the_others_wait() -> None:
    h = Kip848()
    a, _ = h.join("a")
    b, _ = h.join("b")
    h.poll(a, report=False)  # a is asked to revoke
    for _ in range(3):
        h.poll(a, report=False)  # a heartbeats without reporting: it may still own them
        h.poll(b)
        h.check_no_double_ownership(a, b)
    assert b.owned == frozenset() and len(a.owned) == 3
    assert h.group().state.value == "Reconciling"


def test_a_fourth_member_moves_only_the_partitions_it_takes() -> None:
    h = Kip848(topics=Topics({"orders": 12}))
    members = [h.join(f"m{i}")[0] for i in range(3)]
    h.converge(*members)
    before = {m.member_id: m.owned for m in members}
    fourth, _ = h.join("m3")
    h.converge(*members, fourth)
    moved = sum(len(before[m.member_id] - m.owned) for m in members)
    assert moved == len(fourth.owned) == 3
    assert all(m.owned <= before[m.member_id] for m in members)  # nobody gained, few lost


def test_a_member_rejoining_with_epoch_zero_gets_its_current_assignment_back() -> None:
    h = Kip848()
    a, _ = h.join("a")
    again, response = h.join("a")
    assert response.member_epoch == 1 and again.owned == a.owned
    assert h.group().group_epoch == 1


def test_a_subscription_change_bumps_the_group_epoch_and_reassigns() -> None:
    h = Kip848()
    a, _ = h.join("a")
    response = h.heartbeat("a", a.epoch, topics=("orders", "audit"), owned=a.owned)
    h.absorb(a, response)
    assert h.group().group_epoch == 2
    assert a.owned == all_orders(h) | h.tp("audit", 0, 1)


def test_new_partitions_of_a_subscribed_topic_are_assigned_on_the_next_heartbeat() -> None:
    h = Kip848()
    a, _ = h.join("a")
    topic = h.topics.get("orders")
    assert topic is not None
    topic.partitions = 8
    h.poll(a)
    assert a.owned == h.tp("orders", *range(8)) and a.epoch == 2
    entry = h.coordinator.rebalance_history(GROUP)[-1]
    assert entry.trigger is RebalanceTrigger.METADATA_CHANGE


def test_a_regex_subscription_follows_topics_as_they_appear() -> None:
    h = Kip848()
    a, _ = h.join("a", topics=(), regex="aud.*")
    assert a.owned == h.tp("audit", 0, 1)
    h.topics.create("audit-eu", 1)
    h.poll(a)
    assert a.owned == h.tp("audit", 0, 1) | h.tp("audit-eu", 0)


def test_the_range_assignor_is_used_when_members_ask_for_it() -> None:
    h = Kip848()
    a, _ = h.join("a", assignor="range")
    b, _ = h.join("b", assignor="range")
    h.converge(a, b)
    assert a.owned == h.tp("orders", 0, 1, 2) and b.owned == h.tp("orders", 3, 4, 5)
    described = h.coordinator.consumer_group_describe([GROUP])[0]
    assert described.assignor_name == "range"


# --- static membership ---------------------------------------------------------------------


def test_a_static_member_that_leaves_temporarily_and_rejoins_keeps_its_assignment() -> None:
    h = Kip848()
    a, _ = h.join("a", instance_id="i-a")
    b, _ = h.join("b", instance_id="i-b")
    h.converge(a, b)
    epoch = h.group().group_epoch
    response = h.heartbeat("a", -2, instance_id="i-a")
    assert (response.error_code, response.member_epoch) == (ErrorCode.none, -2)
    assert h.group().members["a"].assigned == a.owned  # kept while it is away
    h.poll(b)
    assert h.group().group_epoch == epoch  # no rebalance for the others
    restarted, response = h.join("a2", instance_id="i-a")
    assert response.member_epoch == epoch and restarted.owned == a.owned
    assert "a" not in h.group().members and h.group().group_epoch == epoch
    assert h.group().state.value == "Stable"


def test_an_instance_id_still_in_use_cannot_join() -> None:
    h = Kip848()
    h.join("a", instance_id="i-a")
    response = h.heartbeat(
        "other",
        0,
        topics=("orders",),
        owned=frozenset(),
        instance_id="i-a",
        rebalance_timeout_ms=1000,
    )
    assert response.error_code is ErrorCode.unreleased_instance_id


def test_the_replaced_static_member_is_fenced() -> None:
    h = Kip848()
    a, _ = h.join("a", instance_id="i-a")
    h.heartbeat("a", -2, instance_id="i-a")
    h.join("a2", instance_id="i-a")
    response = h.heartbeat("a", a.epoch, instance_id="i-a", owned=a.owned)
    assert response.error_code is ErrorCode.fenced_instance_id


def test_a_static_member_that_does_not_come_back_is_removed_after_its_session_timeout() -> None:
    h = Kip848()
    a, _ = h.join("a", instance_id="i-a")
    b, _ = h.join("b")
    h.converge(a, b)
    h.heartbeat("a", -2, instance_id="i-a")
    for _ in range(10):
        h.timers.advance(5_000)
        h.poll(b)
    assert "a" not in h.group().members
    assert b.owned == all_orders(h)


# --- fencing, leaving, timeouts ----------------------------------------------------------------


def test_a_member_with_a_wrong_epoch_is_fenced_but_the_previous_epoch_is_tolerated() -> None:
    h = Kip848()
    a, _ = h.join("a")
    b, _ = h.join("b")
    h.converge(a, b)
    assert h.heartbeat("a", a.epoch + 1, owned=a.owned).error_code is ErrorCode.fenced_member_epoch
    previous = h.group().members["a"].previous_member_epoch
    assert previous < a.epoch
    # An older epoch without the owned partitions to prove it is harmless: fenced.
    assert h.heartbeat("a", previous, owned=None).error_code is ErrorCode.fenced_member_epoch
    ok = h.heartbeat("a", previous, owned=a.owned)  # the response with the new epoch got lost
    assert ok.error_code is ErrorCode.none and ok.member_epoch == a.epoch
    stale = h.heartbeat("a", previous, owned=all_orders(h))  # it claims more than it has
    assert stale.error_code is ErrorCode.fenced_member_epoch


def test_unknown_members_and_groups_are_refused() -> None:
    h = Kip848()
    assert h.heartbeat("x", 3, owned=None).error_code is ErrorCode.group_id_not_found
    h.join("a")
    assert h.heartbeat("x", 3, owned=None).error_code is ErrorCode.unknown_member_id
    assert h.heartbeat("x", -1).error_code is ErrorCode.unknown_member_id


def test_a_member_that_leaves_gives_its_partitions_to_the_others() -> None:
    h = Kip848()
    a, _ = h.join("a")
    b, _ = h.join("b")
    h.converge(a, b)
    epoch = h.group().group_epoch
    response = h.heartbeat("b", -1)
    assert (response.error_code, response.member_epoch) == (ErrorCode.none, -1)
    assert h.group().group_epoch == epoch + 1 and "b" not in h.group().members
    h.poll(a)
    assert a.owned == all_orders(h)
    entry = h.coordinator.rebalance_history(GROUP)[-1]
    assert entry.trigger is RebalanceTrigger.LEAVE and entry.outcome == "Stable"
    assert [r.member_id for r in entry.removed] == ["b"]


def test_a_member_that_stops_heartbeating_is_fenced_after_the_session_timeout() -> None:
    h = Kip848()
    a, _ = h.join("a")
    b, _ = h.join("b")
    h.converge(a, b)
    for _ in range(8):  # 40 s: b keeps heartbeating, a does not
        h.timers.advance(5_000)
        h.poll(b)
    assert "a" in h.group().members
    h.timers.advance(5_001)
    assert "a" not in h.group().members
    h.poll(b)
    assert b.owned == all_orders(h)
    assert h.coordinator.rebalance_history(GROUP)[-1].trigger is RebalanceTrigger.SESSION_TIMEOUT


def test_a_groups_own_session_timeout_and_heartbeat_interval_win_over_the_brokers() -> None:
    """kafka-configs --entity-type groups --add-config consumer.session.timeout.ms=50000."""
    h = Kip848()
    h.coordinator.share_partitions.set_group_configs(
        GROUP, {"consumer.session.timeout.ms": "50000", "consumer.heartbeat.interval.ms": "6000"}
    )
    a, response = h.join("a")
    assert response.heartbeat_interval_ms == 6_000
    assert h.group().members["a"].session_deadline_ms == h.clock.now_ms() + 50_000
    h.timers.advance(49_000)
    assert "a" in h.group().members
    h.timers.advance(1_001)
    assert "a" not in h.group().members


def test_a_stale_session_timer_does_nothing() -> None:
    h = Kip848()
    a, _ = h.join("a")
    first_deadline = h.group().members["a"].session_deadline_ms
    assert first_deadline is not None
    h.timers.advance(40_000)
    h.poll(a)  # re-arms the session timer: the earlier deadline is stale
    h.timers.advance(40_000)
    assert "a" in h.group().members
    # Even if an engine fired the old timer late, it would see its deadline moved on.
    ctx = Context(h.clock.now_ms(), h.config, h.topics)
    on_timer(h.group(), SessionExpiry(GROUP, "a", first_deadline), ctx)
    on_timer(h.group(), RebalanceExpiry(GROUP, "a", a.epoch), ctx)  # not revoking: stale
    assert "a" in h.group().members and not ctx.fx.records


def test_a_member_that_does_not_revoke_within_its_rebalance_timeout_is_fenced() -> None:
    h = Kip848()
    a, _ = h.join("a")  # rebalance timeout 30 s
    b, _ = h.join("b")
    h.poll(a, report=False)
    assert h.group().members["a"].state is MemberState.UNREVOKED_PARTITIONS
    for _ in range(5):
        h.timers.advance(5_000)
        h.poll(a, report=False)  # alive, but never acknowledges the revocation
        h.poll(b)
    assert "a" in h.group().members
    h.timers.advance(5_000)
    assert "a" not in h.group().members
    h.poll(b)
    assert b.owned == all_orders(h)
    assert h.coordinator.rebalance_history(GROUP)[-1].trigger is RebalanceTrigger.POLL_TIMEOUT


# --- request validation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"rebalance_timeout_ms": -1}, ErrorCode.invalid_request),
        ({"owned": None}, ErrorCode.invalid_request),
        ({"topics": None}, ErrorCode.invalid_request),
        ({"member_id": ""}, ErrorCode.invalid_request),
        ({"instance_id": ""}, ErrorCode.invalid_request),
        ({"group": ""}, ErrorCode.invalid_request),
        ({"assignor": "sticky"}, ErrorCode.unsupported_assignor),
        ({"regex": "(["}, ErrorCode.invalid_regular_expression),
        ({"epoch": -3}, ErrorCode.invalid_request),
    ],
)
def test_bad_first_heartbeats_are_refused(kwargs: dict[str, object], code: ErrorCode) -> None:
    h = Kip848()
    request: dict[str, object] = {
        "member_id": "a",
        "epoch": 0,
        "topics": ("orders",),
        "owned": frozenset(),
        "rebalance_timeout_ms": 30_000,
        **kwargs,
    }
    owned = request.pop("owned")
    response = h.heartbeat(
        str(request.pop("member_id")),
        int(request.pop("epoch")),  # type: ignore[call-overload]
        owned=owned,  # type: ignore[arg-type]
        **request,  # type: ignore[arg-type]
    )
    assert response.error_code is code
    assert GROUP not in h.coordinator.consumer.groups


def test_a_full_group_refuses_new_members() -> None:
    h = Kip848(CoordinatorConfig(consumer_max_size=1))
    h.join("a")
    response = h.heartbeat("b", 0, topics=("orders",), owned=frozenset(), rebalance_timeout_ms=1000)
    assert response.error_code is ErrorCode.group_max_size_reached


def test_the_api_is_refused_when_the_consumer_protocol_is_disabled() -> None:
    h = Kip848(CoordinatorConfig(consumer_protocol_enabled=False))
    response = h.heartbeat("a", 0, topics=("orders",), owned=frozenset(), rebalance_timeout_ms=1)
    assert response.error_code is ErrorCode.unsupported_version


# --- classic and consumer groups side by side -------------------------------------------------


def classic_harness(h: Kip848) -> Harness:
    """A classic-protocol driver over the same coordinator."""
    classic = Harness.__new__(Harness)
    classic.coordinator = h.coordinator
    classic.timers = h.timers
    classic.clock = h.clock
    return classic


def test_a_classic_join_to_a_consumer_group_is_refused_unless_it_is_empty() -> None:
    h = Kip848()
    h.join("a")
    classic = classic_harness(h)
    refused = classic.join(group=GROUP, protocols=[("range", subscription())])
    assert refused.get().error_code is ErrorCode.inconsistent_group_protocol
    h.heartbeat("a", -1)
    joined = classic.join_new(group=GROUP, protocols=[("range", subscription())])
    h.timers.run_due()
    assert joined.get().error_code is ErrorCode.none
    assert GROUP not in h.coordinator.consumer.groups


def test_a_consumer_heartbeat_to_a_classic_group_is_refused_unless_it_is_empty() -> None:
    h = Kip848()
    classic = classic_harness(h)
    joined = classic.join_new(group=GROUP, protocols=[("range", subscription())])
    h.timers.run_due()
    member_id = joined.get().member_id
    response = h.heartbeat("a", 0, topics=("orders",), owned=frozenset(), rebalance_timeout_ms=1)
    assert response.error_code is ErrorCode.group_id_not_found
    assert response.error_message == f"Group {GROUP} is not a consumer group."
    classic.coordinator.leave_group(GROUP, [classic_member(member_id)])
    member, response = h.join("a")
    assert response.error_code is ErrorCode.none and member.owned == all_orders(h)


def classic_member(member_id: str):  # type: ignore[no-untyped-def]
    from katka.coordinator.results import LeaveMember

    return LeaveMember(member_id)


def test_group_listing_describing_and_deleting_know_both_kinds() -> None:
    h = Kip848()
    h.join("a")
    listed = h.coordinator.list_groups(types_filter=["consumer"]).groups
    assert [(g.group_id, g.group_type, g.protocol_type, g.group_state) for g in listed] == [
        (GROUP, "consumer", "consumer", "Stable")
    ]
    assert h.coordinator.list_groups(types_filter=["classic"]).groups == ()
    assert h.coordinator.list_groups(states_filter=["empty"]).groups == ()
    assert h.coordinator.describe_groups([GROUP])[0].exists is False  # classic groups only
    described = h.coordinator.consumer_group_describe([GROUP, "nope"])
    assert described[0].error_code is ErrorCode.none and described[0].group_epoch == 1
    assert described[0].members[0].assignment[0][1] == "orders"
    assert described[1].error_code is ErrorCode.group_id_not_found
    assert h.coordinator.delete_groups([GROUP])[0].error_code is ErrorCode.non_empty_group
    h.heartbeat("a", -1)
    assert h.coordinator.list_groups().groups[0].group_state == "Empty"
    assert h.coordinator.delete_groups([GROUP])[0].error_code is ErrorCode.none
    assert h.coordinator.list_groups().groups == ()


# --- offsets ------------------------------------------------------------------------------


def commit(h: Kip848, member_id: str, epoch: int, version: int = 9) -> ErrorCode:
    result = h.coordinator.commit_offsets(
        GROUP,
        member_id,
        epoch,
        [OffsetCommitPartition("orders", 0, 42)],
        member_epoch_capable=version >= 9,
    )
    return result.partitions[0].error_code


def test_offset_commits_are_checked_against_the_member_epoch() -> None:
    h = Kip848()
    a, _ = h.join("a")
    assert commit(h, "a", a.epoch) is ErrorCode.none
    assert commit(h, "a", a.epoch - 1) is ErrorCode.stale_member_epoch
    assert commit(h, "x", a.epoch) is ErrorCode.unknown_member_id
    assert commit(h, "a", a.epoch, version=8) is ErrorCode.unsupported_version
    assert commit(h, "", -1) is ErrorCode.unknown_member_id  # only members while not empty
    fetched = h.coordinator.fetch_offsets(GROUP, [("orders", 0)], member_id="a", member_epoch=0)
    assert fetched.error_code is ErrorCode.stale_member_epoch
    fetched = h.coordinator.fetch_offsets(GROUP, [("orders", 0)], member_id="a", member_epoch=1)
    assert fetched.partitions[0].committed_offset == 42
    assert h.coordinator.fetch_offsets(GROUP, None).error_code is ErrorCode.none  # admin
    h.heartbeat("a", -1)
    assert commit(h, "", -1) is ErrorCode.none  # an empty group takes admin commits


def test_offset_delete_refuses_topics_the_group_subscribes_to() -> None:
    h = Kip848()
    a, _ = h.join("a")
    commit(h, "a", a.epoch)
    result = h.coordinator.delete_offsets(GROUP, [("orders", 0)])
    assert result.partitions[0].error_code is ErrorCode.group_subscribed_to_topic


def test_offsets_of_unsubscribed_topics_expire_and_an_empty_group_goes_with_its_offsets() -> None:
    h = Kip848(CoordinatorConfig(offsets_retention_minutes=1))
    a, _ = h.join("a")
    commit(h, "a", a.epoch)
    h.coordinator.commit_offsets(
        GROUP, "a", a.epoch, [OffsetCommitPartition("audit", 0, 1)], member_epoch_capable=True
    )
    h.clock.advance(61_000)
    h.poll(a)
    assert h.coordinator.expire_offsets() == 1  # audit: not subscribed
    h.heartbeat("a", -1)
    assert h.coordinator.expire_offsets() == 1
    assert GROUP not in h.coordinator.consumer.groups


# --- replay -------------------------------------------------------------------------------


def test_a_restarted_coordinator_replays_epochs_members_and_assignments() -> None:
    h = Kip848()
    a, _ = h.join("a", instance_id="i-a")
    b, _ = h.join("b")
    h.poll(a, report=False)  # a is mid-revocation when the broker restarts
    commit(h, "a", a.epoch)
    before = h.group()
    snapshot = {
        m.member_id: (m.member_epoch, m.state, m.assigned, m.pending_revocation)
        for m in before.members.values()
    }
    h2 = h.restart()
    group = h2.group()
    assert (group.group_epoch, group.assignment_epoch) == (before.group_epoch, 2)
    assert group.target == before.target and group.static_members == {"i-a": "a"}
    assert {
        m.member_id: (m.member_epoch, m.state, m.assigned, m.pending_revocation)
        for m in group.members.values()
    } == snapshot
    assert group.owners == before.owners
    # The members carry on where they were.
    h2.converge(a, b)
    assert a.owned | b.owned == all_orders(h2) and not a.owned & b.owned
    assert h2.coordinator.fetch_offsets(GROUP, [("orders", 0)]).partitions[0].committed_offset == 42
    # Their sessions were re-armed at load: silence now fences them.
    h2.timers.advance(45_001)
    assert h2.group().members == {}


def test_a_group_whose_member_subscribes_to_nothing_survives_a_restart() -> None:
    # Found by test_replay_property: no subscription means no epoch bump and no group record.
    h = Kip848()
    h.join("a", topics=())
    group = h.restart().group()
    assert list(group.members) == ["a"] and group.group_epoch == 0


def test_a_restart_after_the_group_was_deleted_does_not_bring_it_back() -> None:
    h = Kip848()
    h.join("a")
    h.heartbeat("a", -1)
    h.coordinator.delete_groups([GROUP])
    assert GROUP not in h.restart().coordinator.consumer.groups


def test_compaction_keeps_consumer_groups() -> None:
    h = Kip848()
    a, _ = h.join("a")
    b, _ = h.join("b")
    h.converge(a, b)
    live = h.coordinator.live_records()
    h.log.compact(live)
    group = h.restart().group()
    assert set(group.members) == {"a", "b"} and group.group_epoch == 2


# --- rebalance history ----------------------------------------------------------------------


def test_each_epoch_gets_a_history_entry_with_its_trigger_and_convergence_time() -> None:
    h = Kip848()
    a, _ = h.join("a")
    first = h.coordinator.rebalance_history(GROUP)[0]
    assert (first.generation_id, first.trigger, first.outcome, first.stopped_ms) == (
        1,
        RebalanceTrigger.JOIN,
        "Stable",
        0,  # nothing was being consumed before
    )
    h.clock.advance(100)
    b, _ = h.join("b")
    h.clock.advance(1_000)
    h.poll(a)  # a learns what to revoke
    h.poll(a)  # and acknowledges at once: those partitions are released now
    h.clock.advance(4_000)
    h.poll(b)  # and consumed again 4 s later
    entry = h.coordinator.rebalance_history(GROUP)[-1]
    assert (entry.generation_id, entry.trigger, entry.member_id) == (2, RebalanceTrigger.JOIN, "b")
    assert (entry.end_ms - entry.start_ms, entry.stopped_ms) == (5_000, 4_000)
    assert entry.protocol_name == "uniform"
    assert sorted(m.assigned_partitions for m in entry.members) == [3, 3]


def test_an_epoch_superseded_before_convergence_is_recorded_as_such() -> None:
    h = Kip848()
    a, _ = h.join("a")
    h.join("b")
    c, _ = h.join("c")
    outcomes = [(e.generation_id, e.outcome) for e in h.coordinator.rebalance_history(GROUP)]
    assert outcomes == [(1, "Stable"), (2, "Superseded")]
    assert h.group().history.in_progress is not None


# --- assignors --------------------------------------------------------------------------------


def specs(topics: Topics, members: dict[str, tuple[str, ...]], current=None):  # type: ignore[no-untyped-def]
    current = current or {}
    return {
        m: MemberSpec(m, None, frozenset(topics.id(t) for t in ts), current.get(m, frozenset()))
        for m, ts in members.items()
    }


def test_uniform_balances_across_topics_and_members_and_is_sticky() -> None:
    topics = Topics({"a": 5, "b": 3})
    sizes = {topics.id("a"): 5, topics.id("b"): 3}
    first = assign_uniform(specs(topics, {"m1": ("a", "b"), "m2": ("a", "b")}), sizes)
    assert sorted(len(p) for p in first.values()) == [4, 4]
    second = assign_uniform(
        specs(topics, {"m1": ("a", "b"), "m2": ("a", "b"), "m3": ("a", "b")}, first), sizes
    )
    assert sorted(len(p) for p in second.values()) == [2, 3, 3]
    assert all(second[m] <= first[m] for m in ("m1", "m2"))
    everything = frozenset().union(*second.values())
    assert len(everything) == 8 == sum(len(p) for p in second.values())


def test_uniform_respects_different_subscriptions() -> None:
    topics = Topics({"a": 4, "b": 4})
    sizes = {topics.id("a"): 4, topics.id("b"): 4}
    result = assign_uniform(specs(topics, {"m1": ("a",), "m2": ("a", "b")}), sizes)
    assert all(t == topics.id("a") for t, _ in result["m1"])
    assert len(result["m1"]) + len(result["m2"]) == 8 and len(result["m1"]) == 4


def test_range_gives_contiguous_ranges_per_topic() -> None:
    topics = Topics({"a": 5})
    result = assign_range(specs(topics, {"m1": ("a",), "m2": ("a",)}), {topics.id("a"): 5})
    a = topics.id("a")
    assert result == {"m1": frozenset({(a, 0), (a, 1), (a, 2)}), "m2": frozenset({(a, 3), (a, 4)})}


def test_records_round_trip_through_the_codec() -> None:
    h = Kip848()
    a, _ = h.join("a", instance_id="i", regex="x.*")
    kinds = {key[:2] for key, _ in h.log.records}
    assert {b"\x00\x03", b"\x00\x05", b"\x00\x06", b"\x00\x07", b"\x00\x08"} <= kinds
    assert h.restart().group().members["a"].subscribed_topic_regex == "x.*"
    assert isinstance(OffsetValue, type) and default_config().consumer_assignors[0] == "uniform"


def test_a_member_reports_partitions_as_unassigned_once_a_topic_is_deleted() -> None:
    h = Kip848()
    a, _ = h.join("a", topics=("orders", "audit"))
    assert len(a.owned) == 8
    h.topics._topics.pop("audit")  # deleted
    h.poll(a)
    assert a.owned == all_orders(h)
    assert isinstance(Member, type)
