"""Kafka 4.4's own generated classes read every record katka writes to __consumer_offsets: to
the last byte, and writing them back gives katka's bytes (ReadRecords.java)."""

from __future__ import annotations

import json
import subprocess
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
    Record,
)
from katka.coordinator.share import state_records
from katka.coordinator.share.partition import RecordState, StateBatch
from tests.coordinator.test_kafka_records import fixture_records
from tests.kafka.reference import classpath, kafka_libs

pytestmark = pytest.mark.kafka

READER = Path(__file__).with_name("ReadRecords.java")
TOPIC_ID = uuid.UUID("7a73d1dc-bb88-461b-a7ac-9c18c2716271")


def every_kind_of_record() -> list[Record]:
    """One record of each type, version and state katka writes, and every tombstone."""
    member = MemberSnapshot("m-1", "instance-1", "cid", "/127.0.0.1", 300_000, 45_000, b"s", b"a")
    written: list[Record] = [
        records.offset_commit_record("g", "t", 0, OffsetValue(42, 7, "meta ✓", 1_000)),
        records.offset_commit_record("g", "t", 1, OffsetValue(5, -1, None, 1_000, 86_401_000)),
        records.offset_tombstone("g", "t", 0),
        records.group_record("g", GroupSnapshot("consumer", 3, "range", "m-1", 9, (member,))),
        records.group_record("g", GroupSnapshot(None, 4, None, None, 10)),
        records.group_tombstone("g"),
        *records.consumer_group_metadata_records(
            "c", ConsumerGroupMetadataValue(2, (("t", TOPIC_ID, 3),))
        ),
        records.consumer_member_metadata_record(
            "c",
            "member",
            ConsumerMemberMetadataValue("i", "rack", "cid", "/h", ("t",), None, "uniform", 5_000),
        ),
        records.consumer_member_metadata_record(
            "c",
            "regex-member",
            ConsumerMemberMetadataValue(None, None, "cid", "/h", (), "t.*", None, 5_000),
        ),
        records.consumer_target_metadata_record("c", 2, 1_700_000_000_000),
        records.consumer_target_member_record("c", "member", {(TOPIC_ID, 0), (TOPIC_ID, 2)}),
        *records.consumer_member_tombstones("c", "member"),
        *records.consumer_group_tombstones("c"),
    ]
    for state in ("stable", "unrevoked_partitions", "unreleased_partitions"):
        current = ConsumerCurrentAssignmentValue(
            3, 2, state, frozenset({(TOPIC_ID, 1)}), frozenset({(TOPIC_ID, 2)})
        )
        written.append(records.consumer_current_assignment_record("c", "member", current))
    return written


def read_with_kafka(written: list[Record], *args: str) -> list[str]:
    lines = "".join(f"{k.hex()} {'-' if v is None else v.hex()}\n" for k, v in written)
    result = subprocess.run(
        ["java", "-cp", classpath(kafka_libs()), str(READER), *args],
        input=lines,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return result.stdout.splitlines()


def test_kafka_reads_every_kind_of_record_katka_writes_to_the_last_byte():
    written = every_kind_of_record()
    out = read_with_kafka(written)
    assert len(out) == len(written)
    assert [line for line in out if not line.startswith("ok ")] == []
    _, kind, _key, value = out[1].split(" ", 3)
    assert kind == "OFFSET_COMMIT"
    assert json.loads(value) == {
        "offset": 5,
        "metadata": "",
        "commitTimestamp": 1_000,
        "expireTimestamp": 86_401_000,
    }
    _, kind, _key, value = out[3].split(" ", 3)
    assert kind == "GROUP_METADATA"
    assert json.loads(value)["members"][0]["groupInstanceId"] == "instance-1"


def test_kafka_reads_the_records_a_katka_01_data_dir_is_rewritten_into():
    upgraded = [
        record
        for key, value in fixture_records()
        if value is not None
        for record in records.upgrade_legacy_record(key, value)
    ]
    out = read_with_kafka(upgraded)
    assert len(out) == len(upgraded)
    assert [line for line in out if not line.startswith("ok ")] == []


def test_kafka_reads_the_share_snapshots_katka_writes_to_share_group_state():
    """__share_group_state's snapshots are Kafka's ShareSnapshotKey/Value (the group config
    records, katka's own, are left out: Kafka keeps those in its metadata log)."""
    batches = [
        StateBatch(10, 12, RecordState.ACKNOWLEDGED, 1),
        StateBatch(13, 13, RecordState.AVAILABLE, 2),
        StateBatch(14, 20, RecordState.ARCHIVED, 5),
    ]
    key = state_records.encode_key(("sg", TOPIC_ID, 3))
    written = [(key, state_records.encode_value(10, batches)), (key, None)]
    out = read_with_kafka(written, "share")
    assert [line.split(" ", 2)[:2] for line in out] == [["ok", "SHARE_SNAPSHOT"]] * 2
    _, _, key_json, value_json = out[0].split(" ", 3)
    assert json.loads(key_json) == {
        "groupId": "sg",
        "topicId": "enPR3LuIRhunrJwYwnFicQ",
        "partition": 3,
    }
    value = json.loads(value_json)
    assert value["startOffset"] == 10
    assert value["stateBatches"] == [
        {"firstOffset": 10, "lastOffset": 12, "deliveryState": 2, "deliveryCount": 1},
        {"firstOffset": 13, "lastOffset": 13, "deliveryState": 0, "deliveryCount": 2},
        {"firstOffset": 14, "lastOffset": 20, "deliveryState": 4, "deliveryCount": 5},
    ]
