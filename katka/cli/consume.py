"""`katka consume TOPIC`: print records in a kcat-like --format (kcat -C, kafka-console-consumer).

Without --group the consumer assigns partitions itself and commits nothing; with --group it
subscribes as a member of the group (or assigns --partition and commits for the group).
Ctrl-C and SIGTERM both close the consumer, which commits (auto-commit) and leaves the group
at once, then exit with 128 + the signal number. A topic that does not exist yet is waited
for, as kafka-console-consumer.sh does (with --partition or --exit-at-end it is an error).
"""

from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass
from typing import Any

import click

from katka.cli.common import (
    CliError,
    Connection,
    StopSignals,
    connection_options,
    echo_err,
    kafka_error_text,
    no_such_partition,
    now_ms,
    plural,
)
from katka.cli.record_format import compile_format, record_json, render, to_record
from katka.cli.timeparse import TimeFormatError, parse_time_ms

# librdkafka's logical offsets
OFFSET_BEGINNING = -2
OFFSET_END = -1
OFFSET_TAIL_BASE = -2000


@click.command()
@click.argument("topic_names", metavar="[TOPIC]...", nargs=-1)
@click.option(
    "--include",
    "pattern",
    default=None,
    metavar="REGEX",
    help="Every topic whose whole name matches REGEX (internal topics excepted).",
)
@click.option("--group", "-g", "group_id", default=None, help="Consume as a member of GROUP.")
@click.option(
    "--from-beginning",
    is_flag=True,
    help="Start at the log start (a group: when it has no committed offset).",
)
@click.option(
    "--offset",
    type=int,
    default=None,
    help="Start at offset N; negative: the last N records of each partition.",
)
@click.option(
    "--from-time",
    default=None,
    metavar="TIME",
    help="Start at the first record at or after TIME: ISO 8601 or -1h style.",
)
@click.option(
    "--partition",
    "-p",
    "partitions",
    type=click.IntRange(min=0),
    multiple=True,
    help="Only this partition; repeatable.",
)
@click.option(
    "--max-messages", "-c", type=click.IntRange(min=1), default=None, help="Exit after N records."
)
@click.option(
    "--exit-at-end", "-e", is_flag=True, help="Exit when every partition is read to its end."
)
@click.option(
    "--idle-timeout",
    type=click.FloatRange(min=0.1),
    default=None,
    metavar="SECONDS",
    help="Exit after SECONDS without a record.",
)
@click.option(
    "--format",
    "-f",
    "format_text",
    default="%v\\n",
    show_default=True,
    help="kcat-like output format.",
)
@click.option(
    "--commit",
    type=click.Choice(["auto", "manual", "none"]),
    default=None,
    help="auto: periodic auto-commit; manual: commit after printing each record; none. "
    "Default: auto with --group, none without.",
)
@connection_options
def consume(
    connection: Connection,
    topic_names: tuple[str, ...],
    pattern: str | None,
    group_id: str | None,
    from_beginning: bool,
    offset: int | None,
    from_time: str | None,
    partitions: tuple[int, ...],
    max_messages: int | None,
    exit_at_end: bool,
    idle_timeout: float | None,
    format_text: str,
    commit: str | None,
) -> None:
    """Print records from topics, one --format per record (JSON lines with --output json).

    A topic that does not exist yet is waited for, as kafka-console-consumer.sh does. Ctrl-C
    and SIGTERM close the consumer: it commits (auto-commit) and leaves its group at once.

    \b
    Format fields: %k key, %v value, %p partition, %o offset, %T timestamp (ms),
    %t topic, %h headers (k=v,...), %K/%S key/value length; escapes \\n \\t.
    \b
    Examples:
      katka consume orders --from-beginning --max-messages 10 --format '%p:%o %k=%v\\n'
      katka consume orders --group billing --commit manual
      katka consume orders --from-time -1h --exit-at-end --output json
      katka consume orders refunds --include 'audit-.*' --group billing
    """
    if not topic_names and pattern is None:
        raise click.UsageError("name a TOPIC or pass --include REGEX")
    if partitions and (len(topic_names) != 1 or pattern is not None):
        raise click.UsageError("--partition needs exactly one TOPIC (and no --include)")
    matcher: re.Pattern[str] | None = None
    if pattern is not None:
        try:
            matcher = re.compile(pattern)
        except re.error as error:
            raise click.BadParameter(f"invalid regex: {error}", param_hint="--include") from None
    starts = [
        name
        for name, given in (
            ("--from-beginning", from_beginning),
            ("--offset", offset is not None),
            ("--from-time", from_time is not None),
        )
        if given
    ]
    if len(starts) > 1:
        raise click.UsageError(f"choose one of {', '.join(starts)}")
    start_ms: int | None = None
    if from_time is not None:
        try:
            start_ms = parse_time_ms(from_time, now_ms())
        except TimeFormatError as error:
            raise click.BadParameter(str(error), param_hint="--from-time") from None
    if commit is None:
        commit = "auto" if group_id else "none"
    if commit != "none" and not group_id:
        raise click.UsageError(f"--commit {commit} needs --group")
    parts = compile_format(format_text)

    consumer = connection.consumer(
        group_id,
        **{
            "enable.auto.commit": commit == "auto",
            "auto.offset.reset": "earliest" if from_beginning else "latest",
            "enable.partition.eof": exit_at_end,
            # commit=manual stores nothing automatically: the explicit commit names the offset.
            "enable.auto.offset.store": commit != "manual",
        },
    )
    count = 0
    with StopSignals() as stop:
        try:
            # Without --partition or --exit-at-end nothing needs checking against the topic:
            # wait for it, as kafka-console-consumer.sh does.
            may_wait = not partitions and not exit_at_end
            wanted = Topics(list(dict.fromkeys(topic_names)), matcher)
            found = wait_for_topics(consumer, wanted, connection, stop, may_wait, idle_timeout)
            if found is not None:
                chosen = {name: sorted(metadata.partitions) for name, metadata in found.items()}
                if partitions:
                    [(name, known)] = chosen.items()
                    for partition in partitions:
                        if partition not in known:
                            raise no_such_partition(name, partition, len(known))
                    chosen[name] = list(partitions)
                start_position = StartPosition(from_beginning, offset, start_ms)
                start_consuming(
                    consumer, connection, wanted, group_id, chosen, start_position, bool(partitions)
                )
                count = print_records(
                    consumer,
                    connection,
                    stop,
                    parts,
                    commit,
                    max_messages,
                    exit_at_end,
                    idle_timeout,
                )
        finally:
            # After Ctrl-C or SIGTERM too: close() commits the stored offsets when
            # auto-committing and leaves the group at once, so the group's partitions move to
            # other members without waiting for a session timeout.
            consumer.close()
    echo_err(f"Processed a total of {plural(count, 'message')}")
    if stop.requested is not None:
        raise click.exceptions.Exit(stop.exit_code)


@dataclass(frozen=True, slots=True)
class StartPosition:
    """--from-beginning, --offset N or --from-time: where each partition starts."""

    from_beginning: bool
    offset: int | None
    start_ms: int | None

    def explicit(self, group_id: str | None) -> bool:
        """Whether the start overrides a group's committed offsets."""
        return (
            self.start_ms is not None
            or self.offset is not None
            or (self.from_beginning and not group_id)
        )

    def logical_offset(self) -> int | None:
        if self.from_beginning:
            return OFFSET_BEGINNING
        if self.offset is not None:
            return self.offset if self.offset >= 0 else OFFSET_TAIL_BASE + self.offset
        return None


@dataclass(frozen=True, slots=True)
class Topics:
    """What to consume: named topics and/or every topic matching --include."""

    names: list[str]
    pattern: re.Pattern[str] | None

    def matched_by_pattern(self, existing: list[str]) -> list[str]:
        """The non-internal topics whose whole name the pattern matches (as Kafka's --include)."""
        if self.pattern is None:
            return []
        return [
            name
            for name in sorted(existing)
            if not name.startswith("__") and self.pattern.fullmatch(name)
        ]

    def subscription(self) -> list[str]:
        """For subscribe(): librdkafka takes a regex as a name starting with ^ (it then
        also picks up matching topics created later)."""
        regex = [f"^({self.pattern.pattern})$"] if self.pattern is not None else []
        return [*self.names, *regex]


def start_consuming(
    consumer: Any,
    connection: Connection,
    topics: Topics,
    group_id: str | None,
    chosen: dict[str, list[int]],
    start: StartPosition,
    partitions_named: bool,
) -> None:
    """Subscribe as a group member, or assign the chosen partitions, at the start position.
    A group with --partition assigns too (and commits for the group)."""
    from confluent_kafka import TopicPartition

    def positioned(assigned: list[Any]) -> list[Any]:
        if start.start_ms is not None:
            found = consumer.offsets_for_times(
                [TopicPartition(tp.topic, tp.partition, start.start_ms) for tp in assigned],
                timeout=connection.timeout_s,
            )
            return [
                TopicPartition(tp.topic, tp.partition, tp.offset if tp.offset >= 0 else OFFSET_END)
                for tp in found
            ]
        first = start.logical_offset()
        if first is not None:
            return [TopicPartition(tp.topic, tp.partition, first) for tp in assigned]
        return assigned

    explicit_start = start.explicit(group_id)
    every_partition = [TopicPartition(t, p) for t, ps in chosen.items() for p in ps]
    if group_id and not partitions_named:

        def on_assign(client: Any, assigned: list[Any]) -> None:
            if explicit_start:
                client.assign(positioned(assigned))

        consumer.subscribe(topics.subscription(), on_assign=on_assign)
    elif explicit_start:
        consumer.assign(positioned(every_partition))
    elif group_id:
        consumer.assign(every_partition)  # committed, else auto.offset.reset
    else:
        consumer.assign(
            [TopicPartition(tp.topic, tp.partition, OFFSET_END) for tp in every_partition]
        )


def print_records(
    consumer: Any,
    connection: Connection,
    stop: StopSignals,
    parts: list[bytes | str],
    commit: str,
    max_messages: int | None,
    exit_at_end: bool,
    idle_timeout: float | None,
) -> int:
    """Poll and print until a limit, the end (--exit-at-end), idleness or a stop signal;
    returns how many records were printed."""
    from confluent_kafka import KafkaError, TopicPartition

    count = 0
    last_record = time.monotonic()
    at_end: set[tuple[str, int]] = set()
    write = sys.stdout.buffer.write
    while stop.requested is None and (max_messages is None or count < max_messages):
        message = consumer.poll(0.2)
        if message is None:
            if idle_timeout is not None and time.monotonic() - last_record >= idle_timeout:
                break
            continue
        problem = message.error()
        if problem is not None:
            if problem.code() == KafkaError._PARTITION_EOF:
                at_end.add((message.topic(), message.partition()))
                assigned = {(tp.topic, tp.partition) for tp in consumer.assignment()}
                if exit_at_end and assigned and assigned <= at_end:
                    break
                continue
            if problem.fatal() or problem.code() in (
                KafkaError.UNKNOWN_TOPIC_OR_PART,
                KafkaError._UNKNOWN_TOPIC,
            ):
                raise CliError(f"consume {message.topic()}: {kafka_error_text(problem)}")
            echo_err(f"katka: warning: {kafka_error_text(problem)}")
            continue
        record = to_record(message)
        at_end.discard((record.topic, record.partition))
        last_record = time.monotonic()
        if connection.json:
            write(record_json(record).encode() + b"\n")
        else:
            write(render(parts, record))
        sys.stdout.buffer.flush()
        count += 1
        if commit == "manual":
            # After the record is out: at-least-once, a crash re-delivers rather than loses.
            consumer.commit(
                offsets=[TopicPartition(record.topic, record.partition, record.offset + 1)],
                asynchronous=False,
            )
    return count


# How often a consumer waiting for its topic asks the cluster again.
TOPIC_WAIT_INTERVAL_S = 0.5


def wait_for_topics(
    consumer: Any,
    topics: Topics,
    connection: Connection,
    stop: StopSignals,
    may_wait: bool,
    idle_timeout: float | None,
) -> dict[str, Any] | None:
    """Name -> metadata of the topics to read, once every named topic exists and --include
    matches one; until then wait (saying so once) when `may_wait`, else CliError. None when
    stopped by a signal or --idle-timeout while waiting."""
    started = time.monotonic()
    said = False
    while True:
        try:
            metadata = consumer.list_topics(timeout=connection.timeout_s)
        except Exception as error:
            raise CliError(f"cannot read cluster metadata: {kafka_error_text(error)}") from None
        existing = [name for name, topic in metadata.topics.items() if topic.error is None]
        missing = [name for name in topics.names if name not in existing]
        by_pattern = topics.matched_by_pattern(existing)
        if not missing and (topics.pattern is None or by_pattern):
            return {name: metadata.topics[name] for name in [*topics.names, *by_pattern]}
        if missing:
            absent = f"Topic '{missing[0]}' does not exist as expected"
            waiting = f"waiting for topic '{missing[0]}' to be created"
        else:
            assert topics.pattern is not None
            absent = f"no topic matches --include '{topics.pattern.pattern}'"
            waiting = f"waiting for a topic matching '{topics.pattern.pattern}'"
        if not may_wait:
            raise CliError(absent)
        if not said:
            echo_err(f"katka: {waiting} (Ctrl-C to stop)")
            said = True
        deadline = time.monotonic() + TOPIC_WAIT_INTERVAL_S
        while time.monotonic() < deadline:
            if stop.requested is not None:
                return None
            if idle_timeout is not None and time.monotonic() - started >= idle_timeout:
                return None
            time.sleep(0.05)
