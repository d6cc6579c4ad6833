"""The admin API's documents as plain functions of plain values, shared by both sources of the
console: the broker itself (views.py) and a Kafka cluster seen through the protocol
(katka/cli/console). One definition of lag in records and in time, and of storms, keeps the
pages and /metrics the same whichever source answers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from katka.cli.group.storms import detect_storms, storm_advice

Document = dict[str, Any]


def lag_row(
    topic: str,
    partition: int,
    committed_offset: int,
    log_start_offset: int | None,
    high_watermark: int | None,
    next_record_timestamp_ms: int | None,
    now_ms: int,
) -> Document:
    """One partition of a group: lag in records (high watermark - committed offset) and in time.

    lag_ms is the age of the next record the group has not consumed (now - its timestamp):
    0 when caught up, None when that record's timestamp is unknown (or the log is gone)."""
    row: Document = {
        "topic": topic,
        "partition": partition,
        "committed_offset": committed_offset,
        "log_start_offset": log_start_offset,
        "high_watermark": high_watermark,
        "lag": None,
        "next_record_timestamp_ms": None,
        "lag_ms": None,
    }
    if high_watermark is None:
        return row
    records = max(high_watermark - committed_offset, 0)
    row["lag"] = records
    if records == 0:
        row["lag_ms"] = 0
    elif next_record_timestamp_ms is not None and next_record_timestamp_ms >= 0:
        row["next_record_timestamp_ms"] = next_record_timestamp_ms
        row["lag_ms"] = max(now_ms - next_record_timestamp_ms, 0)
    return row


def next_unconsumed_offset(committed_offset: int, log_start_offset: int) -> int:
    """Below the log start, the next record a consumer gets is the first one kept."""
    return max(committed_offset, log_start_offset)


def lag_document(group_id: str, now_ms: int, rows: Sequence[Document]) -> Document:
    ordered = sorted(rows, key=lambda row: (row["topic"], row["partition"]))
    return {"group_id": group_id, "now_ms": now_ms, "partitions": ordered}


def rebalances_document(
    group_id: str,
    session_timeout_ms: int | None,
    history: Sequence[Mapping[str, Any]],
    **extra: Any,
) -> Document:
    """The rebalance history, oldest first, with the storms in it and what usually cures them."""
    entries = [dict(entry) for entry in history]
    return {
        "group_id": group_id,
        # The CLI calls rebalances "close" (a storm) within 2 x the session timeout.
        "session_timeout_ms": session_timeout_ms,
        "rebalances": entries,
        # The console's storm banner: the CLI's rule and advice (katka group rebalances).
        "storms": [
            {**dataclasses.asdict(storm), "advice": storm_advice(storm)}
            for storm in detect_storms(entries, session_timeout_ms)
        ],
        **extra,
    }
