"""Crash consistency: SIGKILL `katka serve` at random moments under load, restart, check.

Load: idempotent producers (confluent-kafka, acks=all, enable.idempotence=true), each record a
unique value "<producer>-<sequence>" sent to partition sequence % partitions, and a consumer
group whose members commit processed offsets synchronously (manual commits). The producers and
consumers live across broker restarts, as real clients would: librdkafka reconnects and
retries, so a retry of a batch the killed broker had already written must be recognised by the
restarted broker's rebuilt producer state.

One cycle: run the load, kill the broker with SIGKILL at a moment picked by the cycle's phase,
restart it and time the recovery (process start to its ready line), pause and drain the
producers, then check:

- every acknowledged record is in the log exactly once, at the offset it was acknowledged
  with, and each producer's records are in sequence order per partition (lost, duplicated,
  reordered);
- offsets are dense from the log start to the high watermark (gaps);
- the group's committed offsets never go backwards (never below an acknowledged commit) and
  never point past the log end;
- every offset below a committed offset was handed to some group member (skipped);
- every rebalance of the group's history seen (admin API) before the kill is still there after
  the restart (history_lost: it is kept in the coordinator's internal log);
- the broker restarted without help (failed_restarts).

Phases: produce (a random moment of produce and fetch traffic), roll (the moment a new segment
file appears; segment.bytes is small), commit (just after a member sends an OffsetCommit),
rebalance (a member joins or leaves, then a random delay), recovery (killed again during the
start-up that follows a kill).

The checks read the log incrementally (from a little before the last checked end) into a
mirror of every partition; every `full_check_every` cycles and at the end the whole log is
read again and compared with the mirror, so damage to old data is caught too.

    python -m katka.reliability.crash --cycles 200
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import statistics
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from katka.reliability.crash_clients import (
    GROUP,
    TOPIC,
    ConsumerWorker,
    Ledger,
    Mirror,
    ProducerWorker,
    committed_offsets,
    read_log,
)
from katka.reliability.process import BrokerProcess, free_port
from katka.reliability.tally import Tally

log = logging.getLogger("katka.reliability.crash")

PHASES = ("produce", "roll", "commit", "rebalance", "recovery")
LOOKBACK = 2000  # offsets re-read before the last checked end on each incremental check
HISTORY_SIZE = 50  # the broker's default rebalance history per group


@dataclass
class Summary(Tally):
    VIOLATIONS = (
        "lost",
        "duplicated",
        "reordered",
        "gaps",
        "changed",
        "commit_regressions",
        "commits_past_end",
        "skipped",
        "producer_fatal",
        "failed_restarts",
        "verify_timeouts",
        "history_lost",
    )
    LOG = log

    cycles: int = 0
    records_checked: int = 0
    lost: int = 0
    duplicated: int = 0
    reordered: int = 0
    gaps: int = 0
    changed: int = 0  # an offset whose value differs from what an earlier check read
    commit_regressions: int = 0
    commits_past_end: int = 0
    skipped: int = 0  # offsets below a committed offset that no member was handed
    producer_fatal: int = 0
    failed_restarts: int = 0
    verify_timeouts: int = 0
    history_lost: int = 0  # rebalances seen before a kill and gone after the restart
    history_checked: int = 0
    recovery_seconds: list[float] = field(default_factory=list)
    phases: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        recoveries = self.recovery_seconds or [0.0]
        return (
            f"crash: cycles={self.cycles} records_checked={self.records_checked} "
            f"lost={self.lost} duplicated={self.duplicated} reordered={self.reordered} "
            f"gaps={self.gaps} changed={self.changed} "
            f"commit_regressions={self.commit_regressions} "
            f"commits_past_end={self.commits_past_end} skipped={self.skipped} "
            f"producer_fatal={self.producer_fatal} failed_restarts={self.failed_restarts} "
            f"verify_timeouts={self.verify_timeouts} "
            f"history_checked={self.history_checked} history_lost={self.history_lost} "
            f"max_recovery_ms={max(recoveries) * 1000:.0f} "
            f"median_recovery_ms={statistics.median(recoveries) * 1000:.0f} "
            f"phases={','.join(f'{k}:{v}' for k, v in sorted(self.phases.items()))}"
        )


class CrashHarness:
    def __init__(
        self,
        data_dir: Path,
        partitions: int = 3,
        segment_bytes: int = 64 * 1024,
        producers: int = 2,
        per_tick: int = 10,
        consumers: int = 2,
        seed: int | None = None,
        full_check_every: int = 20,
        broker_args: list[str] | None = None,
        on_cycle: Callable[[int, str, float], None] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.partitions = partitions
        self.random = random.Random(seed)
        self.full_check_every = full_check_every
        self.summary = Summary()
        self.ledger = Ledger(partitions)
        self.mirror = Mirror(partitions)
        self.observed_commits = [0] * partitions
        self.on_cycle = on_cycle
        self.segment_bytes = segment_bytes
        self.admin = f"127.0.0.1:{free_port()}"
        self.broker = BrokerProcess(
            data_dir,
            overrides=[
                f"katka.admin.listener={self.admin}",
                "group.initial.rebalance.delay.ms=0",
                "group.min.session.timeout.ms=1000",
                f"log.segment.bytes={segment_bytes}",
                "log.index.interval.bytes=1024",
            ],
            extra_args=broker_args or [],
        )
        self.producer_count = producers
        self.per_tick = per_tick
        self.consumer_target = consumers
        self.producers: list[ProducerWorker] = []
        self.consumers: list[ConsumerWorker] = []
        self.consumer_serial = 0

    # --- set-up -----------------------------------------------------------------------------

    def start(self) -> None:
        self.summary.recovery_seconds.append(self.broker.start())
        admin = AdminClient({"bootstrap.servers": self.broker.bootstrap})
        futures = admin.create_topics(
            [
                NewTopic(
                    TOPIC,
                    self.partitions,
                    1,
                    config={"segment.bytes": str(self.segment_bytes)},
                )
            ]
        )
        futures[TOPIC].result(30)
        for i in range(self.producer_count):
            worker = ProducerWorker(
                f"p{i}", self.broker.bootstrap, self.partitions, self.ledger, self.per_tick
            )
            worker.start()
            self.producers.append(worker)
        for _ in range(self.consumer_target):
            self._add_consumer()

    def _add_consumer(self) -> None:
        self.consumer_serial += 1
        worker = ConsumerWorker(f"c{self.consumer_serial}", self.broker.bootstrap, self.ledger, 50)
        worker.start()
        self.consumers.append(worker)

    def _remove_consumer(self) -> None:
        worker = self.consumers.pop(self.random.randrange(len(self.consumers)))
        worker.stopping.set()  # closes (LeaveGroup) on its own thread

    # --- one cycle --------------------------------------------------------------------------

    def cycle(self, number: int) -> None:
        phase = self.random.choice(PHASES)
        self.summary.phases[phase] = self.summary.phases.get(phase, 0) + 1
        time.sleep(self.random.uniform(0.1, 0.5))  # let the load reach a steady state
        if phase == "roll":
            self._wait_for_new_segment(timeout=5)
        elif phase == "commit":
            self.ledger.commit_started.clear()
            self.ledger.commit_started.wait(5)
            time.sleep(self.random.uniform(0, 0.003))
        elif phase == "rebalance":
            if len(self.consumers) > 1 and self.random.random() < 0.5:
                self._remove_consumer()
            elif len(self.consumers) < 4:
                self._add_consumer()
            time.sleep(self.random.uniform(0, 1.0))
        else:
            time.sleep(self.random.uniform(0.1, 2.0))
        history_before = self.rebalances()
        self.broker.kill()
        with self.ledger.lock:
            acknowledged_commits = list(self.ledger.committed)
        if phase == "recovery":
            self._kill_during_start()
        try:
            recovery = self.broker.start()
        except RuntimeError as error:
            self.summary.failed_restarts += 1
            self.summary.problem(f"cycle {number}: restart failed: {error}")
            raise
        self.summary.recovery_seconds.append(recovery)
        self.check(number, number % self.full_check_every == 0, acknowledged_commits)
        self.check_history(number, history_before)
        self.summary.cycles += 1
        if self.on_cycle is not None:
            self.on_cycle(number, phase, recovery)

    def _wait_for_new_segment(self, timeout: float) -> None:
        directories = [self.data_dir / f"{TOPIC}-{p}" for p in range(self.partitions)]

        def count() -> int:
            total = 0
            for directory in directories:
                try:
                    total += sum(1 for name in os.listdir(directory) if name.endswith(".log"))
                except FileNotFoundError:
                    pass
            return total

        before = count()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and count() == before:
            time.sleep(0.0005)

    def _kill_during_start(self) -> None:
        """Start the broker and SIGKILL it again somewhere inside its start-up."""
        previous = self.summary.recovery_seconds[-1] if self.summary.recovery_seconds else 0.5
        thread = threading.Thread(target=self._start_quietly, daemon=True)
        thread.start()
        time.sleep(self.random.uniform(0, previous))
        self.broker.kill()
        thread.join(60)

    def _start_quietly(self) -> None:
        try:
            self.broker.start()
        except RuntimeError:
            pass  # killed before ready: expected

    # --- checks -----------------------------------------------------------------------------

    def _drain_producers(self) -> None:
        for producer in self.producers:
            producer.drain()
        for producer in self.producers:
            if not producer.drained.wait(180):
                self.summary.problem(f"producer {producer.producer_name!r} did not drain")

    def _resume_producers(self) -> None:
        for producer in self.producers:
            producer.resume()

    def check(self, number: int, full: bool, acknowledged_commits: list[int]) -> None:
        """With the producers drained (the log end stands still): the log, then the commits."""
        self._drain_producers()
        try:
            self._check_log(number, full)
            self.check_commits(number, acknowledged_commits)
        finally:
            self._resume_producers()

    def _check_log(self, number: int, full: bool) -> None:
        mirror = self.mirror
        if full:
            starts = [0] * self.partitions
        else:
            starts = [max(len(values) - LOOKBACK, 0) for values in mirror.values]
        result = read_log(self.broker.bootstrap, starts)
        if result is None:
            self.summary.verify_timeouts += 1
            self.summary.problem(f"cycle {number}: reading the log back timed out")
            return
        records, ends = result
        for partition in range(self.partitions):
            self._check_partition(number, partition, starts[partition], records[partition])
            known = len(mirror.values[partition])
            if ends[partition] < known:
                self.summary.lost += known - ends[partition]
                self.summary.problem(
                    f"cycle {number}: partition {partition} ends at {ends[partition]}, "
                    f"a check had read up to {known}"
                )
        self._confirm_acknowledged(number)

    def _check_partition(
        self, number: int, partition: int, start: int, records: list[tuple[int, bytes]]
    ) -> None:
        values = self.mirror.values[partition]
        expected = start
        for offset, value in records:
            if offset != expected:
                self.summary.gaps += 1
                self.summary.problem(
                    f"cycle {number}: partition {partition} offset {offset}, expected {expected}"
                )
                if offset < expected:
                    continue
                while len(values) < offset:
                    values.append(b"")  # the gap, so offsets stay aligned
            expected = offset + 1
            if offset < len(values):
                if values[offset] != value and values[offset]:
                    self.summary.changed += 1
                    self.summary.problem(
                        f"cycle {number}: partition {partition} offset {offset} was "
                        f"{values[offset]!r}, now {value!r}"
                    )
                continue
            values.append(value)
            self._on_new_record(number, partition, offset, value)

    def _on_new_record(self, number: int, partition: int, offset: int, value: bytes) -> None:
        mirror = self.mirror
        previous = mirror.where.get(value)
        if previous is not None:
            self.summary.duplicated += 1
            self.summary.problem(
                f"cycle {number}: {value!r} at {partition}/{offset} duplicates "
                f"{previous[0]}/{previous[1]}"
            )
            return
        mirror.where[value] = (partition, offset)
        producer, _, sequence_text = value.rpartition(b"-")
        sequence = int(sequence_text)
        key = (producer, partition)
        last = mirror.last_sequence.get(key, -1)
        if sequence <= last:
            self.summary.reordered += 1
            self.summary.problem(
                f"cycle {number}: {value!r} at {partition}/{offset} after sequence {last}"
            )
        mirror.last_sequence[key] = max(sequence, last)

    def _confirm_acknowledged(self, number: int) -> None:
        """Every acknowledged record must sit where its acknowledgement said."""
        mirror = self.mirror
        with self.ledger.lock:
            unconfirmed = list(self.ledger.unconfirmed)
            acked = {value: self.ledger.acked[value] for value in unconfirmed}
        for value, (partition, offset) in acked.items():
            values = mirror.values[partition]
            if offset < len(values) and values[offset] == value:
                self.summary.records_checked += 1
                with self.ledger.lock:
                    self.ledger.unconfirmed.discard(value)
                continue
            self.summary.lost += 1
            found = mirror.where.get(value)
            self.summary.problem(
                f"cycle {number}: acknowledged {value!r} at {partition}/{offset} is missing"
                + (f" (found at {found[0]}/{found[1]})" if found else "")
            )
            with self.ledger.lock:
                self.ledger.unconfirmed.discard(value)

    def check_commits(self, number: int, acknowledged: list[int]) -> None:
        committed = committed_offsets(self.broker.bootstrap, self.partitions)
        if committed is None:
            self.summary.verify_timeouts += 1
            self.summary.problem(f"cycle {number}: could not fetch committed offsets")
            return
        self.check_commits_against(number, committed, acknowledged)

    def check_commits_against(
        self, number: int, committed: list[int], acknowledged: list[int]
    ) -> None:
        for partition, offset in enumerate(committed):
            floor = max(acknowledged[partition], self.observed_commits[partition])
            if offset < floor:
                self.summary.commit_regressions += 1
                self.summary.problem(
                    f"cycle {number}: partition {partition} committed offset {offset} is below "
                    f"{floor}, acknowledged or seen earlier"
                )
            end = len(self.mirror.values[partition])
            if offset > end:
                self.summary.commits_past_end += 1
                self.summary.problem(
                    f"cycle {number}: partition {partition} committed offset {offset} is past "
                    f"the log end {end}"
                )
            self.observed_commits[partition] = max(self.observed_commits[partition], offset)

    def rebalances(self) -> list[tuple[Any, ...]] | None:
        """The group's completed rebalances (admin API), None when it cannot be read."""
        url = f"http://{self.admin}/api/groups/{GROUP}/rebalances"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                entries = json.loads(response.read())["rebalances"]
        except (OSError, ValueError, KeyError):
            return None
        return [(e["generation_id"], e["trigger"], e["start_ms"], e["end_ms"]) for e in entries]

    def check_history(self, number: int, before: list[tuple[Any, ...]] | None) -> None:
        """The rebalances seen before the kill survive the restart (they are in the log)."""
        after = self.rebalances()
        if before is None or after is None:
            return
        self.summary.history_checked += len(before)
        missing = [entry for entry in before if entry not in after]
        if missing and len(after) < HISTORY_SIZE:
            self.summary.history_lost += len(missing)
            self.summary.problem(
                f"cycle {number}: {len(missing)} rebalances of the history gone after the "
                f"restart, first {missing[0]}"
            )

    def check_handed(self) -> None:
        """At-least-once for the group: every offset below a commit was handed to a member."""
        with self.ledger.lock:
            handed = [set(offsets) for offsets in self.ledger.handed]
        for partition, committed in enumerate(self.observed_commits):
            missing = [offset for offset in range(committed) if offset not in handed[partition]]
            if missing:
                self.summary.skipped += len(missing)
                self.summary.problem(
                    f"partition {partition}: {len(missing)} offsets below the commit {committed} "
                    f"were never handed to a member, first {missing[:5]}"
                )

    # --- whole run --------------------------------------------------------------------------

    def finish(self) -> None:
        for consumer in self.consumers:
            consumer.stopping.set()
        for consumer in self.consumers:
            consumer.join(60)
        with self.ledger.lock:
            acknowledged_commits = list(self.ledger.committed)
        self.check(-1, True, acknowledged_commits)
        self.check_handed()
        for producer in self.producers:
            producer.stopping.set()
            producer.resume()
        for worker in [*self.producers, *self.consumers]:
            worker.join(60)
        self.summary.producer_fatal = sum(p.fatal_count for p in self.producers)
        self.broker.stop()


def run(
    cycles: int,
    data_dir: Path | None = None,
    seed: int | None = None,
    max_seconds: float | None = None,
    verbose: bool = False,
    **options: Any,
) -> Summary:
    """Run `cycles` kill/restart cycles (fewer if `max_seconds` runs out); returns the summary."""
    temporary = None
    if data_dir is None:
        temporary = tempfile.mkdtemp(prefix="katka-crash-")
        data_dir = Path(temporary)
    started = time.monotonic()

    def report(number: int, phase: str, recovery: float) -> None:
        if verbose:
            print(
                f"cycle {number}: phase={phase} recovery_ms={recovery * 1000:.0f} "
                f"checked={harness.summary.records_checked} "
                f"violations={harness.summary.violations}",
                flush=True,
            )

    harness = CrashHarness(data_dir, seed=seed, on_cycle=report, **options)
    try:
        harness.start()
        for number in range(1, cycles + 1):
            if max_seconds is not None and time.monotonic() - started > max_seconds:
                break
            harness.cycle(number)
        harness.finish()
    except RuntimeError as error:
        harness.summary.problem(f"aborted: {error}")
    finally:
        harness.broker.kill()
        for worker in harness.producers:
            worker.stopping.set()
            worker.resume()
        for consumer in harness.consumers:
            consumer.stopping.set()
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
    return harness.summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--minutes", type=float, default=None, help="stop after this long")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--segment-bytes", type=int, default=64 * 1024)
    parser.add_argument("--fsync", choices=["policy", "always"], default="policy")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    print(f"crash: seed={seed}", flush=True)
    summary = run(
        args.cycles,
        data_dir=args.data_dir,
        seed=seed,
        max_seconds=args.minutes * 60 if args.minutes else None,
        verbose=args.verbose,
        partitions=args.partitions,
        segment_bytes=args.segment_bytes,
        broker_args=["--fsync", args.fsync],
    )
    for problem in summary.problems:
        print("problem:", problem)
    print(summary.line(), flush=True)
    raise SystemExit(1 if summary.violations or summary.problems else 0)


if __name__ == "__main__":
    main()
