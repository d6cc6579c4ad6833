"""Kafka's message schemas for the request versions kio does not generate (Kafka 4.0 dropped
them, KIP-896), as Kafka 3.9 defined them: the same field names, types and version ranges, one
schema per message covering every old version katka serves. Field names are kio's (durations
such as timeoutMs are `timeout`), so a handler reads an old request as it reads any other.
"""

from __future__ import annotations

import dataclasses

from katka.protocol.message_schema import Field, Message


@dataclasses.dataclass(frozen=True)
class OldApi:
    """Some versions of one api: request and response schemas, and the entity class names of
    their structs (keyed by the struct-array field that holds them)."""

    api_key: int
    versions: range
    request: Message
    response: Message
    request_structs: dict[str, str]
    response_structs: dict[str, str]


def _topics_of(partitions: tuple[Field, ...], topic: str = "name") -> Field:
    """The usual topics array: a name, then a partitions array."""
    name = Field(topic, "string")
    return Field("topics", "[]", fields=(name, Field("partitions", "[]", fields=partitions)))


# ListOffsets v0 (Kafka 0.8-2.x): no isolation level, no leader epochs; a partition asks for up
# to max_num_offsets offsets before a timestamp and gets them as old_style_offsets.
LIST_OFFSETS = OldApi(
    2,
    range(0, 1),
    Message(
        "ListOffsetsRequest",
        "0",
        "none",
        (
            Field("replica_id", "int32"),
            _topics_of(
                (
                    Field("partition_index", "int32"),
                    Field("timestamp", "int64"),
                    Field("max_num_offsets", "int32"),
                ),
            ),
        ),
    ),
    Message(
        "ListOffsetsResponse",
        "0",
        "none",
        (
            _topics_of(
                (
                    Field("partition_index", "int32"),
                    Field("error_code", "int16"),
                    Field("old_style_offsets", "[]int64"),
                ),
            ),
        ),
    ),
    {"topics": "ListOffsetsTopic", "partitions": "ListOffsetsPartition"},
    {"topics": "ListOffsetsTopicResponse", "partitions": "ListOffsetsPartitionResponse"},
)

# OffsetCommit v0 (no generation or member: a commit from outside any group generation) and v1
# (a commit timestamp per partition, -1 for the broker's time).
OFFSET_COMMIT = OldApi(
    8,
    range(0, 2),
    Message(
        "OffsetCommitRequest",
        "0-1",
        "none",
        (
            Field("group_id", "string"),
            Field("generation_id_or_member_epoch", "int32", versions="1+", default=-1),
            Field("member_id", "string", versions="1+"),
            _topics_of(
                (
                    Field("partition_index", "int32"),
                    Field("committed_offset", "int64"),
                    Field("commit_timestamp", "int64", versions="1", default=-1),
                    Field("committed_metadata", "string", nullable_versions="0+"),
                ),
            ),
        ),
    ),
    Message(
        "OffsetCommitResponse",
        "0-1",
        "none",
        (_topics_of((Field("partition_index", "int32"), Field("error_code", "int16"))),),
    ),
    {"topics": "OffsetCommitRequestTopic", "partitions": "OffsetCommitRequestPartition"},
    {"topics": "OffsetCommitResponseTopic", "partitions": "OffsetCommitResponsePartition"},
)

# OffsetFetch v0: as v1 (no top-level error, no null topic list).
OFFSET_FETCH = OldApi(
    9,
    range(0, 1),
    Message(
        "OffsetFetchRequest",
        "0",
        "none",
        (
            Field("group_id", "string"),
            Field(
                "topics",
                "[]",
                fields=(Field("name", "string"), Field("partition_indexes", "[]int32")),
            ),
        ),
    ),
    Message(
        "OffsetFetchResponse",
        "0",
        "none",
        (
            _topics_of(
                (
                    Field("partition_index", "int32"),
                    Field("committed_offset", "int64"),
                    Field("metadata", "string", nullable_versions="0+"),
                    Field("error_code", "int16"),
                ),
            ),
        ),
    ),
    {"topics": "OffsetFetchRequestTopic"},
    {"topics": "OffsetFetchResponseTopic", "partitions": "OffsetFetchResponsePartition"},
)

# CreateTopics v0 (no validate_only, no error message) and v1; neither has a throttle time.
CREATE_TOPICS = OldApi(
    19,
    range(0, 2),
    Message(
        "CreateTopicsRequest",
        "0-1",
        "none",
        (
            Field(
                "topics",
                "[]",
                fields=(
                    Field("name", "string"),
                    Field("num_partitions", "int32"),
                    Field("replication_factor", "int16"),
                    Field(
                        "assignments",
                        "[]",
                        fields=(Field("partition_index", "int32"), Field("broker_ids", "[]int32")),
                    ),
                    Field(
                        "configs",
                        "[]",
                        fields=(
                            Field("name", "string"),
                            Field("value", "string", nullable_versions="0+"),
                        ),
                    ),
                ),
            ),
            Field("timeout", "int32", default=60000),
            Field("validate_only", "bool", versions="1+"),
        ),
    ),
    Message(
        "CreateTopicsResponse",
        "0-1",
        "none",
        (
            Field(
                "topics",
                "[]",
                fields=(
                    Field("name", "string"),
                    Field("error_code", "int16"),
                    Field("error_message", "string", versions="1+", nullable_versions="0+"),
                ),
            ),
        ),
    ),
    {
        "topics": "CreatableTopic",
        "assignments": "CreatableReplicaAssignment",
        "configs": "CreatableTopicConfig",
    },
    {"topics": "CreatableTopicResult"},
)

# DeleteTopics v0: as v1 without the throttle time.
DELETE_TOPICS = OldApi(
    20,
    range(0, 1),
    Message(
        "DeleteTopicsRequest",
        "0",
        "none",
        (Field("topic_names", "[]string"), Field("timeout", "int32")),
    ),
    Message(
        "DeleteTopicsResponse",
        "0",
        "none",
        (Field("responses", "[]", fields=(Field("name", "string"), Field("error_code", "int16"))),),
    ),
    {},
    {"responses": "DeletableTopicResult"},
)

# DescribeConfigs v0: no synonyms, no config source but is_default per entry.
DESCRIBE_CONFIGS = OldApi(
    32,
    range(0, 1),
    Message(
        "DescribeConfigsRequest",
        "0",
        "none",
        (
            Field(
                "resources",
                "[]",
                fields=(
                    Field("resource_type", "int8"),
                    Field("resource_name", "string"),
                    Field("configuration_keys", "[]string", nullable_versions="0+"),
                ),
            ),
        ),
    ),
    Message(
        "DescribeConfigsResponse",
        "0",
        "none",
        (
            Field("throttle_time", "int32"),
            Field(
                "results",
                "[]",
                fields=(
                    Field("error_code", "int16"),
                    Field("error_message", "string", nullable_versions="0+"),
                    Field("resource_type", "int8"),
                    Field("resource_name", "string"),
                    Field(
                        "configs",
                        "[]",
                        fields=(
                            Field("name", "string"),
                            Field("value", "string", nullable_versions="0+"),
                            Field("read_only", "bool"),
                            Field("is_default", "bool"),
                            Field("is_sensitive", "bool"),
                        ),
                    ),
                ),
            ),
        ),
    ),
    {"resources": "DescribeConfigsResource"},
    {"results": "DescribeConfigsResult", "configs": "DescribeConfigsResourceResult"},
)

# OffsetForLeaderEpoch v0 (no leader epoch in the answer) and v1; no current leader epoch,
# no throttle time.
OFFSET_FOR_LEADER_EPOCH = OldApi(
    23,
    range(0, 2),
    Message(
        "OffsetForLeaderEpochRequest",
        "0-1",
        "none",
        (
            _topics_of(
                (Field("partition", "int32"), Field("leader_epoch", "int32")),
                topic="topic",
            ),
        ),
    ),
    Message(
        "OffsetForLeaderEpochResponse",
        "0-1",
        "none",
        (
            _topics_of(
                (
                    Field("error_code", "int16"),
                    Field("partition", "int32"),
                    Field("leader_epoch", "int32", versions="1+", default=-1),
                    Field("end_offset", "int64", default=-1),
                ),
                topic="topic",
            ),
        ),
    ),
    {"topics": "OffsetForLeaderTopic", "partitions": "OffsetForLeaderPartition"},
    {"topics": "OffsetForLeaderTopicResult", "partitions": "EpochEndOffset"},
)

# WriteTxnMarkers v0: v1 before flexible versions.
WRITE_TXN_MARKERS = OldApi(
    27,
    range(0, 1),
    Message(
        "WriteTxnMarkersRequest",
        "0",
        "none",
        (
            Field(
                "markers",
                "[]",
                fields=(
                    Field("producer_id", "int64"),
                    Field("producer_epoch", "int16"),
                    Field("transaction_result", "bool"),
                    Field(
                        "topics",
                        "[]",
                        fields=(Field("name", "string"), Field("partition_indexes", "[]int32")),
                    ),
                    Field("coordinator_epoch", "int32"),
                ),
            ),
        ),
    ),
    Message(
        "WriteTxnMarkersResponse",
        "0",
        "none",
        (
            Field(
                "markers",
                "[]",
                fields=(
                    Field("producer_id", "int64"),
                    _topics_of((Field("partition_index", "int32"), Field("error_code", "int16"))),
                ),
            ),
        ),
    ),
    {"markers": "WritableTxnMarker", "topics": "WritableTxnMarkerTopic"},
    {
        "markers": "WritableTxnMarkerResult",
        "topics": "WritableTxnMarkerTopicResult",
        "partitions": "WritableTxnMarkerPartitionResult",
    },
)

# Produce v0-2: message sets of formats v0/v1 (protocol/message_sets.py converts them); v1
# adds the throttle time (after the responses), v2 the log append time.
PRODUCE = OldApi(
    0,
    range(0, 3),
    Message(
        "ProduceRequest",
        "0-2",
        "none",
        (
            Field("acks", "int16"),
            Field("timeout", "int32"),
            Field(
                "topic_data",
                "[]",
                fields=(
                    Field("name", "string"),
                    Field(
                        "partition_data",
                        "[]",
                        fields=(
                            Field("index", "int32"),
                            Field("records", "bytes", nullable_versions="0+"),
                        ),
                    ),
                ),
            ),
        ),
    ),
    Message(
        "ProduceResponse",
        "0-2",
        "none",
        (
            Field(
                "responses",
                "[]",
                fields=(
                    Field("name", "string"),
                    Field(
                        "partition_responses",
                        "[]",
                        fields=(
                            Field("index", "int32"),
                            Field("error_code", "int16"),
                            Field("base_offset", "int64"),
                            Field("log_append_time", "int64", versions="2+", default=-1),
                        ),
                    ),
                ),
            ),
            Field("throttle_time", "int32", versions="1+"),
        ),
    ),
    {"topic_data": "TopicProduceData", "partition_data": "PartitionProduceData"},
    {"responses": "TopicProduceResponse", "partition_responses": "PartitionProduceResponse"},
)

# Fetch v0-3: message sets of formats v0 (Fetch v0-1) and v1 (v2-3), converted from the stored
# batches; v1 adds the throttle time, v3 the response's max bytes.
FETCH = OldApi(
    1,
    range(0, 4),
    Message(
        "FetchRequest",
        "0-3",
        "none",
        (
            Field("replica_id", "int32"),
            Field("max_wait", "int32"),
            Field("min_bytes", "int32"),
            Field("max_bytes", "int32", versions="3+", default=0x7FFFFFFF),
            _topics_of(
                (
                    Field("partition", "int32"),
                    Field("fetch_offset", "int64"),
                    Field("partition_max_bytes", "int32"),
                ),
                topic="topic",
            ),
        ),
    ),
    Message(
        "FetchResponse",
        "0-3",
        "none",
        (
            Field("throttle_time", "int32", versions="1+"),
            Field(
                "responses",
                "[]",
                fields=(
                    Field("topic", "string"),
                    Field(
                        "partitions",
                        "[]",
                        fields=(
                            Field("partition_index", "int32"),
                            Field("error_code", "int16"),
                            Field("high_watermark", "int64"),
                            Field("records", "bytes", nullable_versions="0+"),
                        ),
                    ),
                ),
            ),
        ),
    ),
    {"topics": "FetchTopic", "partitions": "FetchPartition"},
    {"responses": "FetchableTopicResponse", "partitions": "PartitionData"},
)

# DescribeLogDirs v0: as v1 (which only changed when throttling applies).
DESCRIBE_LOG_DIRS = OldApi(
    35,
    range(0, 1),
    Message(
        "DescribeLogDirsRequest",
        "0",
        "none",
        (
            Field(
                "topics",
                "[]",
                nullable_versions="0+",
                fields=(Field("topic", "string"), Field("partitions", "[]int32")),
            ),
        ),
    ),
    Message(
        "DescribeLogDirsResponse",
        "0",
        "none",
        (
            Field("throttle_time", "int32"),
            Field(
                "results",
                "[]",
                fields=(
                    Field("error_code", "int16"),
                    Field("log_dir", "string"),
                    Field(
                        "topics",
                        "[]",
                        fields=(
                            Field("name", "string"),
                            Field(
                                "partitions",
                                "[]",
                                fields=(
                                    Field("partition_index", "int32"),
                                    Field("partition_size", "int64"),
                                    Field("offset_lag", "int64"),
                                    Field("is_future_key", "bool"),
                                ),
                            ),
                        ),
                    ),
                ),
            ),
        ),
    ),
    {"topics": "DescribableLogDirTopic"},
    {
        "results": "DescribeLogDirsResult",
        "topics": "DescribeLogDirsTopic",
        "partitions": "DescribeLogDirsPartition",
    },
)

# AlterReplicaLogDirs v0: as v1 (which only changed when throttling applies).
ALTER_REPLICA_LOG_DIRS = OldApi(
    34,
    range(0, 1),
    Message(
        "AlterReplicaLogDirsRequest",
        "0",
        "none",
        (
            Field(
                "dirs",
                "[]",
                fields=(
                    Field("path", "string"),
                    Field(
                        "topics",
                        "[]",
                        fields=(Field("name", "string"), Field("partitions", "[]int32")),
                    ),
                ),
            ),
        ),
    ),
    Message(
        "AlterReplicaLogDirsResponse",
        "0",
        "none",
        (
            Field("throttle_time", "int32"),
            Field(
                "results",
                "[]",
                fields=(
                    Field("topic_name", "string"),
                    Field(
                        "partitions",
                        "[]",
                        fields=(Field("partition_index", "int32"), Field("error_code", "int16")),
                    ),
                ),
            ),
        ),
    ),
    {"dirs": "AlterReplicaLogDir", "topics": "AlterReplicaLogDirTopic"},
    {"results": "AlterReplicaLogDirTopicResult", "partitions": "AlterReplicaLogDirPartitionResult"},
)

OLD_APIS: tuple[OldApi, ...] = (
    PRODUCE,
    FETCH,
    LIST_OFFSETS,
    OFFSET_COMMIT,
    OFFSET_FETCH,
    CREATE_TOPICS,
    DELETE_TOPICS,
    DESCRIBE_CONFIGS,
    OFFSET_FOR_LEADER_EPOCH,
    WRITE_TXN_MARKERS,
    DESCRIBE_LOG_DIRS,
    ALTER_REPLICA_LOG_DIRS,
)
