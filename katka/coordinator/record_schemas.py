"""Kafka's record schemas for `__consumer_offsets`, as Kafka 4.4's group coordinator writes them.

A record key is an int16 record type followed by the key struct (version 0, not flexible); a
value is an int16 version followed by the value struct; a tombstone is a null value. The field
names, types, versions and tags below are those of Kafka's group-coordinator JSON schemas
(checked against Kafka 4.4's own classes by tests/coordinator/test_kafka_schemas.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from katka.protocol.message_schema import Field, Message

# Record types (Kafka's CoordinatorRecordType ids, the key's leading int16).
LEGACY_OFFSET_COMMIT = 0
OFFSET_COMMIT = 1
GROUP_METADATA = 2
CONSUMER_GROUP_METADATA = 3
CONSUMER_GROUP_PARTITION_METADATA = 4
CONSUMER_GROUP_MEMBER_METADATA = 5
CONSUMER_GROUP_TARGET_ASSIGNMENT_METADATA = 6
CONSUMER_GROUP_TARGET_ASSIGNMENT_MEMBER = 7
CONSUMER_GROUP_CURRENT_MEMBER_ASSIGNMENT = 8
CONSUMER_GROUP_REGULAR_EXPRESSION = 16


def _key(name: str, *fields: str) -> Message:
    return Message(name, "0", "none", tuple(Field(f, "string") for f in fields))


OFFSET_COMMIT_KEY = Message(
    "OffsetCommitKey",
    "0",
    "none",
    (Field("group", "string"), Field("topic", "string"), Field("partition", "int32")),
)

# v0: Kafka 0.8.2; v1 adds the expire timestamp (OffsetCommit v2-v4's retention); v2 drops it;
# v3 adds the leader epoch; v4 is flexible with the topic id as a tagged field.
OFFSET_COMMIT_VALUE = Message(
    "OffsetCommitValue",
    "0-4",
    "4+",
    (
        Field("offset", "int64"),
        Field("leader_epoch", "int32", versions="3+", default=-1),
        Field("metadata", "string"),
        Field("commit_timestamp", "int64"),
        Field("expire_timestamp", "int64", versions="1", default=-1),
        Field("topic_id", "uuid", versions="4+", tag=0, tagged_versions="4+"),
    ),
)

GROUP_METADATA_KEY = _key("GroupMetadataKey", "group")

GROUP_METADATA_VALUE = Message(
    "GroupMetadataValue",
    "0-4",
    "4+",
    (
        Field("protocol_type", "string"),
        Field("generation", "int32"),
        Field("protocol", "string", nullable_versions="0+"),
        Field("leader", "string", nullable_versions="0+"),
        Field("current_state_timestamp", "int64", versions="2+", default=-1),
        Field(
            "members",
            "[]",
            fields=(
                Field("member_id", "string"),
                Field("group_instance_id", "string", versions="3+", nullable_versions="3+"),
                Field("client_id", "string"),
                Field("client_host", "string"),
                Field("rebalance_timeout", "int32", versions="1+"),
                Field("session_timeout", "int32"),
                Field("subscription", "bytes"),
                Field("assignment", "bytes"),
            ),
        ),
    ),
)

# --- KIP-848 consumer groups: every value is version 0 and flexible --------------------------


def _value(name: str, *fields: Field) -> Message:
    return Message(name, "0", "0+", fields)


CONSUMER_GROUP_METADATA_KEY = _key("ConsumerGroupMetadataKey", "group_id")
CONSUMER_GROUP_METADATA_VALUE = _value(
    "ConsumerGroupMetadataValue",
    Field("epoch", "int32"),
    # KIP-1101: a hash of the subscribed topics' metadata; 0 (the default) means "not computed",
    # which is what katka writes: it keeps the topics in the partition metadata record instead.
    Field("metadata_hash", "int64", tag=0, tagged_versions="0+"),
)

CONSUMER_GROUP_PARTITION_METADATA_KEY = _key("ConsumerGroupPartitionMetadataKey", "group_id")
CONSUMER_GROUP_PARTITION_METADATA_VALUE = _value(
    "ConsumerGroupPartitionMetadataValue",
    Field(
        "topics",
        "[]",
        fields=(
            Field("topic_id", "uuid"),
            Field("topic_name", "string"),
            Field("num_partitions", "int32"),
            Field(
                "partition_metadata",
                "[]",
                fields=(Field("partition", "int32"), Field("racks", "[]string")),
            ),
        ),
    ),
)

CONSUMER_GROUP_MEMBER_METADATA_KEY = _key("ConsumerGroupMemberMetadataKey", "group_id", "member_id")
CONSUMER_GROUP_MEMBER_METADATA_VALUE = _value(
    "ConsumerGroupMemberMetadataValue",
    Field("instance_id", "string", nullable_versions="0+"),
    Field("rack_id", "string", nullable_versions="0+"),
    Field("client_id", "string"),
    Field("client_host", "string"),
    Field("subscribed_topic_names", "[]string"),
    Field("subscribed_topic_regex", "string", nullable_versions="0+"),
    Field("rebalance_timeout_ms", "int32", default=-1),
    Field("server_assignor", "string", nullable_versions="0+"),
    Field(
        "classic_member_metadata",
        "struct",
        nullable_versions="0+",
        tag=0,
        tagged_versions="0+",
        fields=(
            Field("session_timeout_ms", "int32"),
            Field(
                "supported_protocols",
                "[]",
                fields=(Field("name", "string"), Field("metadata", "bytes")),
            ),
        ),
    ),
)

CONSUMER_GROUP_TARGET_ASSIGNMENT_METADATA_KEY = _key(
    "ConsumerGroupTargetAssignmentMetadataKey", "group_id"
)
CONSUMER_GROUP_TARGET_ASSIGNMENT_METADATA_VALUE = _value(
    "ConsumerGroupTargetAssignmentMetadataValue",
    Field("assignment_epoch", "int32"),
    Field("assignment_timestamp", "int64", tag=0, tagged_versions="0+"),
)

CONSUMER_GROUP_TARGET_ASSIGNMENT_MEMBER_KEY = _key(
    "ConsumerGroupTargetAssignmentMemberKey", "group_id", "member_id"
)
CONSUMER_GROUP_TARGET_ASSIGNMENT_MEMBER_VALUE = _value(
    "ConsumerGroupTargetAssignmentMemberValue",
    Field(
        "topic_partitions",
        "[]",
        fields=(Field("topic_id", "uuid"), Field("partitions", "[]int32")),
    ),
)

_TOPIC_PARTITIONS = (
    Field("topic_id", "uuid"),
    Field("partitions", "[]int32"),
    # KIP-1251: the epoch at which each partition was assigned; null (omitted) when unknown.
    Field("assignment_epochs", "[]int32", nullable_versions="0+", tag=0, tagged_versions="0+"),
)
CONSUMER_GROUP_CURRENT_MEMBER_ASSIGNMENT_KEY = _key(
    "ConsumerGroupCurrentMemberAssignmentKey", "group_id", "member_id"
)
CONSUMER_GROUP_CURRENT_MEMBER_ASSIGNMENT_VALUE = _value(
    "ConsumerGroupCurrentMemberAssignmentValue",
    Field("member_epoch", "int32"),
    Field("previous_member_epoch", "int32"),
    Field("state", "int8"),
    Field("assigned_partitions", "[]", fields=_TOPIC_PARTITIONS),
    Field("partitions_pending_revocation", "[]", fields=_TOPIC_PARTITIONS),
)

CONSUMER_GROUP_REGULAR_EXPRESSION_KEY = _key(
    "ConsumerGroupRegularExpressionKey", "group_id", "regular_expression"
)
CONSUMER_GROUP_REGULAR_EXPRESSION_VALUE = _value(
    "ConsumerGroupRegularExpressionValue",
    Field("topics", "[]string"),
    Field("version", "int64"),
    Field("timestamp", "int64"),
)


@dataclass(frozen=True, slots=True)
class RecordType:
    id: int
    key: Message
    value: Message


RECORD_TYPES: dict[int, RecordType] = {
    t.id: t
    for t in (
        RecordType(LEGACY_OFFSET_COMMIT, OFFSET_COMMIT_KEY, OFFSET_COMMIT_VALUE),
        RecordType(OFFSET_COMMIT, OFFSET_COMMIT_KEY, OFFSET_COMMIT_VALUE),
        RecordType(GROUP_METADATA, GROUP_METADATA_KEY, GROUP_METADATA_VALUE),
        RecordType(
            CONSUMER_GROUP_METADATA, CONSUMER_GROUP_METADATA_KEY, CONSUMER_GROUP_METADATA_VALUE
        ),
        RecordType(
            CONSUMER_GROUP_PARTITION_METADATA,
            CONSUMER_GROUP_PARTITION_METADATA_KEY,
            CONSUMER_GROUP_PARTITION_METADATA_VALUE,
        ),
        RecordType(
            CONSUMER_GROUP_MEMBER_METADATA,
            CONSUMER_GROUP_MEMBER_METADATA_KEY,
            CONSUMER_GROUP_MEMBER_METADATA_VALUE,
        ),
        RecordType(
            CONSUMER_GROUP_TARGET_ASSIGNMENT_METADATA,
            CONSUMER_GROUP_TARGET_ASSIGNMENT_METADATA_KEY,
            CONSUMER_GROUP_TARGET_ASSIGNMENT_METADATA_VALUE,
        ),
        RecordType(
            CONSUMER_GROUP_TARGET_ASSIGNMENT_MEMBER,
            CONSUMER_GROUP_TARGET_ASSIGNMENT_MEMBER_KEY,
            CONSUMER_GROUP_TARGET_ASSIGNMENT_MEMBER_VALUE,
        ),
        RecordType(
            CONSUMER_GROUP_CURRENT_MEMBER_ASSIGNMENT,
            CONSUMER_GROUP_CURRENT_MEMBER_ASSIGNMENT_KEY,
            CONSUMER_GROUP_CURRENT_MEMBER_ASSIGNMENT_VALUE,
        ),
        RecordType(
            CONSUMER_GROUP_REGULAR_EXPRESSION,
            CONSUMER_GROUP_REGULAR_EXPRESSION_KEY,
            CONSUMER_GROUP_REGULAR_EXPRESSION_VALUE,
        ),
    )
}
