"""POST /api/groups/{group}/reset-offsets on an embedded broker: the CLI's plan and modes,
dry run by default, refusals that say why (docs/admin-api.md)."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

import katka
from katka.admin import AdminHttpServer
from katka.admin.source import BrokerSource
from katka.embed import EmbeddedBroker
from tests.conditions import wait_until


@pytest.fixture(scope="module")
def broker() -> Iterator[tuple[EmbeddedBroker, str]]:
    with katka.embedded(configs={"group.initial.rebalance.delay.ms": "0"}) as running:
        server = AdminHttpServer(BrokerSource(running.broker.node))
        loop = running._loop
        host, port = asyncio.run_coroutine_threadsafe(server.start("127.0.0.1", 0), loop).result(10)
        yield running, f"http://{host}:{port}"
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)


def post(
    base: str, path: str, body: Any, content_type: str = "application/json"
) -> tuple[int, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(
        base + path, data=data, method="POST", headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def topic_with_commits(running: EmbeddedBroker, committed: int) -> tuple[str, str]:
    """A 2-partition topic with 10 records in each and a group that committed `committed`."""
    topic, group = f"reset-{uuid.uuid4().hex[:6]}", f"g-{uuid.uuid4().hex[:6]}"
    bootstrap = running.bootstrap_servers
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, 2)])[topic].result(10)
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(20):
        producer.produce(topic, value=b"v%d" % i, partition=i % 2)
    producer.flush(10)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    consumer.commit(
        offsets=[TopicPartition(topic, p, committed) for p in (0, 1)], asynchronous=False
    )
    consumer.close()
    return topic, group


def committed(running: EmbeddedBroker, group: str, topic: str) -> list[int]:
    consumer = Consumer({"bootstrap.servers": running.bootstrap_servers, "group.id": group})
    try:
        found = consumer.committed([TopicPartition(topic, p) for p in (0, 1)], timeout=10)
        return [tp.offset for tp in found]
    finally:
        consumer.close()


def test_a_dry_run_shows_the_plan_and_changes_nothing(
    broker: tuple[EmbeddedBroker, str],
) -> None:
    running, base = broker
    topic, group = topic_with_commits(running, 7)
    status, document = post(
        base, f"/api/groups/{group}/reset-offsets", {"topics": [topic], "shift_by": -5}
    )
    assert status == 200, document
    assert document["executed"] is False and document["state"] == "Empty"
    assert [(p["current_offset"], p["new_offset"]) for p in document["partitions"]] == [
        (7, 2),
        (7, 2),
    ]
    assert document["partitions"][0]["records_to_replay"] == 5
    assert committed(running, group, topic) == [7, 7]


def test_execute_writes_the_new_offsets_and_warns_about_clamping(
    broker: tuple[EmbeddedBroker, str],
) -> None:
    running, base = broker
    topic, group = topic_with_commits(running, 7)
    body = {"topics": [f"{topic}:1"], "to_offset": 50, "execute": True}
    status, document = post(base, f"/api/groups/{group}/reset-offsets", body)
    assert status == 200, document
    assert document["executed"] is True
    assert document["warnings"] == [f"new offset 50 is past the log end of {topic}-1: 10 is used"]
    assert committed(running, group, topic) == [7, 10]
    body = {"all_topics": True, "to_earliest": True, "execute": True}
    assert post(base, f"/api/groups/{group}/reset-offsets", body)[0] == 200
    assert committed(running, group, topic) == [0, 0]


def test_an_active_group_is_refused_unless_live(broker: tuple[EmbeddedBroker, str]) -> None:
    running, base = broker
    topic, group = topic_with_commits(running, 3)
    consumer = Consumer(
        {
            "bootstrap.servers": running.bootstrap_servers,
            "group.id": group,
            "session.timeout.ms": 6000,
        }
    )
    consumer.subscribe([topic])
    try:
        wait_until(lambda: bool(consumer.poll(0.1) or consumer.assignment()), 30, what="assigned")
        body = {"topics": [topic], "to_earliest": True, "execute": True}
        status, document = post(base, f"/api/groups/{group}/reset-offsets", body)
        assert status == 409
        assert "inactive" in document["message"] and "Stable" in document["message"]
        status, document = post(base, f"/api/groups/{group}/reset-offsets", {**body, "live": True})
        assert status == 200, document
        assert document["live"] is True and document["state"] == "PreparingRebalance"
        assert committed(running, group, topic) == [0, 0]
    finally:
        consumer.close()


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"topics": ["t"]}, 400, "choose exactly one"),
        ({"topics": ["t"], "to_earliest": True, "shift_by": 1}, 400, "got to_earliest, shift_by"),
        ({"to_earliest": True}, 400, "topics and all_topics"),
        ({"topics": ["no-such-topic"], "to_earliest": True}, 404, "does not exist"),
        ({"topics": ["t"], "to_datetime": "yesterday-ish"}, 400, "to_datetime"),
        ({"topics": ["t"], "to_earliest": True, "execute": "yes"}, 400, "execute"),
        ({"topics": ["t"], "to_earliest": True, "colour": 1}, 400, "unknown fields: colour"),
        (["not", "an", "object"], 400, "JSON object"),
        (b"{not json", 400, "not JSON"),
    ],
)
def test_bad_requests_say_what_is_wrong(
    broker: tuple[EmbeddedBroker, str], body: Any, status: int, words: str
) -> None:
    answer_status, document = post(broker[1], "/api/groups/any/reset-offsets", body)
    assert answer_status == status
    assert words in document["message"]


def test_shift_by_without_a_committed_offset_needs_a_fallback(
    broker: tuple[EmbeddedBroker, str],
) -> None:
    running, base = broker
    topic, _ = topic_with_commits(running, 3)
    body = {"topics": [topic], "shift_by": -1}
    status, document = post(base, "/api/groups/never-committed/reset-offsets", body)
    assert status == 409 and "if_no_offset" in document["message"]
    status, document = post(
        base, "/api/groups/never-committed/reset-offsets", {**body, "if_no_offset": "earliest"}
    )
    assert status == 200
    assert [p["new_offset"] for p in document["partitions"]] == [0, 0]


def test_only_json_posts_on_the_reset_path(broker: tuple[EmbeddedBroker, str]) -> None:
    base = broker[1]
    status, document = post(base, "/api/groups/g/reset-offsets", {}, content_type="text/plain")
    assert status == 415
    try:
        urllib.request.urlopen(base + "/api/groups/g/reset-offsets", timeout=10)
    except urllib.error.HTTPError as error:
        assert error.code == 405
        assert error.headers["Allow"] == "POST"
    else:
        raise AssertionError("GET on the reset path was answered")
