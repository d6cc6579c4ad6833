"""__consumer_offsets holds Kafka's own record schemas, read here by a decoder driven by Kafka's
schemas (tests/kafka/record_decoder.py), not by katka's encoder."""

from __future__ import annotations

import shutil
import struct
import uuid
from pathlib import Path

import pytest

from katka.coordinator import records
from katka.coordinator.records import (
    ConsumerCurrentAssignmentValue,
    ConsumerGroupMetadataValue,
    ConsumerMemberMetadataValue,
    GroupSnapshot,
    MemberSnapshot,
    OffsetValue,
)
from katka.protocol.records import decode_batch, iter_batches
from tests.kafka.record_decoder import decode_record

TOPIC_ID = uuid.UUID("7a73d1dc-bb88-461b-a7ac-9c18c2716271")
OTHER_TOPIC_ID = uuid.UUID("00000000-0000-0000-0000-000000000001")
FIXTURE = Path(__file__).with_name("fixtures") / "katka-0.1-data-dir"


def test_an_offset_commit_is_offset_commit_value_v3_under_record_type_1():
    key, value = records.offset_commit_record(
        "g", "orders", 3, OffsetValue(42, 7, "meta ✓", 1_700_000_000_000)
    )
    decoded = decode_record(key, value)
    assert decoded.record == "OFFSET_COMMIT"
    assert decoded.key == {"group": "g", "topic": "orders", "partition": 3}
    assert decoded.value_version == 3
    assert decoded.value == {
        "offset": 42,
        "leader_epoch": 7,
        "metadata": "meta ✓",
        "commit_timestamp": 1_700_000_000_000,
    }


def test_an_offset_commit_with_an_expire_timestamp_is_value_v1_and_null_metadata_is_empty():
    value = OffsetValue(5, -1, None, 1_000, expire_timestamp_ms=86_401_000)
    key, raw = records.offset_commit_record("g", "orders", 0, value)
    decoded = decode_record(key, raw)
    assert decoded.value_version == 1
    assert decoded.value == {
        "offset": 5,
        "metadata": "",
        "commit_timestamp": 1_000,
        "expire_timestamp": 86_401_000,
    }
    assert records.decode_offset_value(raw) == OffsetValue(5, -1, "", 1_000, 86_401_000)


def test_group_metadata_is_value_v3_with_the_consumer_protocol_bytes_of_each_member():
    subscription = b"\x00\x03\x00\x00\x00\x01\x00\x02t1\xff\xff\xff\xff\x00\x00\x00\x00"
    assignment = (
        b"\x00\x00\x00\x00\x00\x01\x00\x02t1\x00\x00\x00\x01\x00\x00\x00\x00\xff\xff\xff\xff"
    )
    snapshot = GroupSnapshot(
        "consumer",
        4,
        "range",
        "m1",
        123,
        (
            MemberSnapshot(
                "m1", None, "cid", "/127.0.0.1", 300_000, 45_000, subscription, assignment
            ),
        ),
    )
    key, value = records.group_record("g", snapshot)
    decoded = decode_record(key, value)
    assert (decoded.record, decoded.key, decoded.value_version) == (
        "GROUP_METADATA",
        {"group": "g"},
        3,
    )
    assert decoded.value == {
        "protocol_type": "consumer",
        "generation": 4,
        "protocol": "range",
        "leader": "m1",
        "current_state_timestamp": 123,
        "members": [
            {
                "member_id": "m1",
                "group_instance_id": None,
                "client_id": "cid",
                "client_host": "/127.0.0.1",
                "rebalance_timeout": 300_000,
                "session_timeout": 45_000,
                "subscription": subscription,
                "assignment": assignment,
            }
        ],
    }
    assert records.decode_group_value(value) == snapshot


def test_an_empty_group_has_no_protocol_and_no_leader():
    key, value = records.group_record("g", GroupSnapshot(None, 2, None, None, 9))
    assert decode_record(key, value).value == {
        "protocol_type": "",
        "generation": 2,
        "protocol": None,
        "leader": None,
        "current_state_timestamp": 9,
        "members": [],
    }


def test_kip848_records_are_kafkas_consumer_group_records():
    group_metadata = ConsumerGroupMetadataValue(2, (("t1", TOPIC_ID, 2),))
    member = ConsumerMemberMetadataValue(
        None, None, "cid848", "/127.0.0.1", ("t1",), None, None, 300_000
    )
    current = ConsumerCurrentAssignmentValue(
        2,
        0,
        "unrevoked_partitions",
        frozenset({(TOPIC_ID, 1), (TOPIC_ID, 0)}),
        frozenset({(OTHER_TOPIC_ID, 4)}),
    )
    written = [
        *records.consumer_group_metadata_records("g", group_metadata),
        records.consumer_member_metadata_record("g", "m", member),
        records.consumer_target_metadata_record("g", 2, 1_700_000_000_000),
        records.consumer_target_member_record("g", "m", {(TOPIC_ID, 0), (TOPIC_ID, 1)}),
        records.consumer_current_assignment_record("g", "m", current),
    ]
    decoded = [decode_record(k, v) for k, v in written]
    assert [(d.record, d.value_version) for d in decoded] == [
        ("CONSUMER_GROUP_PARTITION_METADATA", 0),
        ("CONSUMER_GROUP_METADATA", 0),
        ("CONSUMER_GROUP_MEMBER_METADATA", 0),
        ("CONSUMER_GROUP_TARGET_ASSIGNMENT_METADATA", 0),
        ("CONSUMER_GROUP_TARGET_ASSIGNMENT_MEMBER", 0),
        ("CONSUMER_GROUP_CURRENT_MEMBER_ASSIGNMENT", 0),
    ]
    assert decoded[0].value == {
        "topics": [
            {
                "topic_id": TOPIC_ID,
                "topic_name": "t1",
                "num_partitions": 2,
                "partition_metadata": [],
            }
        ]
    }
    assert decoded[1].value == {"epoch": 2}  # no metadata hash: the tag is absent
    assert decoded[2].key == {"group_id": "g", "member_id": "m"}
    assert decoded[2].value == {
        "instance_id": None,
        "rack_id": None,
        "client_id": "cid848",
        "client_host": "/127.0.0.1",
        "subscribed_topic_names": ["t1"],
        "subscribed_topic_regex": "",
        "rebalance_timeout_ms": 300_000,
        "server_assignor": None,
        "classic_member_metadata": None,
    }
    assert decoded[3].value == {"assignment_epoch": 2, "assignment_timestamp": 1_700_000_000_000}
    assert decoded[4].value == {"topic_partitions": [{"topic_id": TOPIC_ID, "partitions": [0, 1]}]}
    assert decoded[5].value == {
        "member_epoch": 2,
        "previous_member_epoch": 0,
        "state": 1,  # Kafka's MemberState.UNREVOKED_PARTITIONS
        "assigned_partitions": [{"topic_id": TOPIC_ID, "partitions": [0, 1]}],
        "partitions_pending_revocation": [{"topic_id": OTHER_TOPIC_ID, "partitions": [4]}],
    }
    assert records.decode_consumer_current_assignment(written[5][1]) == current  # type: ignore[arg-type]
    assert records.decode_consumer_member_metadata(written[2][1]) == member  # type: ignore[arg-type]
    assert records.decode_consumer_partition_metadata(written[0][1]) == (("t1", TOPIC_ID, 2),)  # type: ignore[arg-type]


def test_tombstones_are_null_values_under_kafkas_keys_in_kafkas_order():
    member = records.consumer_member_tombstones("g", "m")
    group = records.consumer_group_tombstones("g")
    assert all(value is None for _, value in member + group)
    assert [decode_record(k, None).record for k, _ in member] == [
        "CONSUMER_GROUP_CURRENT_MEMBER_ASSIGNMENT",
        "CONSUMER_GROUP_TARGET_ASSIGNMENT_MEMBER",
        "CONSUMER_GROUP_MEMBER_METADATA",
    ]
    assert [decode_record(k, None).record for k, _ in group] == [
        "CONSUMER_GROUP_TARGET_ASSIGNMENT_METADATA",
        "CONSUMER_GROUP_PARTITION_METADATA",
        "CONSUMER_GROUP_METADATA",
    ]
    key, value = records.offset_tombstone("g", "t", 0)
    assert value is None and decode_record(key, None).key == {
        "group": "g",
        "topic": "t",
        "partition": 0,
    }


# Records Apache Kafka 4.4 wrote for a confluent-kafka consumer (captured from its log).
KAFKA_44_RECORDS = [
    (
        "00010009672d636c61737369630002743100000000",
        "000400000000000000050000000001000001a22c4a93b70100107a73d1dcbb88461ba7ac9c18c2716271",
    ),
    ("00020009672d636c6173736963", "0003000000000000ffffffff000001a22c4a916000000000"),
    (
        "00050005672d38343800166c565941564e636e5256576956362f68726c50584f67",
        "00000000076369643834380b2f3132372e302e302e310203743101000493e00001000100",
    ),
    ("00030005672d383438", "0000000000020100083f983056f760bfdc"),
    (
        "00070005672d38343800166c565941564e636e5256576956362f68726c50584f67",
        "0000027a73d1dcbb88461ba7ac9c18c27162710300000000000000010000",
    ),
    ("00060005672d383438", "000000000002010008000001a22c4a950f"),
    (
        "00080005672d38343800166c565941564e636e5256576956362f68726c50584f67",
        "0000000000020000000000027a73d1dcbb88461ba7ac9c18c27162710300000000000000010100090300000002000000020100",
    ),
]


def test_katka_reads_the_records_kafka_44_writes():
    offset_key, offset_value = (bytes.fromhex(h) for h in KAFKA_44_RECORDS[0])
    assert records.decode_key(offset_key) == records.OffsetKey("g-classic", "t1", 0)
    assert records.decode_offset_value(offset_value) == OffsetValue(5, 0, "", 1796039414711)
    group = records.decode_group_value(bytes.fromhex(KAFKA_44_RECORDS[1][1]))
    assert (group.protocol_type, group.generation_id, group.members) == (None, 0, ())
    member = records.decode_consumer_member_metadata(bytes.fromhex(KAFKA_44_RECORDS[2][1]))
    assert member.subscribed_topic_names == ("t1",) and member.subscribed_topic_regex is None
    assert records.decode_consumer_group_metadata(bytes.fromhex(KAFKA_44_RECORDS[3][1])).epoch == 2
    target = records.decode_consumer_target_member(bytes.fromhex(KAFKA_44_RECORDS[4][1]))
    assert target == {(TOPIC_ID, 0), (TOPIC_ID, 1)}
    assert records.decode_consumer_target_metadata(bytes.fromhex(KAFKA_44_RECORDS[5][1])) == 2
    current = records.decode_consumer_current_assignment(bytes.fromhex(KAFKA_44_RECORDS[6][1]))
    assert (current.member_epoch, current.state, current.assigned_partitions) == (
        2,
        "stable",
        frozenset({(TOPIC_ID, 0), (TOPIC_ID, 1)}),
    )


def test_the_kafka_schema_decoder_reads_kafkas_own_records_to_the_last_byte():
    for key_hex, value_hex in KAFKA_44_RECORDS:
        decoded = decode_record(bytes.fromhex(key_hex), bytes.fromhex(value_hex))
        assert decoded.value is not None


# --- katka 0.1's own layout ----------------------------------------------------------------


def fixture_records() -> list[tuple[bytes, bytes | None]]:
    data = (FIXTURE / "__consumer_offsets-0" / "00000000000000000000.log").read_bytes()
    return [(r.key, r.value) for _, batch in iter_batches(data) for r in decode_batch(batch)]


def test_every_record_katka_01_wrote_is_recognised_and_upgraded_to_kafkas_layout():
    upgraded = 0
    for key, value in fixture_records():
        decoded_key = records.decode_key(key)
        if value is None:
            continue
        assert records.is_legacy_value(decoded_key, value)
        for new_key, new_value in records.upgrade_legacy_record(key, value):
            assert not records.is_legacy_value(records.decode_key(new_key), new_value)
            assert decode_record(new_key, new_value).value is not None
            upgraded += 1
    assert upgraded == 15  # 13 values; both group metadata values of g-848 became records 4, 3


def test_a_legacy_offset_value_keeps_offset_epoch_metadata_and_timestamps():
    legacy = struct.pack(">hqii", 0, 42, 7, 4) + b"meta" + struct.pack(">qq", 1_000, 2_000)
    assert records.decode_offset_value(legacy) == OffsetValue(42, 7, "meta", 1_000, 2_000)
    null_metadata = struct.pack(">hqii", 0, 1, -1, -1) + struct.pack(">qq", 5, -1)
    assert records.decode_offset_value(null_metadata) == OffsetValue(1, -1, None, 5, None)


@pytest.mark.e2e
def test_a_data_dir_written_by_katka_01_keeps_every_commit_and_is_rewritten_in_kafkas_layout(
    tmp_path: Path,
) -> None:
    from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
    from confluent_kafka.admin import AdminClient

    from katka.reliability.process import BrokerProcess
    from tests.kafka.reference import read_partition

    data_dir = tmp_path / "data"
    shutil.copytree(FIXTURE, data_dir)
    expected = {
        "g-simple": {("t1", 0): 3},
        "g-classic": {("t1", 0): 5, ("t1", 1): 5},
        "g-848": {("t1", 0): 5, ("t1", 1): 5},
    }
    for restart in range(2):
        server = BrokerProcess(data_dir)
        server.start()
        try:
            admin = AdminClient({"bootstrap.servers": server.bootstrap})
            for group, offsets in expected.items():
                request = ConsumerGroupTopicPartitions(
                    group, [TopicPartition(t, p) for t, p in offsets]
                )
                result = admin.list_consumer_group_offsets([request])[group].result(timeout=30)
                got = {(tp.topic, tp.partition): tp.offset for tp in result.topic_partitions}
                assert got == offsets, (restart, group)
            stored = read_partition(server.bootstrap, "__consumer_offsets")
        finally:
            server.stop()
        assert stored, "the rewritten log is empty"
        for _, key, value in stored:
            assert key is not None
            decoded = decode_record(key, value)  # Kafka's layout, to the last byte
            assert not records.is_legacy_value(records.decode_key(key), value)
            if decoded.record == "OFFSET_COMMIT" and decoded.key["group"] == "g-simple":
                assert decoded.value == {
                    "offset": 3,
                    "leader_epoch": 0,
                    "metadata": "meta\x00",
                    "commit_timestamp": decoded.value["commit_timestamp"],
                }


# --- any values ----------------------------------------------------------------------------

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

int32s = st.integers(-(2**31), 2**31 - 1)
int64s = st.integers(-(2**63), 2**63 - 1)
texts = st.text(max_size=20)


@given(
    offset=int64s,
    leader_epoch=int32s,
    metadata=st.none() | texts,
    commit=int64s,
    expire=st.none() | st.integers(0, 2**63 - 1),
)
def test_any_offset_commit_round_trips_and_reads_as_kafkas_schema(
    offset, leader_epoch, metadata, commit, expire
):
    value = OffsetValue(offset, leader_epoch, metadata, commit, expire)
    key, raw = records.offset_commit_record("g", "t", 1, value)
    decoded = decode_record(key, raw)
    assert decoded.value is not None and decoded.value["offset"] == offset
    assert decoded.value_version == (3 if expire is None else 1)
    expected = OffsetValue(
        offset, leader_epoch if expire is None else -1, metadata or "", commit, expire
    )
    assert records.decode_offset_value(raw) == expected  # type: ignore[arg-type]


members = st.builds(
    MemberSnapshot,
    member_id=texts,
    group_instance_id=st.none() | texts,
    client_id=texts,
    client_host=texts,
    rebalance_timeout_ms=int32s,
    session_timeout_ms=int32s,
    subscription=st.binary(max_size=30),
    assignment=st.binary(max_size=30),
)


@given(
    protocol_type=st.none() | texts.filter(bool),
    generation=int32s,
    protocol=st.none() | texts,
    leader=st.none() | texts,
    timestamp=int64s,
    group_members=st.lists(members, max_size=3).map(tuple),
)
def test_any_group_metadata_round_trips_and_reads_as_kafkas_schema(
    protocol_type, generation, protocol, leader, timestamp, group_members
):
    snapshot = GroupSnapshot(protocol_type, generation, protocol, leader, timestamp, group_members)
    key, raw = records.group_record("g", snapshot)
    decoded = decode_record(key, raw)
    assert decoded.value is not None and len(decoded.value["members"]) == len(group_members)
    assert records.decode_group_value(raw) == snapshot  # type: ignore[arg-type]


topic_partitions = st.frozensets(st.tuples(st.uuids(), st.integers(0, 2**31 - 1)), max_size=6)


@given(
    epochs=st.tuples(int32s, int32s),
    state=st.sampled_from(["stable", "unrevoked_partitions", "unreleased_partitions"]),
    assigned=topic_partitions,
    pending=topic_partitions,
    names=st.lists(texts, max_size=3).map(tuple),
    regex=st.none() | texts.filter(bool),
)
def test_any_kip848_member_round_trips_and_reads_as_kafkas_schema(
    epochs, state, assigned, pending, names, regex
):
    current = ConsumerCurrentAssignmentValue(epochs[0], epochs[1], state, assigned, pending)
    key, raw = records.consumer_current_assignment_record("g", "m", current)
    assert decode_record(key, raw).value is not None
    assert records.decode_consumer_current_assignment(raw) == current  # type: ignore[arg-type]
    member = ConsumerMemberMetadataValue(None, "r", "c", "/h", names, regex, None, epochs[0])
    key, raw = records.consumer_member_metadata_record("g", "m", member)
    assert decode_record(key, raw).value is not None
    assert records.decode_consumer_member_metadata(raw) == member  # type: ignore[arg-type]
    key, raw = records.consumer_target_member_record("g", "m", assigned)
    assert decode_record(key, raw).value is not None
    assert records.decode_consumer_target_member(raw) == assigned  # type: ignore[arg-type]
