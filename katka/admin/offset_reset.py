"""`POST /api/groups/{group}/reset-offsets`: `katka group reset-offsets` over HTTP.

The console and `katka group reset-offsets --live` call it (docs/admin-api.md says the fields).
The plan is the CLI's (cli/group/reset_plan.py), made from the broker's own state: committed
offsets from the coordinator, log bounds and offsets for a time from the partition logs. A dry
run changes nothing; `execute` hands the plan to the coordinator, which writes it (and, `live`,
fences the group's members in the same append: coordinator.reset_offsets).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from katka.cli.group.reset_plan import (
    NO_OFFSET_FALLBACKS,
    NoCommittedOffset,
    PlannedReset,
    ResetSpec,
    TopicPartitionKey,
    parse_topic_partitions,
    plan_reset,
)
from katka.cli.timeparse import TimeFormatError, parse_duration_ms, parse_time_ms
from katka.errors import ErrorCode, KafkaError

if TYPE_CHECKING:
    from katka.coordinator.service import GroupCoordinator
    from katka.node import Node

Document = dict[str, Any]
MODES = (
    "to_earliest",
    "to_latest",
    "to_current",
    "to_offset",
    "shift_by",
    "to_datetime",
    "by_duration",
    "offsets",
)
FIELDS = frozenset((*MODES, "topics", "all_topics", "if_no_offset", "live", "execute"))
INACTIVE_STATES = ("Empty", "Dead")


class Refused(Exception):
    """The request cannot be served: an HTTP status and a message naming why."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class ResetRequest:
    """A reset request's body, checked: what both sources of the console act on (the broker
    here, a Kafka cluster in katka/cli/console/kafka_source.py)."""

    fields: dict[str, Any]
    spec: ResetSpec
    live: bool
    execute: bool
    if_no_offset: str | None


def read_request(body: bytes, group_id: str, now_ms: int) -> ResetRequest:
    """The body's fields, mode and flags; raises Refused (400) naming what is wrong."""
    fields = _fields(body)
    spec = _spec(fields, group_id, now_ms)
    live = _flag(fields, "live")
    execute = _flag(fields, "execute")
    if_no_offset = fields.get("if_no_offset")
    if if_no_offset is not None and if_no_offset not in NO_OFFSET_FALLBACKS:
        raise Refused(HTTPStatus.BAD_REQUEST, "if_no_offset must be 'earliest' or 'latest'")
    return ResetRequest(fields, spec, live, execute, if_no_offset)


def reset_offsets(node: Node, group_id: str, body: bytes) -> Document:
    """Plan the reset and, with `execute`, apply it; raises Refused."""
    request = read_request(body, group_id, node.clock.now_ms())
    fields, spec, live = request.fields, request.spec, request.live
    execute = request.execute
    coordinator = node.coordinator
    state, group_type = _group(coordinator, group_id)
    if group_type == "share":
        raise Refused(
            HTTPStatus.CONFLICT,
            f"'{group_id}' is a share group: reset it with katka share-group reset-offsets",
        )
    if state not in INACTIVE_STATES and not live:
        raise Refused(
            HTTPStatus.CONFLICT,
            f"Assignments can only be reset if the group '{group_id}' is inactive, but the "
            f"current state is {state}; reset it live (it keeps consuming, its members resume "
            "from the new offsets).",
        )
    committed: dict[TopicPartitionKey, int | None] = {
        (p.topic, p.partition): p.committed_offset
        for p in coordinator.fetch_offsets(group_id, None).partitions
        if p.committed_offset >= 0
    }
    partitions = select_partitions(fields, spec, committed, group_id, _partition_counts(node))
    for name, partition in partitions:
        try:
            node.topics.get_log(name, partition)
        except KafkaError as error:
            raise Refused(HTTPStatus.CONFLICT, f"{name}-{partition}: {error.message}") from None
    log_start: dict[TopicPartitionKey, int] = {}
    log_end: dict[TopicPartitionKey, int] = {}
    by_time: dict[TopicPartitionKey, int | None] = {}
    for key in partitions:
        log = node.topics.get_log(*key)
        log_start[key], log_end[key] = log.log_start_offset, log.high_watermark
        if spec.kind == "timestamp":
            found = log.offset_for_timestamp(spec.value)
            by_time[key] = None if found is None else found.offset
    plan = make_plan(request, partitions, committed, log_start, log_end, by_time)
    if execute:
        offsets = {(p.topic, p.partition): p.new_offset for p in plan}
        code = coordinator.reset_offsets(group_id, offsets, live=live)
        if code is ErrorCode.unstable_offset_commit:
            raise Refused(
                HTTPStatus.CONFLICT,
                f"a transaction holds offsets of group '{group_id}' not yet committed or "
                "aborted (their outcome would overwrite the reset): retry when it ends",
            )
        if code is not ErrorCode.none:
            raise Refused(HTTPStatus.CONFLICT, f"the coordinator refused: {code.name.upper()}")
        state, _ = _group(coordinator, group_id)
    return reset_document(group_id, request, state, plan)


def make_plan(
    request: ResetRequest,
    partitions: list[TopicPartitionKey],
    committed: dict[TopicPartitionKey, int | None],
    log_start: dict[TopicPartitionKey, int],
    log_end: dict[TopicPartitionKey, int],
    by_time: dict[TopicPartitionKey, int | None],
) -> list[PlannedReset]:
    try:
        return plan_reset(
            partitions, request.spec, committed, log_start, log_end, by_time, request.if_no_offset
        )
    except NoCommittedOffset as error:
        message = str(error).replace("--if-no-offset", "if_no_offset")
        raise Refused(HTTPStatus.CONFLICT, message) from None


def reset_document(
    group_id: str, request: ResetRequest, state: str, plan: list[PlannedReset]
) -> Document:
    return {
        "group_id": group_id,
        "executed": request.execute,
        "live": request.live,
        "state": state,
        "partitions": [_row(p) for p in plan],
        "warnings": [p.clamp_warning for p in plan if p.clamp_warning is not None],
    }


def _row(planned: PlannedReset) -> Document:
    return {
        "topic": planned.topic,
        "partition": planned.partition,
        "current_offset": planned.current_offset,
        "new_offset": planned.new_offset,
        "log_start_offset": planned.log_start_offset,
        "log_end_offset": planned.log_end_offset,
        "records_to_replay": planned.records_to_replay,
    }


def _fields(body: bytes) -> dict[str, Any]:
    try:
        fields = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise Refused(HTTPStatus.BAD_REQUEST, "the body is not JSON") from None
    if not isinstance(fields, dict):
        raise Refused(HTTPStatus.BAD_REQUEST, "the body must be a JSON object")
    unknown = sorted(set(fields) - FIELDS)
    if unknown:
        raise Refused(HTTPStatus.BAD_REQUEST, f"unknown fields: {', '.join(unknown)}")
    return fields


def _flag(fields: dict[str, Any], name: str) -> bool:
    value = fields.get(name, False)
    if not isinstance(value, bool):
        raise Refused(HTTPStatus.BAD_REQUEST, f"{name} must be true or false")
    return value


def _integer(fields: dict[str, Any], name: str) -> int:
    value = fields[name]
    if not isinstance(value, int) or isinstance(value, bool):
        raise Refused(HTTPStatus.BAD_REQUEST, f"{name} must be an integer")
    return value


def _spec(fields: dict[str, Any], group_id: str, now_ms: int) -> ResetSpec:
    chosen = [mode for mode in MODES if fields.get(mode) not in (None, False)]
    if len(chosen) != 1:
        raise Refused(
            HTTPStatus.BAD_REQUEST,
            f"choose exactly one of {', '.join(MODES)}"
            + (f" (got {', '.join(chosen)})" if chosen else ""),
        )
    mode = chosen[0]
    if mode in ("to_earliest", "to_latest", "to_current"):
        if fields[mode] is not True:
            raise Refused(HTTPStatus.BAD_REQUEST, f"{mode} must be true")
        return ResetSpec(mode.removeprefix("to_"))
    if mode == "to_offset":
        offset = _integer(fields, mode)
        if offset < 0:
            raise Refused(HTTPStatus.BAD_REQUEST, "to_offset must be >= 0")
        return ResetSpec("offset", offset)
    if mode == "shift_by":
        return ResetSpec("shift", _integer(fields, mode))
    if mode == "offsets":
        return ResetSpec("file", offsets=_offsets(fields["offsets"]))
    text = fields[mode]
    if not isinstance(text, str):
        raise Refused(HTTPStatus.BAD_REQUEST, f"{mode} must be a string")
    try:
        if mode == "to_datetime":
            return ResetSpec("timestamp", parse_time_ms(text, now_ms))
        return ResetSpec("timestamp", now_ms - parse_duration_ms(text))
    except TimeFormatError as error:
        raise Refused(HTTPStatus.BAD_REQUEST, f"{mode}: {error}") from None


def _offsets(entries: Any) -> dict[TopicPartitionKey, int]:
    shape = 'offsets must be a non-empty list of {"topic": T, "partition": P, "offset": N}'
    if not isinstance(entries, list) or not entries:
        raise Refused(HTTPStatus.BAD_REQUEST, shape)
    offsets: dict[TopicPartitionKey, int] = {}
    for entry in entries:
        if not isinstance(entry, dict) or set(entry) != {"topic", "partition", "offset"}:
            raise Refused(HTTPStatus.BAD_REQUEST, shape)
        topic, partition, offset = entry["topic"], entry["partition"], entry["offset"]
        if (
            not isinstance(topic, str)
            or not topic
            or not all(isinstance(n, int) and not isinstance(n, bool) for n in (partition, offset))
            or partition < 0
        ):
            raise Refused(HTTPStatus.BAD_REQUEST, shape)
        offsets[(topic, partition)] = offset
    return offsets


def _group(coordinator: GroupCoordinator, group_id: str) -> tuple[str, str | None]:
    """(state, group type); ("Dead", None) for a group the coordinator does not know."""
    for listed in coordinator.list_groups().groups:
        if listed.group_id == group_id:
            return listed.group_state, listed.group_type
    return "Dead", None


def _partition_counts(node: Node) -> Callable[[str], int | None]:
    def count(name: str) -> int | None:
        info = node.topics.catalog.get(name)
        return None if info is None else info.partitions

    return count


def select_partitions(
    fields: dict[str, Any],
    spec: ResetSpec,
    committed: Mapping[TopicPartitionKey, int | None],
    group_id: str,
    partition_count: Callable[[str], int | None],
) -> list[TopicPartitionKey]:
    """The partitions a request names (topics, all_topics or offsets), each one checked to
    exist; `partition_count` says how many partitions a topic has (None: no such topic)."""
    topics = fields.get("topics")
    all_topics = _flag(fields, "all_topics")
    if spec.offsets is not None:
        if topics or all_topics:
            raise Refused(HTTPStatus.BAD_REQUEST, "offsets names its partitions: no topics")
        requested = sorted(spec.offsets)
    else:
        if bool(topics) == all_topics:
            raise Refused(HTTPStatus.BAD_REQUEST, "choose one of topics and all_topics")
        if all_topics:
            if not committed:
                raise Refused(
                    HTTPStatus.CONFLICT, f"group '{group_id}' has no committed offsets to reset"
                )
            requested = sorted(committed)
        else:
            if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
                raise Refused(HTTPStatus.BAD_REQUEST, "topics must be a list of strings")
            try:
                named = parse_topic_partitions(topics)
            except ValueError as error:
                raise Refused(HTTPStatus.BAD_REQUEST, str(error)) from None
            requested = []
            for name, listed in named:
                count = partition_count(name)
                if count is None:
                    raise Refused(HTTPStatus.NOT_FOUND, f"Topic '{name}' does not exist")
                requested.extend((name, p) for p in (listed or range(count)))
    for name, partition in requested:
        count = partition_count(name)
        if count is None or partition >= count:
            raise Refused(HTTPStatus.NOT_FOUND, f"no partition {name}-{partition}")
    return sorted(set(requested))
