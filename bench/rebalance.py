"""Consumer-group rebalance gaps: how long partitions go unconsumed when membership changes.

A producer writes a steady rate round-robin over 12 partitions while consumer processes report
(a) assignment callbacks and (b) the times they were handed records of each partition. After the
group is stable and a quiet baseline window, three events happen a window apart: a 4th member
joins, one member leaves (close -> LeaveGroup), one member is SIGKILLed (found only when its
session times out). For the "static" scenario, three static members (group.instance.id) run and
one is restarted (closed, a new process with the same instance id).

The gap of a partition for an event at t_e is the longest interval in [t_e, t_e + window] with no
record of it handed to any consumer (t_e counts as a consumption: a gap that began earlier is
not the event's doing). "unaffected" partitions are those with the same live owner before and
after the event: cooperative-sticky and static membership should keep their gap at the baseline
level (the steady-state interval between fetches), while eager range stops everyone.
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time
import uuid
from collections import defaultdict
from typing import Any

from bench import kafka_workers, procs
from bench.brokers import RunningBroker
from bench.settings import Settings


class GroupObserver:
    """Drains member events on a thread; the orchestrator reads owners and consumption times."""

    def __init__(self, events: Any) -> None:
        self.events = events
        self.lock = threading.Lock()
        self.assigned: dict[str, set[int]] = defaultdict(set)
        self.dead: set[str] = set()
        self.consumed: dict[int, list[float]] = defaultdict(list)
        self.changes: list[tuple[str, str, list[int], float]] = []
        self.started: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                kind, name, payload, at = self.events.get(timeout=0.05)
            except Exception:
                continue
            with self.lock:
                if kind == "consumed":
                    for partition, times in payload.items():
                        self.consumed[partition].extend(times)
                elif kind == "assign":
                    self.assigned[name].update(payload)
                    self.changes.append((kind, name, payload, at))
                elif kind in ("revoke", "lost"):
                    self.assigned[name].difference_update(payload)
                    self.changes.append((kind, name, payload, at))
                elif kind == "started":
                    self.started[name] = at
                elif kind == "closed":
                    self.dead.add(name)
                    self.assigned[name].clear()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)

    def mark_dead(self, name: str) -> None:
        with self.lock:
            self.dead.add(name)
            self.assigned[name].clear()

    def owners(self) -> dict[int, str]:
        with self.lock:
            return {
                p: name
                for name, parts in self.assigned.items()
                if name not in self.dead
                for p in parts
            }

    def is_stable(self, partitions: int, quiet_s: float) -> bool:
        now = time.monotonic()
        with self.lock:
            live = {n: ps for n, ps in self.assigned.items() if n not in self.dead}
            owned = [p for ps in live.values() for p in ps]
            if sorted(owned) != list(range(partitions)):
                return False
            if self.changes and now - self.changes[-1][3] < quiet_s:
                return False
            return all(
                self.consumed[p] and now - max(self.consumed[p][-50:]) < 0.5
                for p in range(partitions)
            )

    def wait_stable(self, partitions: int, timeout: float, quiet_s: float = 1.0) -> float | None:
        began = time.monotonic()
        while time.monotonic() - began < timeout:
            if self.is_stable(partitions, quiet_s):
                return time.monotonic()
            time.sleep(0.05)
        return None

    def wait_started(self, name: str, timeout: float = 30) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if name in self.started:
                    return self.started[name]
            time.sleep(0.01)
        raise procs.WorkerFailed(f"member {name} did not start")

    def gaps(
        self, start: float, end: float, partitions: int, threshold: float = math.inf
    ) -> dict[int, tuple[float, float, float | None]]:
        """Per partition: (longest gap in [start, end], when it ended, when the last gap longer
        than `threshold` ended: the partition flowing again, None when it never paused).

        The trailing interval (last record to `end`) counts too: a partition that never came
        back has a gap ending exactly at `end` (censored).
        """
        with self.lock:
            series = {
                p: sorted(t for t in self.consumed[p] if start < t <= end)
                for p in range(partitions)
            }
        result: dict[int, tuple[float, float, float | None]] = {}
        for p, times in series.items():
            points = [start, *times, end]
            longest, ended = 0.0, start
            resumed: float | None = None
            for a, b in zip(points, points[1:], strict=False):
                if b - a > longest:
                    longest, ended = b - a, b
                if b - a > threshold:
                    resumed = b
            result[p] = (longest, ended, resumed)
        return result

    def changes_between(self, start: float, end: float) -> list[list[Any]]:
        """Callbacks in [start, end]: [kind, member, partitions, seconds after start]."""
        with self.lock:
            return [
                [kind, name, parts, round(at - start, 3)]
                for kind, name, parts, at in self.changes
                if start <= at <= end
            ]

    def last_change_after(self, t: float) -> float | None:
        with self.lock:
            later = [c[3] for c in self.changes if c[3] >= t]
        return max(later) if later else None


def _event_result(
    observer: GroupObserver,
    scenario: str,
    event: str,
    t_event: float,
    window: float,
    before: dict[int, str],
    partitions: int,
    baseline: float,
) -> dict[str, Any]:
    after = observer.owners()
    # A pause counts as an interruption when it is clearly longer than the steady state.
    threshold = max(2 * baseline, baseline + 0.1)
    gaps = observer.gaps(t_event, t_event + window, partitions, threshold)
    unaffected = [p for p in range(partitions) if before.get(p) and before.get(p) == after.get(p)]
    affected = [p for p in range(partitions) if p not in unaffected]
    last_change = observer.last_change_after(t_event)
    longest = max(gaps.values(), key=lambda g: g[0])
    end = t_event + window
    # Censored: the longest gap runs to the end of the window and is longer than a steady-state
    # pause, i.e. the partition was still not consumed when the window closed.
    censored = [p for p, (gap, ended, _) in gaps.items() if ended >= end - 1e-6 and gap > threshold]
    # Every partition flowing again: the end of the last interruption of any partition.
    resumed = [r for _, _, r in gaps.values() if r is not None]
    return {
        "workload": "rebalance",
        "variant": f"{scenario}: {event}",
        "scenario": scenario,
        "event": event,
        "window_s": window,
        "gap_max_s": round(longest[0], 3),
        "all_flowing_after_s": round(max(resumed) - t_event, 3) if resumed else 0.0,
        "interrupted_partitions": len(resumed),
        "gap_unaffected_max_s": round(max((gaps[p][0] for p in unaffected), default=0.0), 3),
        "gap_affected_max_s": round(max((gaps[p][0] for p in affected), default=0.0), 3),
        "unaffected_partitions": len(unaffected),
        "baseline_gap_max_s": round(baseline, 3),
        # A gap that reaches the end of the window had not ended: the partition never came back.
        "recovered": not censored,
        "not_recovered_partitions": censored,
        "assignment_settled_after_s": round(last_change - t_event, 3) if last_change else None,
        "owners_after": {str(p): after.get(p) for p in range(partitions)},
        "changes": observer.changes_between(t_event, end),
        # Per partition: [longest gap, seconds after the event when it ended].
        "gaps_by_partition": {
            str(p): [round(gap, 3), round(ended - t_event, 3)]
            for p, (gap, ended, _) in gaps.items()
        },
        "unowned_after": [p for p in range(partitions) if p not in after],
    }


def run_scenario(broker: RunningBroker, settings: Settings, scenario: str) -> list[dict[str, Any]]:
    partitions = settings.rebalance_partitions
    topic = f"bench-rebalance-{uuid.uuid4().hex[:8]}"
    group = f"bench-rebalance-{scenario}-{uuid.uuid4().hex[:6]}"
    procs.run(kafka_workers.create_topic, broker.bootstrap, topic, partitions, timeout=60)
    events = procs.CTX.Queue()
    observer = GroupObserver(events)
    strategy = "range" if scenario == "static" else scenario
    static = scenario == "static"
    members: dict[str, tuple[Any, Any]] = {}

    def start_member(name: str) -> None:
        leave = procs.CTX.Event()
        process = procs.CTX.Process(
            target=kafka_workers.group_member,
            args=(
                broker.bootstrap,
                topic,
                group,
                name,
                strategy,
                f"static-{name.split('#')[0]}" if static else None,
                settings.session_timeout_ms,
                leave,
                events,
            ),
            daemon=True,
        )
        process.start()
        members[name] = (process, leave)

    stop_producer = procs.CTX.Event()
    producer = procs.start(
        kafka_workers.steady_producer,
        broker.bootstrap,
        topic,
        partitions,
        settings.rebalance_rate,
        stop_producer,
    )
    results: list[dict[str, Any]] = []
    window = settings.rebalance_window_s
    try:
        for i in range(3):
            start_member(f"m{i}")
        began = time.monotonic()
        stable = observer.wait_stable(partitions, timeout=40)
        if stable is None:
            raise procs.WorkerFailed(f"{scenario}: the group of 3 never became stable")
        results_meta = {"initial_stable_after_s": round(stable - began, 3)}
        t_base = time.monotonic()
        time.sleep(settings.rebalance_baseline_s)
        quiet = observer.gaps(t_base, t_base + settings.rebalance_baseline_s, partitions)
        baseline = max(g[0] for g in quiet.values())

        def record(event: str, t_event: float, length: float, before: dict[int, str]) -> None:
            time.sleep(max(0.0, t_event + length - time.monotonic()))
            result = _event_result(
                observer, scenario, event, t_event, length, before, partitions, baseline
            )
            result.update(results_meta)
            results.append(result)
            # Let the group settle before the next event, so events do not overlap.
            observer.wait_stable(partitions, timeout=15)

        if static:
            before = observer.owners()
            t_event = time.monotonic()
            process, leave = members["m1"]
            leave.set()
            process.join(15)
            observer.mark_dead("m1")
            start_member("m1#2")
            record("static member restart", t_event, window, before)
        else:
            before = observer.owners()
            start_member("m3")
            t_event = observer.wait_started("m3")
            record("4th member joins", t_event, window, before)

            before = observer.owners()
            process, leave = members["m1"]
            t_event = time.monotonic()
            leave.set()
            record("member leaves", t_event, window, before)
            observer.mark_dead("m1")

            before = observer.owners()
            process, _ = members["m2"]
            t_event = time.monotonic()
            os.kill(process.pid, signal.SIGKILL)
            observer.mark_dead("m2")
            record("member SIGKILLed", t_event, settings.session_timeout_ms / 1000 + window, before)
    finally:
        stop_producer.set()
        for _process, leave in members.values():
            leave.set()
        for process, _ in members.values():
            process.join(10)
            if process.is_alive():
                process.kill()
        try:
            procs.collect(*producer, timeout=20)
        except procs.WorkerFailed:
            pass
        observer.stop()
    for result in results:
        result["strategy"] = strategy
        result["static"] = static
        result["rate"] = settings.rebalance_rate
        result["partitions"] = partitions
        result["session_timeout_ms"] = settings.session_timeout_ms
    return results


def rebalance(broker: RunningBroker, settings: Settings) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    for scenario in settings.rebalance_strategies:
        try:
            results.extend(run_scenario(broker, settings, scenario))
        except procs.WorkerFailed as error:
            results.append(
                {
                    "workload": "rebalance",
                    "variant": scenario,
                    "scenario": scenario,
                    "error": str(error),
                }
            )
    return results
