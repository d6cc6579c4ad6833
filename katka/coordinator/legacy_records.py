"""Values in the layouts katka wrote before it used Kafka's schemas (katka 0.1), read on upgrade.

katka 0.1 wrote Kafka's record keys but its own values, all at value version 0:
  offset commit   int16 0 | offset int64 | leader_epoch int32 | metadata int32 length (-1 null)
                  + UTF-8 | commit_timestamp_ms int64 | expire_timestamp_ms int64 (-1 none)
  everything else int16 0 | a UTF-8 JSON object (the fields are read below)
Kafka's own version-0 values never look like these: a legacy offset value is exactly 34 bytes
plus its metadata, where Kafka's v0 is 20 plus its metadata; a JSON value starts with "{", which
as Kafka's leading string length or int32 epoch would be absurd (over 31,000 or two billion).

Each decoder returns the dict that Kafka's schema decoder returns for the same record type
(record_schemas.py), so records.py turns both into its types in one place. The coordinator
rewrites the log in Kafka's layout once it has loaded legacy records.
"""

from __future__ import annotations

import base64
import json
import struct
import uuid
from typing import Any

_OFFSET_HEAD = struct.Struct(">hqii")
_OFFSET_TAIL = struct.Struct(">qq")
# Kafka's MemberState values for the state names katka 0.1 wrote.
_MEMBER_STATES = {"stable": 0, "unrevoked_partitions": 1, "unreleased_partitions": 2}


def is_legacy_offset_value(data: bytes) -> bool:
    if len(data) < _OFFSET_HEAD.size + _OFFSET_TAIL.size or data[:2] != b"\x00\x00":
        return False
    size = int(struct.unpack_from(">i", data, 14)[0])
    return len(data) == _OFFSET_HEAD.size + max(size, 0) + _OFFSET_TAIL.size


def is_legacy_json_value(data: bytes) -> bool:
    return data[:3] == b"\x00\x00{"


def decode_offset_value(data: bytes) -> dict[str, Any]:
    _, offset, leader_epoch, size = _OFFSET_HEAD.unpack_from(data, 0)
    pos = _OFFSET_HEAD.size
    metadata = None
    if size >= 0:
        metadata = data[pos : pos + size].decode("utf-8")
        pos += size
    commit_ts, expire_ts = _OFFSET_TAIL.unpack_from(data, pos)
    return {
        "offset": offset,
        "leader_epoch": leader_epoch,
        "metadata": metadata,
        "commit_timestamp": commit_ts,
        "expire_timestamp": expire_ts,
    }


def _json(data: bytes) -> Any:
    return json.loads(data[2:].decode("utf-8"))


def decode_group_value(data: bytes) -> dict[str, Any]:
    body = _json(data)
    return {
        "protocol_type": body["protocol_type"],
        "generation": int(body["generation_id"]),
        "protocol": body["protocol_name"],
        "leader": body["leader_id"],
        "current_state_timestamp": int(body["current_state_timestamp_ms"]),
        "members": [
            {
                "member_id": m["member_id"],
                "group_instance_id": m["group_instance_id"],
                "client_id": m["client_id"],
                "client_host": m["client_host"],
                "rebalance_timeout": int(m["rebalance_timeout_ms"]),
                "session_timeout": int(m["session_timeout_ms"]),
                "subscription": base64.b64decode(m["subscription"]),
                "assignment": base64.b64decode(m["assignment"]),
            }
            for m in body["members"]
        ],
    }


def _topic_partitions(body: dict[str, list[int]]) -> list[dict[str, Any]]:
    return [
        {"topic_id": uuid.UUID(topic_id), "partitions": [int(p) for p in partitions]}
        for topic_id, partitions in body.items()
    ]


def decode_consumer_group_metadata(data: bytes) -> dict[str, Any]:
    """The epoch, plus the subscribed topics that katka 0.1 kept in this record ("topics", as
    in Kafka's ConsumerGroupPartitionMetadataValue)."""
    body = _json(data)
    return {
        "epoch": int(body["epoch"]),
        "topics": [
            {"topic_name": str(n), "topic_id": uuid.UUID(t), "num_partitions": int(p)}
            for n, t, p in body["subscription_metadata"]
        ],
    }


def decode_consumer_member_metadata(data: bytes) -> dict[str, Any]:
    body = _json(data)
    return {
        name: body[name]
        for name in (
            "instance_id",
            "rack_id",
            "client_id",
            "client_host",
            "subscribed_topic_names",
            "subscribed_topic_regex",
            "server_assignor",
            "rebalance_timeout_ms",
        )
    }


def decode_consumer_target_metadata(data: bytes) -> dict[str, Any]:
    return {"assignment_epoch": int(_json(data)["assignment_epoch"])}


def decode_consumer_target_member(data: bytes) -> dict[str, Any]:
    return {"topic_partitions": _topic_partitions(_json(data)["partitions"])}


def decode_consumer_current_assignment(data: bytes) -> dict[str, Any]:
    body = _json(data)
    return {
        "member_epoch": int(body["member_epoch"]),
        "previous_member_epoch": int(body["previous_member_epoch"]),
        "state": _MEMBER_STATES[body["state"]],
        "assigned_partitions": _topic_partitions(body["assigned_partitions"]),
        "partitions_pending_revocation": _topic_partitions(body["partitions_pending_revocation"]),
    }
