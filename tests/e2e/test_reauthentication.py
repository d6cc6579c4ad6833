"""Re-authentication (KIP-368) end to end: with connections.max.reauth.ms set, librdkafka
re-authenticates its established SASL_SSL connections before their lifetime passes and keeps
them; a client without KIP-368 (aiokafka) has its connection closed at its first request after
the lifetime, as Kafka closes it, and reconnects. (The Java client's re-authentication is in
tests/kafka/test_java_client_security.py.)"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from tests.conditions import wait_until
from tests.e2e.security import (
    Certificates,
    SecuredBroker,
    add_scram_users,
    make_certificates,
    start_secured,
)

pytestmark = pytest.mark.slow

LIFETIME_MS = 2000
USERS = {"carol": "carol-scram-secret"}


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def broker(
    tmp_path_factory: pytest.TempPathFactory, certificates: Certificates
) -> Iterator[SecuredBroker]:
    secured = start_secured(
        tmp_path_factory.mktemp("reauth"),
        certificates,
        extra={"connections.max.reauth.ms": str(LIFETIME_MS)},
    )
    add_scram_users(secured.bootstrap("PLAINTEXT"), USERS)
    yield secured
    secured.process.kill()


def create_topic(broker: SecuredBroker) -> str:
    topic = f"reauth-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": broker.bootstrap("PLAINTEXT")})
    admin.create_topics([NewTopic(topic, 1)])[topic].result(30)
    return topic


class Lines(logging.Handler):
    """librdkafka's log lines, as confluent-kafka hands them to a Python logger."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_librdkafka_reauthenticates_and_keeps_its_connections_past_the_session_lifetime(
    broker: SecuredBroker, certificates: Certificates
) -> None:
    topic = create_topic(broker)
    lines = Lines()
    logger = logging.getLogger(f"rdkafka-{topic}")
    logger.addHandler(lines)
    logger.setLevel(logging.DEBUG)
    config: dict[str, Any] = {
        "bootstrap.servers": broker.bootstrap("SASL_SSL"),
        "security.protocol": "SASL_SSL",
        "ssl.ca.location": str(certificates.ca),
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "carol",
        "sasl.password": USERS["carol"],
        "debug": "security,broker",
        "logger": logger,
    }
    producer = Producer(config)
    consumer = Consumer({**config, "group.id": f"g-{topic}", "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    produced: list[bytes] = []
    consumed: list[bytes] = []
    try:
        started = time.monotonic()
        while time.monotonic() - started < 3.5 * LIFETIME_MS / 1000:
            value = f"record-{len(produced)}".encode()
            producer.produce(topic, value)
            produced.append(value)
            assert producer.flush(10) == 0
            message = consumer.poll(0.1)
            if message is not None and message.error() is None:
                consumed.append(message.value())

        def consumed_all() -> bool:
            message = consumer.poll(0.2)
            if message is not None and message.error() is None:
                consumed.append(message.value())
            return consumed == produced

        wait_until(consumed_all, 30, interval=0, what="every record consumed")
    finally:
        consumer.close()
        producer.flush(10)
    producer.poll(0)  # deliver the last log lines to the logger
    lifetimes = [line for line in lines.lines if f"Received session lifetime {LIFETIME_MS}" in line]
    reauthentications = [
        line for line in lines.lines if "Broker changed state UP -> REAUTH" in line
    ]
    assert len(lifetimes) >= 4 and len(reauthentications) >= 2, "\n".join(lines.lines[-40:])
    assert not [line for line in lines.lines if "Disconnected" in line]
    assert "session expired" not in broker.process.log_text()


def test_a_client_without_reauthentication_is_closed_after_the_lifetime_and_reconnects(
    broker: SecuredBroker, certificates: Certificates
) -> None:
    from aiokafka import AIOKafkaProducer

    topic = create_topic(broker)

    async def run() -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=broker.bootstrap("SASL_SSL"),
            security_protocol="SASL_SSL",
            ssl_context=ssl.create_default_context(cafile=str(certificates.ca)),
            sasl_mechanism="SCRAM-SHA-256",
            sasl_plain_username="carol",
            sasl_plain_password=USERS["carol"],
        )
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"before")
            authenticated = time.monotonic()
            # The session's lifetime must pass: nothing else can show what happens after it.
            await asyncio.sleep(LIFETIME_MS / 1000 + 0.5 - (time.monotonic() - authenticated))
            await producer.send_and_wait(topic, b"after")
        finally:
            await producer.stop()

    asyncio.run(run())
    wait_until(
        lambda: "User:carol at 127.0.0.1: session expired" in broker.process.log_text(),
        what="katka closed the expired connection",
    )
