"""Plain decisions behind `katka group`: reset-offsets plans and rebalance-storm detection.

No clients here: the commands gather offsets and history, these functions decide, and tests
check the rules with plain values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

TopicPartitionKey = tuple[str, int]

# A storm: one member behind at least STORM_MIN_REBALANCES rebalances, each starting within
# the storm interval of the previous one.
STORM_MIN_REBALANCES = 3
STORM_MIN_INTERVAL_MS = 60_000


@dataclass(frozen=True, slots=True)
class ResetSpec:
    """One of --to-earliest, --to-latest, --to-current, --to-offset N, --shift-by N,
    --to-datetime / --by-duration (both become `timestamp` here)."""

    kind: str  # earliest | latest | current | offset | shift | timestamp
    value: int = 0


@dataclass(frozen=True, slots=True)
class PlannedReset:
    topic: str
    partition: int
    current_offset: int | None  # None: nothing committed
    new_offset: int
    log_start_offset: int
    log_end_offset: int

    @property
    def records_to_replay(self) -> int | None:
        """Records consumed again (negative: records skipped); None without a current offset."""
        if self.current_offset is None:
            return None
        return self.current_offset - self.new_offset


def plan_reset(
    partitions: Sequence[TopicPartitionKey],
    spec: ResetSpec,
    committed: Mapping[TopicPartitionKey, int | None],
    log_start: Mapping[TopicPartitionKey, int],
    log_end: Mapping[TopicPartitionKey, int],
    offsets_for_time: Mapping[TopicPartitionKey, int | None] | None = None,
) -> list[PlannedReset]:
    """New offsets, clamped to [log start, log end] as kafka-consumer-groups.sh does.

    Without a committed offset, --to-current and --shift-by start from the log end (where a
    new consumer with auto.offset.reset=latest would start)."""
    plan = []
    for key in sorted(partitions):
        start, end = log_start[key], log_end[key]
        current = committed.get(key)
        base = current if current is not None else end
        if spec.kind == "earliest":
            new = start
        elif spec.kind == "latest":
            new = end
        elif spec.kind == "current":
            new = base
        elif spec.kind == "offset":
            new = spec.value
        elif spec.kind == "shift":
            new = base + spec.value
        elif spec.kind == "timestamp":
            found = (offsets_for_time or {}).get(key)
            new = end if found is None or found < 0 else found
        else:
            raise ValueError(f"unknown reset kind {spec.kind!r}")
        plan.append(PlannedReset(key[0], key[1], current, min(max(new, start), end), start, end))
    return plan


def parse_topic_partitions(values: Sequence[str]) -> list[tuple[str, list[int] | None]]:
    """`--topic orders` (every partition) or `--topic orders:0,2` (those partitions)."""
    parsed: list[tuple[str, list[int] | None]] = []
    for value in values:
        name, separator, listed = value.partition(":")
        if not name:
            raise ValueError(f"invalid --topic {value!r}: expected TOPIC or TOPIC:P,P,...")
        if not separator:
            parsed.append((name, None))
            continue
        try:
            numbers = [int(p) for p in listed.split(",") if p.strip()]
        except ValueError:
            raise ValueError(f"invalid --topic {value!r}: partitions must be numbers") from None
        if not numbers or any(n < 0 for n in numbers):
            raise ValueError(f"invalid --topic {value!r}: expected TOPIC:P,P,...")
        parsed.append((name, numbers))
    return parsed


@dataclass(frozen=True, slots=True)
class Storm:
    who: str  # group.instance.id, client.id or member id: what stays the same across rejoins
    rebalances: int
    first_ms: int
    last_ms: int
    triggers: tuple[str, ...]
    generations: tuple[int, ...]


def member_label(entry: Mapping[str, Any]) -> str:
    for field in ("group_instance_id", "client_id", "member_id"):
        value = entry.get(field)
        if value:
            return str(value)
    return "-"


def detect_storms(
    history: Sequence[Mapping[str, Any]], session_timeout_ms: int | None = None
) -> list[Storm]:
    """Runs of >= 3 rebalances triggered by the same member, each within the storm interval
    (2 x session.timeout.ms, at least 60 s) of the previous one.

    The member is named by what survives a restart: its group.instance.id, else its client.id
    (a crashed dynamic member rejoins with a new member id)."""
    interval_ms = max(STORM_MIN_INTERVAL_MS, 2 * (session_timeout_ms or 0))
    by_member: dict[str, list[Mapping[str, Any]]] = {}
    for entry in sorted(history, key=lambda e: int(e["start_ms"])):
        by_member.setdefault(member_label(entry), []).append(entry)
    storms = []
    for who, entries in by_member.items():
        if who == "-":
            continue
        run: list[Mapping[str, Any]] = []
        for entry in entries + [{}]:  # a sentinel closes the last run
            if entry and run and int(entry["start_ms"]) - int(run[-1]["start_ms"]) < interval_ms:
                run.append(entry)
                continue
            if len(run) >= STORM_MIN_REBALANCES:
                storms.append(
                    Storm(
                        who=who,
                        rebalances=len(run),
                        first_ms=int(run[0]["start_ms"]),
                        last_ms=int(run[-1]["start_ms"]),
                        triggers=tuple(sorted({str(e["trigger"]) for e in run})),
                        generations=tuple(int(e["generation_id"]) for e in run),
                    )
                )
            run = [entry] if entry else []
    return sorted(storms, key=lambda s: s.first_ms)


def storm_advice(storm: Storm) -> list[str]:
    """What usually cures a storm, most specific first."""
    advice = []
    triggers = set(storm.triggers)
    if triggers & {"join", "leave", "session_timeout"}:
        advice.append(
            "static membership: give each consumer a stable group.instance.id (KIP-345); a "
            "restart within session.timeout.ms then rejoins without a rebalance"
        )
    if "session_timeout" in triggers:
        advice.append(
            "session.timeout.ms: heartbeats stopped for longer than the session timeout "
            "(crashes, GC or network pauses); raise it if the member is alive but slow"
        )
    if "poll_timeout" in triggers:
        advice.append(
            "max.poll.interval.ms: the member spent too long between polls; raise it, or "
            "process fewer records per poll (max.poll.records)"
        )
    advice.append(
        "partition.assignment.strategy=cooperative-sticky: rebalances then stop only the "
        "partitions that move, not the whole group"
    )
    return advice
