"""Request in, response out, at the lowest and highest version of the share group APIs
(KIP-932): heartbeat and describe, share fetch with piggybacked acknowledgements, share
acknowledge, and the errors of bad sessions and bad acknowledgements."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from katka.api import (
    share_acknowledge,
    share_fetch,
    share_group_describe,
    share_group_heartbeat,
)
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
        max_bytes=1 << 20,
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
    api.node.topics.create_topic("jobs", 1, {})
    earliest(api)
    join(api, "m-1", ["jobs"])
    produce_to(api, 3, "jobs", 0, batch(b"a", b"b", b"c"))
    tid = topic_id(api, "jobs")
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
    api.node.topics.create_topic("jobs", 1, {})
    earliest(api)
    join(api, "m-1", ["jobs"])
    join(api, "m-2", ["jobs"])
    produce_to(api, 3, "jobs", 0, batch(b"a"))
    tid = topic_id(api, "jobs")
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
    api.node.topics.create_topic("jobs", 1, {})
    earliest(api)
    join(api, "m-1", ["jobs"])
    produce_to(api, 3, "jobs", 0, batch(b"a", b"b"))
    tid = topic_id(api, "jobs")
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
