"""Durability soak: `--fsync always`, small segments, an idempotent producer at full speed,
SIGKILL, restart, every acknowledged record back.

The case it guards: under `--fsync always` every produce waits for a group-commit round, and
with 16 KiB segments the active segment rolls several times a second, so rolls land inside
rounds all the time. The harness produces as fast as one confluent-kafka producer can
(acks=all, enable.idempotence=true, explicit partition = sequence % partitions, each value
carrying its sequence number), SIGKILLs the broker while requests are in flight, restarts it,
lets the producer deliver what it still holds (its retries reach the restarted broker, whose
rebuilt producer state recognises batches it had already written), and reads every partition
back from offset 0:

- lost: an acknowledged record that is not at the partition and offset it was acknowledged
  with;
- duplicated: a value stored twice;
- gaps: a partition whose offsets are not dense from 0 to its high watermark;
- errors: delivery reports with an error, fatal producer errors, and broker log lines at
  ERROR or with a traceback (before the kill and after the restart).

    python -m katka.reliability.soak --seconds 40 [--slow-fsync-ms 2]
"""

from __future__ import annotations

import argparse
import array
import logging
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaError, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from katka.reliability.crash_clients import RETRYING_PRODUCER, ReadTimeout, scan_log
from katka.reliability.process import BrokerProcess

TOPIC = "soak"
SEQUENCE_DIGITS = 12


@dataclass
class SoakSummary:
    seconds: float = 0.0
    sent: int = 0
    acknowledged: int = 0
    delivery_errors: int = 0
    fatal_errors: int = 0
    broker_errors: int = 0
    undelivered: int = 0  # still queued in the producer when the drain gave up
    lost: int = 0
    duplicated: int = 0
    gaps: int = 0
    verify_timeouts: int = 0
    records_read: int = 0
    segments: int = 0  # .log files after the run
    recovery_seconds: float = 0.0
    first_errors: tuple[str, ...] = ()

    @property
    def errors(self) -> int:
        return self.delivery_errors + self.fatal_errors + self.broker_errors

    @property
    def violations(self) -> int:
        return (
            self.errors
            + self.undelivered
            + self.lost
            + self.duplicated
            + self.gaps
            + self.verify_timeouts
        )

    def line(self) -> str:
        rate = self.acknowledged / self.seconds if self.seconds else 0.0
        return (
            f"soak: seconds={self.seconds:.0f} sent={self.sent} acknowledged={self.acknowledged} "
            f"acks_per_second={rate:.0f} segments={self.segments} "
            f"recovery_ms={self.recovery_seconds * 1000:.0f} records_read={self.records_read} "
            f"errors={self.errors} (delivery={self.delivery_errors} fatal={self.fatal_errors} "
            f"broker={self.broker_errors}) undelivered={self.undelivered} lost={self.lost} "
            f"duplicated={self.duplicated} gaps={self.gaps} verify_timeouts={self.verify_timeouts}"
        )


class Acknowledgements:
    """Where each sequence number was acknowledged, in flat arrays (millions of records)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.partition = array.array("b")
        self.offset = array.array("q")
        self.count = 0
        self.errors = 0
        self.first_errors: list[str] = []

    def on_delivery(self, error: KafkaError | None, message: Any) -> None:
        if error is not None:
            with self.lock:
                self.errors += 1
                if len(self.first_errors) < 5:
                    self.first_errors.append(f"delivery: {error}")
            return
        sequence = int(bytes(message.value()[:SEQUENCE_DIGITS]))
        with self.lock:
            missing = sequence + 1 - len(self.offset)
            if missing > 0:
                self.partition.extend([-1] * missing)
                self.offset.extend([-1] * missing)
            self.partition[sequence] = message.partition()
            self.offset[sequence] = message.offset()
            self.count += 1


def broker_error_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if " ERROR " in f" {line} " or "Traceback" in line]


def run(
    seconds: float,
    data_dir: Path | None = None,
    partitions: int = 3,
    segment_bytes: int = 16 * 1024,
    value_bytes: int = 100,
    fsync: str = "always",
    env: dict[str, str] | None = None,
) -> SoakSummary:
    """Produce for `seconds`, SIGKILL, restart, check; returns the summary."""
    temporary = None
    if data_dir is None:
        temporary = tempfile.mkdtemp(prefix="katka-soak-")
        data_dir = Path(temporary)
    broker = BrokerProcess(
        data_dir,
        overrides=[f"log.segment.bytes={segment_bytes}"],
        extra_args=["--fsync", fsync],
        env=env,
    )
    summary = SoakSummary()
    try:
        broker.start()
        _soak(broker, summary, seconds, partitions, value_bytes)
        summary.segments = sum(
            name.endswith(".log")
            for p in range(partitions)
            for name in os.listdir(data_dir / f"{TOPIC}-{p}")
        )
        broker.stop()
    finally:
        broker.kill()
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
    return summary


def _soak(
    broker: BrokerProcess, summary: SoakSummary, seconds: float, partitions: int, value_bytes: int
) -> None:
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(TOPIC, partitions, 1)])[TOPIC].result(30)
    acknowledgements = Acknowledgements()
    fatal: list[str] = []

    def on_error(error: KafkaError) -> None:
        if error.fatal():
            fatal.append(str(error))

    producer = Producer(
        {
            **RETRYING_PRODUCER,
            "bootstrap.servers": broker.bootstrap,
            "error_cb": on_error,
            "logger": logging.getLogger("katka.reliability.soak.librdkafka"),
        }
    )
    padding = b"x" * max(value_bytes - SEQUENCE_DIGITS, 0)
    started = time.monotonic()
    sequence = 0
    while time.monotonic() - started < seconds:
        value = b"%0*d" % (SEQUENCE_DIGITS, sequence) + padding
        try:
            producer.produce(
                TOPIC,
                value=value,
                partition=sequence % partitions,
                on_delivery=acknowledgements.on_delivery,
            )
        except BufferError:
            producer.poll(0.005)  # full speed: the producer's queue is the limit
            continue
        sequence += 1
        if sequence % 500 == 0:
            producer.poll(0)
    summary.seconds = time.monotonic() - started
    broker.kill()  # requests in flight, rounds under way
    errors_before = broker_error_lines(broker.output)
    summary.recovery_seconds = broker.start()
    summary.undelivered = producer.flush(120)
    summary.sent = sequence
    errors_after = broker_error_lines(broker.output)
    summary.broker_errors = len(errors_before) + len(errors_after)
    summary.delivery_errors = acknowledgements.errors
    summary.fatal_errors = len(fatal)
    summary.acknowledged = acknowledgements.count
    summary.first_errors = tuple(
        (acknowledgements.first_errors + fatal + errors_before + errors_after)[:10]
    )
    _verify(broker, summary, acknowledgements, partitions)


class ReadBack:
    """Checks the records read back against the acknowledgements, one record at a time."""

    def __init__(self, acks: Acknowledgements, partitions: int, summary: SoakSummary) -> None:
        self.acks = acks
        self.summary = summary
        self.found_partition = array.array("b", [-1]) * len(acks.offset)
        self.found_offset = array.array("q", [-1]) * len(acks.offset)
        self.next_offset = [0] * partitions

    def on_record(self, partition: int, offset: int, value: bytes) -> None:
        self.summary.records_read += 1
        if offset != self.next_offset[partition]:
            self.summary.gaps += 1
        self.next_offset[partition] = offset + 1
        sequence = int(value[:SEQUENCE_DIGITS])
        if sequence >= len(self.found_offset):
            return  # written, but the kill cut its acknowledgement: allowed, never checked
        if self.found_offset[sequence] != -1:
            self.summary.duplicated += 1
            return  # the first copy is the one checked against the acknowledgement
        self.found_partition[sequence] = partition
        self.found_offset[sequence] = offset

    def finish(self, high_watermarks: list[int]) -> None:
        self.summary.gaps += sum(
            1 for p, end in enumerate(high_watermarks) if self.next_offset[p] != end
        )
        for sequence, offset in enumerate(self.acks.offset):
            if offset != -1 and (
                self.found_offset[sequence] != offset
                or self.found_partition[sequence] != self.acks.partition[sequence]
            ):
                self.summary.lost += 1


def _verify(
    broker: BrokerProcess, summary: SoakSummary, acks: Acknowledgements, partitions: int
) -> None:
    check = ReadBack(acks, partitions, summary)
    try:
        ends = scan_log(broker.bootstrap, TOPIC, [0] * partitions, check.on_record, timeout=600)
    except ReadTimeout:
        summary.verify_timeouts += 1
        return
    check.finish(ends)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--segment-bytes", type=int, default=16 * 1024)
    parser.add_argument("--value-bytes", type=int, default=100)
    parser.add_argument("--fsync", choices=["policy", "always"], default="always")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument(
        "--slow-fsync-ms", type=float, default=0, help="KATKA_FAULT_SLOW_FSYNC_MS for the broker"
    )
    args = parser.parse_args()
    summary = run(
        args.seconds,
        data_dir=args.data_dir,
        partitions=args.partitions,
        segment_bytes=args.segment_bytes,
        value_bytes=args.value_bytes,
        fsync=args.fsync,
        env={"KATKA_FAULT_SLOW_FSYNC_MS": str(args.slow_fsync_ms)} if args.slow_fsync_ms else None,
    )
    for error in summary.first_errors:
        print("error:", error)
    print(summary.line(), flush=True)
    raise SystemExit(1 if summary.violations else 0)


if __name__ == "__main__":
    main()
