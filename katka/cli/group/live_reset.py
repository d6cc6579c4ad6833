"""`katka group reset-offsets --live`: the reset goes to katka's admin API, which plans it from
the broker's state and, with --execute, writes it while the group keeps consuming (its members
are fenced and resume from the new offsets: docs/admin-api.md). Kafka has no such request, so
this needs a katka broker."""

from __future__ import annotations

from typing import Any

from katka.cli.admin_api import admin_api, quote
from katka.cli.common import Connection
from katka.cli.group.reset_plan import PlannedReset, ResetSpec


def request_body(
    spec: ResetSpec,
    topics: tuple[str, ...],
    all_topics: bool,
    to_datetime: str | None,
    by_duration: str | None,
    if_no_offset: str | None,
    execute: bool,
) -> dict[str, Any]:
    """The API's fields for the CLI's options (the same names, as docs/admin-api.md lists)."""
    body: dict[str, Any] = {"live": True, "execute": execute}
    if spec.offsets is not None:
        body["offsets"] = [
            {"topic": t, "partition": p, "offset": o} for (t, p), o in sorted(spec.offsets.items())
        ]
    elif all_topics:
        body["all_topics"] = True
    else:
        body["topics"] = list(topics)
    if to_datetime is not None:
        body["to_datetime"] = to_datetime
    elif by_duration is not None:
        body["by_duration"] = by_duration
    elif spec.kind in ("earliest", "latest", "current"):
        body[f"to_{spec.kind}"] = True
    elif spec.kind == "offset":
        body["to_offset"] = spec.value
    elif spec.kind == "shift":
        body["shift_by"] = spec.value
    if if_no_offset is not None:
        body["if_no_offset"] = if_no_offset
    return body


def reset_live(
    connection: Connection, group_id: str, body: dict[str, Any]
) -> tuple[list[PlannedReset], list[str]]:
    """The plan the broker made (and applied, with execute) and its warnings."""
    api = admin_api(connection, "a live offset reset")
    answer = api.post(f"/api/groups/{quote(group_id)}/reset-offsets", body)
    plan = [
        PlannedReset(
            row["topic"],
            row["partition"],
            row["current_offset"],
            row["new_offset"],
            row["log_start_offset"],
            row["log_end_offset"],
            row["new_offset"],
        )
        for row in answer["partitions"]
    ]
    return plan, list(answer["warnings"])
