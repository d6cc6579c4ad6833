"""OffsetCommit/OffsetFetch/OffsetDelete/DeleteGroups and offset expiry (KIP-211)."""

from katka.coordinator.config import CoordinatorConfig
from katka.coordinator.results import LeaveMember, OffsetCommitPartition
from katka.errors import ErrorCode

from .harness import GROUP, Harness, subscription

DAY_MS = 24 * 3600 * 1000


def fetch(h: Harness, group: str = GROUP, partitions=None) -> dict:
    result = h.coordinator.fetch_offsets(group, partitions, require_stable=True)
    assert result.error_code is ErrorCode.none
    return {(p.topic, p.partition): p.committed_offset for p in result.partitions}


def test_members_commit_with_their_generation_and_member_id():
    h = Harness()
    g = h.stable_group(2)
    assert h.commit(g.leader, 1, {("orders", 0): 42}) == {("orders", 0): ErrorCode.none}
    assert fetch(h) == {("orders", 0): 42}
    stored = h.coordinator.fetch_offsets(GROUP, [("orders", 0)]).partitions[0]
    assert stored.committed_leader_epoch == 5


def test_commits_from_a_wrong_generation_or_unknown_member_are_rejected():
    h = Harness()
    g = h.stable_group(2)
    assert h.commit(g.leader, 0, {("orders", 0): 1}) == {
        ("orders", 0): ErrorCode.illegal_generation
    }
    assert h.commit("ghost", 1, {("orders", 0): 1}) == {("orders", 0): ErrorCode.unknown_member_id}
    # Generation -1 from a non-member of a non-empty group: only members may commit.
    assert h.commit("", -1, {("orders", 0): 1}) == {("orders", 0): ErrorCode.unknown_member_id}
    assert h.commit(g.leader, -1, {("orders", 0): 1}) == {
        ("orders", 0): ErrorCode.illegal_generation
    }
    assert fetch(h) == {}


def test_commits_during_completing_rebalance_are_refused_but_allowed_while_preparing():
    h = Harness()
    a = h.join_new(client_id="a")
    b = h.join_new(client_id="b")
    h.timers.run_due()
    ma, mb = a.get().member_id, b.get().member_id
    assert h.commit(mb, 1, {("orders", 1): 7}) == {("orders", 1): ErrorCode.rebalance_in_progress}
    h.sync(ma, 1, {})
    h.join(ma)  # PreparingRebalance: b may still commit what it processed
    assert h.commit(mb, 1, {("orders", 1): 8}) == {("orders", 1): ErrorCode.none}


def test_generation_minus_one_commits_create_a_simple_group_when_none_exists():
    h = Harness()
    assert h.commit("", -1, {("orders", 0): 5, ("payments", 2): 9}) == {
        ("orders", 0): ErrorCode.none,
        ("payments", 2): ErrorCode.none,
    }
    listed = h.coordinator.list_groups().groups
    assert [(g.group_id, g.protocol_type, g.group_state) for g in listed] == [(GROUP, "", "Empty")]
    assert fetch(h) == {("orders", 0): 5, ("payments", 2): 9}


def test_generation_minus_one_commits_are_accepted_by_an_empty_consumer_group():
    h = Harness()
    g = h.stable_group(1)
    h.coordinator.leave_group(GROUP, [LeaveMember(g.leader)])
    assert h.state() == "Empty"
    assert h.commit("", -1, {("orders", 3): 100}) == {("orders", 3): ErrorCode.none}


def test_commits_to_a_missing_group_with_a_generation_fail_by_api_version():
    h = Harness()
    assert h.commit("m", 3, {("orders", 0): 1}) == {("orders", 0): ErrorCode.illegal_generation}
    v9 = h.commit("m", 3, {("orders", 0): 1}, api_version=9)
    assert v9 == {("orders", 0): ErrorCode.group_id_not_found}
    assert h.coordinator.list_groups().groups == ()


def test_metadata_too_large_and_unknown_partitions_fail_per_partition():
    h = Harness(CoordinatorConfig(offset_metadata_max_bytes=10))
    result = h.coordinator.commit_offsets(
        GROUP,
        "",
        -1,
        [
            OffsetCommitPartition("orders", 0, 1, committed_metadata="x" * 10),
            OffsetCommitPartition("orders", 1, 1, committed_metadata="x" * 11),
            OffsetCommitPartition("orders", 99, 1),
            OffsetCommitPartition("nope", 0, 1),
            OffsetCommitPartition("orders", 2, 1, committed_metadata=None),
        ],
    )
    assert [r.error_code for r in result.partitions] == [
        ErrorCode.none,
        ErrorCode.offset_metadata_too_large,
        ErrorCode.unknown_topic_or_partition,
        ErrorCode.unknown_topic_or_partition,
        ErrorCode.none,
    ]
    fetched = h.coordinator.fetch_offsets(GROUP, None).partitions
    assert [(p.partition, p.metadata) for p in fetched] == [(0, "x" * 10), (2, "")]


def test_only_unknown_partitions_do_not_create_a_group():
    h = Harness()
    assert h.commit("", -1, {("nope", 0): 1}) == {("nope", 0): ErrorCode.unknown_topic_or_partition}
    assert h.coordinator.list_groups().groups == ()


def test_fetch_answers_minus_one_for_partitions_without_a_commit_and_for_unknown_groups():
    h = Harness()
    h.commit("", -1, {("orders", 0): 5})
    result = h.coordinator.fetch_offsets(GROUP, [("orders", 0), ("orders", 1)]).partitions
    assert [(p.committed_offset, p.committed_leader_epoch, p.metadata) for p in result] == [
        (5, 5, ""),
        (-1, -1, ""),
    ]
    assert fetch(h, "unknown-group", [("orders", 0)]) == {("orders", 0): -1}
    assert fetch(h, "unknown-group") == {}


def test_offsets_of_an_empty_consumer_group_expire_after_retention_counted_from_empty():
    h = Harness(CoordinatorConfig(group_initial_rebalance_delay_ms=0, offsets_retention_minutes=60))
    g = h.stable_group(1, session_timeout_ms=1_800_000)
    h.commit(g.leader, 1, {("orders", 0): 10})
    for _ in range(8):  # two hours: a Stable group's offsets never expire, however old
        h.advance(15 * 60_000)
        assert h.heartbeat(g.leader, 1) is ErrorCode.none
    assert fetch(h) == {("orders", 0): 10}
    h.coordinator.leave_group(GROUP, [LeaveMember(g.leader)])
    assert h.state() == "Empty"
    h.advance(3600 * 1000 - 1)
    assert h.coordinator.expire_offsets() == 0
    assert fetch(h) == {("orders", 0): 10}
    h.advance(1)
    h.coordinator.expire_offsets()  # (the periodic check may have run at this instant too)
    assert fetch(h) == {}
    # The Empty group without offsets is removed, with a tombstone in the log.
    assert h.coordinator.list_groups().groups == ()
    assert h.log.records[-1][1] is None


def test_the_periodic_expiry_timer_runs_every_check_interval():
    h = Harness(
        CoordinatorConfig(offsets_retention_minutes=1, offsets_retention_check_interval_ms=30_000)
    )
    h.commit("", -1, {("orders", 0): 1})  # a standalone consumer: expiry counts from the commit
    h.advance(59_999)  # the check at 30 s finds nothing to expire
    assert fetch(h) == {("orders", 0): 1}
    h.advance(1)  # the check at 60 s does
    assert fetch(h) == {}


def test_a_stable_consumer_group_drops_only_offsets_of_topics_it_no_longer_consumes():
    h = Harness(CoordinatorConfig(group_initial_rebalance_delay_ms=0, offsets_retention_minutes=1))
    h.commit("", -1, {("payments", 0): 3})  # committed while the group was Empty
    g = h.stable_group(1, session_timeout_ms=120_000)  # subscribes to "orders" only
    h.commit(g.leader, 1, {("orders", 0): 10})
    h.advance(61_000)
    h.heartbeat(g.leader, 1)
    h.coordinator.expire_offsets()
    assert fetch(h) == {("orders", 0): 10}


def test_delete_groups_removes_empty_groups_and_their_offsets_only():
    h = Harness()
    h.commit("", -1, {("orders", 0): 1}, group="simple")
    h.stable_group(1)
    results = h.coordinator.delete_groups(["simple", GROUP, "missing", "simple"])
    assert [(r.group_id, r.error_code) for r in results] == [
        ("simple", ErrorCode.none),
        (GROUP, ErrorCode.non_empty_group),
        ("missing", ErrorCode.group_id_not_found),
    ]
    assert fetch(h, "simple", [("orders", 0)]) == {("orders", 0): -1}
    assert [g.group_id for g in h.coordinator.list_groups().groups] == [GROUP]


def test_offset_delete_refuses_topics_the_group_is_subscribed_to():
    h = Harness()
    h.commit("", -1, {("orders", 0): 1, ("payments", 0): 2})
    h.stable_group(1, protocols=[("range", subscription("orders"))])
    result = h.coordinator.delete_offsets(GROUP, [("orders", 0), ("payments", 0), ("nope", 0)])
    assert result.error_code is ErrorCode.none
    assert [(p.topic, p.error_code) for p in result.partitions] == [
        ("orders", ErrorCode.group_subscribed_to_topic),
        ("payments", ErrorCode.none),
        ("nope", ErrorCode.unknown_topic_or_partition),
    ]
    assert fetch(h) == {("orders", 0): 1}
    missing = h.coordinator.delete_offsets("missing", [("orders", 0)])
    assert missing.error_code is ErrorCode.group_id_not_found and missing.partitions == ()


def test_offset_delete_on_a_non_consumer_group_in_use_is_non_empty_group():
    h = Harness()
    h.stable_group(1, protocol_type="connect")
    result = h.coordinator.delete_offsets(GROUP, [("orders", 0)])
    assert result.error_code is ErrorCode.non_empty_group and result.partitions == ()
