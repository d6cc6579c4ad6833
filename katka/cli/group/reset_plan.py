"""The plan behind `katka group reset-offsets`: new offsets from committed offsets and log
bounds, as kafka-consumer-groups.sh computes them.

No clients here: the command gathers offsets, these functions decide, and tests check the
rules with plain values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

TopicPartitionKey = tuple[str, int]


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
