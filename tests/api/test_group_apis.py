"""Request in, response out, at the lowest and highest version of the group and offset APIs:
one member joins, syncs, heartbeats, commits and leaves; the coordinator's timers run on
manual time."""

from __future__ import annotations

import datetime

import pytest

from katka.api import (
    consumer_group_describe,
    consumer_group_heartbeat,
    delete_groups,
    describe_groups,
    heartbeat,
    join_group,
    leave_group,
    list_groups,
    offset_commit,
    offset_delete,
    offset_fetch,
    sync_group,
)
from katka.errors import ErrorCode
from tests.api.harness import ApiHarness, edges

SESSION = datetime.timedelta(seconds=10)
GROUP = "payments"


def join(api: ApiHarness, version: int, member_id: str = "") -> tuple[str, int]:
    """(member id, generation) of a lone member; v4+ first asks for a member id (KIP-394)."""
    fields = dict(
        group_id=GROUP,
        session_timeout=SESSION,
        rebalance_timeout=SESSION,
        protocol_type="consumer",
        protocols=[{"name": "range", "metadata": b"m"}],
    )
    response = api.call(join_group, version, member_id=member_id, **fields)
    if response.error_code == ErrorCode.member_id_required:
        response = api.call(join_group, version, member_id=response.member_id, **fields)
    assert response.error_code == ErrorCode.none
    assert response.leader == response.member_id
    return response.member_id, response.generation_id


def join_and_sync(api: ApiHarness, join_version: int, sync_version: int) -> tuple[str, int]:
    member_id, generation = join(api, join_version)
    response = api.call(
        sync_group,
        sync_version,
        group_id=GROUP,
        generation_id=generation,
        member_id=member_id,
        protocol_type="consumer",
        protocol_name="range",
        assignments=[{"member_id": member_id, "assignment": b"mine"}],
    )
    assert response.error_code == ErrorCode.none and response.assignment == b"mine"
    return member_id, generation


def commit(api: ApiHarness, version: int, member_id: str, generation: int, offset: int) -> None:
    response = api.call(
        offset_commit,
        version,
        group_id=GROUP,
        generation_id_or_member_epoch=generation,
        member_id=member_id,
        topics=[
            {
                "name": "orders",
                "partitions": [
                    {"partition_index": 0, "committed_offset": offset, "committed_metadata": ""},
                    {"partition_index": 1, "committed_offset": offset, "committed_metadata": ""},
                ],
            }
        ],
    )
    assert [(t.name, [p.error_code for p in t.partitions]) for t in response.topics] == [
        ("orders", [ErrorCode.none, ErrorCode.none])
    ]


@edges(join_group)
def test_join_group_answers_a_lone_member_as_its_leader(api: ApiHarness, version: int) -> None:
    member_id, generation = join(api, version)
    assert member_id and generation == 1


@edges(sync_group)
def test_sync_group_hands_the_leader_its_assignment(api: ApiHarness, version: int) -> None:
    join_and_sync(api, join_group.VERSIONS.stop - 1, version)


@edges(heartbeat)
def test_heartbeat_of_a_member_and_of_a_stranger(api: ApiHarness, version: int) -> None:
    member_id, generation = join_and_sync(api, 9, 5)
    fields = dict(group_id=GROUP, generation_id=generation)
    assert api.call(heartbeat, version, member_id=member_id, **fields).error_code == 0
    stranger = api.call(heartbeat, version, member_id="nobody", **fields)
    assert stranger.error_code == ErrorCode.unknown_member_id


@edges(leave_group)
def test_leave_group_empties_the_group(api: ApiHarness, version: int) -> None:
    member_id, _ = join_and_sync(api, 9, 5)
    response = api.call(
        leave_group,
        version,
        group_id=GROUP,
        member_id=member_id,
        members=[{"member_id": member_id, "group_instance_id": None}],
    )
    assert response.error_code == ErrorCode.none
    (summary,) = api.node.coordinator.group_summaries()
    assert summary.state == "Empty"


@edges(list_groups)
def test_list_groups_lists_a_stable_group(api: ApiHarness, version: int) -> None:
    join_and_sync(api, 9, 5)
    response = api.call(list_groups, version, states_filter=[], types_filter=[])
    assert response.error_code == ErrorCode.none
    assert [(g.group_id, g.protocol_type) for g in response.groups] == [(GROUP, "consumer")]


@edges(describe_groups)
def test_describe_groups_shows_members_and_unknown_groups_as_dead(
    api: ApiHarness, version: int
) -> None:
    member_id, _ = join_and_sync(api, 9, 5)
    response = api.call(describe_groups, version, groups=[GROUP, "ghost"])
    payments, ghost = response.groups
    assert payments.group_state == "Stable"
    assert [m.member_id for m in payments.members] == [member_id]
    assert ghost.group_state == "Dead"
    # v6 (KIP-1043): an unknown group is GROUP_ID_NOT_FOUND with Kafka's message.
    if version >= 6:
        assert (ghost.error_code, ghost.error_message) == (
            ErrorCode.group_id_not_found,
            "Group ghost not found.",
        )
    else:
        assert ghost.error_code == ErrorCode.none


@edges(offset_commit)
def test_offset_commit_and_offset_fetch_round_trip(api: ApiHarness, version: int) -> None:
    api.node.topics.create_topic("orders", 2, {})
    # v0 has no member or generation: a commit from outside any generation, as a simple
    # consumer's (a live group refuses it, test_offset_commit_v0_...).
    member_id, generation = join_and_sync(api, 9, 5) if version > 0 else ("", -1)
    commit(api, version, member_id, generation, 42)
    committed = api.node.coordinator.fetch_offsets(GROUP, None)
    assert {(p.partition, p.committed_offset) for p in committed.partitions} == {(0, 42), (1, 42)}


@pytest.mark.parametrize("version", [1, offset_commit.VERSIONS[-1]], ids=lambda v: f"v{v}")
def test_offset_commit_of_a_stale_generation_is_refused(api: ApiHarness, version: int) -> None:
    api.node.topics.create_topic("orders", 1, {})
    member_id, generation = join_and_sync(api, 9, 5)
    response = api.call(
        offset_commit,
        version,
        group_id=GROUP,
        generation_id_or_member_epoch=generation + 5,
        member_id=member_id,
        topics=[{"name": "orders", "partitions": [{"partition_index": 0, "committed_offset": 1}]}],
    )
    assert response.topics[0].partitions[0].error_code == ErrorCode.illegal_generation


@edges(offset_fetch)
def test_offset_fetch_answers_committed_and_uncommitted_partitions(
    api: ApiHarness, version: int
) -> None:
    api.node.topics.create_topic("orders", 2, {})
    member_id, generation = join_and_sync(api, 9, 5)
    commit(api, 9, member_id, generation, 7)
    wanted = [{"name": "orders", "partition_indexes": [0, 1]}]
    response = api.call(
        offset_fetch,
        version,
        group_id=GROUP,
        topics=wanted,
        groups=[{"group_id": GROUP, "member_id": None, "member_epoch": -1, "topics": wanted}],
    )
    topics = response.groups[0].topics if version >= 8 else response.topics
    assert [(t.name, [p.committed_offset for p in t.partitions]) for t in topics] == [
        ("orders", [7, 7])
    ]


@edges(offset_delete)
def test_offset_delete_of_an_empty_group(api: ApiHarness, version: int) -> None:
    api.node.topics.create_topic("orders", 2, {})
    member_id, generation = join_and_sync(api, 9, 5)
    commit(api, 9, member_id, generation, 3)
    api.call(leave_group, 0, group_id=GROUP, member_id=member_id)
    response = api.call(
        offset_delete,
        version,
        group_id=GROUP,
        topics=[{"name": "orders", "partitions": [{"partition_index": 0}]}],
    )
    assert response.error_code == ErrorCode.none
    assert [(t.name, [p.error_code for p in t.partitions]) for t in response.topics] == [
        ("orders", [ErrorCode.none])
    ]
    left = api.node.coordinator.fetch_offsets(GROUP, None)
    assert [(p.partition, p.committed_offset) for p in left.partitions] == [(1, 3)]


@edges(delete_groups)
def test_delete_groups_deletes_an_empty_group_and_refuses_a_live_one(
    api: ApiHarness, version: int
) -> None:
    api.node.topics.create_topic("orders", 1, {})
    join_and_sync(api, 9, 5)
    standalone = api.call(
        offset_commit,
        2,
        group_id="idle",
        generation_id_or_member_epoch=-1,
        member_id="",
        topics=[{"name": "orders", "partitions": [{"partition_index": 0, "committed_offset": 1}]}],
    )
    assert standalone.topics[0].partitions[0].error_code == ErrorCode.none
    response = api.call(delete_groups, version, groups_names=[GROUP, "idle", "ghost"])
    assert [(r.group_id, r.error_code) for r in response.results] == [
        (GROUP, ErrorCode.non_empty_group),
        ("idle", ErrorCode.none),
        ("ghost", ErrorCode.group_id_not_found),
    ]
    assert not api.node.coordinator.fetch_offsets("idle", None).partitions


@edges(consumer_group_heartbeat)
def test_consumer_group_heartbeat_joins_and_assigns(api: ApiHarness, version: int) -> None:
    api.node.topics.create_topic("orders", 2, {})
    response = api.call(
        consumer_group_heartbeat,
        version,
        group_id="kip848",
        member_id="m-1",
        member_epoch=0,
        rebalance_timeout=SESSION,
        subscribed_topic_names=["orders"],
        topic_partitions=[],
    )
    assert response.error_code == ErrorCode.none
    assert response.member_epoch >= 1
    (assigned,) = response.assignment.topic_partitions
    assert tuple(assigned.partitions) == (0, 1)


@edges(consumer_group_describe)
def test_consumer_group_describe_shows_a_kip848_group(api: ApiHarness, version: int) -> None:
    api.node.topics.create_topic("orders", 1, {})
    api.call(
        consumer_group_heartbeat,
        0,
        group_id="kip848",
        member_id="m-1",
        member_epoch=0,
        rebalance_timeout=SESSION,
        subscribed_topic_names=["orders"],
        topic_partitions=[],
    )
    response = api.call(consumer_group_describe, version, group_ids=["kip848", "ghost"])
    described, ghost = response.groups
    assert described.error_code == ErrorCode.none
    assert [m.member_id for m in described.members] == ["m-1"]
    assert ghost.error_code == ErrorCode.group_id_not_found
