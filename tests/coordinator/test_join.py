"""JoinGroup/SyncGroup: member ids, leader election, generations, protocol selection, timeouts."""

from katka.coordinator.classic.consumer_protocol import encode_assignment
from katka.coordinator.history import RebalanceTrigger
from katka.errors import ErrorCode

from .harness import GROUP, Harness, subscription


def test_first_join_at_v4_returns_member_id_required_and_a_pending_member_id():
    h = Harness()
    reply = h.join(client_id="billing", version=4)
    result = reply.get()
    assert result.error_code is ErrorCode.member_id_required
    assert result.member_id.startswith("billing-")
    assert result.generation_id == -1
    # The member is pending: the group waits for it, but it is not a member yet.
    described = h.coordinator.describe_groups([GROUP])[0]
    assert described.group_state == "Empty" and described.members == ()
    rejoin = h.join(result.member_id, client_id="billing", version=4)
    assert rejoin.parked
    h.timers.run_due()
    assert rejoin.get().error_code is ErrorCode.none
    assert rejoin.get().member_id == result.member_id


def test_join_before_v4_gets_a_member_id_without_a_second_round_trip():
    h = Harness()
    reply = h.join(version=3)
    h.timers.run_due()
    assert reply.get().error_code is ErrorCode.none
    assert reply.get().member_id.startswith("consumer-")
    assert reply.get().leader_id == reply.get().member_id


def test_a_pending_member_holds_up_the_join_phase_until_its_session_timeout():
    h = Harness()
    g = h.stable_group(1)
    pending = h.join(session_timeout_ms=8_000).get().member_id
    assert h.state() == "Stable"  # a pending member does not start a rebalance
    rejoin = h.join(g.leader)
    assert rejoin.parked  # the join phase waits for the pending member to rejoin
    h.advance(7_999)
    assert rejoin.parked
    h.advance(1)
    assert rejoin.get().error_code is ErrorCode.none
    assert [m.member_id for m in rejoin.get().members] == [g.leader]
    assert h.join(pending).get().error_code is ErrorCode.unknown_member_id


def test_three_members_join_one_leader_gets_the_members_and_sync_hands_out_assignments():
    h = Harness()
    replies = [h.join_new(client_id=f"c{i}") for i in range(3)]
    assert all(r.parked for r in replies)
    h.timers.run_due()
    results = [r.get() for r in replies]
    leader = results[0].member_id
    assert {r.leader_id for r in results} == {leader}
    assert {r.generation_id for r in results} == {1}
    assert {r.protocol_name for r in results} == {"range"}
    assert [m.member_id for m in results[0].members] == [r.member_id for r in results]
    assert results[0].members[1].metadata == subscription()
    assert results[1].members == () and results[2].members == ()
    assert h.state() == "CompletingRebalance"

    f1 = h.sync(results[1].member_id, 1)
    f2 = h.sync(results[2].member_id, 1)
    assert f1.parked and f2.parked  # followers wait for the leader
    assignments = {r.member_id: encode_assignment({"orders": [i]}) for i, r in enumerate(results)}
    del assignments[results[2].member_id]  # the leader may leave a member out
    lead = h.sync(leader, 1, assignments)
    assert lead.get().assignment == assignments[leader]
    assert f1.get().assignment == assignments[results[1].member_id]
    assert f2.get().error_code is ErrorCode.none and f2.get().assignment == b""
    assert f1.get().protocol_type == "consumer" and f1.get().protocol_name == "range"
    assert h.state() == "Stable"


def test_each_completed_rebalance_increments_the_generation():
    h = Harness()
    g = h.stable_group(2)
    assert g.generation == 1
    third = h.join_new(client_id="late")
    assert h.state() == "PreparingRebalance"
    rejoins = [h.join(m) for m in g.member_ids]
    results = [r.get() for r in [*rejoins, third]]
    assert {r.generation_id for r in results} == {2}
    assert h.heartbeat(g.member_ids[0], 1) is ErrorCode.illegal_generation


def test_the_protocol_is_the_common_one_most_members_prefer():
    h = Harness()
    sub = subscription()
    a = h.join_new(protocols=[("roundrobin", sub), ("range", sub), ("sticky", sub)])
    b = h.join_new(protocols=[("roundrobin", sub), ("range", sub)])
    c = h.join_new(protocols=[("range", sub), ("roundrobin", sub)])
    h.timers.run_due()
    assert {r.get().protocol_name for r in (a, b, c)} == {"roundrobin"}
    # "sticky" is not supported by everyone, so a member preferring it votes for its next choice.
    h2 = Harness()
    x = h2.join_new(protocols=[("sticky", sub), ("range", sub)])
    y = h2.join_new(protocols=[("range", sub), ("sticky", sub)])
    z = h2.join_new(protocols=[("range", sub)])
    h2.timers.run_due()
    assert {r.get().protocol_name for r in (x, y, z)} == {"range"}


def test_a_member_without_a_common_protocol_or_type_is_inconsistent():
    h = Harness()
    h.stable_group(1)
    other = h.join(protocols=[("cooperative-sticky", subscription())])
    assert other.get().error_code is ErrorCode.inconsistent_group_protocol
    connect = h.join(protocol_type="connect")
    assert connect.get().error_code is ErrorCode.inconsistent_group_protocol
    empty = Harness().join(protocols=[])
    assert empty.get().error_code is ErrorCode.inconsistent_group_protocol


def test_session_timeouts_outside_the_broker_bounds_are_rejected():
    h = Harness()
    assert h.join(session_timeout_ms=5_999).get().error_code is ErrorCode.invalid_session_timeout
    too_long = h.join(session_timeout_ms=1_800_001)
    assert too_long.get().error_code is ErrorCode.invalid_session_timeout
    assert h.coordinator.list_groups().groups == ()  # the failed join left no group behind


def test_joins_beyond_group_max_size_are_refused():
    from katka.coordinator.config import CoordinatorConfig

    h = Harness(CoordinatorConfig(group_initial_rebalance_delay_ms=0, group_max_size=2))
    h.stable_group(2)
    third = h.join_new(client_id="third")
    assert third.get().error_code is ErrorCode.group_max_size_reached
    assert h.state() == "Stable"


def test_a_member_that_does_not_rejoin_within_the_rebalance_timeout_is_removed():
    h = Harness()
    g = h.stable_group(2, rebalance_timeout_ms=30_000)
    slow = g.followers[0]
    rejoin = h.join(g.leader)  # the leader rejoins: a rebalance starts
    assert h.state() == "PreparingRebalance"
    for _ in range(5):  # the slow member's heartbeat thread is alive, its poll loop is not
        h.advance(5_000)
        assert h.heartbeat(slow, 1) is ErrorCode.rebalance_in_progress
        assert rejoin.parked
    h.advance(5_000)
    result = rejoin.get()
    assert result.generation_id == 2
    assert [m.member_id for m in result.members] == [g.leader]
    assert h.heartbeat(slow, 1) is ErrorCode.unknown_member_id
    h.sync(g.leader, 2, {g.leader: b""})
    entry = h.coordinator.rebalance_history(GROUP)[-1]
    assert entry.trigger is RebalanceTrigger.METADATA_CHANGE
    assert [(r.member_id, r.trigger) for r in entry.removed] == [
        (slow, RebalanceTrigger.POLL_TIMEOUT)
    ]


def test_the_rebalance_timeout_is_the_largest_among_members():
    h = Harness()
    g = h.stable_group(1, rebalance_timeout_ms=10_000)
    b = h.join_new(client_id="patient", rebalance_timeout_ms=45_000)
    assert h.timers.deadline(("join", GROUP)) == h.clock.now_ms() + 45_000
    for _ in range(8):  # the old member stays alive but never rejoins
        h.advance(5_000)
        assert h.heartbeat(g.leader, 1) is ErrorCode.rebalance_in_progress
    h.advance(4_999)
    assert b.parked
    h.advance(1)
    assert b.get().error_code is ErrorCode.none
    assert h.heartbeat(g.leader, 1) is ErrorCode.unknown_member_id


def test_a_member_that_misses_its_session_timeout_is_evicted_and_the_group_rebalances():
    h = Harness()
    g = h.stable_group(2, session_timeout_ms=10_000)
    alive, dead = g.member_ids
    for _ in range(2):
        h.advance(4_000)
        assert h.heartbeat(alive, 1) is ErrorCode.none
    h.advance(1_999)
    assert h.state() == "Stable"
    h.advance(1)
    assert h.state() == "PreparingRebalance"  # `dead` expired at 10 s
    assert h.heartbeat(alive, 1) is ErrorCode.rebalance_in_progress
    rejoin = h.join(alive)
    assert rejoin.get().generation_id == 2
    assert [m.member_id for m in rejoin.get().members] == [alive]
    h.sync(alive, 2, {alive: b""})
    entry = h.coordinator.rebalance_history(GROUP)[-1]
    assert entry.trigger is RebalanceTrigger.SESSION_TIMEOUT
    assert entry.member_id == dead


def test_the_initial_delayed_join_waits_and_extends_while_new_members_arrive():
    from katka.coordinator.config import CoordinatorConfig

    h = Harness(CoordinatorConfig(group_initial_rebalance_delay_ms=3_000))
    start = h.clock.now_ms()
    a = h.join_new(client_id="a", rebalance_timeout_ms=10_000)
    h.advance(2_000)
    b = h.join_new(client_id="b", rebalance_timeout_ms=10_000)
    h.advance(999)
    assert a.parked and b.parked
    h.advance(1)  # 3 s: a member arrived during the delay, so wait another 3 s
    assert a.parked
    h.advance(2_999)
    assert a.parked
    h.advance(1)
    assert h.clock.now_ms() - start == 6_000
    assert a.get().generation_id == b.get().generation_id == 1
    assert len(a.get().members) == 2


def test_the_initial_delay_never_extends_past_the_rebalance_timeout():
    from katka.coordinator.config import CoordinatorConfig

    h = Harness(CoordinatorConfig(group_initial_rebalance_delay_ms=3_000))
    start = h.clock.now_ms()
    first = h.join_new(client_id="first", rebalance_timeout_ms=7_000)
    while first.parked:
        h.join_new(client_id="another", rebalance_timeout_ms=7_000)  # keeps arriving
        h.advance(1_000)
    assert h.clock.now_ms() - start <= 7_000


def test_a_rejoin_during_completing_rebalance_with_the_same_metadata_returns_the_generation():
    h = Harness()
    a = h.join_new(client_id="a")
    b = h.join_new(client_id="b")
    h.timers.run_due()
    again = h.join(b.get().member_id)
    assert again.get().generation_id == 1 and again.get().members == ()
    leader_again = h.join(a.get().member_id)
    assert len(leader_again.get().members) == 2
    assert h.state() == "CompletingRebalance"


def test_back_to_back_rebalances_send_parked_followers_back_to_join():
    h = Harness()
    a = h.join_new(client_id="a")
    b = h.join_new(client_id="b")
    h.timers.run_due()
    follower_sync = h.sync(b.get().member_id, 1)
    assert follower_sync.parked
    c = h.join_new(client_id="c")  # a new member during CompletingRebalance
    assert follower_sync.get().error_code is ErrorCode.rebalance_in_progress
    assert h.state() == "PreparingRebalance"
    assert h.sync(a.get().member_id, 1).get().error_code is ErrorCode.rebalance_in_progress
    ra, rb = h.join(a.get().member_id), h.join(b.get().member_id)
    assert {r.get().generation_id for r in (ra, rb, c)} == {2}


def test_members_that_never_send_sync_group_are_removed_and_the_group_rebalances():
    h = Harness()
    a = h.join_new(client_id="a", rebalance_timeout_ms=20_000, session_timeout_ms=30_000)
    b = h.join_new(client_id="b", rebalance_timeout_ms=20_000, session_timeout_ms=30_000)
    h.timers.run_due()
    leader = a.get().member_id
    h.advance(5_000)
    h.heartbeat(b.get().member_id, 1)
    h.sync(leader, 1, {leader: b""})
    h.advance(14_999)
    assert h.state() == "Stable"
    h.advance(1)
    assert h.state() == "PreparingRebalance"
    assert h.heartbeat(b.get().member_id, 1) is ErrorCode.unknown_member_id
    assert h.heartbeat(leader, 1) is ErrorCode.rebalance_in_progress


def test_sync_group_v5_checks_protocol_type_and_name():
    h = Harness()
    a = h.join_new()
    h.timers.run_due()
    member = a.get().member_id
    wrong_type = h.sync(member, 1, protocol_type="connect")
    assert wrong_type.get().error_code is ErrorCode.inconsistent_group_protocol
    wrong_name = h.sync(member, 1, protocol_type="consumer", protocol_name="roundrobin")
    assert wrong_name.get().error_code is ErrorCode.inconsistent_group_protocol
    ok = h.sync(member, 1, {member: b"x"}, protocol_type="consumer", protocol_name="range")
    assert ok.get().error_code is ErrorCode.none


def test_sync_group_errors_for_unknown_members_generations_and_groups():
    h = Harness()
    g = h.stable_group(1)
    assert h.sync("ghost", 1).get().error_code is ErrorCode.unknown_member_id
    assert h.sync(g.leader, 7).get().error_code is ErrorCode.illegal_generation
    assert h.sync("m", 1, group="nope").get().error_code is ErrorCode.unknown_member_id
    assert h.sync("m", 1, group="").get().error_code is ErrorCode.invalid_group_id
    # In Stable a late SyncGroup just returns the current assignment.
    assert h.sync(g.leader, 1).get().assignment == g.assignments[g.leader]


def test_heartbeat_errors_follow_the_group_state():
    h = Harness()
    a = h.join_new(client_id="a")
    b = h.join_new(client_id="b")
    h.timers.run_due()
    ma, mb = a.get().member_id, b.get().member_id
    assert h.heartbeat(mb, 1) is ErrorCode.none  # CompletingRebalance: fine since Kafka 2.x
    h.sync(ma, 1, {})
    assert h.heartbeat(mb, 1) is ErrorCode.none  # Stable
    assert h.heartbeat(mb, 0) is ErrorCode.illegal_generation
    assert h.heartbeat("ghost", 1) is ErrorCode.unknown_member_id
    assert h.heartbeat(mb, 1, group="other") is ErrorCode.unknown_member_id
    assert h.heartbeat(mb, 1, group="") is ErrorCode.invalid_group_id
    h.join(ma)  # the leader rejoins
    assert h.heartbeat(mb, 1) is ErrorCode.rebalance_in_progress  # PreparingRebalance


def test_a_join_with_an_unknown_member_id_is_told_to_reset():
    h = Harness()
    h.stable_group(1)
    assert h.join("made-up").get().error_code is ErrorCode.unknown_member_id
    assert h.join("made-up", group="fresh").get().error_code is ErrorCode.unknown_member_id
