"""Security, differentially: Apache Kafka 4.4 and katka started from the same server.properties
(SASL_SSL with PLAIN and SCRAM-SHA-512, StandardAuthorizer, super.users, KRaft's controller
keys that katka ignores), the same SCRAM user and ACLs made through the admin APIs, then the
same requests as that user (authorized and unauthorized produce, fetch, metadata, create,
delete, join, commit, transactions, describe configs, the ACL APIs): the same error codes."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicCollection,
    TopicPartition,
)
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ConfigResource,
    NewTopic,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

from katka.reliability.process import BrokerProcess, free_port
from tests.conditions import wait_until
from tests.e2e.security import Certificates, jaas, make_certificates
from tests.kafka.reference import KafkaReference, kafka_libs

pytestmark = pytest.mark.kafka

ADMIN_PASSWORD = "admin-secret"
ALICE_PASSWORD = "alice-scram-secret"
STANDARD_AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"


def server_properties(
    port: int, controller_port: int, data: Path, certificates: Certificates
) -> dict[str, str]:
    """One server.properties for both brokers (katka ignores the CONTROLLER listener and the
    inter-broker keys, which a one-node Kafka needs)."""
    admin_jaas = jaas({"admin": ADMIN_PASSWORD}).replace(
        "required", f'required username="admin" password="{ADMIN_PASSWORD}"'
    )
    return {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
        "listeners": f"SASL_SSL://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"SASL_SSL://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "SASL_SSL:SASL_SSL,CONTROLLER:SASL_PLAINTEXT",
        "inter.broker.listener.name": "SASL_SSL",
        "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-512",
        "sasl.mechanism.inter.broker.protocol": "PLAIN",
        "sasl.mechanism.controller.protocol": "PLAIN",
        "listener.name.sasl_ssl.plain.sasl.jaas.config": admin_jaas,
        "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": (
            "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        ),
        "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
        "listener.name.controller.plain.sasl.jaas.config": admin_jaas,
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(certificates.server),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(certificates.ca),
        "authorizer.class.name": STANDARD_AUTHORIZER,
        "super.users": "User:admin",
        "allow.everyone.if.no.acl.found": "false",
        "auto.create.topics.enable": "false",
        "log.dirs": str(data),
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
    }


def client(bootstrap: str, certificates: Certificates, user: str) -> dict[str, Any]:
    return {
        "bootstrap.servers": bootstrap,
        "security.protocol": "SASL_SSL",
        "ssl.ca.location": str(certificates.ca),
        "sasl.mechanism": "PLAIN" if user == "admin" else "SCRAM-SHA-512",
        "sasl.username": user,
        "sasl.password": ADMIN_PASSWORD if user == "admin" else ALICE_PASSWORD,
    }


def acl(
    resource: ResourceType,
    name: str,
    operation: AclOperation,
    permission: AclPermissionType = AclPermissionType.ALLOW,
    pattern: ResourcePatternType = ResourcePatternType.LITERAL,
) -> AclBinding:
    return AclBinding(resource, name, pattern, "User:alice", "*", operation, permission)


ACLS = [
    acl(ResourceType.TOPIC, "granted", AclOperation.READ),
    acl(ResourceType.TOPIC, "granted", AclOperation.WRITE),
    acl(ResourceType.TOPIC, "mine-", AclOperation.CREATE, pattern=ResourcePatternType.PREFIXED),
    acl(ResourceType.TOPIC, "mine-", AclOperation.DELETE, pattern=ResourcePatternType.PREFIXED),
    acl(ResourceType.TOPIC, "denied", AclOperation.ALL),
    acl(ResourceType.TOPIC, "denied", AclOperation.READ, AclPermissionType.DENY),
    acl(ResourceType.GROUP, "g-ok", AclOperation.READ),
    acl(ResourceType.GROUP, "g-", AclOperation.DESCRIBE, pattern=ResourcePatternType.PREFIXED),
]


def code_of(action: Callable[[], Any]) -> Any:
    """What an admin call or a commit gives: its result (normalised by the caller) or the
    broker's error code."""
    try:
        return action()
    except KafkaException as error:
        return error.args[0].code()
    except concurrent.futures.TimeoutError:
        return "timeout"


def produce(config: dict[str, Any], topic: str) -> int:
    outcome: list[int] = []
    producer = Producer({**config, "message.timeout.ms": 15000, "enable.idempotence": False})
    producer.produce(topic, b"v", callback=lambda err, _m: outcome.append(err.code() if err else 0))
    producer.flush(20)
    return outcome[0] if outcome else -1


def first_outcome(consumer: Consumer, seconds: float) -> int:
    """The error code of the first message or error the consumer polls (0: a record; -1:
    nothing within `seconds`); the consumer is closed."""
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None:
                error = message.error()
                return 0 if error is None else int(error.code())
        return -1
    finally:
        consumer.close()


def fetch(config: dict[str, Any], topic: str) -> int:
    consumer = Consumer({**config, "group.id": "g-ok", "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, 0)])
    return first_outcome(consumer, 20)


def join(config: dict[str, Any], group: str) -> int:
    consumer = Consumer({**config, "group.id": group, "auto.offset.reset": "earliest"})
    consumer.subscribe(["granted"])
    return first_outcome(consumer, 30)


def commit(config: dict[str, Any], group: str, topic: str) -> Any:
    consumer = Consumer({**config, "group.id": group, "enable.auto.commit": False})
    try:
        committed = code_of(
            lambda: consumer.commit(offsets=[TopicPartition(topic, 0, 1)], asynchronous=False)
        )
        if isinstance(committed, list):
            return [p.error.code() if p.error else 0 for p in committed]
        return committed
    finally:
        consumer.close()


def transactional_init(config: dict[str, Any]) -> Any:
    producer = Producer({**config, "transactional.id": "alice-tx"})
    try:
        producer.init_transactions(20)
        return 0
    except KafkaException as error:
        return error.args[0].code()


def scenario(bootstrap: str, certificates: Certificates) -> dict[str, Any]:
    """The same steps against either broker; every outcome as a plain value."""
    admin_config = client(bootstrap, certificates, "admin")
    alice_config = client(bootstrap, certificates, "alice")
    admin = AdminClient(admin_config)
    upsert = UserScramCredentialUpsertion(
        "alice", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096), ALICE_PASSWORD.encode()
    )
    admin.alter_user_scram_credentials([upsert])["alice"].result(30)
    topics = ["granted", "hidden", "denied"]
    for future in admin.create_topics([NewTopic(t, 1) for t in topics]).values():
        future.result(30)
    for future in admin.create_acls(ACLS).values():
        future.result(30)
    seeder = Producer(admin_config)
    for topic in topics:
        seeder.produce(topic, b"seed")
    assert seeder.flush(30) == 0

    alice = AdminClient(alice_config)
    wait_until(
        lambda: code_of(lambda: bool(alice.list_topics(timeout=5).brokers)) is True,
        60,
        interval=0.5,
        what="alice authenticates",
    )
    outcomes: dict[str, Any] = {}
    metadata = alice.list_topics(timeout=10)
    outcomes["metadata lists"] = sorted(t for t in metadata.topics if not t.startswith("__"))
    outcomes["metadata of hidden"] = (
        alice.list_topics("hidden", timeout=10).topics["hidden"].error.code()
    )
    for topic in topics:
        outcomes[f"produce to {topic}"] = produce(alice_config, topic)
    # (A consumer assigned a topic it may not describe reports nothing on either broker, only
    # logs it; "metadata of hidden" covers that topic.)
    for topic in ("granted", "denied"):
        outcomes[f"fetch from {topic}"] = fetch(alice_config, topic)
    for topic in ("mine-new", "other-new"):
        outcomes[f"create {topic}"] = code_of(
            lambda topic=topic: alice.create_topics([NewTopic(topic, 1)])[topic].result(30)
        )
    for topic in ("mine-new", "granted", "never-existed"):
        outcomes[f"delete {topic}"] = code_of(
            lambda topic=topic: alice.delete_topics([topic])[topic].result(30)
        )
    outcomes["join g-ok"] = join(alice_config, "g-ok")
    outcomes["join g-no"] = join(alice_config, "g-no")
    outcomes["commit g-ok granted"] = commit(alice_config, "g-ok", "granted")
    outcomes["commit g-ok hidden"] = commit(alice_config, "g-ok", "hidden")
    outcomes["commit g-no granted"] = commit(alice_config, "g-no", "granted")
    outcomes["init transactional producer"] = transactional_init(alice_config)
    outcomes["describe configs of hidden"] = code_of(
        lambda: (
            alice.describe_configs([ConfigResource("topic", "hidden")])[
                ConfigResource("topic", "hidden")
            ].result(30)
            and 0
        )
    )
    outcomes["describe topics granted"] = code_of(
        lambda: sorted(
            op.name
            for op in alice.describe_topics(
                TopicCollection(["granted"]), include_authorized_operations=True
            )["granted"]
            .result(30)
            .authorized_operations
        )
    )
    outcomes["describe group g-ok"] = code_of(
        lambda: alice.describe_consumer_groups(["g-ok"])["g-ok"].result(30) and 0
    )
    outcomes["describe group g-no"] = code_of(
        lambda: alice.describe_consumer_groups(["g-no"])["g-no"].result(30) and 0
    )
    every = AclBindingFilter(
        ResourceType.ANY, None, ResourcePatternType.ANY, None, None,
        AclOperation.ANY, AclPermissionType.ANY,
    )  # fmt: skip
    outcomes["describe acls as alice"] = code_of(lambda: alice.describe_acls(every).result(30))
    outcomes["create acls as alice"] = code_of(
        lambda: (
            alice.create_acls([acl(ResourceType.TOPIC, "x", AclOperation.READ)])
            .popitem()[1]
            .result(30)
        )
    )
    outcomes["describe acls as admin"] = sorted(
        (b.restype.name, b.name, b.resource_pattern_type.name, b.principal, b.host,
         b.operation.name, b.permission_type.name)
        for b in admin.describe_acls(every).result(30)
    )  # fmt: skip
    # (CreateAcls and DescribeUserScramCredentials refused: confluent-kafka 2.16 never completes
    # the first's future and aborts the process on the second's error, munmap_chunk(): invalid
    # pointer, whichever broker answers; tests/api and tests/e2e cover both.)
    return outcomes


def test_kafka_and_katka_give_the_same_error_codes_from_the_same_secured_file(
    tmp_path: Path,
) -> None:
    certificates = make_certificates(tmp_path / "certs")
    reference = KafkaReference(kafka_libs(), tmp_path / "kafka")
    reference.work.mkdir()
    kafka_properties = server_properties(
        reference.port, reference.controller_port, reference.data_dir, certificates
    )
    reference.start(
        properties=kafka_properties,
        client=client(reference.bootstrap, certificates, "admin"),
    )
    try:
        theirs = scenario(reference.bootstrap, certificates)
    finally:
        reference.stop()

    port = free_port()
    katka_file = tmp_path / "katka.properties"
    values = server_properties(port, free_port(), tmp_path / "katka-data", certificates)
    katka_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    katka = BrokerProcess(
        tmp_path / "katka-data", extra_args=["--config", str(katka_file)], port=port, place=False
    )
    katka.start(60)
    try:
        ours = scenario(f"127.0.0.1:{port}", certificates)
    finally:
        katka.kill()

    differences = {k: (theirs[k], ours.get(k)) for k in theirs if theirs[k] != ours.get(k)}
    assert not differences, differences
    # The scenario exercises both sides of every check.
    assert theirs["produce to hidden"] == KafkaError.TOPIC_AUTHORIZATION_FAILED
    assert theirs["join g-no"] == KafkaError.GROUP_AUTHORIZATION_FAILED
    assert theirs["fetch from denied"] == KafkaError.TOPIC_AUTHORIZATION_FAILED
    assert theirs["init transactional producer"] == (
        KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED
    )
    assert theirs["produce to granted"] == 0 and theirs["fetch from granted"] == 0
    assert len(theirs["describe acls as admin"]) == len(ACLS)
