"""`KafkaSource`: the console's documents for any Kafka cluster, from what the protocol gives.

A thread polls the cluster (poller.py) every `poll_interval_s` and feeds each group's snapshot
to a GenerationObserver (katka/admin/observer.py), which is how rebalances become visible on
a cluster that keeps no history of them. The HTTP server's views read the latest snapshot and
build the same documents as the broker's own views (katka/admin/documents.py), so the pages
and /metrics need no second copy. What katka alone knows is listed in `missing` and `notes`,
and the page says so.
"""

from __future__ import annotations

import logging
import threading
import time
from http import HTTPStatus
from typing import Any

from katka.admin import offset_reset
from katka.admin.documents import lag_document, lag_row, rebalances_document
from katka.admin.observer import GenerationObserver
from katka.cli.console.poller import ClusterSnapshot, KafkaPoller

log = logging.getLogger("katka.console")

Document = dict[str, Any]

MISSING = {
    "cleaner": "compaction runs inside each Kafka broker; the protocol does not report them",
    "transactions": "not shown for a Kafka cluster (use kafka-transactions.sh)",
    "transaction": "not shown for a Kafka cluster (use kafka-transactions.sh)",
    "share_groups": "share groups' in-flight records and delivery counts are katka-only",
    "share_group": "share groups' in-flight records and delivery counts are katka-only",
}


class KafkaSource:
    kind = "kafka"
    missing = MISSING
    on_loop = False  # views read the poller's snapshot under a lock; actions call the cluster

    def __init__(self, poller: KafkaPoller, poll_interval_s: float) -> None:
        self.poller = poller
        self.poll_interval_s = poll_interval_s
        self.resolution_ms = int(poll_interval_s * 1000)
        self.snapshot: ClusterSnapshot | None = None
        self.error: str | None = None
        self.observers: dict[str, GenerationObserver] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="katka-console-poller", daemon=True)

    @property
    def notes(self) -> list[str]:
        seconds = f"{self.poll_interval_s:g} s"
        unreadable = self.poller.generations.unreadable
        return [
            "Rebalances: classic groups' generations are read from __consumer_offsets (their "
            "number, members and end time); polls every "
            f"{seconds} see when a rebalance starts. Triggers are read from membership "
            "changes (a session timeout reads as a leave).",
            "KIP-848 groups"
            + (f" (and every group here: __consumer_offsets: {unreadable})" if unreadable else "")
            + f" are observed by polling only: times to within {seconds}, no generation, and "
            "a member that comes and goes within one poll can be missed.",
            "In/out bytes and request rates: counted inside the brokers (Kafka's JMX), not "
            "carried by the protocol; sizes come from DescribeLogDirs on a plaintext cluster.",
        ]

    # --- polling ------------------------------------------------------------------------------

    def start(self) -> None:
        """Poll once before serving (an unreachable cluster fails here), then keep polling."""
        self.poll_once()
        if self.error is not None:
            raise RuntimeError(self.error)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(10)
        self.poller.close()

    def _run(self) -> None:
        while not self._stopping.wait(self.poll_interval_s):
            self.poll_once()

    def poll_once(self) -> None:
        try:
            snapshot = self.poller.poll()
        except Exception as error:  # noqa: BLE001 - shown on the page; the next poll retries
            log.warning("polling the cluster failed: %s", error)
            self.error = str(error)
            return
        with self._lock:
            # The poll's view first (it may see a rebalance start), then the generations
            # written since (which close rebalances at the time Kafka wrote them).
            for group_id, group in snapshot.groups.items():
                self._observer(group_id).observe(group, snapshot.now_ms)
            for generation in snapshot.generations:
                self._observer(generation.snapshot.group_id).on_generation(
                    generation.snapshot,
                    generation.timestamp_ms if generation.timestamp_ms >= 0 else snapshot.now_ms,
                    generation.session_timeout_ms,
                )
            self.snapshot, self.error = snapshot, None

    def _observer(self, group_id: str) -> GenerationObserver:
        observer = self.observers.get(group_id)
        if observer is None:
            observer = self.observers[group_id] = GenerationObserver(self.resolution_ms)
        return observer

    # --- actions --------------------------------------------------------------------------------

    def action(self, name: str, *arguments: str | bytes) -> Document:
        """POST /api/groups/{group}/reset-offsets with Kafka's rules: offline only."""
        assert name == "reset_offsets", name
        group_id, body = arguments
        assert isinstance(group_id, str) and isinstance(body, bytes)
        request = offset_reset.read_request(body, group_id, int(time.time() * 1000))
        if request.live:
            raise offset_reset.Refused(
                HTTPStatus.CONFLICT,
                "a live reset is katka-only: a Kafka cluster resets a group's offsets only "
                "while it is inactive (stop its consumers, or move the group to katka)",
            )
        return self.poller.reset_offsets(group_id, request)

    # --- views --------------------------------------------------------------------------------

    def view(self, name: str, *arguments: str) -> Document | None:
        with self._lock:
            snapshot = self.snapshot
            if snapshot is None:
                return None
            document: Document | None = getattr(self, f"_{name}")(snapshot, *arguments)
            return document

    def _health(self, snapshot: ClusterSnapshot) -> Document:
        return {
            "status": "ok" if self.error is None else f"polling failed: {self.error}",
            "source": self.kind,
            "cluster_id": snapshot.cluster_id,
            "node_id": None,
            "listener": self.poller.connection.bootstrap_servers,
            "brokers": list(snapshot.brokers),
            "polled_ms": snapshot.now_ms,
            "poll_interval_ms": self.resolution_ms,
            "missing": self.missing,
            "notes": self.notes,
        }

    def _topics(self, snapshot: ClusterSnapshot) -> Document:
        return {"topics": [self._topic(snapshot, name) for name in sorted(snapshot.topics)]}

    def _topic(self, snapshot: ClusterSnapshot, name: str) -> Document | None:
        partitions = snapshot.topics.get(name)
        if partitions is None:
            return None
        return {
            "name": name,
            "internal": name.startswith("__"),
            "configs": {},
            "partitions": [
                {
                    "partition": p,
                    "log_start_offset": start,
                    "high_watermark": end,
                    "size_bytes": snapshot.sizes.get((name, p)),
                }
                for p, (start, end) in sorted(partitions.items())
            ],
        }

    def _groups(self, snapshot: ClusterSnapshot) -> Document:
        return {"groups": [self._group(snapshot, g) for g in sorted(snapshot.groups)]}

    def _group(self, snapshot: ClusterSnapshot, group_id: str) -> Document | None:
        group = snapshot.groups.get(group_id)
        if group is None:
            return None
        observer = self.observers[group_id]
        return {
            "group_id": group_id,
            "state": group.state,
            "group_type": snapshot.group_types.get(group_id) or None,
            "protocol_type": "consumer",
            "protocol_name": group.protocol_name,
            "generation_id": observer.generation_id,
            "leader_id": None,
            "members": [
                {
                    "member_id": m.member_id,
                    "group_instance_id": m.group_instance_id,
                    "client_id": m.client_id,
                    "client_host": m.client_host,
                    "assigned_partitions": len(m.assignment),
                    "assignment": [f"{t}-{p}" for t, p in m.assignment],
                    "session_timeout_ms": observer.session_timeout_ms,
                }
                for m in group.members
            ],
            "committed_partitions": len(snapshot.committed.get(group_id, {})),
            "state_changed_ms": observer.state_changed_ms,
            "rebalances": dict(observer.counts),
        }

    def _lag(self, snapshot: ClusterSnapshot, group_id: str) -> Document | None:
        if group_id not in snapshot.groups:
            return None
        rows = []
        for (topic, partition), offset in snapshot.committed.get(group_id, {}).items():
            start, end = snapshot.topics.get(topic, {}).get(partition, (None, None))
            timestamp = None
            if start is not None:
                timestamp = snapshot.timestamps.get((topic, partition, max(offset, start)))
            rows.append(lag_row(topic, partition, offset, start, end, timestamp, snapshot.now_ms))
        return lag_document(group_id, snapshot.now_ms, rows)

    def _rebalances(self, snapshot: ClusterSnapshot, group_id: str) -> Document | None:
        observer = self.observers.get(group_id)
        if observer is None:
            return None
        return rebalances_document(
            group_id,
            observer.session_timeout_ms,
            list(observer.entries),
            observed=True,
            resolution_ms=self.resolution_ms,
        )
