"""The admin HTTP API around an embedded broker: documents, 404s, and bad requests that get
a 400 without hurting the server."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

import katka
from katka.admin import AdminHttpServer
from katka.admin.http import BadRequest, parse_request_head
from katka.admin.source import BrokerSource
from katka.embed import EmbeddedBroker


@pytest.fixture(scope="module")
def broker() -> Iterator[tuple[EmbeddedBroker, str]]:
    with katka.embedded(configs={"group.initial.rebalance.delay.ms": "0"}) as running:
        server = AdminHttpServer(BrokerSource(running.broker.node))
        loop = running._loop  # the broker's loop: the admin server must share it
        host, port = asyncio.run_coroutine_threadsafe(server.start("127.0.0.1", 0), loop).result(10)
        assert port != 0
        yield running, f"http://{host}:{port}"
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)


def get(base: str, path: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(base + path, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def raw(base: str, data: bytes) -> bytes:
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(data)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_health_says_who_answers(broker: tuple[EmbeddedBroker, str]) -> None:
    running, base = broker
    status, document = get(base, "/api/health")
    assert status == 200
    assert document["status"] == "ok" and document["coordinator"] is True
    assert document["listener"] == running.bootstrap_servers


def test_topics_show_offsets_and_sizes(broker: tuple[EmbeddedBroker, str]) -> None:
    running, base = broker
    admin = AdminClient({"bootstrap.servers": running.bootstrap_servers})
    admin.create_topics([NewTopic("sized", 2, config={"retention.ms": "60000"})])["sized"].result(
        10
    )
    producer = Producer({"bootstrap.servers": running.bootstrap_servers})
    for _ in range(3):
        producer.produce("sized", value=b"x" * 100, partition=1)
    producer.flush(10)
    status, document = get(base, "/api/topics/sized")
    assert status == 200
    assert document["configs"] == {"retention.ms": "60000"}
    first, second = document["partitions"]
    assert (first["high_watermark"], first["size_bytes"]) == (0, 0)
    assert (second["log_start_offset"], second["high_watermark"]) == (0, 3)
    assert second["size_bytes"] > 300
    names = [t["name"] for t in get(base, "/api/topics")[1]["topics"]]
    assert "sized" in names and "__consumer_offsets" in names


def test_groups_rebalances_and_lag_in_records_and_time(broker: tuple[EmbeddedBroker, str]) -> None:
    running, base = broker
    producer = Producer({"bootstrap.servers": running.bootstrap_servers})
    old = int(time.time() * 1000) - 60_000
    for i in range(4):
        producer.produce("lagging", value=b"v", partition=0, timestamp=old + i)
    producer.flush(10)
    consumer = Consumer(
        {
            "bootstrap.servers": running.bootstrap_servers,
            "group.id": "readers",
            "client.id": "reader-1",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe(["lagging"])
    message = None
    deadline = time.monotonic() + 20
    while message is None and time.monotonic() < deadline:
        polled = consumer.poll(0.2)
        message = polled if polled is not None and polled.error() is None else None
    assert message is not None
    consumer.commit(message=message, asynchronous=False)
    try:
        status, groups = get(base, "/api/groups")
        assert status == 200
        [summary] = [g for g in groups["groups"] if g["group_id"] == "readers"]
        assert summary["state"] == "Stable" and summary["generation_id"] >= 1
        assert summary["members"][0]["client_id"] == "reader-1"
        assert get(base, "/api/groups/readers")[1]["protocol_name"] == "range"

        status, lag = get(base, "/api/groups/readers/lag")
        [row] = lag["partitions"]
        assert (row["committed_offset"], row["high_watermark"], row["lag"]) == (1, 4, 3)
        assert row["next_record_timestamp_ms"] == old + 1
        assert 55_000 < row["lag_ms"] < 120_000

        status, history = get(base, "/api/groups/readers/rebalances")
        assert status == 200
        assert history["session_timeout_ms"] == 45_000  # librdkafka's default session.timeout.ms
        [entry] = history["rebalances"]
        assert (entry["trigger"], entry["client_id"], entry["outcome"]) == (
            "join",
            "reader-1",
            "Stable",
        )
        assert entry["members"][0]["assigned_partitions"] == 1
        assert history["storms"] == []  # one join is no storm
    finally:
        consumer.close()


def test_transactions_show_state_partitions_and_the_open_first_offset(
    broker: tuple[EmbeddedBroker, str],
) -> None:
    running, base = broker
    admin = AdminClient({"bootstrap.servers": running.bootstrap_servers})
    admin.create_topics([NewTopic("payments-tx", 1)])["payments-tx"].result(10)
    producer = Producer(
        {"bootstrap.servers": running.bootstrap_servers, "transactional.id": "admin-tx"}
    )
    producer.init_transactions(10)
    producer.begin_transaction()
    producer.produce("payments-tx", value=b"open")
    producer.flush(10)
    status, document = get(base, "/api/transactions/admin-tx")
    assert status == 200
    assert (document["state"], document["producer_epoch"]) == ("Ongoing", 0)
    assert document["partitions"] == [
        {
            "topic": "payments-tx",
            "partition": 0,
            "first_offset": 0,
            "last_stable_offset": 0,
            "high_watermark": 1,
        }
    ]
    producer.commit_transaction(10)
    listed = get(base, "/api/transactions")[1]["transactions"]
    assert [(t["transactional_id"], t["state"]) for t in listed] == [("admin-tx", "CompleteCommit")]
    assert get(base, "/api/transactions/no-such-tx")[0] == 404


@pytest.mark.parametrize(
    "path",
    [
        "/api/groups/nobody",
        "/api/groups/nobody/lag",
        "/api/groups/nobody/rebalances",
        "/api/topics/none",
        "/api/nothing",
        "/nothing",  # "/" is the console
    ],
)
def test_unknown_things_are_404_with_a_json_reason(
    broker: tuple[EmbeddedBroker, str], path: str
) -> None:
    status, document = get(broker[1], path)
    assert status == 404
    assert document["status"] == 404 and document["message"]


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GARBAGE\r\n\r\n", b"400"),
        (b"GET /api/health HTTP/2\r\n\r\n", b"400"),
        (b"GET api HTTP/1.1\r\n\r\n", b"400"),
        (b"POST /api/health HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", b"405"),
        (b"GET /api/health HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", b"400"),
        (b"GET /api/health HTTP/1.1\r\nBad header\r\n\r\n", b"400"),
        (b"GET /\xff HTTP/1.1\r\n\r\n", b"400"),
        (b"GET /api/health HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n", b"431"),
    ],
)
def test_bad_requests_get_an_error_status_and_the_server_keeps_serving(
    broker: tuple[EmbeddedBroker, str], request_bytes: bytes, status: bytes
) -> None:
    base = broker[1]
    answer = raw(base, request_bytes)
    assert answer.startswith(b"HTTP/1.1 " + status), answer[:100]
    assert b"Connection: close" in answer
    assert get(base, "/api/health")[0] == 200


def test_a_client_that_disconnects_midway_does_not_hurt_the_server(
    broker: tuple[EmbeddedBroker, str],
) -> None:
    base = broker[1]
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(b"GET /api/he")
    head = raw(base, b"HEAD /api/health HTTP/1.1\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and head.endswith(b"\r\n\r\n")


def test_request_heads_are_parsed_without_io() -> None:
    request = parse_request_head(b"GET /api/groups/a%2Fb/lag?x=1 HTTP/1.1\r\nHost: h")
    assert request.segments == ("api", "groups", "a/b", "lag")
    assert request.query == {"x": ["1"]}
    with pytest.raises(BadRequest):
        parse_request_head(b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked")


def test_share_groups_show_members_and_records_in_flight_with_delivery_counts(
    broker: tuple[EmbeddedBroker, str],
) -> None:
    from confluent_kafka import AcknowledgeType, ShareConsumer
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType

    running, base = broker
    bootstrap = running.bootstrap_servers
    topic, group = "share-view", "share-view-group"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(10)
    earliest = ConfigResource(
        ResourceType.GROUP,
        group,
        incremental_configs=[
            ConfigEntry(
                "share.auto.offset.reset", "earliest", incremental_operation=AlterConfigOpType.SET
            )
        ],
    )
    admin.incremental_alter_configs([earliest])[earliest].result(10)
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(5):
        producer.produce(topic, value=b"%d" % i)
    assert producer.flush(10) == 0
    consumer = ShareConsumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "share.acknowledgement.mode": "explicit",
        }
    )
    consumer.subscribe([topic])
    try:
        held: list[Any] = []
        deadline = time.monotonic() + 30
        while len(held) < 5 and time.monotonic() < deadline:
            held.extend(m for m in consumer.poll(0.2) if not m.error())
        for message in held[:2]:
            consumer.acknowledge(message, AcknowledgeType.ACCEPT)
        consumer.commit_sync()
        status, document = get(base, f"/api/share-groups/{group}")
        assert status == 200
        assert document["state"] == "Stable" and len(document["members"]) == 1
        (partition,) = document["partitions"]
        assert partition["start_offset"] == 2 and partition["end_offset"] == 5
        assert partition["in_flight"] == {"acquired": 3}
        assert partition["delivery_counts"] == {"1": 3}
        assert partition["lag"] == 3
        status, listing = get(base, "/api/share-groups")
        assert {"group_id": group, "state": "Stable", "members": 1} in listing["share_groups"]
        for message in held[2:]:
            consumer.acknowledge(message, AcknowledgeType.ACCEPT)
        consumer.commit_sync()
    finally:
        consumer.close()
    assert get(base, "/api/share-groups/ghost")[0] == 404


def test_the_console_page_is_served_at_the_root(broker: tuple[EmbeddedBroker, str]) -> None:
    _, base = broker
    for path in ("/", "/console"):
        with urllib.request.urlopen(base + path, timeout=10) as response:
            assert response.headers["Content-Type"] == "text/html; charset=utf-8"
            page = response.read().decode()
        assert "<title>katka console</title>" in page and "/api/groups" in page
