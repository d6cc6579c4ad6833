"""`katka produce TOPIC`: one record per input line (kafka-console-producer.sh, kcat -P).

The policy on a line that cannot be sent (no key separator, refused by the client) and on
Ctrl-C is the same: stop reading, deliver every line before it, and say exactly what was sent
and what was not (counts and the line number). The exit code is 0 only when every line of the
input was delivered.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import IO, Any

import click

from katka.cli.common import (
    CliError,
    Connection,
    StopSignals,
    connection_options,
    echo_err,
    emit_json,
    kafka_error_text,
    no_such_partition,
    plural,
)

COMPRESSION = ["none", "gzip", "snappy", "lz4", "zstd"]
# Show a progress bar for files, and for streams on a TTY once they last this long.
PROGRESS_AFTER_S = 1.0


class DeliveryTally:
    """Delivery reports, with the input line of the first record that failed."""

    def __init__(self) -> None:
        self.delivered = 0
        self.failed = 0
        self.first_error: str | None = None
        self.first_failed_line: int | None = None

    def first_failure(self) -> str:
        """`the first at line 17: reason`; records still queued at the flush timeout have no
        delivery report, so no line."""
        if self.first_failed_line is None:
            return str(self.first_error)
        return f"the first at line {self.first_failed_line}: {self.first_error}"

    def on_delivery(self, line_number: int, error: Any, message: Any) -> None:
        if error is None:
            self.delivered += 1
            return
        self.failed += 1
        if self.first_error is None:
            self.first_error = kafka_error_text(error)
            self.first_failed_line = line_number


def split_record(
    line: bytes, key_separator: bytes | None, line_number: int
) -> tuple[bytes | None, bytes]:
    if key_separator is None:
        return None, line
    key, separator, value = line.partition(key_separator)
    if not separator:
        raise CliError(f"line {line_number}: no key separator {key_separator.decode()!r} found")
    return key, value


def parse_headers(items: tuple[str, ...]) -> list[tuple[str, bytes]]:
    headers = []
    for item in items:
        name, separator, value = item.partition("=")
        if not separator or not name:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--header")
        headers.append((name, value.encode()))
    return headers


def read_lines(stream: IO[bytes]) -> Iterator[bytes]:
    for raw in stream:
        yield raw[:-1] if raw.endswith(b"\n") else raw


@click.command()
@click.argument("topic_name", metavar="TOPIC")
@click.option(
    "--file",
    "-l",
    "path",
    type=click.Path(dir_okay=False, exists=True),
    help="Read lines from FILE instead of stdin.",
)
@click.option("--key-separator", "-K", default=None, help="Split each line into KEY<sep>VALUE.")
@click.option(
    "--header",
    "-H",
    "headers",
    multiple=True,
    metavar="KEY=VALUE",
    help="A header on every record; repeatable.",
)
@click.option(
    "--partition",
    "-p",
    type=click.IntRange(min=0),
    default=None,
    help="Produce to this partition only.",
)
@click.option(
    "--acks", type=click.Choice(["0", "1", "all", "-1"]), default="all", show_default=True
)
@click.option(
    "--compression", "-z", type=click.Choice(COMPRESSION), default="none", show_default=True
)
@click.option("--linger-ms", type=click.IntRange(min=0), default=5, show_default=True)
@click.option(
    "--progress/--no-progress", default=None, help="Progress bar (default: on a terminal)."
)
@connection_options
def produce(
    connection: Connection,
    topic_name: str,
    path: str | None,
    key_separator: str | None,
    headers: tuple[str, ...],
    partition: int | None,
    acks: str,
    compression: str,
    linger_ms: int,
    progress: bool | None,
) -> None:
    """Produce one record per line of stdin (or --file).

    Prints a summary when done; a progress bar with the rate shows on a terminal for files
    and long streams. Lines are sent in order: at a line that cannot be sent (no key
    separator, refused by the client) or on Ctrl-C, katka stops reading, delivers the lines
    before it and says which lines were produced and which were not.

    \b
    Example:
      printf 'alice:1\\nbob:2\\n' | katka produce orders --key-separator : --header source=cli
      katka produce orders --file events.txt --compression zstd --acks 1
    """
    record_headers = parse_headers(headers)
    separator = key_separator.encode() if key_separator else None
    if key_separator == "":
        raise click.BadParameter("must not be empty", param_hint="--key-separator")
    producer = connection.producer(
        **{
            "acks": acks,
            "compression.type": compression,
            "linger.ms": linger_ms,
            "message.timeout.ms": max(int(connection.timeout_s * 1000), 1000),
            "enable.idempotence": acks in ("all", "-1"),
        }
    )
    if partition is not None:
        metadata = producer.list_topics(topic_name, timeout=connection.timeout_s)
        known = metadata.topics.get(topic_name)
        if known is None or known.error is not None:
            raise CliError(f"Topic '{topic_name}' does not exist as expected")
        if partition not in known.partitions:
            raise no_such_partition(topic_name, partition, len(known.partitions))
    tally = DeliveryTally()
    started = time.monotonic()
    records = 0
    payload_bytes = 0
    stopped: str | None = None  # why reading stopped before the end of the input
    with ExitStack() as stack:
        if path is not None:
            stream: IO[bytes] = stack.enter_context(open(path, "rb"))
            total: int | None = os.path.getsize(path)
        else:
            stream = sys.stdin.buffer
            total = None
        show = progress if progress is not None else sys.stderr.isatty()
        bar = stack.enter_context(ProgressReporter(show, total, topic_name))
        stop = stack.enter_context(StopSignals())
        lines = enumerate(read_lines(stream), start=1)
        while stop.requested is None:
            try:
                with stop.interruptible():
                    line_number, line = next(lines)
            except (StopIteration, KeyboardInterrupt):
                break
            try:
                key, value = split_record(line, separator, line_number)
                send(
                    producer, topic_name, key, value, partition, record_headers, tally, line_number
                )
            except CliError as error:
                stopped = error.format_message()
                break
            records += 1
            payload_bytes += len(line) + 1
            bar.update(records, payload_bytes)
        remaining = producer.flush(connection.timeout_s)
        bar.update(records, payload_bytes, final=True)
    interrupted = stop.requested is not None
    elapsed = max(time.monotonic() - started, 1e-6)
    if remaining:
        tally.failed += remaining
        tally.first_error = tally.first_error or f"timed out after {connection.timeout_s:g} s"
    summary = {
        "topic": topic_name,
        "records": tally.delivered,
        "failed": tally.failed,
        "bytes": payload_bytes,
        "seconds": round(elapsed, 3),
        "records_per_second": round(tally.delivered / elapsed, 1),
        "lines_sent": records,
        "complete": stopped is None and not interrupted and not tally.failed,
    }
    if connection.json:
        emit_json(summary)
    else:
        click.echo(
            f"Produced {plural(tally.delivered, 'record')} ({plural(payload_bytes, 'byte')}) "
            f"to {topic_name} in "
            f"{elapsed:.2f} s ({summary['records_per_second']:.0f} records/s)"
            + (f", {tally.failed} failed" if tally.failed else "")
        )
    sent = what_was_sent(records, tally)
    if interrupted:
        echo_err(
            f"katka: interrupted after line {records}: {sent}; the rest of the input was not read"
        )
        raise click.exceptions.Exit(stop.exit_code)
    if stopped is not None:
        raise CliError(
            f"{stopped}; {sent}; line {records + 1} and the lines after it were not sent"
        )
    if tally.failed:
        raise CliError(
            f"{tally.failed} of {plural(records, 'record')} could not be delivered "
            f"({tally.first_failure()})"
        )


def line_range(lines: int) -> str:
    return "line 1" if lines == 1 else f"lines 1-{lines}"


def what_was_sent(lines: int, tally: DeliveryTally) -> str:
    """`produced 10000 records (lines 1-10000)`, with the failures among them."""
    if lines == 0:
        return "nothing was produced"
    if not tally.failed:
        return f"produced {plural(tally.delivered, 'record')} ({line_range(lines)})"
    return (
        f"produced {tally.delivered} of {plural(lines, 'record')} ({line_range(lines)}), "
        f"{tally.failed} failed ({tally.first_failure()})"
    )


def send(
    producer: Any,
    topic: str,
    key: bytes | None,
    value: bytes,
    partition: int | None,
    headers: list[tuple[str, bytes]],
    tally: DeliveryTally,
    line_number: int,
) -> None:
    from confluent_kafka import KafkaException

    on_delivery = functools.partial(tally.on_delivery, line_number)
    kwargs: dict[str, Any] = {"key": key, "value": value, "on_delivery": on_delivery}
    if partition is not None:
        kwargs["partition"] = partition
    if headers:
        kwargs["headers"] = headers
    while True:
        try:
            producer.produce(topic, **kwargs)
            break
        except BufferError:
            producer.poll(0.1)  # the local queue is full: let deliveries drain it
        except KafkaException as error:
            raise CliError(
                f"line {line_number}: cannot produce to {topic}: {kafka_error_text(error)}"
            ) from None
    producer.poll(0)


class ProgressReporter:
    """A rich progress bar on stderr; a bar for files (bytes known), a counter for streams."""

    def __init__(self, enabled: bool, total_bytes: int | None, topic: str) -> None:
        self.enabled = enabled
        self.total_bytes = total_bytes
        self.topic = topic
        self.started = time.monotonic()
        self._progress: Any = None
        self._task: Any = None
        self._last_update = 0.0

    def __enter__(self) -> ProgressReporter:
        return self

    def _start(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TransferSpeedColumn,
        )

        columns: list[Any] = [SpinnerColumn(), TextColumn(f"producing to {self.topic}")]
        if self.total_bytes is not None:
            columns += [BarColumn(), TextColumn("{task.percentage:>3.0f}%")]
        columns += [
            TextColumn("{task.fields[records]} records"),
            TextColumn("{task.fields[rate]} rec/s"),
            TransferSpeedColumn(),
            TimeElapsedColumn(),
        ]
        self._progress = Progress(*columns, console=Console(stderr=True), transient=True)
        self._progress.start()
        self._task = self._progress.add_task("produce", total=self.total_bytes, records=0, rate=0)

    def update(self, records: int, done_bytes: int, final: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not final and now - self._last_update < 0.1:
            return
        self._last_update = now
        if self._progress is None:
            if self.total_bytes is None and time.monotonic() - self.started < PROGRESS_AFTER_S:
                return
            self._start()
        elapsed = max(time.monotonic() - self.started, 1e-6)
        self._progress.update(
            self._task, completed=done_bytes, records=records, rate=f"{records / elapsed:.0f}"
        )

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
