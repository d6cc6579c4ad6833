"""The plan behind `katka group reset-offsets`: new offsets from committed offsets and log
bounds, as kafka-consumer-groups.sh computes them.

No clients here: the command gathers offsets, these functions decide, and tests check the
rules with plain values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

TopicPartitionKey = tuple[str, int]


# Where partitions without a committed offset start, for the modes that move from the
# committed offset: the log start or the log end (--if-no-offset).
NO_OFFSET_FALLBACKS = ("earliest", "latest")


@dataclass(frozen=True, slots=True)
class ResetSpec:
    """One of --to-earliest, --to-latest, --to-current, --to-offset N, --shift-by N,
    --to-datetime / --by-duration (both become `timestamp` here)."""

    kind: str  # earliest | latest | current | offset | shift | timestamp | file
    value: int = 0
    offsets: Mapping[TopicPartitionKey, int] | None = None  # kind file: --from-file's offsets

    @property
    def moves_from_committed_offset(self) -> bool:
        return self.kind in ("current", "shift")


class NoCommittedOffset(ValueError):
    """--shift-by or --to-current on partitions with nothing committed and no fallback named.

    Kafka refuses --shift-by there ("no current committed offset"); for --to-current it takes
    the log end. Both would silently skip every record of such a partition, so katka refuses
    both unless the user names where they start."""

    def __init__(self, spec: ResetSpec, partitions: Sequence[TopicPartitionKey]) -> None:
        names = [f"{topic}-{partition}" for topic, partition in partitions]
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        verb = "has" if len(names) == 1 else "have"
        action = "shift from" if spec.kind == "shift" else "keep"
        super().__init__(
            f"{shown} {verb} no committed offset to {action}: pass --if-no-offset earliest "
            "or --if-no-offset latest to start there from the log start or the log end"
        )
        self.partitions = list(partitions)


@dataclass(frozen=True, slots=True)
class PlannedReset:
    topic: str
    partition: int
    current_offset: int | None  # None: nothing committed
    new_offset: int
    log_start_offset: int
    log_end_offset: int
    requested_offset: int  # before clamping to [log start, log end]

    @property
    def records_to_replay(self) -> int | None:
        """Records consumed again (negative: records skipped); None without a current offset."""
        if self.current_offset is None:
            return None
        return self.current_offset - self.new_offset

    @property
    def clamp_warning(self) -> str | None:
        """Kafka's warning when the requested offset lies outside the log."""
        name = f"{self.topic}-{self.partition}"
        if self.requested_offset > self.log_end_offset:
            return (
                f"new offset {self.requested_offset} is past the log end of {name}: "
                f"{self.new_offset} is used"
            )
        if self.requested_offset < self.log_start_offset:
            return (
                f"new offset {self.requested_offset} is before the log start of {name}: "
                f"{self.new_offset} is used"
            )
        return None


def plan_reset(
    partitions: Sequence[TopicPartitionKey],
    spec: ResetSpec,
    committed: Mapping[TopicPartitionKey, int | None],
    log_start: Mapping[TopicPartitionKey, int],
    log_end: Mapping[TopicPartitionKey, int],
    offsets_for_time: Mapping[TopicPartitionKey, int | None] | None = None,
    if_no_offset: str | None = None,
) -> list[PlannedReset]:
    """New offsets, clamped to [log start, log end] as kafka-consumer-groups.sh does.

    --to-current and --shift-by move from the committed offset: partitions without one start
    from the log start or end named by `if_no_offset`, and without it the plan is refused
    (NoCommittedOffset). A timestamp past the last record means the log end, as in Kafka."""
    missing = [key for key in sorted(partitions) if committed.get(key) is None]
    if spec.moves_from_committed_offset and missing and if_no_offset is None:
        raise NoCommittedOffset(spec, missing)
    plan = []
    for key in sorted(partitions):
        start, end = log_start[key], log_end[key]
        current = committed.get(key)
        if current is not None:
            base = current
        else:
            base = start if if_no_offset == "earliest" else end
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
        elif spec.kind == "file":
            new = (spec.offsets or {})[key]
        else:
            raise ValueError(f"unknown reset kind {spec.kind!r}")
        clamped = min(max(new, start), end)
        plan.append(PlannedReset(key[0], key[1], current, clamped, start, end, new))
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


def parse_offsets_csv(text: str, group_id: str) -> dict[TopicPartitionKey, int]:
    """Offsets as kafka-consumer-groups.sh --export writes them: `topic,partition,offset`
    lines, or `group,topic,partition,offset` for several groups (other groups' rows are
    skipped). Raises ValueError naming the line."""
    offsets: dict[TopicPartitionKey, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        fields = [field.strip() for field in line.split(",")]
        if fields == [""]:
            continue
        if len(fields) == 4:
            group, *fields = fields
            if group != group_id:
                continue
        if len(fields) != 3 or not fields[0]:
            raise ValueError(f"line {number}: expected TOPIC,PARTITION,OFFSET, got {line!r}")
        try:
            partition, offset = int(fields[1]), int(fields[2])
        except ValueError:
            raise ValueError(f"line {number}: partition and offset must be numbers") from None
        offsets[(fields[0], partition)] = offset
    return offsets


def offsets_csv(plan: Sequence[PlannedReset]) -> str:
    """The plan's new offsets as kafka-consumer-groups.sh --export writes them."""
    return "".join(f"{p.topic},{p.partition},{p.new_offset}\n" for p in plan)
