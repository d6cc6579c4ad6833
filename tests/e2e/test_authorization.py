"""ACLs end to end: katka with Kafka's StandardAuthorizer name, ACLs made with confluent-kafka's
AdminClient, requests refused with Kafka's errors, mTLS principals from the certificate, and
ACLs and SCRAM users surviving kill -9."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    NewTopic,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

from tests.e2e.security import (
    PLAIN_USERS,
    Certificates,
    SecuredBroker,
    make_certificates,
    start_secured,
)

AUTHORIZER = {
    "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
    "super.users": "User:admin",
    "ssl.principal.mapping.rules": "RULE:^CN=([^,]+),OU=eng,.*$/$1/L,DEFAULT",
}


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"), "/C=US/O=acme/OU=eng/CN=Alice")


@pytest.fixture(scope="module")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("authorized")


@pytest.fixture(scope="module")
def secured(directory: Path, certificates: Certificates) -> Iterator[SecuredBroker]:
    broker = start_secured(directory, certificates, AUTHORIZER)
    yield broker
    broker.process.kill()


def sasl(broker: SecuredBroker, user: str, password: str | None = None, mechanism: str = "PLAIN") -> dict[str, Any]:  # fmt: skip
    return {
        "bootstrap.servers": broker.bootstrap("SASL_PLAINTEXT"),
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": mechanism,
        "sasl.username": user,
        "sasl.password": password or PLAIN_USERS[user],
    }


def mtls(broker: SecuredBroker, certificates: Certificates) -> dict[str, Any]:
    return {
        "bootstrap.servers": broker.bootstrap("SSL"),
        "security.protocol": "SSL",
        "ssl.ca.location": str(certificates.ca),
        "ssl.certificate.location": str(certificates.client_cert),
        "ssl.key.location": str(certificates.client_key),
    }


def allow(name: str, principal: str, operation: AclOperation, **kw: Any) -> AclBinding:
    return AclBinding(
        kw.get("resource_type", ResourceType.TOPIC),
        name,
        kw.get("pattern", ResourcePatternType.LITERAL),
        principal,
        "*",
        operation,
        kw.get("permission", AclPermissionType.ALLOW),
    )


def create_acls(broker: SecuredBroker, *bindings: AclBinding) -> None:
    admin = AdminClient(sasl(broker, "admin"))
    for future in admin.create_acls(list(bindings)).values():
        future.result(30)


def produce_error(config: dict[str, Any], topic: str) -> KafkaError | None:
    reports: list[KafkaError | None] = []
    producer = Producer({**config, "message.timeout.ms": 10000})
    producer.produce(topic, b"v", on_delivery=lambda error, _message: reports.append(error))
    producer.flush(20)
    assert reports, "no delivery report"
    return reports[0]


def make_topic(broker: SecuredBroker, topic: str) -> None:
    admin = AdminClient(sasl(broker, "admin"))
    admin.create_topics([NewTopic(topic, 1)])[topic].result(30)


def test_produce_is_allowed_by_a_prefixed_acl_and_refused_without_one(
    secured: SecuredBroker,
) -> None:
    suffix = uuid.uuid4().hex[:6]
    mine, theirs = f"alice-{suffix}", f"bob-{suffix}"
    make_topic(secured, mine)
    make_topic(secured, theirs)
    create_acls(
        secured,
        allow("alice-", "User:alice", AclOperation.WRITE, pattern=ResourcePatternType.PREFIXED),
    )
    assert produce_error(sasl(secured, "alice"), mine) is None
    refused = produce_error(sasl(secured, "alice"), theirs)
    assert refused is not None and refused.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_a_deny_acl_wins_over_a_wildcard_allow(secured: SecuredBroker) -> None:
    topic = f"shared-{uuid.uuid4().hex[:6]}"
    make_topic(secured, topic)
    create_acls(
        secured,
        allow(topic, "User:*", AclOperation.ALL),
        allow(topic, "User:bob", AclOperation.WRITE, permission=AclPermissionType.DENY),
    )
    assert produce_error(sasl(secured, "alice"), topic) is None
    refused = produce_error(sasl(secured, "bob"), topic)
    assert refused is not None and refused.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_metadata_lists_only_the_topics_a_principal_may_describe(secured: SecuredBroker) -> None:
    visible, hidden = f"seen-{uuid.uuid4().hex[:6]}", f"unseen-{uuid.uuid4().hex[:6]}"
    make_topic(secured, visible)
    make_topic(secured, hidden)
    create_acls(secured, allow(visible, "User:bob", AclOperation.READ))
    topics = AdminClient(sasl(secured, "bob")).list_topics(timeout=10).topics
    assert visible in topics and hidden not in topics


def test_create_topics_without_create_is_topic_authorization_failed(
    secured: SecuredBroker,
) -> None:
    topic = f"new-{uuid.uuid4().hex[:6]}"
    admin = AdminClient(sasl(secured, "bob"))
    future = admin.create_topics([NewTopic(topic, 1)])[topic]
    with pytest.raises(KafkaException) as refused:
        future.result(30)
    assert refused.value.args[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_a_consumer_without_read_on_its_group_is_refused(secured: SecuredBroker) -> None:
    topic = f"grp-{uuid.uuid4().hex[:6]}"
    make_topic(secured, topic)
    create_acls(secured, allow(topic, "User:bob", AclOperation.READ))
    errors: list[KafkaError] = []
    consumer = Consumer(
        {**sasl(secured, "bob"), "group.id": f"g-{topic}", "error_cb": errors.append}
    )
    consumer.subscribe([topic])
    try:
        for _ in range(30):
            message = consumer.poll(0.5)
            if message is not None and message.error() is not None:
                errors.append(message.error())
            if any(e.code() == KafkaError.GROUP_AUTHORIZATION_FAILED for e in errors):
                break
        codes = {e.code() for e in errors}
        assert KafkaError.GROUP_AUTHORIZATION_FAILED in codes, errors
    finally:
        consumer.close()


def test_the_mtls_principal_comes_from_the_certificate_by_the_mapping_rules(
    secured: SecuredBroker, certificates: Certificates
) -> None:
    topic = f"mtls-{uuid.uuid4().hex[:6]}"
    make_topic(secured, topic)
    refused = produce_error(mtls(secured, certificates), topic)
    assert refused is not None and refused.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    create_acls(secured, allow(topic, "User:alice", AclOperation.WRITE))  # CN=Alice, lower-cased
    assert produce_error(mtls(secured, certificates), topic) is None


def test_acls_and_scram_users_survive_kill_9(
    secured: SecuredBroker, directory: Path, certificates: Certificates
) -> None:
    topic = f"durable-{uuid.uuid4().hex[:6]}"
    make_topic(secured, topic)
    admin = AdminClient(sasl(secured, "admin"))
    upsertion = UserScramCredentialUpsertion(
        "erin", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096), b"erin-secret"
    )
    admin.alter_user_scram_credentials([upsertion])["erin"].result(30)
    create_acls(secured, allow(topic, "User:erin", AclOperation.WRITE))
    secured.process.kill()
    secured.process.start(30)
    erin = sasl(secured, "erin", "erin-secret", "SCRAM-SHA-512")
    assert produce_error(erin, topic) is None
    admin = AdminClient(sasl(secured, "admin"))
    listed = admin.describe_acls(
        AclBindingFilter(
            ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, None, None,
            AclOperation.ANY, AclPermissionType.ANY,
        )
    ).result(30)  # fmt: skip
    assert [(b.principal, b.operation) for b in listed] == [("User:erin", AclOperation.WRITE)]
    assert b"erin-secret" not in (directory / "data" / "scram-credentials.json").read_bytes()


def test_katka_user_and_acl_commands_manage_a_secured_broker_with_command_config(
    secured: SecuredBroker, certificates: Certificates, tmp_path: Path
) -> None:
    from tests.cli.conftest import run_katka

    properties = tmp_path / "admin.properties"
    properties.write_text(
        "security.protocol=SASL_SSL\n"
        "sasl.mechanism=PLAIN\n"
        "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required "
        'username="admin" password="admin-secret";\n'
        "ssl.truststore.type=PEM\n"
        f"ssl.truststore.location={certificates.ca}\n"
    )
    password = tmp_path / "password"
    password.write_text("frank-secret\n")
    connect = (
        "--bootstrap-server",
        secured.bootstrap("SASL_SSL"),
        "--command-config",
        str(properties),
    )
    run_katka("user", "create", "frank", "--mechanism", "SCRAM-SHA-256",
              "--password-file", str(password), *connect, check=True)  # fmt: skip
    listed = run_katka("user", "list", "--output", "json", *connect, check=True)
    assert {"user": "frank", "mechanism": "SCRAM-SHA-256", "iterations": 8192} in json.loads(
        listed.stdout
    )
    topic = f"cli-{uuid.uuid4().hex[:6]}"
    make_topic(secured, topic)
    run_katka("acl", "create", "--allow-principal", "User:frank", "--operation", "WRITE",
              "--topic", topic, *connect, check=True)  # fmt: skip
    frank = sasl(secured, "frank", "frank-secret", "SCRAM-SHA-256")
    assert produce_error(frank, topic) is None
    shown = run_katka("acl", "list", "--topic", topic, "--output", "json", *connect, check=True)
    assert [(a["principal"], a["operation"]) for a in json.loads(shown.stdout)] == [
        ("User:frank", "WRITE")
    ]
    run_katka("acl", "delete", "--topic", topic, *connect, check=True)
    refused = produce_error(frank, topic)
    assert refused is not None and refused.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    run_katka("user", "delete", "frank", *connect, check=True)
    listed = run_katka("user", "list", "--output", "json", *connect, check=True)
    assert all(entry["user"] != "frank" for entry in json.loads(listed.stdout))
    assert "frank-secret" not in secured.process.log_text()
