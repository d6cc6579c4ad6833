"""What an operator reads: debug lines for connections and requests (timestamped), a quiet
INFO, and the admin API's address in the ready line (a fixed default, a free port when taken)."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from pathlib import Path

from confluent_kafka import Producer

from katka.reliability.process import BrokerProcess
from tests.conditions import wait_until
from tests.e2e.test_produce_consume import create_topic, unique

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ")


def produce_one(bootstrap: str, topic: str, client_id: str) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "client.id": client_id})
    producer.produce(topic, b"v")
    assert producer.flush(10) == 0
    del producer  # closes its connections


def test_debug_logs_connections_and_every_request_with_its_client_and_time(
    start_katka: Callable[..., BrokerProcess],
) -> None:
    broker = start_katka(["--log-level", "debug"])
    topic = unique("debug")
    create_topic(broker.bootstrap, topic, 1)
    produce_one(broker.bootstrap, topic, "orders-service")
    request = re.compile(
        r"Produce v\d+ from client 'orders-service' at 127\.0\.0\.1: handled in [\d.]+ ms"
    )
    wait_until(lambda: request.search(broker.log_text()) is not None, 10, what="a Produce line")
    wait_until(
        lambda: "(client id 'orders-service') closed" in broker.log_text(),
        10,
        what="the producer's connections closed",
    )
    lines = broker.log_text().splitlines()
    assert any(re.search(r"connection from 127\.0\.0\.1:\d+ opened", line) for line in lines)
    logged = [line for line in lines if " DEBUG " in line]
    assert logged and all(TIMESTAMP.match(line) for line in logged)


def test_info_logs_no_request_connection_or_topic_lines(
    start_katka: Callable[..., BrokerProcess],
) -> None:
    broker = start_katka()
    topic = unique("quiet")
    create_topic(broker.bootstrap, topic, 1)
    produce_one(broker.bootstrap, topic, "quiet-service")
    text = broker.log_text()
    assert "quiet-service" not in text and "created topic" not in text
    assert "connection from" not in text


def test_the_admin_api_has_a_fixed_default_port_or_a_free_one_named_in_the_ready_line(
    start_katka: Callable[..., BrokerProcess], tmp_path: Path
) -> None:
    first = start_katka(data_dir=tmp_path / "a")
    admin = re.search(r"admin API http://127\.0\.0\.1:(\d+)", first.ready_line)
    assert admin is not None, first.ready_line
    port = int(admin.group(1))
    # 9644 unless something else on this machine holds it; then a free port
    with socket.socket() as probe:
        held = probe.connect_ex(("127.0.0.1", 9644)) == 0
    assert port == 9644 or held
    second = start_katka(data_dir=tmp_path / "b")
    again = re.search(r"admin API http://127\.0\.0\.1:(\d+)", second.ready_line)
    assert again is not None and int(again.group(1)) != port
