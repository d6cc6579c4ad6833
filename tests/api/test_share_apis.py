"""Request in, response out, at the lowest and highest version of the share group APIs
(KIP-932): heartbeat and describe, share fetch with piggybacked acknowledgements, share
acknowledge, and the errors of bad sessions and bad acknowledgements."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from katka.api import (
    alter_share_group_offsets,
    delete_groups,
    delete_share_group_offsets,
    describe_configs,
    describe_share_group_offsets,
    incremental_alter_configs,
    list_groups,
    share_acknowledge,
    share_fetch,
    share_group_describe,
    share_group_heartbeat,
)
from katka.coordinator.share.group_configs import GROUP_RESOURCE
from katka.coordinator.share.partition import AcknowledgeType
from katka.errors import ErrorCode
from katka.protocol.records import decode_records
from tests.api.harness import ApiHarness, edges
from tests.api.test_log_apis import batch, produce_to

GROUP = "queue"
NO_WAIT = datetime.timedelta(0)


def join(api: ApiHarness, member_id: str, topics: list[str]) -> Any:
    response = api.call(
        share_group_heartbeat,
        1,
        group_id=GROUP,
        member_id=member_id,
        member_epoch=0,
        subscribed_topic_names=topics,
    )
    assert response.error_code == ErrorCode.none
    return response


def topic_id(api: ApiHarness, name: str) -> uuid.UUID:
    info = api.node.topics.catalog.get(name)
    assert info is not None
    return info.topic_id


def share_fetch_call(
    api: ApiHarness,
    version: int,
    member_id: str,
    epoch: int,
    partitions: dict[tuple[uuid.UUID, int], list[tuple[int, int, int]]],
    max_records: int = 500,
    max_bytes: int = 1 << 20,
) -> Any:
    topics: dict[uuid.UUID, list[Any]] = {}
    for (tid, partition), acks in partitions.items():
        topics.setdefault(tid, []).append(
            {
                "partition_index": partition,
                "acknowledgement_batches": [
                    {"first_offset": f, "last_offset": la, "acknowledge_types": [t]}
                    for f, la, t in acks
                ],
            }
        )
    return api.call(
        share_fetch,
        version,
        group_id=GROUP,
        member_id=member_id,
        share_session_epoch=epoch,
        max_wait=NO_WAIT,
        min_bytes=1,
        max_bytes=max_bytes,
        max_records=max_records,
        batch_size=500,
        topics=[{"topic_id": t, "partitions": ps} for t, ps in topics.items()],
        forgotten_topics_data=[],
    )


def acquired(response: Any) -> list[tuple[int, int, int]]:
    return [
        (r.first_offset, r.last_offset, r.delivery_count)
        for topic in response.responses
        for partition in topic.partitions
        for r in partition.acquired_records
    ]


def earliest(api: ApiHarness) -> None:
    api.node.coordinator.share_partitions.group_configs[GROUP] = {
        "share.auto.offset.reset": "earliest"
    }


def jobs_holding(
    api: ApiHarness, values: list[bytes], members: tuple[str, ...] = ("m-1",)
) -> uuid.UUID:
    """A one-partition topic "jobs" holding `values`, read from the earliest offset by the
    share group's `members`; its topic id."""
    api.node.topics.create_topic("jobs", 1, {})
    earliest(api)
    for member in members:
        join(api, member, ["jobs"])
    produce_to(api, 3, "jobs", 0, batch(*values))
    return topic_id(api, "jobs")


@edges(share_group_heartbeat)
def test_share_group_heartbeat_gives_every_member_a_partition_when_members_outnumber_partitions(
    api: ApiHarness, version: int
) -> None:
    api.node.topics.create_topic("jobs", 2, {})
    for member in ("m-1", "m-2", "m-3"):
        join(api, member, ["jobs"])
    assigned = {}
    for member in ("m-1", "m-2", "m-3"):
        response = api.call(
            share_group_heartbeat,
            version,
            group_id=GROUP,
            member_id=member,
            member_epoch=api.node.coordinator.share.groups[GROUP].members[member].member_epoch,
            subscribed_topic_names=None,
        )
        assert response.error_code == ErrorCode.none
        assigned[member] = [p for t in response.assignment.topic_partitions for p in t.partitions]
    assert all(assigned.values())
    assert {p for ps in assigned.values() for p in ps} == {0, 1}


@edges(share_group_heartbeat)
def test_share_group_heartbeat_refuses_an_unknown_member_and_an_empty_member_id(
    api: ApiHarness, version: int
) -> None:
    unknown = api.call(
        share_group_heartbeat, version, group_id=GROUP, member_id="ghost", member_epoch=3
    )
    assert unknown.error_code == ErrorCode.unknown_member_id
    empty = api.call(
        share_group_heartbeat,
        version,
        group_id=GROUP,
        member_id="",
        member_epoch=0,
        subscribed_topic_names=["jobs"],
    )
    assert empty.error_code == ErrorCode.invalid_request


@edges(share_group_describe)
def test_share_group_describe_shows_members_and_assignments(api: ApiHarness, version: int) -> None:
    api.node.topics.create_topic("jobs", 1, {})
    join(api, "m-1", ["jobs"])
    response = api.call(share_group_describe, version, group_ids=[GROUP, "ghost"])
    described, ghost = response.groups
    assert described.error_code == ErrorCode.none
    assert described.group_state == "Stable"
    (member,) = described.members
    assert member.member_id == "m-1"
    assert member.assignment.topic_partitions[0].partitions == (0,)
    assert ghost.error_code == ErrorCode.group_id_not_found


@edges(share_fetch)
def test_share_fetch_acquires_records_and_acknowledges_them_in_the_next_request(
    api: ApiHarness, version: int
) -> None:
    tid = jobs_holding(api, [b"a", b"b", b"c"])
    first = share_fetch_call(api, version, "m-1", 0, {(tid, 0): []})
    assert first.error_code == ErrorCode.none
    assert acquired(first) == [(0, 2, 1)]
    records = first.responses[0].partitions[0].records
    assert [r.value for r in decode_records(bytes(records))] == [b"a", b"b", b"c"]
    accept, release = int(AcknowledgeType.ACCEPT), int(AcknowledgeType.RELEASE)
    second = share_fetch_call(api, version, "m-1", 1, {(tid, 0): [(0, 1, accept), (2, 2, release)]})
    assert second.responses[0].partitions[0].acknowledge_error_code == ErrorCode.none
    assert acquired(second) == [(2, 2, 2)]  # the released record, delivered a second time


@edges(share_fetch)
def test_share_fetch_refuses_unknown_sessions_stale_epochs_and_foreign_acknowledgements(
    api: ApiHarness, version: int
) -> None:
    tid = jobs_holding(api, [b"a"], members=("m-1", "m-2"))
    no_session = share_fetch_call(api, version, "m-1", 4, {(tid, 0): []})
    assert no_session.error_code == ErrorCode.share_session_not_found
    assert acquired(share_fetch_call(api, version, "m-1", 0, {(tid, 0): []})) == [(0, 0, 1)]
    stale = share_fetch_call(api, version, "m-1", 7, {(tid, 0): []})
    assert stale.error_code == ErrorCode.invalid_share_session_epoch
    share_fetch_call(api, version, "m-2", 0, {(tid, 0): []})
    foreign = share_fetch_call(api, version, "m-2", 1, {(tid, 0): [(0, 0, 1)]})
    assert foreign.responses[0].partitions[0].acknowledge_error_code == (
        ErrorCode.invalid_record_state
    )
    never = share_fetch_call(api, version, "m-1", 1, {(tid, 0): [(5, 9, 1)]})
    assert never.responses[0].partitions[0].acknowledge_error_code == (
        ErrorCode.invalid_record_state
    )


@edges(share_acknowledge)
def test_share_acknowledge_rejects_records_which_are_never_redelivered(
    api: ApiHarness, version: int
) -> None:
    tid = jobs_holding(api, [b"a", b"b"])
    assert acquired(share_fetch_call(api, version, "m-1", 0, {(tid, 0): []})) == [(0, 1, 1)]
    response = api.call(
        share_acknowledge,
        version,
        group_id=GROUP,
        member_id="m-1",
        share_session_epoch=1,
        topics=[
            {
                "topic_id": tid,
                "partitions": [
                    {
                        "partition_index": 0,
                        "acknowledgement_batches": [
                            {
                                "first_offset": 0,
                                "last_offset": 1,
                                "acknowledge_types": [int(AcknowledgeType.REJECT)],
                            }
                        ],
                    }
                ],
            }
        ],
    )
    assert response.error_code == ErrorCode.none
    assert response.responses[0].partitions[0].error_code == ErrorCode.none
    assert acquired(share_fetch_call(api, version, "m-1", 2, {(tid, 0): []})) == []
    spso = api.node.coordinator.share_partitions.existing(GROUP)[(GROUP, tid, 0)]
    assert spso.start_offset == 2  # type: ignore[union-attr]


def fetch_and_accept_first(api: ApiHarness, tid: uuid.UUID, accept_through: int) -> None:
    share_fetch_call(api, 1, "m-1", 0, {(tid, 0): []})
    share_fetch_call(api, 1, "m-1", 1, {(tid, 0): [(0, accept_through, 1)]})


def leave(api: ApiHarness, member_id: str) -> None:
    response = api.call(
        share_group_heartbeat, 1, group_id=GROUP, member_id=member_id, member_epoch=-1
    )
    assert response.error_code == ErrorCode.none


def acknowledge_call(
    api: ApiHarness, version: int, member_id: str, epoch: int, tid: uuid.UUID, acks: list[Any]
) -> Any:
    return api.call(
        share_acknowledge,
        version,
        group_id=GROUP,
        member_id=member_id,
        share_session_epoch=epoch,
        topics=[
            {
                "topic_id": tid,
                "partitions": [
                    {
                        "partition_index": 0,
                        "acknowledgement_batches": [
                            {"first_offset": f, "last_offset": la, "acknowledge_types": [t]}
                            for f, la, t in acks
                        ],
                    }
                ],
            }
        ],
    )


@edges(share_acknowledge)
def test_a_member_that_left_the_group_still_acknowledges_in_its_share_session(
    api: ApiHarness, version: int
) -> None:
    """As Kafka 4.4 does (tests/kafka/test_share_differential.py): the heartbeat that leaves
    the group leaves the share session and its locks alone; the final acknowledgement is
    applied, then the session closes and releases what is still acquired."""
    tid = jobs_holding(api, [b"a", b"b", b"c"])
    assert acquired(share_fetch_call(api, 1, "m-1", 0, {(tid, 0): []})) == [(0, 2, 1)]
    leave(api, "m-1")
    accept, release = int(AcknowledgeType.ACCEPT), int(AcknowledgeType.RELEASE)
    response = acknowledge_call(api, version, "m-1", -1, tid, [(0, 0, accept), (1, 1, release)])
    assert response.error_code == ErrorCode.none
    assert response.responses[0].partitions[0].error_code == ErrorCode.none
    assert api.node.coordinator.share_partitions.session_count() == 0
    join(api, "m-2", ["jobs"])
    # offset 0 accepted for good; 1 released by the acknowledgement, 2 by the session closing
    assert acquired(share_fetch_call(api, 1, "m-2", 0, {(tid, 0): []})) == [(1, 2, 2)]


def test_a_share_fetch_with_max_bytes_zero_acquires_nothing(api: ApiHarness) -> None:
    tid = jobs_holding(api, [b"a", b"b"])
    assert acquired(share_fetch_call(api, 1, "m-1", 0, {(tid, 0): []}, max_bytes=0)) == []
    assert acquired(share_fetch_call(api, 1, "m-1", 1, {(tid, 0): []})) == [(0, 1, 1)]


def test_an_expired_lock_is_released_for_the_next_fetch_with_nothing_else_to_read(
    api: ApiHarness,
) -> None:
    """Lock expiry is lazy: the next fetch must look at the locks before deciding there is
    nothing to read (once every record is in flight, no new record would make it look)."""
    tid = jobs_holding(api, [b"a", b"b"], members=("m-1", "m-2"))
    assert acquired(share_fetch_call(api, 1, "m-1", 0, {(tid, 0): []})) == [(0, 1, 1)]
    assert acquired(share_fetch_call(api, 1, "m-2", 0, {(tid, 0): []})) == []
    api.clock.advance(api.node.coordinator.config.share_record_lock_duration_ms)
    assert acquired(share_fetch_call(api, 1, "m-2", 1, {(tid, 0): []})) == [(0, 1, 2)]


@edges(describe_share_group_offsets)
def test_describe_share_group_offsets_shows_the_start_offset_and_lag(
    api: ApiHarness, version: int
) -> None:
    api.node.topics.create_topic("jobs", 1, {})
    earliest(api)
    join(api, "m-1", ["jobs"])
    produce_to(api, 3, "jobs", 0, batch(b"a", b"b", b"c", b"d"))
    fetch_and_accept_first(api, topic_id(api, "jobs"), 1)
    response = api.call(
        describe_share_group_offsets,
        version,
        groups=[{"group_id": GROUP, "topics": None}, {"group_id": "ghost", "topics": None}],
    )
    described, ghost = response.groups
    (partition,) = described.topics[0].partitions
    assert (partition.partition_index, partition.start_offset) == (0, 2)
    if version >= 1:
        assert partition.lag == 2
    assert ghost.error_code == ErrorCode.group_id_not_found


@edges(alter_share_group_offsets)
def test_alter_share_group_offsets_resets_an_empty_group_and_refuses_a_live_one(
    api: ApiHarness, version: int
) -> None:
    tid = jobs_holding(api, [b"a", b"b", b"c"])
    fetch_and_accept_first(api, tid, 2)
    fields = dict(
        group_id=GROUP,
        topics=[{"topic_name": "jobs", "partitions": [{"partition_index": 0, "start_offset": 1}]}],
    )
    assert api.call(alter_share_group_offsets, version, **fields).error_code == (
        ErrorCode.non_empty_group
    )
    leave(api, "m-1")
    response = api.call(alter_share_group_offsets, version, **fields)
    assert response.error_code == ErrorCode.none
    assert response.responses[0].partitions[0].error_code == ErrorCode.none
    join(api, "m-2", ["jobs"])
    assert acquired(share_fetch_call(api, 1, "m-2", 0, {(tid, 0): []})) == [(1, 2, 1)]


@edges(delete_share_group_offsets)
def test_delete_share_group_offsets_forgets_a_topic_so_the_group_starts_over(
    api: ApiHarness, version: int
) -> None:
    tid = jobs_holding(api, [b"a", b"b"])
    fetch_and_accept_first(api, tid, 1)
    leave(api, "m-1")
    response = api.call(
        delete_share_group_offsets, version, group_id=GROUP, topics=[{"topic_name": "jobs"}]
    )
    assert response.error_code == ErrorCode.none
    assert response.responses[0].error_code == ErrorCode.none
    assert api.node.coordinator.share_partitions.existing(GROUP) == {}
    join(api, "m-2", ["jobs"])
    assert acquired(share_fetch_call(api, 1, "m-2", 0, {(tid, 0): []})) == [(0, 1, 1)]


def test_list_groups_filters_share_groups_and_delete_groups_deletes_an_empty_one(
    api: ApiHarness,
) -> None:
    api.node.topics.create_topic("jobs", 1, {})
    join(api, "m-1", ["jobs"])
    listed = api.call(list_groups, 5, states_filter=[], types_filter=["Share"])
    assert [(g.group_id, g.group_type, g.group_state) for g in listed.groups] == [
        (GROUP, "share", "Stable")
    ]
    assert api.call(list_groups, 5, states_filter=[], types_filter=["consumer"]).groups == ()
    refused = api.call(delete_groups, 2, groups_names=[GROUP])
    assert refused.results[0].error_code == ErrorCode.non_empty_group
    leave(api, "m-1")
    deleted = api.call(delete_groups, 2, groups_names=[GROUP])
    assert deleted.results[0].error_code == ErrorCode.none
    assert api.call(list_groups, 5, states_filter=[], types_filter=["share"]).groups == ()


def test_incremental_alter_configs_sets_share_group_configs_and_refuses_bad_ones(
    api: ApiHarness,
) -> None:
    def alter(name: str, value: str) -> ErrorCode:
        response = api.call(
            incremental_alter_configs,
            1,
            resources=[
                {
                    "resource_type": GROUP_RESOURCE,
                    "resource_name": GROUP,
                    "configs": [{"name": name, "config_operation": 0, "value": value}],
                }
            ],
        )
        return ErrorCode(response.responses[0].error_code)

    assert alter("share.auto.offset.reset", "by_duration:PT1H") == ErrorCode.none
    assert alter("share.record.lock.duration.ms", "20000") == ErrorCode.none
    assert alter("share.record.lock.duration.ms", "5") == ErrorCode.invalid_config
    # within Kafka's range, but below the broker's group.share.min.record.lock.duration.ms
    assert alter("share.record.lock.duration.ms", "5000") == ErrorCode.invalid_config
    assert alter("share.auto.offset.reset", "sometimes") == ErrorCode.invalid_config
    assert alter("no.such.config", "1") == ErrorCode.invalid_config
    config = api.node.coordinator.share_partitions.config_for(GROUP)
    assert (config.auto_offset_reset, config.lock_duration_ms) == ("by_duration:PT1H", 20000)
    described = api.call(
        describe_configs,
        4,
        resources=[
            {"resource_type": GROUP_RESOURCE, "resource_name": GROUP, "configuration_keys": None}
        ],
        include_synonyms=False,
        include_documentation=False,
    )
    entries = {c.name: (c.value, c.config_source) for c in described.results[0].configs}
    assert entries["share.record.lock.duration.ms"] == ("20000", 8)  # GROUP_CONFIG
    assert entries["share.delivery.count.limit"] == ("5", 5)  # the broker's default


ack_batches = st.lists(
    st.tuples(st.integers(-2, 12), st.integers(0, 4), st.lists(st.integers(-1, 6), max_size=6)),
    max_size=4,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["fetch", "ack"]),
            st.sampled_from(["m-1", "m-2", "ghost"]),
            st.integers(-1, 4),
            ack_batches,
        ),
        max_size=8,
    )
)
def test_random_share_fetches_and_acknowledgements_get_kafka_error_codes_never_a_crash(
    api: ApiHarness, steps: list[tuple[str, str, int, list[tuple[int, int, list[int]]]]]
) -> None:
    if api.node.topics.catalog.get("fuzz") is None:
        api.node.topics.create_topic("fuzz", 1, {})
        earliest(api)
        join(api, "m-1", ["fuzz"])
        join(api, "m-2", ["fuzz"])
        produce_to(api, 3, "fuzz", 0, batch(*[b"x"] * 8))
    tid = topic_id(api, "fuzz")
    allowed = {
        ErrorCode.none,
        ErrorCode.invalid_request,
        ErrorCode.invalid_record_state,
        ErrorCode.share_session_not_found,
        ErrorCode.invalid_share_session_epoch,
    }
    for kind, member, epoch, batches in steps:
        acks = [
            {"first_offset": first, "last_offset": first + size, "acknowledge_types": types}
            for first, size, types in batches
        ]
        partitions = [{"partition_index": 0, "acknowledgement_batches": acks}]
        if kind == "fetch":
            response = api.call(
                share_fetch,
                2,
                group_id=GROUP,
                member_id=member,
                share_session_epoch=epoch,
                max_wait=NO_WAIT,
                min_bytes=1,
                max_bytes=1 << 20,
                max_records=3,
                batch_size=3,
                topics=[{"topic_id": tid, "partitions": partitions}],
                forgotten_topics_data=[],
            )
            codes = [p.acknowledge_error_code for t in response.responses for p in t.partitions]
        else:
            response = api.call(
                share_acknowledge,
                2,
                group_id=GROUP,
                member_id=member,
                share_session_epoch=epoch,
                topics=[{"topic_id": tid, "partitions": partitions}],
            )
            codes = [p.error_code for t in response.responses for p in t.partitions]
        assert response.error_code in allowed
        assert set(codes) <= allowed
