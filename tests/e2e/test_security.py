"""Security end to end: one katka with PLAINTEXT, SSL, SASL_PLAINTEXT and SASL_SSL listeners
from a server.properties, driven by confluent-kafka, kafka-python and aiokafka with PLAIN,
SCRAM-SHA-256 and SCRAM-SHA-512; SCRAM users made with AlterUserScramCredentials."""

from __future__ import annotations

import asyncio
import itertools
import socket
import ssl
import struct
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import (
    AdminClient,
    NewTopic,
)

from tests.e2e.security import (
    PLAIN_USERS,
    Certificates,
    SecuredBroker,
    add_scram_users,
    make_certificates,
    start_secured,
)

SCRAM_USERS = {"carol": "carol-scram-secret", "dave": "dave-scram-secret"}


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def secured(
    tmp_path_factory: pytest.TempPathFactory, certificates: Certificates
) -> Iterator[SecuredBroker]:
    broker = start_secured(tmp_path_factory.mktemp("secured"), certificates)
    add_scram_users(broker.bootstrap("PLAINTEXT"), SCRAM_USERS)
    yield broker
    broker.process.kill()


def confluent_config(
    broker: SecuredBroker, listener: str, certificates: Certificates, mechanism: str = "PLAIN",
    user: str = "alice", password: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    config: dict[str, Any] = {
        "bootstrap.servers": broker.bootstrap(listener),
        "security.protocol": listener,
    }
    if "SSL" in listener:
        config["ssl.ca.location"] = str(certificates.ca)
    if listener.startswith("SASL"):
        config["sasl.mechanism"] = mechanism
        config["sasl.username"] = user
        config["sasl.password"] = password or {**PLAIN_USERS, **SCRAM_USERS}[user]
    return config


def confluent_round_trip(config: dict[str, Any]) -> None:
    topic = f"secure-{uuid.uuid4().hex[:8]}"
    admin = AdminClient(config)
    admin.create_topics([NewTopic(topic, 1)])[topic].result(30)
    producer = Producer(config)
    producer.produce(topic, b"secret payload")
    assert producer.flush(30) == 0
    consumer = Consumer({**config, "group.id": f"g-{topic}", "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    try:
        for _ in range(60):
            message = consumer.poll(1)
            if message is not None and message.error() is None:
                assert message.value() == b"secret payload"
                return
        raise AssertionError("no message consumed")
    finally:
        consumer.close()


def user_for(mechanism: str) -> str:
    return "alice" if mechanism == "PLAIN" else "carol"


@pytest.mark.parametrize(
    ("listener", "mechanism"),
    [("SSL", "PLAIN")]  # SSL alone: no SASL, the mechanism is not used
    + [
        (listener, mechanism)
        for listener in ("SASL_PLAINTEXT", "SASL_SSL")
        for mechanism in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
    ],
)
def test_confluent_kafka_produces_creates_and_consumes_on_every_secured_listener(
    secured: SecuredBroker, certificates: Certificates, listener: str, mechanism: str
) -> None:
    confluent_round_trip(
        confluent_config(secured, listener, certificates, mechanism, user_for(mechanism))
    )


@pytest.mark.parametrize("listener", ["SASL_PLAINTEXT", "SASL_SSL"])
@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_a_wrong_password_is_refused_with_an_authentication_error(
    secured: SecuredBroker, certificates: Certificates, listener: str, mechanism: str
) -> None:
    config = confluent_config(
        secured, listener, certificates, mechanism, user_for(mechanism), password="wrong"
    )
    errors: list[KafkaError] = []
    producer = Producer({**config, "error_cb": errors.append})
    for _ in range(100):
        producer.poll(0.1)
        if any(e.code() == KafkaError._AUTHENTICATION for e in errors):
            break
    authentication = [e for e in errors if e.code() == KafkaError._AUTHENTICATION]
    assert authentication, errors
    assert "Authentication failed" in authentication[0].str()
    assert "wrong" not in secured.process.log_text()


def test_a_client_trusting_another_ca_cannot_connect(
    secured: SecuredBroker, certificates: Certificates
) -> None:
    config = {
        **confluent_config(secured, "SSL", certificates),
        "ssl.ca.location": str(certificates.other_ca),
    }
    with pytest.raises(KafkaException):
        AdminClient(config).list_topics(timeout=5)


def test_metadata_advertises_the_listener_the_client_connected_on(
    secured: SecuredBroker, certificates: Certificates
) -> None:
    for listener in ("PLAINTEXT", "SSL", "SASL_SSL"):
        metadata = AdminClient(confluent_config(secured, listener, certificates)).list_topics(
            timeout=10
        )
        (broker,) = metadata.brokers.values()
        assert broker.port == secured.ports[listener]


def _frame(api_key: int, version: int, correlation_id: int, body: bytes = b"") -> bytes:
    header = struct.pack(">hhih", api_key, version, correlation_id, 4) + b"test"
    return struct.pack(">i", len(header) + len(body)) + header + body


def test_a_request_before_authentication_closes_the_connection(secured: SecuredBroker) -> None:
    with socket.create_connection(("127.0.0.1", secured.ports["SASL_PLAINTEXT"]), 10) as sock:
        sock.sendall(_frame(3, 1, 1, struct.pack(">i", -1)))  # Metadata v1, all topics
        assert sock.recv(4096) == b""  # closed without an answer


def test_tls_garbage_costs_the_broker_only_the_connection(secured: SecuredBroker) -> None:
    for port in (secured.ports["SSL"], secured.ports["SASL_SSL"]):
        with socket.create_connection(("127.0.0.1", port), 10) as sock:
            sock.sendall(b"\x16\x03\x01\x00\x10" + b"\xff" * 64 + _frame(18, 0, 1))
            sock.settimeout(15)
            try:
                while sock.recv(4096):
                    pass
            except (ConnectionResetError, TimeoutError):
                pass
    # A plaintext Kafka request on a TLS listener also fails on the client's side only.
    with socket.create_connection(("127.0.0.1", secured.ports["SSL"]), 10) as sock:
        sock.sendall(_frame(18, 0, 1))
        sock.settimeout(15)
        try:
            assert sock.recv(4096)[:1] in (b"", b"\x15")  # closed, or a TLS alert
        except ConnectionResetError:
            pass
    assert secured.process.alive()
    confluent_round_trip({"bootstrap.servers": secured.bootstrap("PLAINTEXT")})


@pytest.mark.parametrize(
    ("listener", "mechanism"),
    [("SASL_PLAINTEXT", "PLAIN"), ("SASL_SSL", "SCRAM-SHA-512"), ("SSL", None)],
)
def test_kafka_python_produces_and_consumes_on_secured_listeners(
    secured: SecuredBroker, certificates: Certificates, listener: str, mechanism: str | None
) -> None:
    from kafka import KafkaConsumer, KafkaProducer

    options: dict[str, Any] = {
        "bootstrap_servers": secured.bootstrap(listener),
        "security_protocol": listener,
    }
    if "SSL" in listener:
        options["ssl_cafile"] = str(certificates.ca)
    if mechanism is not None:
        user = user_for(mechanism)
        options.update(
            sasl_mechanism=mechanism,
            sasl_plain_username=user,
            sasl_plain_password={**PLAIN_USERS, **SCRAM_USERS}[user],
        )
    topic = f"kp-{uuid.uuid4().hex[:8]}"
    producer = KafkaProducer(**options)
    producer.send(topic, b"from kafka-python").get(30)
    producer.close()
    consumer = KafkaConsumer(
        topic, auto_offset_reset="earliest", consumer_timeout_ms=20000, **options
    )
    # The first record ends the wait; consumer_timeout_ms only bounds it when none comes.
    values = [message.value for message in itertools.islice(consumer, 1)]
    consumer.close()
    assert values == [b"from kafka-python"]


@pytest.mark.parametrize(
    ("listener", "mechanism"),
    [("SASL_SSL", "PLAIN"), ("SASL_PLAINTEXT", "SCRAM-SHA-256"), ("SSL", None)],
)
def test_aiokafka_produces_and_consumes_on_secured_listeners(
    secured: SecuredBroker, certificates: Certificates, listener: str, mechanism: str | None
) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    options: dict[str, Any] = {
        "bootstrap_servers": secured.bootstrap(listener),
        "security_protocol": listener,
    }
    if "SSL" in listener:
        options["ssl_context"] = ssl.create_default_context(cafile=str(certificates.ca))
    if mechanism is not None:
        user = user_for(mechanism)
        options.update(
            sasl_mechanism=mechanism,
            sasl_plain_username=user,
            sasl_plain_password={**PLAIN_USERS, **SCRAM_USERS}[user],
        )
    topic = f"aio-{uuid.uuid4().hex[:8]}"

    async def run() -> bytes | None:
        producer = AIOKafkaProducer(**options)
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"from aiokafka")
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(topic, auto_offset_reset="earliest", **options)
        await consumer.start()
        try:
            message = await asyncio.wait_for(consumer.getone(), 30)
            return message.value
        finally:
            await consumer.stop()

    assert asyncio.run(run()) == b"from aiokafka"


def test_kcat_produces_and_consumes_over_sasl_ssl(
    secured: SecuredBroker, certificates: Certificates
) -> None:
    """With PLAIN: Debian's kcat links librdkafka 2.0.2, whose SCRAM client repeats the client
    nonce in its final message (a regression of that release, fixed later), which any broker,
    Kafka's included, refuses as a nonce mismatch."""
    import subprocess

    from tests.e2e.conftest import kcat_path

    kcat = kcat_path()
    topic = f"kcat-{uuid.uuid4().hex[:8]}"
    options = [
        "-b", secured.bootstrap("SASL_SSL"), "-X", "security.protocol=SASL_SSL",
        "-X", "sasl.mechanisms=PLAIN", "-X", "sasl.username=alice",
        "-X", f"sasl.password={PLAIN_USERS['alice']}", "-X", f"ssl.ca.location={certificates.ca}",
    ]  # fmt: skip
    produced = subprocess.run(
        [kcat, *options, "-P", "-t", topic], input=b"from kcat\n", capture_output=True, timeout=60
    )
    assert produced.returncode == 0, produced.stderr
    consumed = subprocess.run(
        [kcat, *options, "-C", "-t", topic, "-o", "beginning", "-c", "1", "-e"],
        capture_output=True,
        check=True,
        timeout=60,
    )
    assert consumed.stdout.strip() == b"from kcat"


def test_a_pkcs12_key_store_serves_tls(certificates: Certificates, tmp_path: Path) -> None:
    import subprocess

    from katka.reliability.process import BrokerProcess, free_port

    pytest.importorskip("cryptography", reason="PKCS12 key stores need the cryptography package")
    key_store = tmp_path / "server.p12"
    subprocess.run(
        ["openssl", "pkcs12", "-export", "-in", str(certificates.server),
         "-out", str(key_store), "-passout", "pass:store-secret"],
        check=True, capture_output=True,
    )  # fmt: skip
    ssl_port = free_port()
    process = BrokerProcess(
        tmp_path / "data",
        extra_args=["--data-dir", str(tmp_path / "data")],
        overrides=[
            f"listeners=SSL://127.0.0.1:{ssl_port}",
            "ssl.keystore.type=PKCS12",
            f"ssl.keystore.location={key_store}",
            "ssl.keystore.password=store-secret",
        ],
        port=ssl_port,
        place=False,
    )
    process.start(30)
    try:
        config = {
            "bootstrap.servers": f"127.0.0.1:{ssl_port}",
            "security.protocol": "SSL",
            "ssl.ca.location": str(certificates.ca),
        }
        admin = AdminClient(config)
        assert admin.list_topics(timeout=10).brokers
        assert "store-secret" not in process.log_text()
    finally:
        process.kill()
