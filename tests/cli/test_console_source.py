"""`katka console`'s Kafka source without a cluster: snapshots as a poller would read them go in,
the admin API's documents and /metrics come out (the same code as the broker's own views)."""

from __future__ import annotations

import json
from http import HTTPStatus
from types import SimpleNamespace
from typing import Any

import pytest

from katka.admin import offset_reset
from katka.admin.metrics import exposition
from katka.admin.observer import GroupSnapshot, MemberSnapshot
from katka.admin.server import respond
from katka.cli.common import Connection
from katka.cli.console.kafka_source import KafkaSource
from katka.cli.console.poller import ClusterSnapshot


class ScriptedPoller:
    """Answers poll() with the snapshots a test lines up."""

    def __init__(self, *snapshots: ClusterSnapshot) -> None:
        self.snapshots = list(snapshots)
        self.connection = Connection("kafka1:9092,kafka2:9092")
        self.generations = SimpleNamespace(unreadable=None)  # __consumer_offsets is readable

    def poll(self) -> ClusterSnapshot:
        return self.snapshots.pop(0)

    def reset_offsets(self, group_id: str, request: Any) -> dict[str, Any]:
        raise AssertionError("a live reset must be refused before the cluster is asked")

    def close(self) -> None:
        pass


def snapshot(now_ms: int, *members: MemberSnapshot, committed: int = 4) -> ClusterSnapshot:
    return ClusterSnapshot(
        now_ms=now_ms,
        cluster_id="c1",
        brokers=("1@kafka1:9092", "2@kafka2:9092", "3@kafka3:9092"),
        topics={"orders": {0: (0, 10), 1: (2, 10)}, "__consumer_offsets": {0: (0, 7)}},
        groups={"billing": GroupSnapshot("billing", "Stable", "range", None, members)},
        group_types={"billing": "classic"},
        committed={"billing": {("orders", 0): committed, ("orders", 1): 10}},
        timestamps={("orders", 0, committed): now_ms - 90_000},
    )


def member(member_id: str, client_id: str, *partitions: int) -> MemberSnapshot:
    return MemberSnapshot(
        member_id, client_id, "/10.0.0.1", None, tuple(("orders", p) for p in partitions)
    )


def source(*snapshots: ClusterSnapshot) -> KafkaSource:
    kafka = KafkaSource(ScriptedPoller(*snapshots), poll_interval_s=1.0)  # type: ignore[arg-type]
    for _ in snapshots:
        kafka.poll_once()
    return kafka


def get(kafka: KafkaSource, path: str, method: str = "GET", body: bytes = b"") -> tuple[int, Any]:
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
    answer = respond(kafka, (head + f"\r\nContent-Length: {len(body)}").encode(), body)
    status_line, _, payload = answer.partition(b"\r\n\r\n")
    return int(status_line.split()[1]), json.loads(payload)


def test_lag_is_shown_in_records_and_in_the_age_of_the_next_unconsumed_record() -> None:
    kafka = source(snapshot(1_000_000, member("m1", "one", 0, 1)))
    status, lag = get(kafka, "/api/groups/billing/lag")
    assert status == 200
    rows = {row["partition"]: row for row in lag["partitions"]}
    assert (rows[0]["lag"], rows[0]["lag_ms"]) == (6, 90_000)
    assert (rows[1]["lag"], rows[1]["lag_ms"]) == (0, 0)
    _, group = get(kafka, "/api/groups/billing")
    assert group["members"][0]["assignment"] == ["orders-0", "orders-1"]
    assert group["generation_id"] is None  # DescribeGroups does not carry it


def test_a_member_seen_joining_between_polls_is_a_rebalance_counted_in_metrics() -> None:
    kafka = source(
        snapshot(1_000_000, member("m1", "one", 0, 1)),
        snapshot(1_001_000, member("m1", "one", 0), member("m2", "two", 1)),
    )
    _, history = get(kafka, "/api/groups/billing/rebalances")
    [entry] = history["rebalances"]
    assert (entry["trigger"], entry["client_id"], entry["observed"]) == ("join", "two", True)
    text = exposition(kafka).decode()
    assert (
        'katka_consumergroup_rebalances_total{consumergroup="billing",trigger="join"} 1.0' in text
    )
    assert (
        'kafka_consumergroup_lag{consumergroup="billing",partition="0",topic="orders"} 6.0' in text
    )
    assert 'kafka_cluster_partition_highwatermark{partition="1",topic="orders"} 10.0' in text
    samples = [line for line in text.splitlines() if not line.startswith("#")]
    assert not [line for line in samples if line.startswith("kafka_log_log_size")]  # no sizes
    assert "kafka_network_requestmetrics" not in text  # counted inside the brokers only


def test_the_health_document_names_the_katka_only_views_and_they_answer_404_with_why() -> None:
    kafka = source(snapshot(1_000_000, member("m1", "one", 0, 1)))
    _, health = get(kafka, "/api/health")
    assert health["source"] == "kafka" and len(health["brokers"]) == 3
    assert {"cleaner", "share_groups", "transactions"} <= set(health["missing"])
    status, answer = get(kafka, "/api/share-groups")
    assert status == 404 and "katka-only" in answer["message"]


def test_a_live_reset_is_refused_on_a_kafka_cluster() -> None:
    kafka = source(snapshot(1_000_000, member("m1", "one", 0, 1)))
    body = json.dumps({"to_earliest": True, "all_topics": True, "live": True}).encode()
    status, answer = get(kafka, "/api/groups/billing/reset-offsets", "POST", body)
    assert status == HTTPStatus.CONFLICT and "katka-only" in answer["message"]
    with pytest.raises(offset_reset.Refused):
        kafka.action("reset_offsets", "billing", body)


def test_an_unreachable_cluster_or_a_bad_listen_address_fails_at_start(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from katka.cli.main import run

    assert run(["console", "--bootstrap-server", "127.0.0.1:1", "--listen", "127.0.0.1:0"]) == 1
    assert "cannot connect to the broker at 127.0.0.1:1" in capsys.readouterr().err
    assert run(["console", "--listen", "nonsense"]) == 2
    assert "expected HOST:PORT" in capsys.readouterr().err
