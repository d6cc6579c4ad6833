"""Stale timer fires do nothing; rebalance history records trigger, duration and assignments."""

import logging

from katka.clock import ManualClock
from katka.coordinator.classic import rebalance
from katka.coordinator.classic.consumer_protocol import encode_assignment
from katka.coordinator.classic.timeouts import HeartbeatExpiry, JoinExpiry, SyncExpiry
from katka.coordinator.config import CoordinatorConfig
from katka.coordinator.effects import Context
from katka.coordinator.history import RebalanceTrigger
from katka.coordinator.results import LeaveMember
from katka.coordinator.timers import ManualTimers
from katka.errors import ErrorCode

from .harness import GROUP, Harness


def group_of(h: Harness):
    return h.coordinator.classic.groups[GROUP]  # white-box: feed the domain a late timer event


def test_manual_timers_fire_in_deadline_order_and_rescheduling_replaces():
    clock = ManualClock(0)
    timers = ManualTimers(clock)
    fired: list[tuple[str, int]] = []
    timers.schedule("b", 200, lambda: fired.append(("b", clock.now_ms())))
    timers.schedule("a", 100, lambda: fired.append(("a", clock.now_ms())))
    timers.schedule("c", 150, lambda: fired.append(("c", clock.now_ms())))
    timers.schedule("c", 300, lambda: fired.append(("c2", clock.now_ms())))
    timers.cancel("b")
    timers.schedule("d", 120, lambda: timers.schedule("e", 130, lambda: fired.append(("e", 130))))
    timers.advance_to(250)
    assert fired == [("a", 100), ("e", 130)]
    assert clock.now_ms() == 250
    timers.advance_to(300)
    assert fired[-1] == ("c2", 300)


def test_a_join_timer_from_an_earlier_generation_does_nothing():
    h = Harness()
    g = h.stable_group(2)
    h.join(g.leader)  # PreparingRebalance at generation 1
    ctx = Context(h.clock.now_ms(), h.config)
    rebalance.on_timer(group_of(h), JoinExpiry(GROUP, generation_id=0), ctx)
    assert h.state() == "PreparingRebalance"
    assert ctx.fx.timer_ops == [] and ctx.fx.join_responses == {}
    # The current generation's timer does complete the phase.
    rebalance.on_timer(group_of(h), JoinExpiry(GROUP, generation_id=1), ctx)
    assert group_of(h).state.value == "CompletingRebalance"


def test_a_heartbeat_expiry_for_a_superseded_deadline_or_departed_member_does_nothing():
    h = Harness()
    g = h.stable_group(2)
    ctx = Context(h.clock.now_ms(), h.config)
    old_deadline = group_of(h).members[g.leader].heartbeat_deadline_ms
    h.advance(1_000)
    h.heartbeat(g.leader, 1)  # a newer deadline
    rebalance.on_timer(group_of(h), HeartbeatExpiry(GROUP, g.leader, old_deadline), ctx)
    rebalance.on_timer(group_of(h), HeartbeatExpiry(GROUP, "departed", old_deadline), ctx)
    assert h.state() == "Stable" and ctx.fx.timer_ops == []


def test_a_sync_timer_from_an_earlier_generation_does_nothing():
    h = Harness()
    a = h.join_new(client_id="a")
    b = h.join_new(client_id="b")
    h.timers.run_due()
    h.sync(a.get().member_id, 1, {})  # Stable
    h.join(a.get().member_id)  # the leader rejoins: PreparingRebalance
    h.join(b.get().member_id)  # generation 2, CompletingRebalance, nobody synced yet
    assert group_of(h).generation_id == 2
    ctx = Context(h.clock.now_ms(), h.config)
    rebalance.on_timer(group_of(h), SyncExpiry(GROUP, generation_id=1), ctx)
    assert h.state() == "CompletingRebalance" and len(group_of(h).members) == 2


def test_a_timer_for_a_deleted_group_does_nothing():
    h = Harness()
    h.commit("", -1, {("orders", 0): 1})
    h.coordinator.delete_groups([GROUP])
    h.coordinator.classic.on_timer(JoinExpiry(GROUP, 0), Context(h.clock.now_ms(), h.config))
    assert h.coordinator.list_groups().groups == ()


def test_rebalance_history_records_trigger_generation_duration_and_assignment_sizes(caplog):
    h = Harness(CoordinatorConfig(group_initial_rebalance_delay_ms=3_000))
    start = h.clock.now_ms()
    a = h.join_new(client_id="a", reason="first start")
    b = h.join_new(client_id="b")
    h.advance(6_000)  # b arrived during the initial delay, which extended it once
    leader, follower = a.get().member_id, b.get().member_id
    h.advance(500)  # the leader computes the assignment
    with caplog.at_level(logging.INFO, logger="katka.coordinator"):
        h.sync(
            leader,
            1,
            {
                leader: encode_assignment({"orders": [0, 1, 2], "audit": [0]}),
                follower: encode_assignment({"orders": [3, 4, 5]}),
            },
        )
    [entry] = h.coordinator.rebalance_history(GROUP)
    assert entry.generation_id == 1
    assert entry.trigger is RebalanceTrigger.JOIN
    assert (entry.member_id, entry.client_id, entry.reason) == (leader, "a", "first start")
    assert (entry.start_ms, entry.end_ms, entry.stopped_ms) == (start, start + 6_500, 6_500)
    assert entry.outcome == "Stable" and entry.join_rounds == 1
    assert [(m.member_id, m.assigned_partitions) for m in entry.members] == [
        (leader, 4),
        (follower, 3),
    ]
    lines = [
        r.getMessage() for r in caplog.records if "rebalance to generation 1" in r.getMessage()
    ]
    assert len(lines) == 1 and "trigger=join" in lines[0] and "6500 ms" in lines[0]


def test_a_rebalance_spanning_several_join_rounds_is_one_entry():
    h = Harness()
    a = h.join_new(client_id="a")
    h.timers.run_due()
    late = h.join_new(client_id="late")  # CompletingRebalance -> PreparingRebalance
    h.join(a.get().member_id)
    assert late.get().generation_id == 2
    h.sync(a.get().member_id, 2, {})
    [entry] = h.coordinator.rebalance_history(GROUP)
    assert entry.join_rounds == 2 and entry.generation_id == 2


def test_a_group_emptied_by_leaves_closes_its_rebalance_as_empty():
    h = Harness()
    g = h.stable_group(2)
    h.coordinator.leave_group(GROUP, [LeaveMember(m) for m in g.member_ids])
    entry = h.coordinator.rebalance_history(GROUP)[-1]
    assert entry.outcome == "Empty" and entry.trigger is RebalanceTrigger.LEAVE
    assert {r.member_id for r in entry.removed} == set(g.member_ids)


def test_history_is_bounded():
    h = Harness(CoordinatorConfig(group_initial_rebalance_delay_ms=0, rebalance_history_size=3))
    g = h.stable_group(1)
    for generation in range(2, 7):
        assert h.join(g.leader).get().generation_id == generation
        h.sync(g.leader, generation, {})
    history = h.coordinator.rebalance_history(GROUP)
    assert [e.generation_id for e in history] == [4, 5, 6]
    assert all(e.trigger is RebalanceTrigger.METADATA_CHANGE for e in history)
    assert h.heartbeat(g.leader, 6) is ErrorCode.none
